/** A thin client of Gasper's REST API: JSON in, JSON out, API errors as ClientError. */
export class ClientError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields?: Record<string, string>,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

export class ApiClient {
  constructor(
    readonly url: string,
    private readonly token: string,
  ) {}

  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.token}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw new ClientError(
        0,
        'UNREACHABLE',
        `cannot reach ${this.url}: ${(err as Error).cause ?? (err as Error).message}`,
      );
    }
    if (res.status === 204) return {} as T;
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      throw new ClientError(res.status, 'BAD_RESPONSE', `${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
    }
    if (!res.ok) {
      throw new ClientError(
        res.status,
        String(json.code ?? res.status),
        String(json.message ?? res.statusText),
        json.fields as Record<string, string> | undefined,
      );
    }
    return json as T;
  }

  /** A GET of a file (a backup): its bytes and the name the API suggests (Content-Disposition). */
  async download(path: string): Promise<{ data: Buffer; filename?: string }> {
    let res: Response;
    try {
      res = await fetch(`${this.url}${path}`, { headers: { authorization: `Bearer ${this.token}` } });
    } catch (err) {
      throw new ClientError(
        0,
        'UNREACHABLE',
        `cannot reach ${this.url}: ${(err as Error).cause ?? (err as Error).message}`,
      );
    }
    if (!res.ok) {
      const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      throw new ClientError(res.status, String(json.code ?? res.status), String(json.message ?? res.statusText));
    }
    const disposition = res.headers.get('content-disposition') ?? '';
    const filename = /filename="?([^";]+)"?/.exec(disposition)?.[1];
    return { data: Buffer.from(await res.arrayBuffer()), ...(filename ? { filename } : {}) };
  }

  /** A streaming GET (log follow): the response body as text chunks, until the server ends it. */
  async *stream(path: string, signal?: AbortSignal): AsyncGenerator<string> {
    const res = await fetch(`${this.url}${path}`, { headers: { authorization: `Bearer ${this.token}` }, signal });
    if (!res.ok || !res.body) {
      const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      throw new ClientError(
        res.status,
        String(json.code ?? res.status),
        String(json.message ?? res.statusText),
        json.fields as Record<string, string> | undefined,
      );
    }
    const decoder = new TextDecoder();
    for await (const chunk of res.body) yield decoder.decode(chunk as Uint8Array, { stream: true });
  }
}
