/** The agent's one link to the endpoint: WebSocket, SSH-2 inside it, reconnect with backoff. */
import { EventEmitter } from 'node:events';
import { arch, hostname, platform } from 'node:os';
import ssh2, { type Connection, type ParsedKey } from 'ssh2';
import WebSocket, { createWebSocketStream } from 'ws';
import type { Logger } from 'pino';
import {
  AGENT_CLOSE_REPLACED,
  AGENT_CONNECT_PATH,
  AGENT_ID_HEADER,
  AGENT_VERSION,
} from '@tether/protocol';
import type { HostKey, Identity } from './identity.ts';
import { runExec } from './exec-runner.ts';
import { hangUpAll, servePty } from './pty-session.ts';
import { closeChannels, serveSftp } from './files/sftp-server.ts';
import { serveForwards } from './forward/forward-server.ts';
import type { IPty } from '@lydell/node-pty';
import type { Duplex } from 'node:stream';

/** Backoff: full jitter over an exponential ceiling ("Exponential Backoff And Jitter", AWS). */
const BACKOFF_BASE_MS = 1_000;
const BACKOFF_CAP_MS = 60_000;
/** The endpoint pings every 10 s; three missed pings mean the link is dead. */
const HEARTBEAT_TIMEOUT_MS = 30_000;
/** A link that stayed up this long resets the backoff. */
const STABLE_LINK_MS = 10_000;
const HANDSHAKE_TIMEOUT_MS = 20_000;
/** Bytes in one WebSocket message; ssh2 packets are at most 35 000 bytes, so this is ample. */
const MAX_WS_MESSAGE_BYTES = 4 * 1024 * 1024;

export type LinkState = 'connecting' | 'connected' | 'waiting' | 'stopped';

export interface LinkEvents {
  state: [state: LinkState, detail: { delayMs?: number; reason?: string }];
  /** The endpoint refuses this agent for good (revoked or unknown); the link stops. */
  refused: [reason: string];
}

export class AgentLink extends EventEmitter<LinkEvents> {
  private attempt = 0;
  private stopped = false;
  private socket: WebSocket | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private readonly endpointKey: ParsedKey;
  /** The current connection's file channels; ssh2 may not close them when the link goes. */
  private readonly fileChannels = new Set<Duplex>();

  constructor(
    private readonly identity: Identity,
    private readonly hostKey: HostKey,
    private readonly log: Logger,
  ) {
    super();
    const parsed = ssh2.utils.parseKey(identity.endpointPublicKey);
    if (parsed instanceof Error)
      throw new Error('pinned endpoint key is unreadable', { cause: parsed });
    this.endpointKey = parsed;
  }

  start(): void {
    this.connect();
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.socket?.terminate();
    this.emit('state', 'stopped', {});
  }

  private connect(): void {
    if (this.stopped) return;
    this.emit('state', 'connecting', {});
    const url = new URL(AGENT_CONNECT_PATH, this.identity.endpoint.replace(/^http/, 'ws'));
    const socket = new WebSocket(url, {
      headers: {
        [AGENT_ID_HEADER]: this.identity.agentId,
        'x-tether-agent-facts': JSON.stringify(facts()),
      },
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      maxPayload: MAX_WS_MESSAGE_BYTES,
      perMessageDeflate: false,
    });
    this.socket = socket;
    const openedAt = Date.now();
    let heartbeat = setTimeout(() => socket.terminate(), HEARTBEAT_TIMEOUT_MS);
    const alive = (): void => {
      heartbeat.refresh();
    };

    socket.on('unexpected-response', (_req, res) => {
      const status = res.statusCode ?? 0;
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8').slice(0, 1024)));
      res.on('end', () => {
        const reason = errorMessage(body) ?? `HTTP ${status}`;
        socket.terminate();
        if (status === 403 || status === 410) this.refuse(reason);
      });
    });
    // This connection's terminals: when the link goes, no shell stays behind without a viewer.
    const ptys = new Set<IPty>();
    socket.on('open', () => this.serveSsh(socket, alive, ptys));
    socket.on('ping', alive);
    socket.on('message', alive);
    socket.on('error', (error) => this.log.debug({ err: error }, 'link socket error'));
    socket.on('close', (code) => {
      clearTimeout(heartbeat);
      hangUpAll(ptys);
      closeChannels(this.fileChannels);
      if (Date.now() - openedAt > STABLE_LINK_MS) this.attempt = 0;
      if (code === AGENT_CLOSE_REPLACED) {
        this.log.warn('another agent with this identity connected; waiting the longest backoff');
        this.attempt = Math.max(
          this.attempt,
          Math.ceil(Math.log2(BACKOFF_CAP_MS / BACKOFF_BASE_MS)),
        );
      }
      this.scheduleReconnect();
    });
  }

  private serveSsh(socket: WebSocket, alive: () => void, ptys: Set<IPty>): void {
    const stream = createWebSocketStream(socket);
    stream.on('error', () => socket.terminate());
    const server = new ssh2.Server({ hostKeys: [this.hostKey.privateKey] }, (client) => {
      this.handleClient(client, socket, ptys);
    });
    server.injectSocket(stream as never);
    alive();
  }

  private handleClient(client: Connection, socket: WebSocket, ptys: Set<IPty>): void {
    client.on('authentication', (ctx) => {
      if (ctx.method !== 'publickey') return ctx.reject(['publickey']);
      const pinned = this.endpointKey.getPublicSSH();
      if (ctx.key.algo !== this.endpointKey.type || !ctx.key.data.equals(pinned)) {
        this.log.error(
          { endpoint: this.identity.endpoint },
          'endpoint key does not match the key pinned at enrollment; refusing the connection',
        );
        ctx.reject();
        socket.terminate();
        return;
      }
      if (!ctx.signature) return ctx.accept();
      const valid = this.endpointKey.verify(ctx.blob as Buffer, ctx.signature, ctx.hashAlgo);
      if (valid === true) ctx.accept();
      else ctx.reject();
    });

    client.on('ready', () => {
      this.log.info('connected to endpoint');
      this.emit('state', 'connected', {});
      client.on('session', (accept) => this.handleSession(accept(), ptys));
      serveForwards(client, this.log);
    });
    client.on('error', (error) => this.log.debug({ err: error }, 'ssh error'));
    client.on('close', () => {
      hangUpAll(ptys);
      closeChannels(this.fileChannels);
      socket.terminate();
    });
  }

  private handleSession(session: import('ssh2').Session, ptys: Set<IPty>): void {
    const env: Record<string, string> = {};
    session.on('env', (accept, _reject, info) => {
      env[info.key] = info.val;
      accept?.();
    });
    servePty(session, env, ptys, this.log);
    session.on('subsystem', (accept, reject, info) => {
      // The filesystem API (DESIGN.md): SFTP, with the session's path policy sent first.
      if (info.name !== 'sftp') return reject?.();
      const channel = accept();
      this.fileChannels.add(channel);
      channel.once('close', () => this.fileChannels.delete(channel));
      serveSftp(channel, { log: this.log });
    });
    session.on('exec', (accept, _reject, info) => {
      const channel = accept();
      // Spawning blocks this process for a few ms; let the reply to the request leave first.
      setImmediate(() => {
        try {
          runExec(channel, info.command, env, this.log);
        } catch (error) {
          // A bug in one command's handling must not take the link (and every other command).
          this.log.error({ err: error }, 'exec failed unexpectedly');
          channel.close();
        }
      });
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.attempt);
    const delayMs = Math.round(Math.random() * ceiling);
    this.attempt += 1;
    this.emit('state', 'waiting', { delayMs });
    this.log.info({ delayMs, attempt: this.attempt }, 'link down; reconnecting');
    this.retryTimer = setTimeout(() => this.connect(), delayMs);
  }

  private refuse(reason: string): void {
    this.log.error({ reason }, 'endpoint refused this agent; stopping');
    this.stopped = true;
    this.emit('refused', reason);
    this.emit('state', 'stopped', { reason });
  }
}

function facts(): Record<string, string> {
  return { os: platform(), arch: arch(), version: AGENT_VERSION, hostname: hostname() };
}

function errorMessage(body: string): string | null {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: string } };
    return parsed.error?.message ?? null;
  } catch {
    return null;
  }
}
