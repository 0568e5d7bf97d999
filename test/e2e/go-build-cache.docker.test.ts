import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'chai';
import { docker, managedContainers, requireDocker } from '../support/docker.ts';
import { createGitRepo, type GitFixture } from '../support/git-fixture.ts';
import { startTestPlatform, viaProxy, type TestPlatform } from '../support/platform.ts';

const goMod = 'module example.com/sample\n\ngo 1.19\n';
/** A std-only server with a package of its own, so the build cache holds more than main. */
const mainGo = (greeting: string) => `package main

import (
	"fmt"
	"net/http"
	"os"

	"example.com/sample/greet"
)

func main() {
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintf(w, "%s\\n", greet.Hello("${greeting}")) })
	http.ListenAndServe(":"+os.Getenv("PORT"), nil)
}
`;
const greetGo = `package greet

import (
	"encoding/json"
	"strings"
	"text/template"
)

var t = template.Must(template.New("g").Parse("{{.}} from go"))

func Hello(s string) string {
	var b strings.Builder
	_ = t.Execute(&b, s)
	out, _ := json.Marshal(b.String())
	return strings.Trim(string(out), "\\"")
}
`;
/**
 * Says how full GOCACHE is when the build starts, then builds as the Go convention does, with
 * `-v`: it names each package it compiles, and none it took from the cache.
 */
const build = [
  'echo "GOCACHE=$GOCACHE entries=$(ls -A "$GOCACHE" 2>/dev/null | wc -l)"',
  'go build -v -o gasper-app .',
];

/**
 * The Go build cache (issue 14): GOCACHE and GOMODCACHE in a per-app directory that the build
 * container mounts and the app's instances do not. A redeploy starts from what the first build
 * cached; another app starts empty; `POST /apps/:name/rebuild {"cache": false}` starts empty.
 */
describe('go build cache: per app, reused by the next build, never seen by another app (Docker, Redis, git)', function () {
  this.timeout(900_000);
  let gasper: TestPlatform;
  let repo: GitFixture;
  const name = `gocache-${crypto.randomBytes(3).toString('hex')}`;
  const other = `${name}-b`;

  before(async () => {
    await requireDocker();
    gasper = await startTestPlatform({ GASPER_HEALTH_TIMEOUT_MS: '60000', GASPER_DISK_USE_INTERVAL_MS: '2000' });
    repo = await createGitRepo({ 'go.mod': goMod, 'main.go': mainGo('first'), 'greet/greet.go': greetGo });
  });
  after(async () => {
    await gasper?.api().delete(`/apps/${name}`);
    await gasper?.api().delete(`/apps/${other}`);
    await gasper?.close();
    await repo?.remove();
  });

  const get = (app: string) => viaProxy(gasper.proxyPort, `${app}.localhost:${gasper.proxyPort}`, '/');
  async function finish(res: { body: { job: { id: string } } }) {
    const job = await gasper.waitForJob(res.body.job.id, 540_000);
    const log = job.log.join('\n');
    expect(job.state, log).to.equal('completed');
    const buildMs = Number(/build succeeded \((\d+) ms\)/.exec(log)?.[1]);
    // `go build` alone: from its command line to the step's end (the lines are stamped).
    const at = (line: string) => {
      const found = log.split('\n').find((l) => l.includes(line));
      return Number(/^\[\+(\d+\.\d+)s\]/.exec(found ?? '')?.[1]) * 1000;
    };
    const goBuildMs = Math.round(at('build succeeded') - at('$ go build'));
    // Packages `go build -v` compiled (the build's output lines are indented).
    const compiled = [...log.matchAll(/^\[[^\]]+\] {3}(example\.com\/\S+)$/gm)].map((m) => m[1]).sort();
    return { log, buildMs, goBuildMs, compiled };
  }
  const create = async (app: string) =>
    finish(
      await gasper
        .api()
        .post('/apps')
        .send({ name: app, repo: { url: repo.url }, runtime: 'go', build })
        .expect(202),
    );
  const rebuild = async (app: string, body: object = {}) =>
    finish(await gasper.api().post(`/apps/${app}/rebuild`).send(body).expect(202));
  /** The app's cache folders on the node: one per incarnation. */
  const cacheRoot = (app: string) => path.join(gasper.stateDir, 'apps', app, 'build-cache');
  const entries = async (dir: string) => (await fs.readdir(dir).catch(() => [] as string[])).length;

  it("the second build starts from the first one's cache; another app and cache: false start empty", async () => {
    const first = await create(name);
    expect(first.log).to.include('go cache: empty (the first Go build of this app on this node)');
    expect(first.log).to.include('GOCACHE=/var/cache/gasper/go/build entries=0');
    expect((await get(name)).body).to.equal('first from go\n');
    expect(first.compiled).to.deep.equal(['example.com/sample', 'example.com/sample/greet']);
    const incarnations = await fs.readdir(cacheRoot(name));
    expect(incarnations).to.have.length(1);
    const cacheDir = path.join(cacheRoot(name), incarnations[0]!, 'go');
    const filled = await entries(path.join(cacheDir, 'build'));
    expect(filled, 'GOCACHE after the first build').to.be.greaterThan(2);

    // The running app does not mount it.
    for (const c of await managedContainers(gasper.nodeId, name)) {
      const mounts = (await docker.getContainer(c.Id).inspect()).Mounts.map((m) => m.Source);
      expect(
        mounts.some((m) => m.includes('build-cache')),
        `${c.Names[0]} mounts ${mounts.join(', ')}`,
      ).to.equal(false);
    }

    await repo.commit({ 'main.go': mainGo('second') });
    const second = await rebuild(name);
    expect(second.log).to.match(/go cache: reused from this app's earlier builds on this node \(\d+\.\d MiB/);
    expect(second.log).to.match(/GOCACHE=\/var\/cache\/gasper\/go\/build entries=([1-9]\d*)/);
    expect((await get(name)).body).to.equal('second from go\n');
    // Only main changed: the greet package came from the first build's cache.
    expect(second.compiled).to.deep.equal(['example.com/sample']);
    console.log(
      `      build step with an empty cache ${first.buildMs} ms (go build ${first.goBuildMs} ms), with the first build's cache ${second.buildMs} ms (go build ${second.goBuildMs} ms)`,
    );

    // The same repository as another app: nothing of the first app's cache.
    const b = await create(other);
    expect(b.log).to.include('go cache: empty (the first Go build of this app on this node)');
    expect(b.log).to.include('GOCACHE=/var/cache/gasper/go/build entries=0');
    expect((await get(other)).body).to.equal('second from go\n');
    expect(b.compiled).to.deep.equal(['example.com/sample', 'example.com/sample/greet']);

    const third = await rebuild(name, { cache: false });
    expect(third.log).to.include('go cache: cache: false: building from an empty GOCACHE and GOMODCACHE');
    expect(third.log).to.include('GOCACHE=/var/cache/gasper/go/build entries=0');
    expect(third.compiled).to.deep.equal(['example.com/sample', 'example.com/sample/greet']);
    expect(await entries(path.join(cacheDir, 'build')), 'refilled by the build').to.be.greaterThan(2);

    // GET /nodes counts the caches (the app directories outside releases/).
    const du = await dirBytes(path.join(gasper.stateDir, 'apps'), 'build-cache');
    let caches = 0;
    for (let i = 0; i < 30 && caches < du; i++) {
      await new Promise((r) => setTimeout(r, 1000));
      const nodes = (await gasper.api().get('/nodes').expect(200)).body as any;
      caches = (nodes.nodes ?? nodes).find((n: any) => n.id === gasper.nodeId)?.diskUse?.cachesBytes ?? 0;
    }
    expect(caches, 'GET /nodes cachesBytes').to.be.at.least(du);

    // Deleting the app removes its cache.
    await gasper.api().delete(`/apps/${name}`).expect(202);
    for (let i = 0; i < 60 && (await exists(cacheRoot(name))); i++) await new Promise((r) => setTimeout(r, 500));
    expect(await exists(cacheRoot(name)), 'the cache after the app was deleted').to.equal(false);
  });
});

const exists = (p: string) =>
  fs.stat(p).then(
    () => true,
    () => false,
  );

/** Bytes (1 KiB blocks, as du) of every `folder` directly under each app directory. */
async function dirBytes(appsDir: string, folder: string): Promise<number> {
  let total = 0;
  const walk = async (p: string): Promise<void> => {
    const st = await fs.lstat(p);
    total += Math.ceil(st.blocks / 2) * 1024;
    if (st.isDirectory()) for (const e of await fs.readdir(p)) await walk(path.join(p, e));
  };
  for (const app of await fs.readdir(appsDir)) {
    const dir = path.join(appsDir, app, folder);
    if (await exists(dir)) await walk(dir);
  }
  return total;
}
