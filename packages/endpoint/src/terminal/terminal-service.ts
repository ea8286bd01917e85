/** Opens, tracks and closes terminal sessions on this node; records each in the database. */
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { TetherError } from '@tether/protocol';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AgentHub, ShellOptions } from '../agents/agent-hub.ts';
import { actorOf } from '../agents/guard.ts';
import type { Principal } from '../auth/principal.ts';
import { newId, nowIso } from '../auth/secrets.ts';
import type { Bus } from '../bus/bus.ts';
import type { Approvals } from '../consent/approvals.ts';
import { readPolicy } from '../consent/consent-policy.ts';
import type { Database, TerminalSessionsTable } from '../store/schema.ts';
import { LiveSession } from './live-session.ts';
import { remoteTerminal } from './remote-terminal.ts';
import { channelTerminal, type TerminalStream } from './terminal-stream.ts';
import { TerminalWorkers, type SessionHost } from './terminal-workers.ts';

/** Live topic subject: sessions starting and ending, for whoever may watch them. */
export const TERMINAL_EVENT_SUBJECT = 'terminal.event';
const TERM = 'xterm-256color';

export interface OpenRequest {
  approvalId: string;
  agentId?: string;
  ticketId?: string;
  cols: number;
  rows: number;
}

export class TerminalService {
  private readonly sessions = new Map<string, LiveSession>();
  private readonly offControl = new Map<string, () => void>();
  private readonly settled = new WeakMap<LiveSession, Promise<void>>();
  /** The threads that hold the sessions' recordings and screens. */
  readonly workers: TerminalWorkers;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      bus: Bus;
      hub: AgentHub;
      audit: AuditLog;
      approvals: Approvals;
      nodeId: string;
      dataDir: string;
      log: Logger;
    },
  ) {
    this.workers = new TerminalWorkers(deps.log);
  }

  get recordingsDir(): string {
    return join(this.deps.dataDir, 'recordings');
  }

  local(id: string): LiveSession | undefined {
    return this.sessions.get(id);
  }

  /**
   * Spends the approval, then opens the pty: nothing runs on the agent unless the approval is
   * valid for this engineer, agent and ticket. Throws a TetherError the caller audits.
   */
  async open(p: Principal, request: OpenRequest): Promise<LiveSession> {
    const { db, audit, approvals, nodeId } = this.deps;
    const sessionId = newId();
    const approval = await approvals.consume(p, request.approvalId, request, sessionId);
    const agent = await db
      .selectFrom('agents')
      .selectAll()
      .where('id', '=', approval.agent_id)
      .executeTakeFirstOrThrow();
    const log = this.deps.log.child({ sessionId, agentId: agent.id });

    let stream: TerminalStream;
    try {
      stream = await this.route(agent.id, sessionId, {
        cols: request.cols,
        rows: request.rows,
        term: TERM,
        env: { TETHER_SESSION: sessionId },
      });
    } catch (error) {
      // Nothing ran: give the approval back, so the engineer can try again once the agent returns.
      await this.giveBack(approval.id, sessionId);
      throw error;
    }

    const policy = await readPolicy(db, agent.account_id);
    let host: SessionHost;
    try {
      host = await this.workers.open(
        sessionId,
        {
          dir: this.recordingsDir,
          cols: request.cols,
          rows: request.rows,
          title: `${p.username} on ${agent.name}`,
          recordInput: policy.recordInput,
          started: Date.now(),
        },
        log,
      );
    } catch (error) {
      // Without a recording no session runs: hang up, and the approval may be used again.
      stream.close();
      await this.giveBack(approval.id, sessionId);
      throw error;
    }
    const row: TerminalSessionsTable = {
      id: sessionId,
      agent_id: agent.id,
      account_id: agent.account_id,
      ticket_id: approval.ticket_id,
      approval_id: approval.id,
      engineer_id: p.userId,
      node_id: nodeId,
      status: 'live',
      started_at: nowIso(),
      ended_at: null,
      ended_by: null,
      end_reason: null,
      cols: request.cols,
      rows: request.rows,
      recording: `${sessionId}.cast`,
      bytes_out: 0,
      bytes_in: 0,
    };
    await db.insertInto('terminal_sessions').values(row).execute();
    const approver = approval.decided_by
      ? await db
          .selectFrom('users')
          .select('username')
          .where('id', '=', approval.decided_by)
          .executeTakeFirst()
      : null;
    host.marker(approver ? `approved by ${approver.username}` : 'approved by policy', Date.now());
    const session = new LiveSession(row, stream, host, log);
    this.sessions.set(sessionId, session);
    this.offControl.set(sessionId, this.listen(session));
    void session.ended.then((end) => this.record(session, end));

    await audit.append({
      kind: 'terminalStarted',
      actor: actorOf(p),
      accountId: agent.account_id,
      agentId: agent.id,
      ticketId: approval.ticket_id,
      sessionId,
      params: { approvalId: approval.id, cols: request.cols, rows: request.rows },
      result: { recordInput: policy.recordInput, node: nodeId },
    });
    this.announce(row, 'started');
    log.info({ engineer: p.username }, 'terminal session started');
    return session;
  }

  /** Ends a session wherever it runs: here directly, elsewhere through the bus. */
  end(p: Principal, session: TerminalSessionsTable, reason: string): void {
    const local = this.sessions.get(session.id);
    if (local) return local.end(p, reason);
    this.deps.bus.publish(`terminal.${session.id}.control`, { type: 'end', by: { ...p }, reason });
  }

  /** Marks sessions this node ran when it died as interrupted; their recordings stay. */
  async recoverInterrupted(): Promise<number> {
    const { db, audit, nodeId } = this.deps;
    const rows = await db
      .selectFrom('terminal_sessions')
      .selectAll()
      .where('node_id', '=', nodeId)
      .where('status', '=', 'live')
      .execute();
    for (const row of rows) {
      const reason = 'the endpoint running it stopped';
      await db
        .updateTable('terminal_sessions')
        .set({ status: 'interrupted', ended_at: nowIso(), end_reason: reason })
        .where('id', '=', row.id)
        .execute();
      await audit.append({
        kind: 'terminalInterrupted',
        actor: null,
        accountId: row.account_id,
        agentId: row.agent_id,
        ticketId: row.ticket_id,
        sessionId: row.id,
        params: { startedAt: row.started_at, engineerId: row.engineer_id },
        result: { reason, recording: row.recording },
      });
    }
    return rows.length;
  }

  /** On shutdown: every live session here is cut off and recorded as interrupted. */
  async stop(): Promise<void> {
    const sessions = [...this.sessions.values()];
    for (const session of sessions) session.interrupt('the endpoint is shutting down');
    await Promise.all(sessions.map((s) => s.ended));
    await Promise.all(sessions.map((s) => this.settled.get(s)));
    this.offControl.forEach((off) => off());
    this.offControl.clear();
    await this.workers.stop();
  }

  private async giveBack(approvalId: string, sessionId: string): Promise<void> {
    await this.deps.db
      .updateTable('approval_requests')
      .set({ status: 'approved', session_id: null })
      .where('id', '=', approvalId)
      .where('session_id', '=', sessionId)
      .execute();
  }

  private listen(session: LiveSession): () => void {
    return this.deps.bus.subscribe(`terminal.${session.id}.control`, (payload) => {
      const message = payload as { type: string; by: Principal; reason: string };
      if (message.type === 'end') session.end(message.by, message.reason);
    });
  }

  private async route(
    agentId: string,
    sessionId: string,
    shell: ShellOptions,
  ): Promise<TerminalStream> {
    const { hub, bus, db, nodeId } = this.deps;
    if (hub.isLocal(agentId)) return channelTerminal(await hub.shell(agentId, shell));
    const current = await db
      .selectFrom('agents')
      .select('connected_node')
      .where('id', '=', agentId)
      .executeTakeFirst();
    const owner = current?.connected_node;
    if (!owner || owner === nodeId) throw new TetherError('agent_offline', 'agent is offline');
    return remoteTerminal(bus, owner, { sessionId, agentId, ...shell });
  }

  private record(session: LiveSession, end: Awaited<LiveSession['ended']>): void {
    const work = (async () => {
      const { db, audit } = this.deps;
      await db
        .updateTable('terminal_sessions')
        .set({
          status: end.status,
          ended_at: nowIso(),
          ended_by: end.by?.userId ?? null,
          end_reason: end.reason,
          bytes_out: end.bytesOut,
          bytes_in: end.bytesIn,
          cols: end.cols,
          rows: end.rows,
        })
        .where('id', '=', session.id)
        .execute();
      await audit.append({
        kind: end.status === 'ended' ? 'terminalEnded' : 'terminalInterrupted',
        actor: end.by ? actorOf(end.by) : null,
        accountId: session.row.account_id,
        agentId: session.row.agent_id,
        ticketId: session.row.ticket_id,
        sessionId: session.id,
        params: { engineerId: session.row.engineer_id },
        result: { reason: end.reason, bytesOut: end.bytesOut, bytesIn: end.bytesIn },
      });
      this.announce({ ...session.row, status: end.status }, end.status);
    })()
      .catch((error) =>
        this.deps.log.error({ err: error, sessionId: session.id }, 'cannot record the end'),
      )
      .finally(() => {
        this.sessions.delete(session.id);
        this.offControl.get(session.id)?.();
        this.offControl.delete(session.id);
      });
    this.settled.set(session, work);
  }

  private announce(row: TerminalSessionsTable, what: string): void {
    try {
      this.deps.bus.publish(TERMINAL_EVENT_SUBJECT, {
        what,
        session: {
          id: row.id,
          agentId: row.agent_id,
          accountId: row.account_id,
          ticketId: row.ticket_id,
          engineerId: row.engineer_id,
          status: row.status,
        },
      });
    } catch {
      // The bus closes with this process; live listeners learn the state from the API.
    }
  }
}
