/**
 * Terminals whose agent is linked to another endpoint process, carried over the Bus. The node
 * holding the viewers' sockets (the caller) runs the session; the node holding the agent (the
 * owner) only opens the channel and relays bytes. Flow control is credit based, as for exec:
 * the owner stops reading the channel once TERMINAL_WINDOW_BYTES are unacknowledged, so a slow
 * engineer slows the pty itself and Ctrl-C still gets through.
 */
import type { Logger } from 'pino';
import { TetherError, type WireError } from '@tether/protocol';
import type { AgentHub, ShellOptions } from '../agents/agent-hub.ts';
import type { Bus, BusPayload } from '../bus/bus.ts';
import { channelTerminal, type TerminalOutcome, type TerminalStream } from './terminal-stream.ts';

/** Bytes in flight between owner and caller; 256 KiB is ~5 ms of pty output at 54 MB/s. */
const TERMINAL_WINDOW_BYTES = 256 * 1024;
const ACK_EVERY_BYTES = 64 * 1024;
/** NATS' default max_payload is 1 MB; chunks stay well below it. */
const MAX_CHUNK_BYTES = 128 * 1024;
/** Each side says it is alive this often and gives up after missing a few. */
const KEEPALIVE_INTERVAL_MS = 5_000;
const SILENCE_LIMIT_MS = 20_000;
const START_TIMEOUT_MS = 10_000;

export interface TerminalStart extends ShellOptions {
  sessionId: string;
  agentId: string;
}

type UpMessage =
  | { type: 'started' }
  | { type: 'alive' }
  | { type: 'end'; outcome: TerminalOutcome }
  | { type: 'error'; error: WireError };

type DownMessage =
  | { type: 'ack'; bytes: number }
  | { type: 'alive' }
  | { type: 'resize'; cols: number; rows: number }
  | { type: 'close' };

/** Caller side: resolves once the owner opened the pty; rejects if it could not. */
export function remoteTerminal(
  bus: Bus,
  ownerNode: string,
  start: TerminalStart,
): Promise<TerminalStream> {
  const up = `terminal.${start.sessionId}.up`;
  const downSubject = `terminal.${start.sessionId}.down`;
  const down = (message: DownMessage | Uint8Array): void => {
    try {
      bus.publish(downSubject, message as BusPayload);
    } catch {
      // The bus is closing with this process; the owner notices the silence and hangs up.
    }
  };
  let handler: ((chunk: Buffer) => void) | null = null;
  let paused = false;
  const held: Buffer[] = [];
  let unacked = 0;
  let settle!: { resolve(o: TerminalOutcome): void; reject(e: Error): void };
  const done = new Promise<TerminalOutcome>((resolve, reject) => (settle = { resolve, reject }));
  done.catch(() => {});
  let opened!: { resolve(s: TerminalStream): void; reject(e: Error): void };
  const ready = new Promise<TerminalStream>((resolve, reject) => (opened = { resolve, reject }));
  let pendingEnd: TerminalOutcome | Error | null = null;

  const deliver = (chunk: Buffer): void => {
    handler!(chunk);
    unacked += chunk.length;
    if (unacked >= ACK_EVERY_BYTES) {
      down({ type: 'ack', bytes: unacked });
      unacked = 0;
    }
  };
  const release = (): void => {
    while (!paused && handler && held.length > 0) deliver(held.shift()!);
    if (!paused && handler && held.length === 0 && pendingEnd) finish(pendingEnd);
  };
  const finish = (result: TerminalOutcome | Error): void => {
    clearTimeout(silence);
    clearInterval(keepalive);
    unsubscribe();
    if (result instanceof Error) {
      settle.reject(result);
      opened.reject(result);
    } else settle.resolve(result);
  };
  const ownerGone = (): void =>
    finish(new TetherError('agent_offline', 'the endpoint holding the agent stopped answering'));
  let silence = setTimeout(ownerGone, START_TIMEOUT_MS);
  const keepalive = setInterval(() => down({ type: 'alive' }), KEEPALIVE_INTERVAL_MS);

  const stream: TerminalStream = {
    onData: (h) => {
      handler = h;
      release();
    },
    write: (bytes) => {
      for (let at = 0; at < bytes.length; at += MAX_CHUNK_BYTES)
        down(bytes.subarray(at, at + MAX_CHUNK_BYTES));
    },
    resize: (cols, rows) => down({ type: 'resize', cols, rows }),
    done,
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
      release();
    },
    close: () => down({ type: 'close' }),
  };

  const unsubscribe = bus.subscribe(up, (payload: BusPayload) => {
    clearTimeout(silence);
    silence = setTimeout(ownerGone, SILENCE_LIMIT_MS);
    if (payload instanceof Uint8Array) {
      const chunk = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
      if (paused || !handler || held.length > 0) held.push(chunk);
      else deliver(chunk);
      return;
    }
    const message = payload as UpMessage;
    if (message.type === 'started') return opened.resolve(stream);
    if (message.type === 'alive') return;
    const result = message.type === 'end' ? message.outcome : TetherError.fromWire(message.error);
    // Output still held for a paused consumer goes out before the end does.
    if (held.length > 0) pendingEnd = result;
    else finish(result);
  });
  bus.publish(`node.${ownerNode}.terminal`, start as unknown as BusPayload);
  return ready;
}

/** Owner side: opens terminals that other nodes ask for on agents linked to this node. */
export function serveRemoteTerminals(
  bus: Bus,
  nodeId: string,
  hub: AgentHub,
  log: Logger,
): () => void {
  return bus.subscribe(`node.${nodeId}.terminal`, (payload) => {
    const start = payload as unknown as TerminalStart;
    void relayForCaller(bus, hub, start, log.child({ sessionId: start.sessionId })).catch((error) =>
      log.warn({ err: error, sessionId: start.sessionId }, 'relayed terminal failed'),
    );
  });
}

async function relayForCaller(
  bus: Bus,
  hub: AgentHub,
  start: TerminalStart,
  log: Logger,
): Promise<void> {
  const up = (message: UpMessage | Uint8Array): void => {
    try {
      bus.publish(`terminal.${start.sessionId}.up`, message as BusPayload);
    } catch {
      // The bus is closing with this process; the caller notices the silence.
    }
  };
  let stream: TerminalStream;
  try {
    const { sessionId: _s, agentId, ...shell } = start;
    stream = channelTerminal(await hub.shell(agentId, shell));
  } catch (error) {
    const wire = TetherError.wireOf(error, 'terminal failed');
    return up({ type: 'error', error: wire });
  }
  log.debug('relaying a terminal for another node');

  let inFlight = 0;
  const callerSilence = setTimeout(() => stream.close(), SILENCE_LIMIT_MS);
  const offDown = bus.subscribe(`terminal.${start.sessionId}.down`, (payload) => {
    callerSilence.refresh();
    if (payload instanceof Uint8Array) return stream.write(Buffer.from(payload));
    const message = payload as DownMessage;
    if (message.type === 'close') return stream.close();
    if (message.type === 'resize') return stream.resize(message.cols, message.rows);
    if (message.type === 'ack') {
      inFlight -= message.bytes;
      if (inFlight < TERMINAL_WINDOW_BYTES) stream.resume();
    }
  });
  const keepalive = setInterval(() => up({ type: 'alive' }), KEEPALIVE_INTERVAL_MS);
  up({ type: 'started' });

  stream.onData((chunk) => {
    for (let at = 0; at < chunk.length; at += MAX_CHUNK_BYTES) {
      const part = chunk.subarray(at, at + MAX_CHUNK_BYTES);
      up(Buffer.from(part));
      inFlight += part.length;
    }
    if (inFlight >= TERMINAL_WINDOW_BYTES) stream.pause();
  });

  try {
    up({ type: 'end', outcome: await stream.done });
  } catch (error) {
    const wire = TetherError.wireOf(error, 'terminal failed');
    up({ type: 'error', error: wire });
  } finally {
    clearTimeout(callerSilence);
    clearInterval(keepalive);
    offDown();
  }
}
