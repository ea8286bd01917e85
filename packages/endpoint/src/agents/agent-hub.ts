/** Holds this endpoint process's agent links: accepts them, verifies keys, tracks presence. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import ssh2, { type ClientChannel } from 'ssh2';
import WebSocket, { createWebSocketStream } from 'ws';
import {
  AGENT_CLOSE_REPLACED,
  AGENT_CONNECT_PATH,
  AGENT_ID_HEADER,
  ENDPOINT_SSH_USER,
  isSafeText,
  TetherError,
  type AgentExecCommand,
} from '@tether/protocol';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Bus } from '../bus/bus.ts';
import type { AgentsTable, Database } from '../store/schema.ts';
import { newId, nowIso } from '../auth/secrets.ts';
import { errorBody } from '../http/errors.ts';
import { RateLimiter } from '../http/rate-limit.ts';
import { parseAgentPublicKey, type EndpointKey } from './endpoint-key.ts';
import { channelStream, type ExecStream } from '../exec/exec-stream.ts';
import { SftpClient } from '@tether/protocol/sftp';

/** Pings go out this often; a link that misses two in a row is dead (found within 30 s). */
export const HEARTBEAT_INTERVAL_MS = 10_000;
const SSH_READY_TIMEOUT_MS = 20_000;
/** How long a closing link may take to answer the WebSocket close before it is cut. */
const CLOSE_GRACE_MS = 1_000;
/** Refused connection attempts audited per address and minute; beyond, a bare 429. */
const REFUSALS_PER_MINUTE = 30;
const REPLACED = 'replaced by a newer connection';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Link {
  agentId: string;
  connectionId: string;
  socket: WebSocket;
  ssh: InstanceType<typeof ssh2.Client>;
  alive: boolean;
  wasReady: boolean;
  closeReason: string;
}

export interface ShellOptions {
  cols: number;
  rows: number;
  term: string;
  env: Record<string, string>;
}

interface PendingUpgrade {
  agent: AgentsTable;
  facts: Record<string, string>;
}

export class AgentHub {
  private readonly links = new Map<string, Link>();
  private readonly unsubscribe: Array<() => void> = [];
  private readonly pending = new WeakMap<FastifyRequest, PendingUpgrade>();
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly refusals = new RateLimiter(REFUSALS_PER_MINUTE, 60_000, 'refused connections');
  /** Presence updates still being written; shutdown waits for them. */
  private readonly settling = new Set<Promise<void>>();

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      bus: Bus;
      audit: AuditLog;
      key: EndpointKey;
      nodeId: string;
      log: Logger;
    },
  ) {}

  /** Marks links this node held before a crash as gone, and starts listening for agents. */
  async start(app: FastifyInstance): Promise<void> {
    const { db, bus, nodeId } = this.deps;
    await db
      .updateTable('agents')
      .set({ connected_node: null, connection_id: null, connected_at: null })
      .where('connected_node', '=', nodeId)
      .execute();

    this.unsubscribe.push(
      bus.subscribe('agent.*.connected', (payload) => {
        const { agentId, connectionId } = payload as { agentId: string; connectionId: string };
        const link = this.links.get(agentId);
        if (link && link.connectionId !== connectionId) this.drop(link, REPLACED);
      }),
      bus.subscribe('agent.*.revoked', (payload) => {
        const link = this.links.get((payload as { agentId: string }).agentId);
        if (link) this.drop(link, 'agent revoked');
      }),
    );
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_INTERVAL_MS);
    this.heartbeat.unref();

    app.get(
      AGENT_CONNECT_PATH,
      {
        websocket: true,
        preValidation: async (request, reply) => {
          const verdict = await this.admit(request);
          if (verdict)
            return reply.code(verdict.status).send(errorBody(verdict.code, verdict.message));
        },
      },
      (socket, request) => this.accept(socket as unknown as WebSocket, request),
    );
  }

  isLocal(agentId: string): boolean {
    return this.links.has(agentId);
  }

  get localCount(): number {
    return this.links.size;
  }

  /** Runs a command on a locally connected agent. */
  exec(agentId: string, command: AgentExecCommand, stdin: Buffer | null): Promise<ExecStream> {
    const link = this.links.get(agentId);
    if (!link) return Promise.reject(new TetherError('agent_offline', 'agent is offline'));
    return new Promise((resolve, reject) => {
      const refused = (cause: unknown): void =>
        reject(new TetherError('agent_offline', 'agent did not accept the command', { cause }));
      try {
        link.ssh.exec(JSON.stringify(command), (error, channel) => {
          if (error) refused(error);
          else resolve(channelStream(channel, stdin));
        });
      } catch (error) {
        // ssh2 throws "Not connected" synchronously while the link is closing.
        refused(error);
      }
    });
  }

  /** Opens an interactive terminal (`pty-req` + `shell`) on a locally connected agent. */
  shell(agentId: string, pty: ShellOptions): Promise<ClientChannel> {
    const link = this.links.get(agentId);
    if (!link) return Promise.reject(new TetherError('agent_offline', 'agent is offline'));
    return new Promise((resolve, reject) => {
      const refused = (cause: unknown): void =>
        reject(new TetherError('agent_offline', 'agent did not open a terminal', { cause }));
      try {
        const window = { cols: pty.cols, rows: pty.rows, term: pty.term, width: 0, height: 0 };
        link.ssh.shell(window, { env: pty.env }, (error, channel) => {
          if (error) refused(error);
          else resolve(channel);
        });
      } catch (error) {
        // ssh2 throws "Not connected" synchronously while the link is closing.
        refused(error);
      }
    });
  }

  /**
   * Opens the SFTP subsystem on a locally connected agent. The agent serves nothing until the
   * caller sends the session's policy (`SftpClient.policy`).
   */
  async sftp(agentId: string): Promise<SftpClient> {
    const channel = await this.sftpChannel(agentId);
    return SftpClient.start(channel).catch((cause: unknown) => {
      throw new TetherError('agent_offline', 'agent did not start the file channel', { cause });
    });
  }

  /** The raw `sftp` subsystem channel, for a relay that runs the client elsewhere. */
  sftpChannel(agentId: string): Promise<ClientChannel> {
    const link = this.links.get(agentId);
    if (!link) return Promise.reject(new TetherError('agent_offline', 'agent is offline'));
    return new Promise<ClientChannel>((resolve, reject) => {
      const refused = (cause: unknown): void =>
        reject(new TetherError('agent_offline', 'agent did not open a file channel', { cause }));
      try {
        link.ssh.subsys('sftp', (error, channel) => (error ? refused(error) : resolve(channel)));
      } catch (error) {
        // ssh2 throws "Not connected" synchronously while the link is closing.
        refused(error);
      }
    });
  }

  /**
   * Opens a direct-tcpip channel (one forwarded TCP connection) on a locally connected agent.
   * `origin` and `flags` fill the originator fields (see FORWARD_FLAG_LISTED).
   */
  directTcpip(
    agentId: string,
    to: { host: string; port: number; origin: string; flags: number },
  ): Promise<ClientChannel> {
    const link = this.links.get(agentId);
    if (!link) return Promise.reject(new TetherError('agent_offline', 'agent is offline'));
    return new Promise((resolve, reject) => {
      const refused = (cause: unknown): void =>
        reject(new TetherError('agent_offline', 'agent did not open the connection', { cause }));
      try {
        link.ssh.forwardOut(to.origin, to.flags, to.host, to.port, (error, channel) => {
          if (error) refused(error);
          else resolve(channel);
        });
      } catch (error) {
        // ssh2 throws "Not connected" synchronously while the link is closing.
        refused(error);
      }
    });
  }

  /** Closes every link, as on shutdown; agents reconnect to whichever endpoint answers. */
  async stop(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.unsubscribe.forEach((off) => off());
    const closing = [...this.links.values()].map((link) =>
      this.drop(link, 'endpoint shutting down'),
    );
    await Promise.all(closing);
    await Promise.all([...this.settling]);
  }

  private track(work: Promise<void>): void {
    const settled = work.catch((error) =>
      this.deps.log.error({ err: error }, 'presence update failed'),
    );
    this.settling.add(settled);
    void settled.finally(() => this.settling.delete(settled));
  }

  /** Refuses unknown and revoked agents before the upgrade, with an HTTP status they act on. */
  private async admit(request: FastifyRequest) {
    const agentId = String(request.headers[AGENT_ID_HEADER] ?? '');
    const remote = request.ip;
    if (!UUID.test(agentId)) return this.refuse(null, remote, 403, 'unknown agent');
    const agent = await this.deps.db
      .selectFrom('agents')
      .selectAll()
      .where('id', '=', agentId)
      .executeTakeFirst();
    if (!agent) return this.refuse(null, remote, 403, 'unknown agent');
    if (agent.revoked_at) return this.refuse(agent, remote, 410, 'agent revoked');
    this.pending.set(request, {
      agent,
      facts: parseFacts(request.headers['x-tether-agent-facts']),
    });
    return null;
  }

  private async refuse(
    agent: AgentsTable | null,
    remote: string,
    status: 403 | 410,
    message: string,
  ) {
    try {
      this.refusals.hit(remote);
    } catch (error) {
      // A flood of refused connects from one address must not flood the audit log.
      return { status: 429, code: 'rate_limited' as const, message: (error as Error).message };
    }
    await this.deps.audit.append({
      kind: 'agentConnectRefused',
      accountId: agent?.account_id ?? null,
      agentId: agent?.id ?? null,
      params: { remoteAddr: remote },
      result: { reason: message },
    });
    return {
      status,
      code: status === 410 ? ('agent_revoked' as const) : ('forbidden' as const),
      message,
    };
  }

  private accept(socket: WebSocket, request: FastifyRequest): void {
    const upgrade = this.pending.get(request);
    if (!upgrade) return void socket.terminate();
    const { agent, facts } = upgrade;
    const log = this.deps.log.child({ agentId: agent.id });
    const pinned = parseAgentPublicKey(agent.public_key);
    if (!pinned) return void socket.terminate();

    const link: Link = {
      agentId: agent.id,
      connectionId: newId(),
      socket,
      ssh: new ssh2.Client(),
      alive: true,
      wasReady: false,
      closeReason: 'connection lost',
    };
    let keyMismatch = false;
    socket.on('pong', () => (link.alive = true));
    socket.on('message', () => (link.alive = true));
    // The socket's close is the one signal that always comes, whoever ends the link.
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      link.ssh.end();
      socket.terminate();
      if (keyMismatch)
        this.track(this.refuse(agent, request.ip, 403, link.closeReason).then(() => {}));
      else if (link.wasReady) this.track(this.offline(link, agent));
    };
    socket.on('close', end);

    link.ssh.on('ready', () => {
      link.wasReady = true;
      this.track(this.online(link, agent, facts, request.ip));
    });
    link.ssh.on('error', (error) => {
      log.debug({ err: error }, 'agent ssh error');
      if (keyMismatch) link.closeReason = 'agent host key does not match the enrolled key';
    });
    link.ssh.on('close', end);
    const stream = createWebSocketStream(socket);
    stream.on('error', () => socket.terminate());
    link.ssh.connect({
      sock: stream as never,
      username: ENDPOINT_SSH_USER,
      privateKey: this.deps.key.privateKey,
      readyTimeout: SSH_READY_TIMEOUT_MS,
      hostVerifier: (key: Buffer) => {
        keyMismatch = !key.equals(pinned.blob);
        return !keyMismatch;
      },
    });
  }

  private async online(
    link: Link,
    agent: AgentsTable,
    facts: Record<string, string>,
    remote: string,
  ) {
    const { db, bus, audit, nodeId, log } = this.deps;
    const previous = this.links.get(agent.id);
    this.links.set(agent.id, link);
    if (previous) this.drop(previous, REPLACED);

    const now = nowIso();
    const before = await db
      .selectFrom('agents')
      .select(['connection_id', 'connected_node'])
      .where('id', '=', agent.id)
      .executeTakeFirst();
    await db
      .updateTable('agents')
      .set({
        connected_node: nodeId,
        connection_id: link.connectionId,
        connected_at: now,
        last_seen_at: now,
        remote_addr: remote,
        ...pickFacts(facts),
      })
      .where('id', '=', agent.id)
      .execute();
    bus.publish(`agent.${agent.id}.connected`, {
      agentId: agent.id,
      connectionId: link.connectionId,
      nodeId,
    });
    if (before?.connection_id) {
      await audit.append({
        kind: 'agentReplaced',
        accountId: agent.account_id,
        agentId: agent.id,
        params: { previousConnection: before.connection_id, previousNode: before.connected_node },
        result: { connection: link.connectionId },
      });
    }
    await audit.append({
      kind: 'agentConnected',
      accountId: agent.account_id,
      agentId: agent.id,
      params: { remoteAddr: remote, node: nodeId, ...pickFacts(facts) },
      result: { connection: link.connectionId },
    });
    log.info({ agentId: agent.id, connectionId: link.connectionId }, 'agent connected');
  }

  private async offline(link: Link, agent: AgentsTable): Promise<void> {
    const { db, audit, log } = this.deps;
    if (this.links.get(agent.id) === link) this.links.delete(agent.id);
    await db
      .updateTable('agents')
      .set({
        connected_node: null,
        connection_id: null,
        connected_at: null,
        last_seen_at: nowIso(),
      })
      .where('id', '=', agent.id)
      .where('connection_id', '=', link.connectionId)
      .execute();
    this.deps.bus.publish(`agent.${agent.id}.disconnected`, {
      agentId: agent.id,
      connectionId: link.connectionId,
    });
    await audit.append({
      kind: 'agentDisconnected',
      accountId: agent.account_id,
      agentId: agent.id,
      params: { connection: link.connectionId },
      result: { reason: link.closeReason },
    });
    log.info(
      { agentId: agent.id, connectionId: link.connectionId, reason: link.closeReason },
      'agent disconnected',
    );
  }

  private drop(link: Link, reason: string): Promise<void> {
    link.closeReason = reason;
    if (this.links.get(link.agentId) === link) this.links.delete(link.agentId);
    // offline() runs from the socket's 'close' handler and records the reason.
    const closed = new Promise<void>((resolve) => link.socket.once('close', () => resolve()));
    if (reason === REPLACED) link.socket.close(AGENT_CLOSE_REPLACED, REPLACED);
    link.ssh.end();
    // A close handshake gets CLOSE_GRACE_MS; a peer that does not answer is cut off.
    const grace = setTimeout(() => link.socket.terminate(), CLOSE_GRACE_MS);
    return closed.finally(() => clearTimeout(grace));
  }

  private beat(): void {
    for (const link of this.links.values()) {
      if (!link.alive) {
        link.closeReason = 'heartbeat missed';
        link.socket.terminate();
        continue;
      }
      link.alive = false;
      link.socket.ping();
    }
  }
}

const FACT_FIELDS = ['os', 'arch', 'version', 'hostname'] as const;

function parseFacts(header: string | string[] | undefined): Record<string, string> {
  if (typeof header !== 'string' || header.length > 2048) return {};
  try {
    const parsed = JSON.parse(header) as Record<string, unknown>;
    const facts: Record<string, string> = {};
    for (const field of FACT_FIELDS) {
      const value = parsed[field];
      if (typeof value === 'string' && value.length <= 253 && isSafeText(value))
        facts[field] = value;
    }
    return facts;
  } catch {
    return {};
  }
}

function pickFacts(
  facts: Record<string, string>,
): Partial<Pick<AgentsTable, (typeof FACT_FIELDS)[number]>> {
  const picked: Partial<Record<(typeof FACT_FIELDS)[number], string>> = {};
  for (const field of FACT_FIELDS) if (facts[field] !== undefined) picked[field] = facts[field];
  return picked;
}
