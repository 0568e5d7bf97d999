import { expect } from 'chai';

type Fetch = (path: string, init: RequestInit) => Promise<Response>;
interface ApiModule {
  createApi(
    token: string,
    options: { fetch: Fetch; retryDelayMs: number; onUnauthorized?: (err: Error) => void },
  ): {
    listApps(): Promise<unknown>;
    createApp(body: unknown): Promise<unknown>;
    downloadVolumeBackup(app: string, volume: string, id: string): Promise<{ blob: Blob; filename?: string }>;
  };
}

// A browser module, plain JavaScript: imported by URL so TypeScript does not look for its types.
const { createApi }: ApiModule = await import(new URL('../../src/dashboard/public/js/api.js', import.meta.url).href);

/** A fetch that fails before any answer the first `failures` times (as fetch does: TypeError), then answers. */
function flakyFetch(failures: number, error: Error = new TypeError('Failed to fetch')) {
  const calls: string[] = [];
  const fetch: Fetch = async (path, init) => {
    calls.push(`${init.method} ${path}`);
    if (calls.length <= failures) throw error;
    return Response.json({ apps: [] });
  };
  return { fetch, calls };
}

describe('dashboard: the API client asks a GET again after a network failure', function () {
  const cases = [
    { what: 'a GET that failed once is asked again', failures: 1, call: 'list', calls: 2, ok: true },
    { what: 'a GET that failed twice fails', failures: 2, call: 'list', calls: 2, ok: false },
    {
      what: 'a POST is never asked again (it may have reached the API)',
      failures: 1,
      call: 'create',
      calls: 1,
      ok: false,
    },
    { what: 'nothing failed: one request', failures: 0, call: 'list', calls: 1, ok: true },
  ] as const;
  for (const c of cases) {
    it(c.what, async function () {
      const { fetch, calls } = flakyFetch(c.failures);
      const api = createApi('gsp_t', { fetch, retryDelayMs: 1 });
      const result = c.call === 'list' ? api.listApps() : api.createApp({ name: 'a' });
      const outcome = await result.then(
        () => 'answered',
        (err: Error) => err.message,
      );
      expect(outcome).to.equal(c.ok ? 'answered' : 'Failed to fetch');
      expect(calls).to.have.length(c.calls);
    });
  }

  it('an abort is not a network failure: not asked again', async function () {
    const { fetch, calls } = flakyFetch(1, new DOMException('aborted', 'AbortError'));
    const api = createApi('gsp_t', { fetch, retryDelayMs: 1 });
    const outcome = await api.listApps().then(
      () => 'answered',
      (err: Error) => err.name,
    );
    expect(outcome).to.equal('AbortError');
    expect(calls).to.deep.equal(['GET /apps']);
  });
});

describe('dashboard: the API client downloads a backup with the token in a header', function () {
  it("gives the blob and the name the API gives it, asking with the token and the path's parts encoded", async function () {
    let asked: [string, RequestInit] | undefined;
    const fetch: Fetch = async (path, init) => {
      asked = [path, init];
      return new Response('tar bytes', {
        headers: {
          'content-type': 'application/x-tar',
          'content-disposition': 'attachment; filename="notes-data.tar"',
        },
      });
    };
    const { blob, filename } = await createApi('gsp_t', { fetch, retryDelayMs: 1 }).downloadVolumeBackup(
      'notes',
      'data',
      'b/1',
    );
    expect(filename).to.equal('notes-data.tar');
    expect(await blob.text()).to.equal('tar bytes');
    expect(asked![0]).to.equal('/apps/notes/volumes/data/backups/b%2F1');
    expect((asked![1].headers as Record<string, string>).authorization).to.equal('Bearer gsp_t');
    expect(asked![1].credentials).to.equal('omit');
  });

  it("an error answer is the API's error, and a 401 signs out as for any request", async function () {
    const unauthorized: Error[] = [];
    const fetch: Fetch = async () => Response.json({ code: 'UNAUTHORIZED', message: 'token revoked' }, { status: 401 });
    const api = createApi('gsp_t', { fetch, retryDelayMs: 1, onUnauthorized: (err) => unauthorized.push(err) });
    const outcome = await api.downloadVolumeBackup('notes', 'data', 'b1').then(
      () => 'downloaded',
      (err: Error) => err.message,
    );
    expect(outcome).to.equal('token revoked');
    expect(unauthorized.map((e) => e.message)).to.deep.equal(['token revoked']);
  });
});
