import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import { HealthTimeoutError, probeOnce, waitForHttp } from '../../../src/workers/apps/health.ts';
import { bodyLimitBytes } from '../../../src/workers/apps/health-verdict.ts';

/** The probe against small HTTP servers of its own on 127.0.0.1 (Node's http only). */
describe('web startup probe against real sockets', function () {
  this.timeout(20_000);
  const servers: http.Server[] = [];
  let answers: (req: http.IncomingMessage, res: http.ServerResponse) => void = (_q, r) => r.end('ok');
  let port = 0;
  before(async () => {
    const server = http.createServer((req, res) => answers(req, res));
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });
  const probe = (readBody: boolean, timeoutMs = 500) => probeOnce('127.0.0.1', port, '/health', timeoutMs, readBody);

  it('reads the status and the body', async () => {
    answers = (_q, r) => r.end('all ok');
    expect(await probe(true)).to.deep.equal({ kind: 'answer', status: 200, body: 'all ok' });
    answers = (_q, r) => {
      r.statusCode = 503;
      r.end('starting');
    };
    expect(await probe(false)).to.deep.equal({ kind: 'answer', status: 503, body: '' });
  });

  it('a body that never ends: an answer when the body is not read, a timeout when it is', async () => {
    answers = (_q, r) => r.write('chunk');
    expect(await probe(false)).to.deep.equal({ kind: 'answer', status: 200, body: '' });
    const started = Date.now();
    expect(await probe(true, 300)).to.deep.equal({ kind: 'timeout' });
    expect(Date.now() - started).to.be.within(250, 2000);
  });

  it('no answer is a timeout; a closed port is refused', async () => {
    answers = () => {};
    expect(await probe(false, 300)).to.deep.equal({ kind: 'timeout' });
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const free = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    expect(await probeOnce('127.0.0.1', free, '/', 500, false)).to.deep.equal({
      kind: 'refused',
      detail: 'ECONNREFUSED',
    });
  });

  it(`reads at most ${bodyLimitBytes} bytes of the body`, async () => {
    answers = (_q, r) => r.end(`${'x'.repeat(100 * 1024)}ok`);
    const outcome = await probe(true, 2000);
    expect(outcome.kind).to.equal('answer');
    if (outcome.kind === 'answer') expect(outcome.body).to.equal('x'.repeat(bodyLimitBytes));
  });

  it('waits through failed attempts until the content comes; gives up after its attempts, saying why', async () => {
    let n = 0;
    answers = (_q, r) => r.end(++n < 2 ? 'starting' : 'ready: ok');
    await waitForHttp({
      address: '127.0.0.1',
      port,
      timeoutMs: 10_000,
      check: { path: '/health', content: 'ok', attempts: 3, timeoutMs: 500 },
      stillRunning: async () => true,
    });
    expect(n).to.equal(2);

    answers = (_q, r) => r.end('starting');
    const started = Date.now();
    const err = await waitForHttp({
      address: '127.0.0.1',
      port,
      timeoutMs: 10_000,
      check: { path: '/health', content: 'ok', attempts: 2, timeoutMs: 500 },
      stillRunning: async () => true,
    }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(HealthTimeoutError);
    expect((err as Error).message).to.equal(
      'app did not pass its health check after 2 attempts: GET /health answered 200 but the body does not contain "ok" (first 200 bytes: "starting")',
    );
    // One pause of a second between the two attempts, not the 10 s deadline.
    expect(Date.now() - started).to.be.within(900, 5000);
  });
});
