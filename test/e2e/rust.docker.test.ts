import crypto from 'node:crypto';
import { expect } from 'chai';
import { managedContainers, requireDocker } from '../support/docker.ts';
import { createGitRepo, type GitFixture } from '../support/git-fixture.ts';
import { startTestPlatform, viaProxy, type TestPlatform } from '../support/platform.ts';

/** A web server on the standard library only (std::net::TcpListener): it needs no crate. */
const server = `use std::io::{Read, Write};
use std::net::TcpListener;

fn main() {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".to_string());
    let listener = TcpListener::bind(format!("0.0.0.0:{}", port)).expect("bind");
    println!("listening on {}", port);
    for stream in listener.incoming() {
        let mut stream = match stream {
            Ok(s) => s,
            Err(_) => continue,
        };
        let mut buffer = [0u8; 4096];
        let n = stream.read(&mut buffer).unwrap_or(0);
        let request = String::from_utf8_lossy(&buffer[..n]);
        let path = request.split_whitespace().nth(1).unwrap_or("/").to_string();
        let body = format!("rust {}\\n", path);
        let reply = format!(
            "HTTP/1.1 200 OK\\r\\ncontent-type: text/plain\\r\\ncontent-length: {}\\r\\nconnection: close\\r\\n\\r\\n{}",
            body.len(),
            body
        );
        let _ = stream.write_all(reply.as_bytes());
    }
}
`;

/**
 * The Rust runtime end to end: a Cargo project deployed with neither `build` nor `run` is built
 * with `cargo build --release --offline` in gasper/rust (Debian's rustc and cargo) and its
 * binary, named by Cargo.toml, answers through the proxy; a project that needs a crate from
 * crates.io fails its build with the reason (builds are offline here).
 */
describe('Rust runtime: a std-only HTTP server (Docker, Redis, git)', function () {
  this.timeout(600_000);
  let gasper: TestPlatform;
  const repos: GitFixture[] = [];
  const unique = () => `rt-rust-${crypto.randomBytes(3).toString('hex')}`;

  before(async () => {
    await requireDocker();
    gasper = await startTestPlatform({ GASPER_HEALTH_TIMEOUT_MS: '60000' });
  });
  after(async () => {
    await gasper?.close();
    await Promise.all(repos.map((r) => r.remove()));
  });

  async function deploy(files: Record<string, string>) {
    const repo = await createGitRepo(files);
    repos.push(repo);
    const name = unique();
    const res = await gasper
      .api()
      .post('/apps')
      .send({ name, repo: { url: repo.url }, runtime: 'rust' })
      .expect(202);
    const job = await gasper.waitForJob(res.body.job.id, 540_000);
    return { name, job, log: job.log.join('\n') };
  }

  it('builds with cargo offline and runs the [[bin]] Cargo.toml names', async () => {
    const started = Date.now();
    const { name, job, log } = await deploy({
      'Cargo.toml':
        '[package]\nname = "rust-sample"\nversion = "0.1.0"\nedition = "2021"\nrust-version = "1.60"\n\n' +
        '[[bin]]\nname = "web"\npath = "src/main.rs"\n',
      'src/main.rs': server,
    });
    console.log(`      deployed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    expect(job.state, log).to.equal('completed');
    expect(log).to.include('build: cargo build --release --offline');
    expect(log).to.include('run: ./target/release/web (the [[bin]] of Cargo.toml)');
    expect(log).to.match(/Rust 1\.63 \(from rust-version "1\.60" in Cargo\.toml\)/);
    const reply = await viaProxy(gasper.proxyPort, `${name}.localhost:${gasper.proxyPort}`, '/hello');
    expect(reply.status).to.equal(200);
    expect(reply.body).to.equal('rust /hello\n');
    const runtimes = (await gasper.api().get('/runtimes').expect(200)).body.runtimes;
    expect(runtimes.find((r: { name: string }) => r.name === 'rust')).to.deep.include({ default: '1.63' });
  });

  it('a crate from crates.io fails the build, saying builds are offline and to vendor it', async () => {
    const { name, job } = await deploy({
      'Cargo.toml':
        '[package]\nname = "needs-crates"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\nitoa = "1"\n',
      'src/main.rs': 'fn main() { println!("{}", itoa::Buffer::new().format(1)); }\n',
    });
    expect(job.state).to.equal('failed');
    expect(job.error).to.include('cargo build --release --offline').and.include('crates.io is not reachable');
    expect(job.error).to.include('cargo vendor');
    expect(await managedContainers(gasper.nodeId, name)).to.have.length(0);
  });
});
