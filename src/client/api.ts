import http from 'node:http';
import https from 'node:https';

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

  /**
   * One HTTP exchange with node:http(s) rather than fetch: fetch's first use loads and compiles
   * undici, which costs a short command like `gasper apps list` more than the API call does.
   */
  private send(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<http.IncomingMessage> {
    const target = new URL(`${this.url}${path}`);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = (target.protocol === 'https:' ? https : http).request(
        target,
        {
          method,
          signal,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
          },
        },
        resolve,
      );
      req.on('error', (err) =>
        reject(
          err.name === 'AbortError'
            ? err
            : new ClientError(0, 'UNREACHABLE', `cannot reach ${this.url}: ${err.message}`),
        ),
      );
      req.end(payload);
    });
  }

  private static async read(res: http.IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  /** The API's error answer as a ClientError: its code, message and fields. */
  private static async failure(res: http.IncomingMessage, what: string): Promise<ClientError> {
    const text = (await ApiClient.read(res)).toString('utf8');
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      return new ClientError(res.statusCode ?? 0, 'BAD_RESPONSE', `${what}: ${res.statusCode} ${text.slice(0, 200)}`);
    }
    return new ClientError(
      res.statusCode ?? 0,
      String(json.code ?? res.statusCode),
      String(json.message ?? res.statusMessage),
      json.fields as Record<string, string> | undefined,
    );
  }

  async request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await this.send(method, path, body);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw await ApiClient.failure(res, `${method} ${path}`);
    const text = (await ApiClient.read(res)).toString('utf8');
    if (status === 204 || !text) return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new ClientError(status, 'BAD_RESPONSE', `${method} ${path}: ${status} ${text.slice(0, 200)}`);
    }
  }

  /** A GET of a file (a backup): its bytes and the name the API suggests (Content-Disposition). */
  async download(path: string): Promise<{ data: Buffer; filename?: string }> {
    const res = await this.send('GET', path);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw await ApiClient.failure(res, `GET ${path}`);
    const filename = /filename="?([^";]+)"?/.exec(res.headers['content-disposition'] ?? '')?.[1];
    return { data: await ApiClient.read(res), ...(filename ? { filename } : {}) };
  }

  /** A streaming GET (log follow): the response body as text chunks, until the server ends it. */
  async *stream(path: string, signal?: AbortSignal): AsyncGenerator<string> {
    const res = await this.send('GET', path, undefined, signal);
    const status = res.statusCode ?? 0;
    if (status < 200 || status >= 300) throw await ApiClient.failure(res, `GET ${path}`);
    res.setEncoding('utf8');
    for await (const chunk of res) yield chunk as string;
  }
}
