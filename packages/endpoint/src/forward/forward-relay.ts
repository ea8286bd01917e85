/**
 * Forwarded connections whose agent is linked to another endpoint process, carried over the
 * Bus. The process holding the client's socket (the caller) sees a Duplex like a local channel;
 * the process holding the agent (the owner) opens the channel and relays. Flow control is
 * credit based in both directions: a side stops reading its source once RELAY_WINDOW_BYTES it
 * sent are unacknowledged, and the other side acknowledges only what its sink has taken, so a
 * slow client slows the target and a slow target slows the client, with bounded memory.
 */
import { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { TetherError, type WireError } from '@tether/protocol';
import type { AgentHub } from '../agents/agent-hub.ts';
import type { Bus, BusPayload } from '../bus/bus.ts';
import { openLocalForward, type ForwardDial } from './forward-channel.ts';

/** Bytes in flight each way; 1 MiB keeps NATS (1 MB messages by default) busy without piling up. */
const RELAY_WINDOW_BYTES = 1024 * 1024;
const ACK_EVERY_BYTES = 128 * 1024;
/** NATS' default max_payload is 1 MB; chunks stay well below it. */
const MAX_CHUNK_BYTES = 128 * 1024;
/** Each side says it is alive this often and gives up after missing a few. */
const KEEPALIVE_INTERVAL_MS = 5_000;
const SILENCE_LIMIT_MS = 20_000;
/** The agent answers within its 10 s connect deadline plus the trip; past this, give up. */
const START_TIMEOUT_MS = 20_000;

type Control =
  | { type: 'open' }
  | { type: 'eof' }
  | { type: 'close' }
  | { type: 'alive' }
  | { type: 'ack'; bytes: number }
  | { type: 'error'; error: WireError };

const upSubject = (id: string): string => `forward.conn.${id}.up`;
const downSubject = (id: string): string => `forward.conn.${id}.down`;

/** Caller side: resolves once the owner's agent reached the target; rejects with why not. */
export function openRemoteForward(bus: Bus, owner: string, dial: ForwardDial): Promise<Duplex> {
  const tunnel = new RemoteTunnel(bus, dial.connectionId);
  const opened = tunnel.opened;
  bus.publish(`node.${owner}.forward`, { ...dial });
  return opened.then(() => tunnel);
}

class RemoteTunnel extends Duplex {
  readonly opened: Promise<void>;
  private readonly unsubscribe: () => void;
  private readonly keepalive: NodeJS.Timeout;
  private silence: NodeJS.Timeout;
  private inFlight = 0;
  private unacked = 0;
  /** A write held back until credit comes, and its callback. */
  private waiting: (() => void) | null = null;
  private remoteClosed = false;
  private eofPushed = false;
  private settleOpen!: { resolve(): void; reject(error: Error): void };

  constructor(
    private readonly bus: Bus,
    private readonly id: string,
  ) {
    super({ allowHalfOpen: true });
    this.opened = new Promise((resolve, reject) => (this.settleOpen = { resolve, reject }));
    this.opened.catch(() => {});
    // A failure before the caller listens reaches it through `opened`; after, through its own
    // 'error' listener. Either way an unheard 'error' must not end the process.
    this.on('error', () => {});
    const gone = (): void =>
      this.fail(
        new TetherError('agent_offline', 'the endpoint holding the agent stopped answering'),
      );
    this.silence = setTimeout(gone, START_TIMEOUT_MS);
    this.keepalive = setInterval(() => this.send({ type: 'alive' }), KEEPALIVE_INTERVAL_MS);
    this.unsubscribe = bus.subscribe(upSubject(id), (payload) => {
      clearTimeout(this.silence);
      this.silence = setTimeout(gone, SILENCE_LIMIT_MS);
      this.receive(payload);
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    for (let at = 0; at < chunk.length; at += MAX_CHUNK_BYTES)
      this.send(chunk.subarray(at, at + MAX_CHUNK_BYTES));
    this.inFlight += chunk.length;
    if (this.inFlight < RELAY_WINDOW_BYTES || this.remoteClosed) callback();
    else this.waiting = callback;
  }

  override _final(callback: () => void): void {
    this.send({ type: 'eof' });
    callback();
  }

  override _read(): void {
    this.acknowledge(0);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.remoteClosed) this.send({ type: 'close' });
    this.stopListening();
    this.waiting?.();
    this.waiting = null;
    callback(error);
  }

  private receive(payload: BusPayload): void {
    if (payload instanceof Uint8Array) {
      const chunk = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
      this.unacked += chunk.length;
      // A full read buffer holds the ack back until _read: the owner then stops reading.
      if (this.push(chunk)) this.acknowledge(ACK_EVERY_BYTES);
      return;
    }
    const message = payload as Control;
    switch (message.type) {
      case 'open':
        return this.settleOpen.resolve();
      case 'ack':
        this.inFlight -= message.bytes;
        if (this.inFlight < RELAY_WINDOW_BYTES && this.waiting) {
          const callback = this.waiting;
          this.waiting = null;
          callback();
        }
        return;
      case 'eof':
        this.eofPushed = true;
        return void this.push(null);
      case 'close':
        return this.closedByOwner();
      case 'error':
        return this.fail(TetherError.fromWire(message.error));
    }
  }

  /** The owner closed: what was received still reaches the reader, then the tunnel closes. */
  private closedByOwner(): void {
    this.remoteClosed = true;
    this.stopListening();
    this.waiting?.();
    this.waiting = null;
    if (!this.eofPushed) this.push(null);
    this.eofPushed = true;
    if (this.readableEnded) this.destroy();
    else this.once('end', () => this.destroy());
  }

  private fail(error: TetherError): void {
    this.remoteClosed = true;
    this.settleOpen.reject(error);
    this.destroy(error);
  }

  private acknowledge(atLeast: number): void {
    if (this.unacked === 0 || this.unacked < atLeast) return;
    this.send({ type: 'ack', bytes: this.unacked });
    this.unacked = 0;
  }

  private stopListening(): void {
    clearTimeout(this.silence);
    clearInterval(this.keepalive);
    this.unsubscribe();
  }

  private send(message: Control | Buffer): void {
    try {
      this.bus.publish(downSubject(this.id), message as BusPayload);
    } catch {
      // The bus is closing with this process; the owner notices the silence and closes.
    }
  }
}

/** Owner side: opens forwarded connections that other processes ask for on agents linked here. */
export function serveRemoteForwards(
  bus: Bus,
  nodeId: string,
  hub: AgentHub,
  log: Logger,
): () => void {
  return bus.subscribe(`node.${nodeId}.forward`, (payload) => {
    const dial = payload as unknown as ForwardDial;
    const connLog = log.child({ connectionId: dial.connectionId, agentId: dial.agentId });
    void relayForCaller(bus, hub, dial, connLog).catch((err) =>
      connLog.warn({ err }, 'relayed forward failed'),
    );
  });
}

async function relayForCaller(bus: Bus, hub: AgentHub, dial: ForwardDial, log: Logger) {
  const up = (message: Control | Buffer): void => {
    try {
      bus.publish(upSubject(dial.connectionId), message as BusPayload);
    } catch {
      // The bus is closing with this process; the caller notices the silence.
    }
  };
  let channel: Duplex;
  try {
    channel = await openLocalForward(hub, dial);
  } catch (error) {
    return up({ type: 'error', error: TetherError.wireOf(error, 'the connection failed') });
  }
  log.debug('relaying a forwarded connection for another process');

  let inFlight = 0;
  let unacked = 0;
  const callerSilence = setTimeout(() => channel.destroy(), SILENCE_LIMIT_MS);
  const offDown = bus.subscribe(downSubject(dial.connectionId), (payload) => {
    callerSilence.refresh();
    if (payload instanceof Uint8Array) {
      const chunk = Buffer.from(payload);
      // Acknowledged once the channel took it (its SSH window had room), not before.
      return void channel.write(chunk, () => {
        unacked += chunk.length;
        if (unacked < ACK_EVERY_BYTES) return;
        up({ type: 'ack', bytes: unacked });
        unacked = 0;
      });
    }
    const message = payload as Control;
    if (message.type === 'eof') channel.end();
    else if (message.type === 'close') channel.destroy();
    else if (message.type === 'ack') {
      inFlight -= message.bytes;
      if (inFlight < RELAY_WINDOW_BYTES) channel.resume();
    }
  });
  const keepalive = setInterval(() => up({ type: 'alive' }), KEEPALIVE_INTERVAL_MS);
  up({ type: 'open' });

  channel.on('data', (chunk: Buffer) => {
    for (let at = 0; at < chunk.length; at += MAX_CHUNK_BYTES)
      up(chunk.subarray(at, at + MAX_CHUNK_BYTES));
    inFlight += chunk.length;
    if (inFlight >= RELAY_WINDOW_BYTES) channel.pause();
  });
  channel.on('end', () => up({ type: 'eof' }));
  channel.on('error', (err) => log.debug({ err }, 'relayed channel error'));
  await new Promise<void>((resolve) => channel.once('close', () => resolve()));
  clearTimeout(callerSilence);
  clearInterval(keepalive);
  offDown();
  if (hub.isLocal(dial.agentId)) up({ type: 'close' });
  else up({ type: 'error', error: { code: 'agent_offline', message: 'the agent disconnected' } });
}
