/** The one error shape that crosses every wire: agent ↔ endpoint, endpoint ↔ browser and CLI. */

/** Stable error codes. Callers branch on these, never on the message. */
export const ERROR_STATUS = {
  invalid_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  gone: 410,
  payload_too_large: 413,
  /** The server's disk is full (or the upload is larger than its free space). */
  insufficient_storage: 507,
  token_invalid: 400,
  token_expired: 410,
  token_used: 410,
  token_revoked: 410,
  agent_offline: 409,
  agent_revoked: 410,
  rate_limited: 429,
  timeout: 504,
  /** A forward's target refused the connection, did not answer, or has no address. */
  target_unreachable: 502,
  unavailable: 503,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface WireError {
  code: ErrorCode;
  message: string;
  cause?: WireError;
}

/** A failure the caller is expected to handle; `code` decides the HTTP status. */
export class TetherError extends Error {
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TetherError';
    this.code = code;
    this.details = options?.details;
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }

  toWire(): WireError {
    const wire: WireError = { code: this.code, message: this.message };
    if (this.cause instanceof TetherError) wire.cause = this.cause.toWire();
    return wire;
  }

  /**
   * The wire shape of any failure: a TetherError as itself, anything else (a bug) as a bare
   * `internal` with `fallback`, so no stack or detail crosses the wire.
   */
  static wireOf(error: unknown, fallback: string): WireError {
    return error instanceof TetherError ? error.toWire() : { code: 'internal', message: fallback };
  }

  static fromWire(wire: WireError): TetherError {
    const cause = wire.cause ? TetherError.fromWire(wire.cause) : undefined;
    const code = wire.code in ERROR_STATUS ? wire.code : 'internal';
    return new TetherError(code, wire.message, { cause });
  }
}

export function isErrorBody(value: unknown): value is { error: WireError } {
  if (typeof value !== 'object' || value === null) return false;
  const error = (value as { error?: unknown }).error;
  return (
    typeof error === 'object' && error !== null && typeof (error as WireError).code === 'string'
  );
}
