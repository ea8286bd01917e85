/**
 * Watching a session that another endpoint process runs, over the Bus. The node running the
 * session (the owner) adds a read-only viewer whose socket is the bus; the node holding the
 * watcher's WebSocket (the caller) writes what comes to it and says how much it has written.
 * Flow control is credit based: the owner's viewer counts unacknowledged bytes as its socket's
 * backlog, so a slow watcher falls behind and is resynced exactly as one on the owner would
 * be, and never slows the session. Keystrokes never cross: the caller drops them itself.
 */
import type { Logger } from 'pino';
import { TetherError, type TerminalServerMessage, type WireError } from '@tether/protocol';
import type { Principal } from '../auth/principal.ts';
import type { Bus, BusPayload } from '../bus/bus.ts';
import type { LiveSession } from './live-session.ts';
import { Viewer, type ViewerSocket } from './viewer.ts';

/** NATS' default max_payload is 1 MB; output and screens go in pieces well below it. */
const MAX_CHUNK_BYTES = 128 * 1024;
/** Each side says it is alive this often and gives up on the other after missing a few. */
const KEEPALIVE_INTERVAL_MS = 5_000;
const SILENCE_LIMIT_MS = 20_000;
const START_TIMEOUT_MS = 5_000;
const WS_OPEN = 1;
const WS_CLOSED = 3;

export interface WatchStart {
  sessionId: string;
  watchId: string;
  principal: Principal;
}

/** Where the caller puts what the owner sends: the watcher's WebSocket. */
export interface WatchSink {
  /** Terminal bytes; `written` once they have left for the watcher. */
  binary(chunk: Buffer, written: () => void): void;
  /** A JSON control message, as text. */
  text(message: string): void;
  close(code: number, reason: string): void;
}

type UpMessage =
  | { type: 'started' }
  | { type: 'alive' }
  | { type: 'control'; text: string }
  | { type: 'close'; code: number; reason: string }
  | { type: 'error'; error: WireError };

type DownMessage = { type: 'ack'; bytes: number } | { type: 'alive' } | { type: 'leave' };

const subjects = (start: { sessionId: string; watchId: string }) => {
  const base = `terminal.${start.sessionId}.watch.${start.watchId}`;
  return { up: `${base}.up`, down: `${base}.down` };
};

/**
 * Caller side: resolves with the function that leaves once the owner has added the viewer;
 * rejects with the owner's refusal, or `unavailable` when no owner answers.
 */
export function watchRemote(
  bus: Bus,
  ownerNode: string,
  start: WatchStart,
  sink: WatchSink,
): Promise<() => void> {
  const { up, down } = subjects(start);
  const send = (message: DownMessage): void => {
    try {
      bus.publish(down, message);
    } catch {
      // The bus is closing with this process; the owner notices the silence and drops us.
    }
  };
  let written = 0;
  const acknowledge = (): void => {
    if (written > 0) send({ type: 'ack', bytes: written });
    written = 0;
  };
  let done = false;
  const stop = (): void => {
    done = true;
    clearTimeout(silence);
    clearInterval(keepalive);
    unsubscribe();
  };
  const leave = (): void => {
    if (done) return;
    send({ type: 'leave' });
    stop();
  };

  let opened!: { resolve(leave: () => void): void; reject(error: Error): void };
  const ready = new Promise<() => void>((resolve, reject) => (opened = { resolve, reject }));
  let started = false;
  const ownerGone = (): void => {
    stop();
    if (!started)
      return opened.reject(
        new TetherError('unavailable', 'the endpoint running the session does not answer'),
      );
    const ended: TerminalServerMessage = {
      type: 'ended',
      by: null,
      reason: 'the endpoint running the session stopped answering',
      status: 'interrupted',
    };
    sink.text(JSON.stringify(ended));
    sink.close(1000, 'session ended');
  };
  let silence = setTimeout(ownerGone, START_TIMEOUT_MS);
  const keepalive = setInterval(() => send({ type: 'alive' }), KEEPALIVE_INTERVAL_MS);

  const unsubscribe = bus.subscribe(up, (payload: BusPayload) => {
    if (done) return;
    clearTimeout(silence);
    silence = setTimeout(ownerGone, SILENCE_LIMIT_MS);
    if (payload instanceof Uint8Array) {
      const chunk = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
      return sink.binary(chunk, () => {
        // Acknowledged once per turn of the event loop, however many pieces went out.
        if (written === 0) setImmediate(acknowledge);
        written += chunk.length;
      });
    }
    const message = payload as UpMessage;
    if (message.type === 'started') {
      started = true;
      return opened.resolve(leave);
    }
    if (message.type === 'control') return sink.text(message.text);
    if (message.type === 'close') {
      stop();
      return sink.close(message.code, message.reason);
    }
    if (message.type === 'error') {
      stop();
      opened.reject(TetherError.fromWire(message.error));
    }
  });
  bus.publish(`node.${ownerNode}.terminal-watch`, start as unknown as BusPayload);
  return ready;
}

/** Owner side: adds watchers from other nodes to the sessions this node runs. */
export function serveRemoteWatches(
  bus: Bus,
  nodeId: string,
  local: (sessionId: string) => LiveSession | undefined,
  log: Logger,
): () => void {
  return bus.subscribe(`node.${nodeId}.terminal-watch`, (payload) => {
    const start = payload as unknown as WatchStart;
    const session = local(start.sessionId);
    if (!session || session.isEnded) {
      const error = new TetherError('gone', 'the session is no longer running here');
      return publishUp(bus, start, { type: 'error', error: error.toWire() });
    }
    relayToWatcher(
      bus,
      session,
      start,
      log.child({ sessionId: session.id, watchId: start.watchId }),
    );
  });
}

function relayToWatcher(bus: Bus, session: LiveSession, start: WatchStart, log: Logger): void {
  const { down } = subjects(start);
  const socket = new BusSocket(
    (message) => publishUp(bus, start, message),
    () => finish(),
  );
  const viewer = new Viewer(socket, start.principal, 'observer');
  const finish = (): void => {
    clearTimeout(silence);
    clearInterval(keepalive);
    offDown();
    session.leave(viewer);
  };
  const silence = setTimeout(() => {
    log.info('a watcher on another node went silent; dropping it');
    socket.close(1001, 'watcher gone');
  }, SILENCE_LIMIT_MS);
  const keepalive = setInterval(
    () => publishUp(bus, start, { type: 'alive' }),
    KEEPALIVE_INTERVAL_MS,
  );
  const offDown = bus.subscribe(down, (payload) => {
    silence.refresh();
    const message = payload as DownMessage;
    if (message.type === 'ack') socket.acknowledged(message.bytes);
    else if (message.type === 'leave') socket.drop();
  });

  publishUp(bus, start, { type: 'started' });
  session.join(viewer);
  session.marker(`joined: ${start.principal.username}`);
  log.debug({ user: start.principal.username }, 'watcher joined from another node');
}

function publishUp(bus: Bus, start: WatchStart, message: UpMessage | Uint8Array): void {
  try {
    bus.publish(subjects(start).up, message as BusPayload);
  } catch {
    // The bus is closing with this process; the caller notices the silence.
  }
}

/** A viewer's socket whose other end is a WebSocket on another node, reached by the bus. */
class BusSocket implements ViewerSocket {
  readonly OPEN = WS_OPEN;
  readyState = WS_OPEN;
  /** Bytes sent that the caller has not yet written to its socket. */
  bufferedAmount = 0;

  constructor(
    private readonly publish: (message: UpMessage | Uint8Array) => void,
    private readonly closed: () => void,
  ) {}

  send(data: Buffer | string): void {
    if (this.readyState !== WS_OPEN) return;
    if (typeof data === 'string') return this.publish({ type: 'control', text: data });
    for (let at = 0; at < data.length; at += MAX_CHUNK_BYTES) {
      const part = data.subarray(at, at + MAX_CHUNK_BYTES);
      this.bufferedAmount += part.length;
      this.publish(part);
    }
  }

  acknowledged(bytes: number): void {
    this.bufferedAmount = Math.max(0, this.bufferedAmount - bytes);
  }

  /** The session closes the viewer: the caller closes its WebSocket the same way. */
  close(code = 1000, reason = ''): void {
    if (this.readyState !== WS_OPEN) return;
    this.publish({ type: 'close', code, reason });
    this.drop();
  }

  /** The watcher left (or went silent): nothing more is sent. */
  drop(): void {
    if (this.readyState === WS_CLOSED) return;
    this.readyState = WS_CLOSED;
    this.closed();
  }
}
