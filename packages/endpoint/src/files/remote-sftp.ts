/**
 * File channels to agents linked to another endpoint process, carried over the Bus: the owner
 * (the node holding the agent) opens the SFTP subsystem and relays its bytes both ways; the
 * caller runs the SFTP client on them. No credit window is needed here: SFTP is request and
 * answer, and the client keeps at most its pipelining depth (2 MiB of reads or writes) in
 * flight, so neither side can run ahead of the other by more than that.
 */
import { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { TetherError, type WireError } from '@tether/protocol';
import { SftpClient } from '@tether/protocol/sftp';
import type { AgentHub } from '../agents/agent-hub.ts';
import type { Bus, BusPayload } from '../bus/bus.ts';

/** NATS' default max_payload is 1 MB; chunks stay well below it. */
const MAX_CHUNK_BYTES = 128 * 1024;
/** Each side says it is alive this often and gives up after missing a few. */
const KEEPALIVE_INTERVAL_MS = 5_000;
const SILENCE_LIMIT_MS = 20_000;
const START_TIMEOUT_MS = 10_000;

export interface SftpRelayStart {
  channelId: string;
  agentId: string;
}

type UpMessage =
  | { type: 'started' }
  | { type: 'alive' }
  | { type: 'closed' }
  | { type: 'error'; error: WireError };

type DownMessage = { type: 'alive' } | { type: 'close' };

/** Caller side: an SFTP client whose channel lives on `ownerNode`. */
export function remoteSftp(
  bus: Bus,
  ownerNode: string,
  start: SftpRelayStart,
): Promise<SftpClient> {
  const downSubject = `sftp.${start.channelId}.down`;
  const down = (message: DownMessage | Uint8Array): void => {
    try {
      bus.publish(downSubject, message as BusPayload);
    } catch {
      // The bus is closing with this process; the owner notices the silence and closes.
    }
  };
  let opened!: { resolve(): void; reject(error: Error): void };
  const started = new Promise<void>((resolve, reject) => (opened = { resolve, reject }));
  let ended = false;

  const channel = new Duplex({
    read() {
      // Bytes are pushed as they come; the SFTP client's requests bound how many can.
    },
    write(chunk: Buffer, _encoding, callback) {
      for (let at = 0; at < chunk.length; at += MAX_CHUNK_BYTES)
        down(Buffer.from(chunk.subarray(at, at + MAX_CHUNK_BYTES)));
      callback();
    },
    final(callback) {
      down({ type: 'close' });
      callback();
    },
    destroy(error, callback) {
      finish(null);
      callback(error);
    },
  });

  // A failure reaches the caller as `started` rejecting or the client's 'close'; this listener
  // only keeps a destroy before the client attaches from being an unhandled error.
  channel.on('error', () => {});

  const finish = (error: Error | null): void => {
    if (ended) return;
    ended = true;
    clearTimeout(silence);
    clearInterval(keepalive);
    unsubscribe();
    down({ type: 'close' });
    opened.reject(error ?? new TetherError('agent_offline', 'the file channel closed'));
    if (error) channel.destroy(error);
    else channel.push(null);
  };
  const ownerGone = (): void =>
    finish(new TetherError('agent_offline', 'the endpoint holding the agent stopped answering'));
  let silence = setTimeout(ownerGone, START_TIMEOUT_MS);
  const keepalive = setInterval(() => down({ type: 'alive' }), KEEPALIVE_INTERVAL_MS);

  const unsubscribe = bus.subscribe(`sftp.${start.channelId}.up`, (payload: BusPayload) => {
    clearTimeout(silence);
    silence = setTimeout(ownerGone, SILENCE_LIMIT_MS);
    if (payload instanceof Uint8Array) {
      channel.push(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
      return;
    }
    const message = payload as UpMessage;
    if (message.type === 'started') return opened.resolve();
    if (message.type === 'error') return finish(TetherError.fromWire(message.error));
    if (message.type === 'closed') return finish(null);
  });
  bus.publish(`node.${ownerNode}.sftp`, start as unknown as BusPayload);
  return started.then(() => SftpClient.start(channel));
}

/** Owner side: opens file channels other nodes ask for on agents linked to this node. */
export function serveRemoteSftp(bus: Bus, nodeId: string, hub: AgentHub, log: Logger): () => void {
  return bus.subscribe(`node.${nodeId}.sftp`, (payload) => {
    const start = payload as unknown as SftpRelayStart;
    void relayForCaller(bus, hub, start, log).catch((error) =>
      log.warn({ err: error, agentId: start.agentId }, 'relayed file channel failed'),
    );
  });
}

async function relayForCaller(bus: Bus, hub: AgentHub, start: SftpRelayStart, log: Logger) {
  const up = (message: UpMessage | Uint8Array): void => {
    try {
      bus.publish(`sftp.${start.channelId}.up`, message as BusPayload);
    } catch {
      // The bus is closing with this process; the caller notices the silence.
    }
  };
  let channel: Awaited<ReturnType<AgentHub['sftpChannel']>>;
  try {
    channel = await hub.sftpChannel(start.agentId);
  } catch (error) {
    return up({ type: 'error', error: TetherError.wireOf(error, 'file channel failed') });
  }
  log.debug({ agentId: start.agentId }, 'relaying a file channel for another node');

  const callerSilence = setTimeout(() => channel.close(), SILENCE_LIMIT_MS);
  const offDown = bus.subscribe(`sftp.${start.channelId}.down`, (payload) => {
    callerSilence.refresh();
    if (payload instanceof Uint8Array) {
      channel.write(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength));
      return;
    }
    if ((payload as DownMessage).type === 'close') channel.close();
  });
  const keepalive = setInterval(() => up({ type: 'alive' }), KEEPALIVE_INTERVAL_MS);
  channel.on('data', (chunk: Buffer) => {
    for (let at = 0; at < chunk.length; at += MAX_CHUNK_BYTES)
      up(Buffer.from(chunk.subarray(at, at + MAX_CHUNK_BYTES)));
  });
  channel.once('close', () => {
    clearTimeout(callerSilence);
    clearInterval(keepalive);
    offDown();
    up({ type: 'closed' });
  });
  up({ type: 'started' });
}
