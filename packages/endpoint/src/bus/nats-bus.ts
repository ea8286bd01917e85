/** The Bus over NATS, so several endpoint processes share live events and agent calls. */
import { connect, type Msg, type NatsConnection, type NatsError } from 'nats';
import {
  BusClosedError,
  BusPayloadTooLargeError,
  splitSubject,
  type Bus,
  type BusHandler,
  type BusPayload,
} from './bus.ts';

/** The first byte of every message says what the rest is. */
const JSON_TAG = 0;
const BYTES_TAG = 1;

/**
 * How long `close()` lets a drain run before it drops the socket. A drain waits for the
 * server's answer, which never comes while the client is reconnecting to a server that is gone.
 */
const DRAIN_TIMEOUT_MS = 5_000;

export interface NatsBusOptions {
  /** Shown by the server in its connection list (`nats server report connections`). */
  name?: string;
  /** Hears what a handler threw, and messages that could not be decoded. */
  onError?: (err: unknown, subject: string) => void;
}

/** A message arrived that this bus did not encode: an unknown tag, or JSON that does not parse. */
export class BusDecodeError extends Error {
  override name = 'BusDecodeError';

  constructor(
    readonly subject: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`cannot decode message on ${subject}: ${reason}`, options);
  }
}

/**
 * Connects to the NATS server at `url`; rejects if it does not answer. Once connected, the
 * client reconnects forever and restores its subscriptions; what is published while it is
 * disconnected is buffered by the client and sent on reconnection.
 */
export async function connectNatsBus(url: string, options: NatsBusOptions = {}): Promise<Bus> {
  const connection = await connect({
    servers: url,
    name: options.name,
    maxReconnectAttempts: -1,
  });
  return new NatsBus(connection, options.onError ?? (() => {}));
}

class NatsBus implements Bus {
  private closing: Promise<void> | undefined;

  constructor(
    private readonly connection: NatsConnection,
    private readonly onError: (err: unknown, subject: string) => void,
  ) {}

  publish(subject: string, payload: BusPayload): void {
    if (this.closing || this.connection.isClosed()) throw new BusClosedError();
    splitSubject(subject, 'publish');

    const bytes = payload instanceof Uint8Array ? payload : undefined;
    const json = bytes ? undefined : JSON.stringify(payload);
    const size = 1 + (bytes ? bytes.byteLength : Buffer.byteLength(json!));

    // The client would refuse this too, but with a bare "MAX_PAYLOAD_EXCEEDED"; checking
    // first also spares copying a frame that will not be sent.
    const limit = this.connection.info?.max_payload;
    if (limit !== undefined && size > limit) {
      throw new BusPayloadTooLargeError(subject, size, limit);
    }

    const frame = Buffer.allocUnsafe(size);
    if (bytes) {
      frame[0] = BYTES_TAG;
      frame.set(bytes, 1);
    } else {
      frame[0] = JSON_TAG;
      frame.write(json!, 1);
    }
    this.connection.publish(subject, frame);
  }

  subscribe(subject: string, handler: BusHandler): () => void {
    if (this.closing || this.connection.isClosed()) throw new BusClosedError();
    splitSubject(subject, 'subscribe');

    const subscription = this.connection.subscribe(subject, {
      callback: (err, msg) => this.receive(err, msg, subject, handler),
    });
    return () => {
      if (subscription.isClosed() || this.connection.isClosed()) return;
      subscription.unsubscribe();
    };
  }

  /** Resolves when the server has everything published so far; waits out a reconnection. */
  async flush(): Promise<void> {
    if (this.connection.isClosed()) return;
    await this.connection.flush();
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, DRAIN_TIMEOUT_MS);
    });

    try {
      await Promise.race([this.connection.drain(), timeout]);
    } catch {
      // A drain is refused only when the connection is already closed or draining; the close
      // below finishes the job in both cases.
    } finally {
      clearTimeout(timer);
    }
    await this.connection.close();
  }

  /**
   * Runs inside the NATS client's parser: anything thrown here would abort parsing of the rest
   * of the socket's data, so every failure goes to `onError` instead.
   */
  private receive(err: NatsError | null, msg: Msg, pattern: string, handler: BusHandler): void {
    if (err) {
      this.report(err, pattern);
      return;
    }

    let payload: BusPayload;
    try {
      payload = decode(msg.data, msg.subject);
    } catch (error) {
      this.report(error, msg.subject);
      return;
    }

    try {
      handler(payload, msg.subject);
    } catch (error) {
      this.report(error, msg.subject);
    }
  }

  private report(err: unknown, subject: string): void {
    try {
      this.onError(err, subject);
    } catch {
      // A failing error reporter has nowhere further to report to, and must not reach the
      // client's parser (see `receive`).
    }
  }
}

/** The bytes are a view into the client's read buffer, not a copy. */
function decode(data: Uint8Array, subject: string): BusPayload {
  const body = data.subarray(1);
  if (data[0] === BYTES_TAG) return body;
  if (data[0] !== JSON_TAG) {
    throw new BusDecodeError(subject, `unknown tag ${data[0] ?? '(empty message)'}`);
  }

  try {
    return JSON.parse(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString());
  } catch (err) {
    throw new BusDecodeError(subject, 'malformed JSON', { cause: err });
  }
}
