/**
 * Approval requests: an engineer asks, the account's customers decide, the approval opens one
 * session of the action it was asked for (terminal, file reads or writes, a port forward) once. Every state change is a conditional update from the state it expects, so two
 * processes (or a decision racing the expiry timer) can never both win.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { TetherError, type ApprovalAction, type ApprovalView } from '@tether/protocol';
import type { AuditLog } from '../audit/audit-log.ts';
import { canDecideApproval, canSeeApproval, approvalScope } from '../audit/visibility.ts';
import { actorOf, type Guard } from '../agents/guard.ts';
import type { Principal } from '../auth/principal.ts';
import type { Bus } from '../bus/bus.ts';
import { newId, nowIso } from '../auth/secrets.ts';
import type { AgentsTable, ApprovalRequestsTable, Database } from '../store/schema.ts';
import { modeFor, readPolicy } from './consent-policy.ts';

/** How an action reads in a sentence ("the account has switched file writes off"). */
const ACTION_NAMES: Record<ApprovalAction, string> = {
  terminal: 'terminals',
  'files.read': 'file reads',
  'files.write': 'file writes',
  forward: 'port forwarding',
};

/** Live subscribers of the 'approvals' topic get every change here, filtered by visibility. */
export const APPROVAL_EVENT_SUBJECT = 'approval.event';
/** Pending requests past their time are expired on read and by this sweep, restarts included. */
const EXPIRY_SWEEP_MS = 2_000;

export interface ApprovalEvent {
  [key: string]: unknown;
  approval: ApprovalView;
}

export class Approvals {
  private sweeper: NodeJS.Timeout | null = null;

  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      bus: Bus;
      audit: AuditLog;
      guard: Guard;
      log: Logger;
    },
  ) {}

  start(): void {
    this.sweeper = setInterval(() => {
      this.expireDue().catch((error) => this.deps.log.warn({ err: error }, 'expiry sweep failed'));
    }, EXPIRY_SWEEP_MS);
    this.sweeper.unref();
  }

  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  /**
   * Asks the account's customers for `action` on `agent`. The policy may grant it at once
   * (`allow`, or `preapprove_assignee` for the ticket's engineer) or refuse it (`off`).
   */
  async request(
    p: Principal,
    agent: AgentsTable,
    input: { action: ApprovalAction; ticket?: string; params?: Record<string, unknown> },
  ) {
    const { db, audit } = this.deps;
    const { action } = input;
    const ticket = input.ticket ? await this.ticketFor(p, agent, input.ticket, action) : null;
    const policy = await readPolicy(db, agent.account_id);
    const mode = modeFor(policy, action);
    if (mode === 'off') {
      await audit.append({
        kind: 'approvalRefused',
        actor: actorOf(p),
        accountId: agent.account_id,
        agentId: agent.id,
        ticketId: ticket?.id ?? null,
        params: { action, ...input.params },
        result: { allowed: false, reason: 'switched off by the account', policy: mode },
      });
      throw new TetherError('forbidden', `the account has switched ${ACTION_NAMES[action]} off`);
    }
    const preapproved =
      mode === 'allow' || (mode === 'preapprove_assignee' && ticket?.assignee_id === p.userId);
    const now = new Date();
    const row: ApprovalRequestsTable = {
      id: newId(),
      account_id: agent.account_id,
      agent_id: agent.id,
      ticket_id: ticket?.id ?? null,
      requester_id: p.userId,
      action,
      status: preapproved ? 'approved' : 'pending',
      decided_by: null,
      decided_at: preapproved ? now.toISOString() : null,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + policy.timeoutSeconds * 1000).toISOString(),
      session_id: null,
    };
    await db.insertInto('approval_requests').values(row).execute();
    const base = this.auditBase(p, row);
    await audit.append({
      kind: 'approvalRequested',
      ...base,
      params: { approvalId: row.id, action, ...input.params },
      result: { status: row.status, expiresAt: row.expires_at },
    });
    if (preapproved)
      await audit.append({
        kind: 'approvalGranted',
        ...base,
        params: { approvalId: row.id },
        result: { preapproved: true, policy: mode },
      });
    this.deps.log.info(
      { approvalId: row.id, agentId: agent.id, action, status: row.status },
      'access requested',
    );
    return this.publish(row, p.username);
  }

  /** One request the caller may see; others answer 404 and the attempt is audited. */
  async get(p: Principal, id: string): Promise<ApprovalView> {
    const row = await this.visible(p, id, 'approval.read');
    return this.view(row);
  }

  async list(p: Principal, filter: { status?: string; agent?: string }): Promise<ApprovalView[]> {
    await this.expireDue();
    let query = this.deps.db
      .selectFrom('approval_requests')
      .selectAll()
      .where(approvalScope(p) as never)
      .orderBy('created_at', 'desc')
      .limit(200);
    if (filter.status) query = query.where('status', '=', filter.status as never);
    if (filter.agent) query = query.where('agent_id', '=', filter.agent);
    return Promise.all((await query.execute()).map((row) => this.view(row)));
  }

  /** A customer approves or denies; everyone else is refused, and the attempt audited. */
  async decide(p: Principal, id: string, approve: boolean): Promise<ApprovalView> {
    const { db, audit } = this.deps;
    const row = await this.visible(p, id, 'approval.decide');
    if (!canDecideApproval(p, row)) {
      const reason =
        p.userId === row.requester_id
          ? 'nobody approves their own request'
          : 'only the account’s customers decide';
      await this.refuse(p, row, reason);
      throw new TetherError('forbidden', reason);
    }
    // An approval gives the engineer a fresh timeout to open the terminal in.
    const { timeoutSeconds } = await readPolicy(db, row.account_id);
    const decided = await db
      .updateTable('approval_requests')
      .set({
        status: approve ? 'approved' : 'denied',
        decided_by: p.userId,
        decided_at: nowIso(),
        ...(approve
          ? { expires_at: new Date(Date.now() + timeoutSeconds * 1000).toISOString() }
          : {}),
      })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .where('expires_at', '>', nowIso())
      .executeTakeFirst();
    if (Number(decided.numUpdatedRows) !== 1) {
      const current = await this.expireIfDue(row.id);
      const reason = `the request is ${current?.status ?? 'gone'}`;
      await this.refuse(p, row, reason);
      throw new TetherError('conflict', reason);
    }
    const updated = (await this.load(id))!;
    await audit.append({
      kind: approve ? 'approvalGranted' : 'approvalDenied',
      ...this.auditBase(p, updated),
      params: { approvalId: id },
      result: { status: updated.status },
    });
    this.deps.log.info({ approvalId: id, status: updated.status }, 'access request decided');
    return this.publish(updated);
  }

  /**
   * Spends an approved request on one session: right engineer, agent and ticket, not used
   * before, not expired. Marks it used with the session's id, or throws (audited T8004E).
   */
  async consume(
    p: Principal,
    id: string,
    target: { action: ApprovalAction; agentId?: string; ticketId?: string },
    sessionId: string,
  ): Promise<ApprovalRequestsTable> {
    const row = await this.expireIfDue(id);
    const refuse = async (reason: string, code: 'not_found' | 'conflict' | 'forbidden') => {
      if (row) await this.refuse(p, row, reason, { sessionId });
      throw new TetherError(code, reason);
    };
    if (!row || row.requester_id !== p.userId) return refuse('no such approval', 'not_found');
    if (row.action !== target.action)
      return refuse(
        `the approval is for ${ACTION_NAMES[row.action as ApprovalAction] ?? row.action}`,
        'forbidden',
      );
    if (target.agentId !== undefined && target.agentId !== row.agent_id)
      return refuse('the approval is for another server', 'forbidden');
    if (target.ticketId !== undefined && target.ticketId !== row.ticket_id)
      return refuse('the approval is for another ticket', 'forbidden');
    if (row.status === 'used') return refuse('the approval was already used', 'conflict');
    if (row.status !== 'approved') return refuse(`the request is ${row.status}`, 'conflict');

    const spent = await this.deps.db
      .updateTable('approval_requests')
      .set({ status: 'used', session_id: sessionId })
      .where('id', '=', id)
      .where('status', '=', 'approved')
      .executeTakeFirst();
    if (Number(spent.numUpdatedRows) !== 1)
      return refuse('the approval was already used', 'conflict');
    const used = (await this.load(id))!;
    void this.publish(used).catch(() => {});
    return used;
  }

  /** Expires every request whose time is up; each expiry is audited once, whoever sweeps. */
  async expireDue(): Promise<number> {
    const due = await this.deps.db
      .selectFrom('approval_requests')
      .select('id')
      .where('status', 'in', ['pending', 'approved'])
      .where('expires_at', '<=', nowIso())
      .execute();
    for (const { id } of due) await this.expireIfDue(id);
    return due.length;
  }

  private async expireIfDue(id: string): Promise<ApprovalRequestsTable | undefined> {
    const row = await this.load(id);
    if (!row || (row.status !== 'pending' && row.status !== 'approved')) return row;
    if (row.expires_at > nowIso()) return row;
    const expired = await this.deps.db
      .updateTable('approval_requests')
      .set({ status: 'expired' })
      .where('id', '=', id)
      .where('status', '=', row.status)
      .executeTakeFirst();
    const updated = (await this.load(id))!;
    if (Number(expired.numUpdatedRows) === 1) {
      await this.deps.audit.append({
        kind: 'approvalExpired',
        actor: null,
        accountId: row.account_id,
        agentId: row.agent_id,
        ticketId: row.ticket_id,
        params: { approvalId: id, requesterId: row.requester_id, was: row.status },
        result: { status: 'expired', expiresAt: row.expires_at },
      });
      this.deps.log.info({ approvalId: id }, 'access request expired');
      await this.publish(updated);
    }
    return updated;
  }

  private async visible(p: Principal, id: string, action: string) {
    const row = await this.expireIfDue(id);
    if (!row || !canSeeApproval(p, row)) {
      await this.deps.guard.denied(
        p,
        action,
        { approvalId: id, agentId: row?.agent_id },
        row?.account_id ?? null,
      );
      throw new TetherError('not_found', 'no such approval');
    }
    return row;
  }

  private async ticketFor(
    p: Principal,
    agent: AgentsTable,
    ticketId: string,
    action: ApprovalAction,
  ) {
    const ticket = await this.deps.db
      .selectFrom('tickets')
      .selectAll()
      .where('id', '=', ticketId)
      .executeTakeFirst();
    if (!ticket || ticket.agent_id !== agent.id) {
      await this.deps.guard.denied(
        p,
        `${action}.request`,
        { ticketId, agentId: agent.id },
        agent.account_id,
      );
      throw new TetherError('not_found', 'no such ticket on this server');
    }
    return ticket;
  }

  private async refuse(p: Principal, row: ApprovalRequestsTable, reason: string, extra = {}) {
    await this.deps.audit.append({
      kind: 'approvalRefused',
      ...this.auditBase(p, row),
      params: { approvalId: row.id, ...extra },
      result: { allowed: false, reason, status: row.status },
    });
  }

  private auditBase(p: Principal, row: ApprovalRequestsTable) {
    return {
      actor: actorOf(p),
      accountId: row.account_id,
      agentId: row.agent_id,
      ticketId: row.ticket_id,
    };
  }

  private load(id: string) {
    return this.deps.db
      .selectFrom('approval_requests')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
  }

  private async view(row: ApprovalRequestsTable, requesterName?: string): Promise<ApprovalView> {
    const name =
      requesterName ??
      (
        await this.deps.db
          .selectFrom('users')
          .select('username')
          .where('id', '=', row.requester_id)
          .executeTakeFirst()
      )?.username ??
      '';
    return {
      id: row.id,
      accountId: row.account_id,
      agentId: row.agent_id,
      ticketId: row.ticket_id,
      requesterId: row.requester_id,
      requesterName: name,
      action: row.action,
      status: row.status,
      decidedBy: row.decided_by,
      decidedAt: row.decided_at,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      sessionId: row.session_id,
    };
  }

  private async publish(row: ApprovalRequestsTable, requesterName?: string): Promise<ApprovalView> {
    const approval = await this.view(row, requesterName);
    this.deps.bus.publish(APPROVAL_EVENT_SUBJECT, { approval } satisfies ApprovalEvent);
    return approval;
  }
}
