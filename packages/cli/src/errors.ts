/** The CLI's failure kinds; main.ts turns each into one `tether: …` line and an exit status. */

/** The user asked for something we cannot do as asked: bad flag, missing config, unknown name. */
export class UsageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageError';
  }
}

/** Where the token we sent came from, named as the user would set it. */
export type TokenSource = '--token' | 'TETHER_TOKEN' | 'saved login';

export interface ApiErrorOptions {
  cause?: unknown;
  /** What the CLI was doing, e.g. "listing agents": it prefixes the endpoint's message. */
  doing?: string;
  /** What the endpoint sent to act on (a save conflict's current hash and diff). */
  details?: Record<string, unknown>;
}

/** The endpoint answered with an error body, or with a status and no usable body. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;
  readonly doing?: string;
  readonly details?: Record<string, unknown>;

  constructor(code: string, status: number, message: string, options: ApiErrorOptions = {}) {
    super(message, { cause: options.cause });
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.doing = options.doing;
    this.details = options.details;
  }
}

/** The endpoint answered 401 to a token we did send: it is wrong, expired or revoked. */
export class TokenRefusedError extends ApiError {
  readonly source: TokenSource;

  constructor(source: TokenSource, options: { cause?: unknown } = {}) {
    const advice = 'run tether login or set a valid TETHER_TOKEN';
    super('unauthorized', 401, `the endpoint refused the token from ${source}: ${advice}`, options);
    this.name = 'TokenRefusedError';
    this.source = source;
  }
}

/** The endpoint could not be reached at all: refused, unresolvable, TLS, reset. */
export class NetworkError extends Error {
  readonly url: string;

  constructor(url: string, detail: string, options?: { cause?: unknown }) {
    super(`cannot reach ${url}: ${detail}`, options);
    this.name = 'NetworkError';
    this.url = url;
  }
}

/** The connection dropped while a command was running; what happened to it is unknown. */
export class StreamClosedError extends Error {
  constructor(detail: string, options?: { cause?: unknown }) {
    super(`lost the endpoint before the command finished (${detail})`, options);
    this.name = 'StreamClosedError';
  }
}

/** No token was sent and the endpoint wants one; said the same way for HTTP and WebSocket. */
export const NOT_SIGNED_IN = 'not signed in: set TETHER_TOKEN or run tether login';

/** The one-line message for an expected failure, or undefined for a bug. */
export function describeError(error: unknown): string | undefined {
  if (error instanceof TokenRefusedError) return error.message;
  if (error instanceof ApiError && error.status === 401) return NOT_SIGNED_IN;
  if (error instanceof UsageError) return error.message;
  if (error instanceof ApiError) return withDoing(error);
  if (error instanceof NetworkError) return error.message;
  if (error instanceof StreamClosedError) return error.message;
  return undefined;
}

/** The endpoint's own message, after what the CLI was doing when it came. */
function withDoing(error: ApiError): string {
  return error.doing ? `${error.doing}: ${error.message}` : error.message;
}
