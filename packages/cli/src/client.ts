/** The endpoint's REST and WebSocket API as the CLI uses it: bearer token, typed errors. */
import type { IncomingMessage } from 'node:http';
import { ERROR_STATUS, isErrorBody, type ErrorCode } from '@tether/protocol';
import WebSocket from 'ws';
import { ApiError, NetworkError, TokenRefusedError, type TokenSource } from './errors.ts';

/** Long enough for a slow endpoint, short enough that a hung one does not hang a script. */
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** An error body larger than this is not JSON we want to parse; its status still counts. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;

export interface RequestOptions {
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  timeoutMs?: number;
  /** What the caller is doing, e.g. "listing agents"; an error from the endpoint names it. */
  doing?: string;
}

export type SocketOptions = Pick<RequestOptions, 'query' | 'doing'>;

export interface RawResponse<T> {
  status: number;
  headers: Headers;
  body: T;
}

export class Client {
  readonly url: string;
  readonly #token: string | undefined;
  readonly #tokenSource: TokenSource;

  /** A token handed over without its source is taken as given on the command line. */
  constructor(url: string, token?: string, tokenSource: TokenSource = '--token') {
    this.url = url;
    this.#token = token;
    this.#tokenSource = tokenSource;
  }

  get<T>(path: string, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('GET', path, options);
  }

  post<T>(path: string, body: unknown = {}, options: RequestOptions = {}): Promise<T> {
    return this.request<T>('POST', path, { ...options, body });
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    return (await this.send<T>(method, path, options)).body;
  }

  /** Like request, but also hands back status and headers (login needs its cookie). */
  async send<T>(
    method: string,
    path: string,
    options: RequestOptions = {},
  ): Promise<RawResponse<T>> {
    const headers: Record<string, string> = { accept: 'application/json', ...this.#auth() };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    Object.assign(headers, options.headers);

    const timeoutMs = options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    let response: Response;
    let text: string;
    try {
      response = await fetch(this.#href(path, options.query), {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw this.#networkError(error, timeoutMs);
    }

    const body = parseJson(text);
    if (!response.ok) {
      throw this.#refused(errorFromResponse(response.status, response.statusText, body, options));
    }
    return { status: response.status, headers: response.headers, body: body as T };
  }

  /**
   * A request whose body streams (downloads, uploads): the Response with its body unread on
   * success, the endpoint's error as an ApiError otherwise. No timeout: a transfer takes as
   * long as it takes; `signal` stops it.
   */
  async raw(
    method: string,
    path: string,
    options: Pick<RequestOptions, 'query' | 'headers' | 'doing'> & {
      body?: AsyncIterable<Uint8Array>;
      signal?: AbortSignal;
    } = {},
  ): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(this.#href(path, options.query), {
        method,
        headers: { ...this.#auth(), ...options.headers },
        body: options.body as BodyInit | undefined,
        signal: options.signal,
        ...(options.body ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (error) {
      throw this.#networkError(error, 0);
    }
    if (response.ok || response.status === 416) return response;
    const body = parseJson(await response.text().catch(() => ''));
    throw this.#refused(errorFromResponse(response.status, response.statusText, body, options));
  }

  /** Opens `path` as a WebSocket with the bearer token; rejects with the endpoint's error. */
  socket(path: string, options: SocketOptions = {}): Promise<WebSocket> {
    const href = this.#href(path, options.query).replace(/^http/, 'ws');
    const ws = new WebSocket(href, {
      headers: this.#auth(),
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      perMessageDeflate: false,
    });

    return new Promise((resolve, reject) => {
      ws.once('open', () => {
        ws.removeAllListeners('error');
        ws.removeAllListeners('unexpected-response');
        resolve(ws);
      });
      ws.once('unexpected-response', (_request, response) => {
        ws.removeAllListeners('error');
        ws.on('error', () => {
          // Aborting the refused handshake makes ws emit an error; the response said why.
        });
        readErrorResponse(response, options)
          .then((error) => reject(this.#refused(error)), reject)
          .finally(() => ws.terminate());
      });
      ws.once('error', (error) => reject(this.#networkError(error, HANDSHAKE_TIMEOUT_MS)));
    });
  }

  /** The bearer header, for clients of other protocols on the same endpoint (repository sync). */
  authHeaders(): Record<string, string> {
    return this.#auth();
  }

  /** An error the endpoint sent inside a stream, told the same way as one in a response. */
  streamError(error: { code: string; message: string }, doing?: string): ApiError {
    const status = (ERROR_STATUS as Record<string, number>)[error.code] ?? 500;
    return this.#refused(new ApiError(error.code, status, error.message, { doing }));
  }

  /** A 401 to a token we sent says which token, so the user knows which one to replace. */
  #refused(error: ApiError): ApiError {
    if (error.status !== 401 || !this.#token) return error;
    return new TokenRefusedError(this.#tokenSource, { cause: error });
  }

  #auth(): Record<string, string> {
    return this.#token ? { authorization: `Bearer ${this.#token}` } : {};
  }

  #href(path: string, query: RequestOptions['query'] = {}): string {
    const url = new URL(this.url + path);
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url.href;
  }

  #networkError(error: unknown, timeoutMs: number): NetworkError {
    const name = (error as Error | undefined)?.name;
    if (name === 'TimeoutError' || /handshake has timed out/.test(String(error))) {
      return new NetworkError(this.url, `no answer within ${timeoutMs / 1000}s`, { cause: error });
    }
    const detail = networkDetail(error);
    if (detail === 'bad port') {
      // The fetch standard refuses ports of other well-known services (6000, 6667, 10080, …).
      const port = new URL(this.url).port;
      const advice = `fetch refuses port ${port}; serve the endpoint on another port`;
      return new NetworkError(this.url, advice, { cause: error });
    }
    return new NetworkError(this.url, detail, { cause: error });
  }
}

/**
 * What a status with no error body means: only the generic HTTP meanings. A bare 502 or 504
 * comes from a proxy in between, not from a target or timeout of ours, so it stays `internal`.
 */
const BARE_STATUS_CODES: Record<number, ErrorCode> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  410: 'gone',
  413: 'payload_too_large',
  429: 'rate_limited',
  503: 'unavailable',
};

/** Maps an error response to an ApiError: the body's code and message, or its status alone. */
export function errorFromResponse(
  status: number,
  statusText: string,
  body: unknown,
  { doing }: Pick<RequestOptions, 'doing'> = {},
): ApiError {
  if (isErrorBody(body)) {
    const { details } = body.error as { details?: Record<string, unknown> };
    return new ApiError(body.error.code, status, body.error.message, { doing, details });
  }
  const code = BARE_STATUS_CODES[status];
  const text = statusText ? `${status} ${statusText}` : String(status);
  return new ApiError(code ?? 'internal', status, `endpoint answered ${text}`, { doing });
}

async function readErrorResponse(
  response: IncomingMessage,
  options: SocketOptions,
): Promise<ApiError> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_ERROR_BODY_BYTES) break;
    chunks.push(chunk);
  }
  const body = parseJson(Buffer.concat(chunks).toString('utf8'));
  return errorFromResponse(response.statusCode ?? 0, response.statusMessage ?? '', body, options);
}

function parseJson(text: string): unknown {
  if (text.length === 0) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** fetch says only "fetch failed"; the reason (ECONNREFUSED, ENOTFOUND, TLS) is in `cause`. */
function networkDetail(error: unknown): string {
  let current = error as (Error & { code?: string; errors?: Error[] }) | undefined;
  let detail = current?.message ?? String(error);
  while (current) {
    const inner = current.errors?.[0];
    if (current.message && current.message !== 'fetch failed') detail = current.message;
    else if (current.code) detail = current.code;
    current = (current.cause as typeof current) ?? inner;
  }
  return detail;
}
