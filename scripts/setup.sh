#!/usr/bin/env bash
# Everything Gasper needs on a Debian machine with Node.js, installed or started only when
# missing, so it is cheap to run before every `npm run up` and `npm test`:
#   system packages (docker.io, redis-server, git, debootstrap, and the DNS tools dig, dnsperf and
#   dnsmasq, chromium for the dashboard's browser test and gcc for its shim, nginx-light, wrk and
#   openssl for the proxy benchmarks and TLS tests, and pebble, Let's Encrypt's test CA, for the
#   certificate tests), a running Docker daemon,
#   npm dependencies, the compiled CLI (dist/, `npm run build`) and the base and runtime images
#   (docker/build-images.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

node_ok=$(node -e 'const [a,b]=process.versions.node.split(".").map(Number); console.log(a>20||(a===20&&b>=19)?1:0)')
[ "$node_ok" = 1 ] || { say "Node.js 20.19 or newer is required (found $(node --version))"; exit 1; }

# Debian packages, by the command each provides.
missing=()
for pair in docker:docker.io dockerd:docker.io redis-server:redis-server git:git debootstrap:debootstrap curl:curl \
    ssh:openssh-client ssh-keygen:openssh-client sshpass:sshpass tmux:tmux script:bsdutils \
    dig:dnsutils dnsperf:dnsperf chromium:chromium ip:iproute2 wrk:wrk openssl:openssl \
    pebble:pebble pebble-challtestsrv:pebble cc:gcc; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
# gcc and libc's headers build the dashboard tests' Chromium shim (test/support/no-netlink.c).
[ -e /usr/include/dlfcn.h ] || missing+=(libc6-dev)
# dnsmasq is bench/dns's baseline, run as a foreground child on a high port. dnsmasq-base holds
# just the binary: the `dnsmasq` package would add a system service that takes port 53 and, on
# systemd machines, fights systemd-resolved for it.
[ -x /usr/sbin/dnsmasq ] || command -v dnsmasq >/dev/null 2>&1 || missing+=(dnsmasq-base)
# nginx is bench:proxy's and bench:tls's baseline (run as a foreground child on a free loopback
# port; nginx-light is the smallest build with the ssl and proxy modules). The package's own
# service would hold port 80: stopped below.
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  say "installing ${missing[*]}"
  as_root apt-get update -q >/dev/null
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  if [[ " ${missing[*]} " == *" nginx-light "* ]]; then
    if [ -d /run/systemd/system ]; then as_root systemctl disable --now nginx >/dev/null 2>&1 || true
    else as_root service nginx stop >/dev/null 2>&1 || true; fi
  fi
fi
# Redis comes as a private child of `gasper up` (or of each test file), not as a system service:
# the package's own service, if the package started one, is left alone.

# A running Docker daemon: the system's service manager where there is one, else dockerd itself.
if ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ]; then
    say "starting docker (systemctl)"
    as_root systemctl start docker
  else
    say "starting dockerd in the background (log: /var/log/gasper-dockerd.log)"
    as_root sh -c 'nohup dockerd >/var/log/gasper-dockerd.log 2>&1 &'
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { say "dockerd did not start; see /var/log/gasper-dockerd.log"; exit 1; }
fi

# npm dependencies, when missing or older than the lock file.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  say "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
  touch node_modules
fi

# The compiled CLI and platform (bin/gasper.js runs dist/), when missing or older than a source
# file (the build touches dist/cli.js). `npm ci` builds it too (the `prepare` script); this covers
# a checkout whose sources moved on.
if [ ! -f dist/cli.js ] || [ -n "$(find src -name '*.ts' -newer dist/cli.js -print -quit)" ]; then
  say "compiling the CLI and the platform (npm run build)"
  npm run --silent build
fi

bash docker/build-images.sh

# The client: `gasper login …` is the next thing a new user types.
command -v gasper >/dev/null 2>&1 || say "the gasper command is bin/gasper.js here; \`npm link\` puts it on your PATH"
