/**
 * Commands for agents linked to another endpoint process, carried over the Bus.
 * Flow control is credit based: the owner stops reading the agent's channel once
 * EXEC_WINDOW_BYTES are unacknowledged, so a slow caller slows the command, not memory.
 */
import type { Logger } from 'pino';
import { TetherError, type AgentExecCommand, type WireError } from '@tether/protocol';
import type { Bus, BusPayload } from '../bus/bus.ts';
import type { AgentHub } from '../agents/agent-hub.ts';
import type { ExecOutcome, ExecStream, StreamId } from './exec-stream.ts';

/** Bytes in flight between owner and caller; 1 MiB keeps NATS messages (max 1 MB) flowing. */
const EXEC_WINDOW_BYTES = 1024 * 1024;
const ACK_EVERY_BYTES = 128 * 1024;
/** NATS' default max_payload is 1 MB; chunks stay well below it. */
const MAX_CHUNK_BYTES = 256 * 1024;
/** The owner says it is alive this often; the caller gives up after missing a few. */
const KEEPALIVE_INTERVAL_MS = 5_000;
const OWNER_SILENCE_LIMIT_MS = 20_000;
const START_TIMEOUT_MS = 5_000;

interface StartMessage {
  execId: string;
  agentId: string;
  command: AgentExecCommand;
  stdin: string | null;
}

type UpMessage =
  | { type: 'started' }
  | { type: 'alive' }
  | { type: 'end'; outcome: ExecOutcome }
  | { type: 'error'; error: WireError };

type DownMessage = { type: 'ack'; bytes: number } | { type: 'cancel' };

/** Caller side: asks the node that holds the agent to run the command and relays its output. */
export function remoteExec(bus: Bus, ownerNode: string, start: StartMessage): ExecStream {
  let handler: (stream: StreamId, chunk: Buffer) => void = () => {};
  // Held until onData attaches, like an SSH channel's own buffer.
  let paused = true;
  let userPaused = false;
  const held: Buffer[] = [];
  let unacked = 0;
  let settle: { resolve(o: ExecOutcome): void; reject(e: Error): void };
  const done = new Promise<ExecOutcome>((resolve, reject) => (settle = { resolve, reject }));
  done.catch(() => {});

  let pendingEnd: ExecOutcome | Error | null = null;
  const release = (): void => {
    paused = false;
    while (!paused && held.length > 0) deliver(held.shift() as Buffer);
    if (!paused && pendingEnd) finish(pendingEnd);
  };
  const down = (message: DownMessage): void => bus.publish(`exec.${start.execId}.down`, message);
  const deliver = (frame: Buffer): void => {
    handler(frame[0] as StreamId, frame.subarray(1));
    unacked += frame.length - 1;
    if (unacked >= ACK_EVERY_BYTES) {
      down({ type: 'ack', bytes: unacked });
      unacked = 0;
    }
  };
  const ownerGone = (): void => finish(new TetherError('agent_offline', 'agent did not answer'));
  let silence = setTimeout(ownerGone, START_TIMEOUT_MS);
  const heard = (): void => {
    clearTimeout(silence);
    silence = setTimeout(ownerGone, OWNER_SILENCE_LIMIT_MS);
  };
  const finish = (result: ExecOutcome | Error): void => {
    clearTimeout(silence);
    unsubscribe();
    if (result instanceof Error) settle.reject(result);
    else settle.resolve(result);
  };

  const unsubscribe = bus.subscribe(`exec.${start.execId}.up`, (payload: BusPayload) => {
    heard();
    if (payload instanceof Uint8Array) {
      const frame = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
      if (paused) held.push(frame);
      else deliver(frame);
      return;
    }
    const message = payload as UpMessage;
    if (message.type === 'started' || message.type === 'alive') return;
    const result = message.type === 'end' ? message.outcome : TetherError.fromWire(message.error);
    // Output still held for a paused consumer goes out before the end does.
    if (paused && held.length > 0) pendingEnd = result;
    else finish(result);
  });
  bus.publish(`node.${ownerNode}.exec`, start as unknown as BusPayload);

  return {
    onData: (h) => {
      handler = h;
      if (!userPaused) release();
    },
    done,
    pause: () => {
      userPaused = true;
      paused = true;
    },
    resume: () => {
      userPaused = false;
      release();
    },
    cancel: () => down({ type: 'cancel' }),
  };
}

/** Owner side: runs commands that other nodes ask for on agents linked to this node. */
export function serveRemoteExecs(bus: Bus, nodeId: string, hub: AgentHub, log: Logger): () => void {
  return bus.subscribe(`node.${nodeId}.exec`, (payload) => {
    const start = payload as unknown as StartMessage;
    void runForCaller(bus, hub, start).catch((error) =>
      log.warn({ err: error, execId: start.execId }, 'relayed exec failed'),
    );
  });
}

async function runForCaller(bus: Bus, hub: AgentHub, start: StartMessage): Promise<void> {
  const up = (message: UpMessage | Uint8Array): void =>
    bus.publish(`exec.${start.execId}.up`, message as BusPayload);
  let stream: ExecStream;
  try {
    const stdin = start.stdin === null ? null : Buffer.from(start.stdin, 'utf8');
    stream = await hub.exec(start.agentId, start.command, stdin);
  } catch (error) {
    const wire = TetherError.wireOf(error, 'exec failed');
    return up({ type: 'error', error: wire });
  }

  let inFlight = 0;
  const offDown = bus.subscribe(`exec.${start.execId}.down`, (payload) => {
    const message = payload as DownMessage;
    if (message.type === 'cancel') return stream.cancel();
    inFlight -= message.bytes;
    if (inFlight < EXEC_WINDOW_BYTES) stream.resume();
  });
  const keepalive = setInterval(() => up({ type: 'alive' }), KEEPALIVE_INTERVAL_MS);
  up({ type: 'started' });

  stream.onData((id, chunk) => {
    for (let at = 0; at < chunk.length; at += MAX_CHUNK_BYTES) {
      const part = chunk.subarray(at, at + MAX_CHUNK_BYTES);
      const frame = Buffer.allocUnsafe(part.length + 1);
      frame[0] = id;
      part.copy(frame, 1);
      up(frame);
      inFlight += part.length;
    }
    if (inFlight >= EXEC_WINDOW_BYTES) stream.pause();
  });

  try {
    up({ type: 'end', outcome: await stream.done });
  } catch (error) {
    const wire = TetherError.wireOf(error, 'exec failed');
    up({ type: 'error', error: wire });
  } finally {
    clearInterval(keepalive);
    offDown();
  }
}
