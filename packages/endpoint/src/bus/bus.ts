/** The Bus carries what crosses requests and endpoint processes: live events, agent calls. */

/** A message is either JSON-able data or raw bytes; bytes are never re-encoded as JSON. */
export type BusPayload = Uint8Array | { [key: string]: unknown };

export type BusHandler = (payload: BusPayload, subject: string) => void;

export interface Bus {
  /**
   * Delivers to every current subscriber of `subject`, in any process sharing the bus, never
   * before this call returns. Throws `BusClosedError` after `close()`,
   * `BusPayloadTooLargeError` past the transport's limit, and `TypeError` for a bad subject.
   */
  publish(subject: string, payload: BusPayload): void;
  /**
   * `subject` is dot-separated; `*` matches one token and a final `>` the rest, as in NATS.
   * Returns the function that unsubscribes.
   */
  subscribe(subject: string, handler: BusHandler): () => void;
  /** Waits until everything published so far has left this process (NATS: a flush). */
  flush(): Promise<void>;
  /** Lets what was already published go out, then drops every subscription. */
  close(): Promise<void>;
}

/** Thrown by `publish` and `subscribe` once `close()` has been called. */
export class BusClosedError extends Error {
  override name = 'BusClosedError';

  constructor(options?: ErrorOptions) {
    super('bus is closed', options);
  }
}

/** Thrown by `publish` when the encoded message is larger than the transport accepts. */
export class BusPayloadTooLargeError extends Error {
  override name = 'BusPayloadTooLargeError';

  constructor(
    readonly subject: string,
    readonly bytes: number,
    readonly limit: number,
  ) {
    super(`payload for ${subject} is ${bytes} bytes; the bus accepts at most ${limit}`);
  }
}

/**
 * Splits a subject into tokens, rejecting what NATS rejects: empty tokens, whitespace, a `>`
 * before the end, and any wildcard in a subject to publish to. Whitespace matters beyond
 * matching: on the NATS wire a space would turn the rest of the subject into a reply address.
 * A bad subject is a bug in the caller, so this throws.
 */
export function splitSubject(subject: string, use: 'publish' | 'subscribe'): string[] {
  const tokens = subject.split('.');
  const last = tokens.length - 1;
  tokens.forEach((token, index) => {
    const wild = token === '*' || token === '>';
    const bad =
      token === '' ||
      /\s/.test(token) ||
      (wild && use === 'publish') ||
      (token === '>' && index !== last);
    if (bad) throw new TypeError(`invalid subject to ${use}: "${subject}"`);
  });
  return tokens;
}
