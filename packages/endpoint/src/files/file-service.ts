/**
 * File sessions: who may open one (consent, self-service), who works in it and who watches,
 * its channels to the agent, its live events, and the audited frame every operation runs in.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import {
  AUDIT,
  TetherError,
  type AuditKind,
  type ConsentPolicy,
  type FileSessionView,
} from '@tether/protocol';
import type { AuditLog } from '../audit/audit-log.ts';
import {
  canEndFileSession,
  canSeeFileSession,
  canUseFileSession,
  fileSessionScope,
  may,
} from '../audit/visibility.ts';
import type { AgentHub } from '../agents/agent-hub.ts';
import { actorOf, type Guard } from '../agents/guard.ts';
import type { Principal } from '../auth/principal.ts';
import { newId, nowIso } from '../auth/secrets.ts';
import type { Bus } from '../bus/bus.ts';
import type { Approvals } from '../consent/approvals.ts';
import { readPolicy } from '../consent/consent-policy.ts';
import type { Database, FileSessionsTable } from '../store/schema.ts';
import { FileChannels, type ChannelMode, type Lease } from './channels.ts';
import { fileError } from './file-errors.ts';
import { FileHistory } from './file-history.ts';
import { FileSessionLive } from './file-session-live.ts';
import { sessionView } from './session-view.ts';
import { endIdleSessions } from './idle-sessions.ts';

const IDLE_SWEEP_MS = 60_000;

/** An operation's audit codes: what happened, and its refusal. */
export interface OperationKinds {
  ok: AuditKind;
  failed: AuditKind;
}

/** What an operation gets once the caller may run it in this session. */
export interface Working {
  row: FileSessionsTable;
  policy: ConsentPolicy;
  principal: Principal;
  lease(mode: ChannelMode): Promise<Lease>;
}

export interface OperationOutcome<T> {
  value: T;
  /** Audit params and result beyond the session's own ids. */
  params: Record<string, unknown>;
  result?: Record<string, unknown>;
  /**
   * For a stream (a download): settles when it has run out, and only then is the operation
   * audited, with the bytes it moved; a rejection is audited as the refusal kind.
   */
  finished?: Promise<Record<string, unknown>>;
}

export interface Authorized {
  session: FileSessionView;
  role: 'editor' | 'observer';
  readOnly: boolean;
}

export class FileService {
  readonly channels: FileChannels;
  readonly history: FileHistory;
  /** Live messages and late-join state of sessions, for the file socket. */
  readonly live: FileSessionLive;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      bus: Bus;
      hub: AgentHub;
      audit: AuditLog;
      approvals: Approvals;
      guard: Guard;
      nodeId: string;
      dataDir: string;
      log: Logger;
    },
  ) {
    this.channels = new FileChannels(deps);
    this.history = new FileHistory(deps);
    this.live = new FileSessionLive(deps);
  }

  /**
   * Opens a session. Staff spend an approved `files.read` approval (none when the account
   * allows reads outright) and optionally a `files.write` one; customers of the account open
   * their own when it enables self-service. Refusals are audited (T8200E).
   */
  async open(
    p: Principal,
    agentId: string,
    request: { ticket?: string; readApproval?: string; writeApproval?: string },
  ): Promise<FileSessionView> {
    const { db, guard, approvals } = this.deps;
    const agent = await guard.agent(p, agentId, 'agent.read');
    if (agent.revoked_at) throw new TetherError('agent_revoked', 'agent was revoked');
    const policy = await readPolicy(db, agent.account_id);
    const sessionId = newId();
    const refuse = async (reason: string): Promise<never> => {
      await this.deps.audit.append({
        kind: 'fileSessionRefused',
        actor: actorOf(p),
        accountId: agent.account_id,
        agentId: agent.id,
        ticketId: request.ticket ?? null,
        params: { ...request },
        result: { allowed: false, reason },
      });
      throw new TetherError('forbidden', reason);
    };

    let ticketId: string | null = request.ticket ?? null;
    let canWrite = false;
    let readApproval: string | null = null;
    let writeApproval: string | null = null;
    if (policy.fileReadMode === 'off') await refuse('the account has switched file reads off');
    if (p.role === 'customer') {
      if (!may(p, 'files.self_service', { accountId: agent.account_id }))
        await refuse('customers open files only on their own account’s servers');
      if (!policy.selfService) await refuse('the account has not enabled self-service');
      if (request.readApproval || request.writeApproval)
        throw new TetherError('invalid_request', 'customers need no approval on their own servers');
      canWrite = policy.fileWriteMode !== 'off';
    } else {
      await guard.require(p, 'files.read.request', agent.account_id);
      if (request.readApproval) {
        const target = {
          action: 'files.read' as const,
          agentId: agent.id,
          ticketId: request.ticket,
        };
        const used = await approvals.consume(p, request.readApproval, target, sessionId);
        ticketId = used.ticket_id;
        readApproval = used.id;
      } else if (policy.fileReadMode !== 'allow') {
        await refuse('ask the customer first: files.read needs an approval');
      }
      if (request.writeApproval) {
        const target = {
          action: 'files.write' as const,
          agentId: agent.id,
          ticketId: ticketId ?? undefined,
        };
        writeApproval = (await approvals.consume(p, request.writeApproval, target, sessionId)).id;
        canWrite = true;
      } else canWrite = policy.fileWriteMode === 'allow';
    }
    if (ticketId && !readApproval) await this.checkTicket(p, agent.id, agent.account_id, ticketId);

    const row: FileSessionsTable = {
      id: sessionId,
      agent_id: agent.id,
      account_id: agent.account_id,
      ticket_id: ticketId,
      user_id: p.userId,
      username: p.username,
      read_approval_id: readApproval,
      write_approval_id: writeApproval,
      can_write: canWrite ? 1 : 0,
      status: 'live',
      started_at: nowIso(),
      ended_at: null,
      ended_by: null,
      end_reason: null,
      roots: JSON.stringify(policy.pathAllow),
      cwd_b64: null,
      open_b64: null,
      open_hash: null,
    };
    await db.insertInto('file_sessions').values(row).execute();
    await this.deps.audit.append({
      kind: 'fileSessionStarted',
      ...this.auditBase(p, row),
      params: { readApprovalId: readApproval, writeApprovalId: writeApproval },
      result: { canWrite, selfService: p.role === 'customer' },
    });
    this.deps.log.info(
      { sessionId, agentId: agent.id, user: p.username, canWrite },
      'file session opened',
    );
    this.live.announce(row, 'started');
    return sessionView(row);
  }

  /** Spends a `files.write` approval on a live session of the caller's. */
  async grantWrite(p: Principal, id: string, approvalId: string): Promise<FileSessionView> {
    const row = await this.visible(p, id, 'files.write');
    await this.mustUse(p, row, 'fileWriteRefused');
    if (row.can_write) return sessionView(row);
    const target = {
      action: 'files.write' as const,
      agentId: row.agent_id,
      ticketId: row.ticket_id ?? undefined,
    };
    try {
      await this.deps.approvals.consume(p, approvalId, target, row.id);
    } catch (error) {
      await this.deps.audit.append({
        kind: 'fileWriteRefused',
        ...this.auditBase(p, row),
        params: { approvalId },
        result: { allowed: false, reason: (error as Error).message },
      });
      throw error;
    }
    await this.deps.db
      .updateTable('file_sessions')
      .set({ can_write: 1, write_approval_id: approvalId })
      .where('id', '=', row.id)
      .execute();
    const updated = { ...row, can_write: 1, write_approval_id: approvalId };
    await this.deps.audit.append({
      kind: 'fileWriteGranted',
      ...this.auditBase(p, updated),
      params: { approvalId },
    });
    this.live.announce(updated, 'write');
    return sessionView(updated);
  }

  async end(p: Principal, id: string, reason?: string): Promise<FileSessionView> {
    const row = await this.visible(p, id, 'files.end');
    if (!canEndFileSession(p, row)) {
      await this.deps.guard.denied(
        p,
        'files.end',
        { sessionId: id, agentId: row.agent_id },
        row.account_id,
      );
      throw new TetherError('forbidden', 'you may not end this file session');
    }
    if (row.status !== 'live')
      throw new TetherError('conflict', 'the file session has already ended');
    const why = reason ?? `ended by ${p.username}`;
    const ended = await this.deps.db
      .updateTable('file_sessions')
      .set({ status: 'ended', ended_at: nowIso(), ended_by: p.userId, end_reason: why })
      .where('id', '=', row.id)
      .where('status', '=', 'live')
      .executeTakeFirst();
    if (Number(ended.numUpdatedRows) !== 1)
      throw new TetherError('conflict', 'the file session has already ended');
    const updated = (await this.load(row.id))!;
    this.channels.closeSession(row.id);
    await this.deps.audit.append({
      kind: 'fileSessionEnded',
      ...this.auditBase(p, updated),
      params: {},
      result: { reason: why },
    });
    this.live.publish(row.id, { type: 'ended', by: p.username, reason: why });
    this.live.announce(updated, 'ended');
    this.deps.log.info({ sessionId: row.id, by: p.username }, 'file session ended');
    return sessionView(updated);
  }

  async sessions(p: Principal, agentId: string): Promise<FileSessionView[]> {
    const agent = await this.deps.guard.agent(p, agentId, 'agent.read');
    const rows = await this.deps.db
      .selectFrom('file_sessions')
      .selectAll()
      .where(fileSessionScope(p))
      .where('agent_id', '=', agent.id)
      .orderBy('started_at', 'desc')
      .limit(200)
      .execute();
    return rows.map(sessionView);
  }

  async get(p: Principal, id: string): Promise<FileSessionView> {
    return sessionView(await this.visible(p, id, 'files.read'));
  }

  /**
   * For the live file socket: the caller's part in the session. The person who opened it is
   * the editor; whoever else may see it observes. Not visible: 404 (audited).
   */
  async authorize(p: Principal, id: string): Promise<Authorized> {
    const row = await this.visible(p, id, 'files.watch');
    const editor = canUseFileSession(p, row) && row.status === 'live';
    return {
      session: sessionView(row),
      role: editor ? 'editor' : 'observer',
      readOnly: !editor || !row.can_write,
    };
  }

  /**
   * Runs one operation of session `id` for `p`: the session must be theirs and live, reads and
   * writes still allowed by the account; the outcome is audited either way with `kinds`.
   */
  async operate<T>(
    p: Principal,
    id: string,
    need: 'read' | 'write',
    kinds: OperationKinds,
    params: Record<string, unknown>,
    work: (w: Working) => Promise<OperationOutcome<T>>,
  ): Promise<T> {
    const row = await this.visible(p, id, AUDIT[kinds.ok].event);
    const log = this.deps.log.child({ sessionId: row.id, agentId: row.agent_id });
    try {
      await this.mustUse(p, row, null);
      const policy = await readPolicy(this.deps.db, row.account_id);
      if (policy.fileReadMode === 'off')
        throw new TetherError('forbidden', 'the account has switched file reads off');
      if (need === 'write') {
        if (policy.fileWriteMode === 'off')
          throw new TetherError('forbidden', 'the account has switched file writes off');
        if (!row.can_write)
          throw new TetherError(
            'forbidden',
            'this session may only read; ask for write access first',
          );
      }
      const lease = (mode: ChannelMode) =>
        this.channels.lease(row, mode, { allow: policy.pathAllow, deny: policy.pathDeny });
      const outcome = await work({ row, policy, principal: p, lease }).catch((error: unknown) => {
        throw fileError(error);
      });
      if (outcome.finished) {
        this.track(
          this.auditWhenDone(p, row, kinds, { ...params, ...outcome.params }, outcome.finished),
        );
        return outcome.value;
      }
      await this.deps.audit.append({
        kind: kinds.ok,
        ...this.auditBase(p, row),
        params: { ...params, ...outcome.params },
        result: outcome.result ?? {},
      });
      return outcome.value;
    } catch (error) {
      const reason = error instanceof TetherError ? error.message : 'internal error';
      if (!(error instanceof TetherError)) log.error({ err: error }, 'file operation failed');
      else log.debug({ op: AUDIT[kinds.ok].event, reason }, 'file operation refused');
      await this.deps.audit.append({
        kind: kinds.failed,
        ...this.auditBase(p, row),
        params,
        result: {
          ok: false,
          reason,
          code: error instanceof TetherError ? error.code : 'internal',
          ...(error instanceof TetherError && error.details?.currentHash
            ? { currentHash: error.details.currentHash }
            : {}),
        },
      });
      throw error;
    }
  }

  /** A session the caller may see, or 404 (audited). */
  async visible(p: Principal, id: string, action: string): Promise<FileSessionsTable> {
    const row = await this.load(id);
    if (!row || !canSeeFileSession(p, row)) {
      await this.deps.guard.denied(
        p,
        action,
        { sessionId: id, agentId: row?.agent_id },
        row?.account_id ?? null,
      );
      throw new TetherError('not_found', 'no such file session');
    }
    return row;
  }

  start(): void {
    this.sweeper = setInterval(() => {
      this.endIdle().catch((error) => this.deps.log.warn({ err: error }, 'idle sweep failed'));
    }, IDLE_SWEEP_MS);
    this.sweeper.unref();
  }

  /** Ends live sessions idle past FILE_SESSION_IDLE_MS (see idle-sessions.ts). */
  endIdle(now = Date.now()): Promise<number> {
    return endIdleSessions(
      { db: this.deps.db, audit: this.deps.audit, channels: this.channels, live: this.live },
      now,
    );
  }

  /** Closes every channel; waits for the audit records of streams that were cut off. */
  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.channels.closeAll();
    await Promise.all([...this.pending]);
  }

  private readonly pending = new Set<Promise<void>>();
  private sweeper: NodeJS.Timeout | null = null;

  private track(work: Promise<void>): void {
    const settled = work.catch((error: unknown) =>
      this.deps.log.error({ err: error }, 'cannot record the end of a file transfer'),
    );
    this.pending.add(settled);
    void settled.finally(() => this.pending.delete(settled));
  }

  private async auditWhenDone(
    p: Principal,
    row: FileSessionsTable,
    kinds: OperationKinds,
    params: Record<string, unknown>,
    finished: Promise<Record<string, unknown>>,
  ): Promise<void> {
    try {
      const result = await finished;
      await this.deps.audit.append({ kind: kinds.ok, ...this.auditBase(p, row), params, result });
    } catch (error) {
      const mapped = fileError(error);
      const reason = mapped instanceof TetherError ? mapped.message : 'the transfer failed';
      await this.deps.audit.append({
        kind: kinds.failed,
        ...this.auditBase(p, row),
        params,
        result: { ok: false, reason, ...((error as { result?: object }).result ?? {}) },
      });
    }
  }

  private async mustUse(p: Principal, row: FileSessionsTable, refused: AuditKind | null) {
    let reason: string | null = null;
    if (!canUseFileSession(p, row))
      reason = `only ${row.username}, who opened it, works in this session`;
    else if (row.status !== 'live') reason = 'the file session has ended';
    if (reason === null) return;
    if (refused)
      await this.deps.audit.append({
        kind: refused,
        ...this.auditBase(p, row),
        params: {},
        result: { allowed: false, reason },
      });
    throw new TetherError(row.status !== 'live' ? 'conflict' : 'forbidden', reason);
  }

  private async checkTicket(p: Principal, agentId: string, accountId: string, ticketId: string) {
    const ticket = await this.deps.db
      .selectFrom('tickets')
      .select(['id', 'agent_id'])
      .where('id', '=', ticketId)
      .executeTakeFirst();
    if (!ticket || ticket.agent_id !== agentId) {
      await this.deps.guard.denied(p, 'files.open', { ticketId, agentId }, accountId);
      throw new TetherError('not_found', 'no such ticket on this server');
    }
  }

  private load(id: string) {
    return this.deps.db
      .selectFrom('file_sessions')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
  }

  private auditBase(p: Principal, row: FileSessionsTable) {
    return {
      actor: actorOf(p),
      accountId: row.account_id,
      agentId: row.agent_id,
      ticketId: row.ticket_id,
      sessionId: row.id,
    };
  }
}
