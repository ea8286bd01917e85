/** The CLI's failure kinds; main.ts turns each into one `tether: …` line and an exit status. */

/** The user asked for something we cannot do as asked: bad flag, missing config, unknown name. */
export class UsageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'UsageError';
  }
}

/** The endpoint answered with an error body, or with a status and no usable body. */
export class ApiError extends Error {
  readonly code: string;
  readonly status: number;

  constructor(code: string, status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
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

/** Sign-in is missing or no longer valid; said the same way for HTTP and WebSocket. */
export const NOT_SIGNED_IN = 'not signed in: set TETHER_TOKEN or run tether login';

/** The one-line message for an expected failure, or undefined for a bug. */
export function describeError(error: unknown): string | undefined {
  if (error instanceof ApiError && error.status === 401) return NOT_SIGNED_IN;
  if (error instanceof UsageError) return error.message;
  if (error instanceof ApiError) return error.message;
  if (error instanceof NetworkError) return error.message;
  if (error instanceof StreamClosedError) return error.message;
  return undefined;
}
