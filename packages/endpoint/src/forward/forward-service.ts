/**
 * Port forwards: asked for, approved, held by a client, ended; the record of each. A forward
 * is a session like a terminal: the approval is spent on it once, and it lives while its client
 * holds its socket (plus a lease), so a CLI that dies leaves nothing open behind it.
 */
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import {
  TetherError,
  type ApprovalView,
  type ForwardConnectionView,
  type ForwardCreate,
  type ForwardView,
} from '@tether/protocol';
import { formatTarget, parseTarget } from '@tether/protocol/forward-target';
import type { AgentHub } from '../agents/agent-hub.ts';
import { actorOf, type Guard } from '../agents/guard.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { canSeeForward, canUseForward, forwardScope } from '../audit/visibility.ts';
import type { Principal } from '../auth/principal.ts';
import { newId, nowIso } from '../auth/secrets.ts';
import type { Bus } from '../bus/bus.ts';
import {
  APPROVAL_EVENT_SUBJECT,
  type ApprovalEvent,
  type Approvals,
} from '../consent/approvals.ts';
import { readPolicy } from '../consent/consent-policy.ts';
import type { Database, ForwardConnectionsTable, ForwardsTable } from '../store/schema.ts';
import { ForwardConnections } from './forward-connections.ts';
import { ForwardHolders } from './forward-holders.ts';
import { decideForward } from './forward-policy.ts';

/** A forward outlives its holder's last renewal by this much: a CLI killed hard frees it in 30 s. */
export const FORWARD_LEASE_MS = 30_000;
/** Every process ends forwards whose lease ran out this often; ending twice is harmless. */
const SWEEP_MS = 5_000;
/** Live subscribers of the 'forwards' topic, and every process's holders and connections. */
export const FORWARD_EVENT_SUBJECT = 'forward.event';
const OPEN_STATUSES = ['pending', 'opening', 'live'] as const;
/** How many of each forward's latest connections a list shows, and one forward at most. */
const LIST_RECENT = 10;
const ONE_RECENT = 1_000;

interface Totals {
  connections: number;
  failedConnections: number;
  bytesUp: number;
  bytesDown: number;
}
const NO_TRAFFIC: Totals = { connections: 0, failedConnections: 0, bytesUp: 0, bytesDown: 0 };

export interface ForwardEvent {
  [key: string]: unknown;
  forward: ForwardView;
}

export interface ForwardDeps {
  db: Kysely<Database>;
  bus: Bus;
  hub: AgentHub;
  audit: AuditLog;
  approvals: Approvals;
  guard: Guard;
  nodeId: string;
  log: Logger;
}

export class ForwardService {
  readonly connections: ForwardConnections;
  readonly holders: ForwardHolders;
  private readonly offBus: Array<() => void> = [];
  private sweeper: NodeJS.Timeout | null = null;

  constructor(private readonly deps: ForwardDeps) {
    this.connections = new ForwardConnections(deps, this);
    this.holders = new ForwardHolders(deps, this);
  }

  async start(): Promise<void> {
    const { bus, log } = this.deps;
    const cut = await this.connections.recoverInterrupted();
    if (cut > 0)
      log.warn({ connections: cut }, 'marked forwarded connections cut by the last stop');
    this.offBus.push(
      bus.subscribe(APPROVAL_EVENT_SUBJECT, (payload) => {
        const { approval } = payload as ApprovalEvent;
        if (approval.action === 'forward' && approval.status !== 'pending')
          void this.onDecided(approval).catch((err) =>
            log.error({ err, approvalId: approval.id }, 'cannot apply a forward decision'),
          );
      }),
      bus.subscribe(FORWARD_EVENT_SUBJECT, (payload) => {
        const { forward } = payload as ForwardEvent;
        this.holders.changed(forward);
        if (forward.status === 'ended' || forward.status === 'refused')
          this.connections.closeAll(forward.id, endedError(forward));
      }),
    );
    this.holders.start();
    this.sweeper = setInterval(() => {
      this.sweep().catch((err) => log.warn({ err }, 'forward lease sweep failed'));
    }, SWEEP_MS);
    this.sweeper.unref();
  }

  /** On shutdown: connections here end (recorded), holders are told to come back. */
  async stop(): Promise<void> {
    if (this.sweeper) clearInterval(this.sweeper);
    this.offBus.forEach((off) => off());
    this.holders.stop();
    await this.connections.stopAll(new TetherError('unavailable', 'the endpoint is restarting'));
  }

  /**
   * Asks for a forward. Refused (403, audited) when the policy does not allow the target;
   * `live` at once for self-service and pre-approved requests, else `pending` until the
   * customer decides.
   */
  async create(p: Principal, agentId: string, input: ForwardCreate): Promise<ForwardView> {
    const { db, audit, guard, approvals } = this.deps;
    const agent = await guard.agent(p, agentId, 'forward.open');
    if (agent.revoked_at) throw new TetherError('agent_revoked', 'agent was revoked');
    const target = parseTarget(input.target);
    const where = formatTarget(target);
    const policy = await readPolicy(db, agent.account_id);
    const decision = decideForward(p, policy, target);
    if (!decision.allowed) {
      await audit.append({
        kind: 'forwardRefused',
        actor: actorOf(p),
        accountId: agent.account_id,
        agentId: agent.id,
        ticketId: input.ticket ?? null,
        params: { target: where },
        result: { allowed: false, reason: decision.reason, policy: policy.forwardMode },
      });
      throw new TetherError('forbidden', decision.reason);
    }

    const id = newId();
    let approval: ApprovalView | null = null;
    if (decision.ask) {
      const request = { target: where, forwardId: id };
      approval = await approvals.request(p, agent, {
        action: 'forward',
        ticket: input.ticket,
        params: request,
      });
    } else if (input.ticket) await this.checkTicket(p, agent.id, agent.account_id, input.ticket);

    const now = Date.now();
    const row: ForwardsTable = {
      id,
      agent_id: agent.id,
      account_id: agent.account_id,
      ticket_id: approval?.ticketId ?? input.ticket ?? null,
      approval_id: approval?.id ?? null,
      user_id: p.userId,
      username: p.username,
      host: target.host,
      port: target.port,
      target: where,
      listed: decision.listed ? 1 : 0,
      status: approval ? 'pending' : 'live',
      created_at: new Date(now).toISOString(),
      ended_at: null,
      ended_by: null,
      end_reason: null,
      lease_until: new Date(now + FORWARD_LEASE_MS).toISOString(),
    };
    await db.insertInto('forwards').values(row).execute();
    if (!approval) await this.opened(row, p, { selfService: true });
    // A request the policy granted at once opens below; only a real wait is announced.
    else if (approval.status !== 'approved') await this.announce(row);
    this.deps.log.info(
      { forwardId: id, agentId: agent.id, target: where, status: row.status },
      'forward asked for',
    );
    const settled = approval?.status === 'approved' ? await this.activate(row) : row;
    return this.view(settled);
  }

  /** A forward the caller may see; anything else is 404 and the attempt audited. */
  async visible(p: Principal, id: string, action: string): Promise<ForwardsTable> {
    const row = await this.load(id);
    if (!row || !canSeeForward(p, row)) {
      await this.deps.guard.denied(
        p,
        action,
        { forwardId: id, agentId: row?.agent_id },
        row?.account_id ?? null,
      );
      throw new TetherError('not_found', 'no such forward');
    }
    return row;
  }

  /** A forward the caller opened (only they may connect through it or hold it). */
  async usable(p: Principal, id: string, action: string): Promise<ForwardsTable> {
    const row = await this.visible(p, id, action);
    if (!canUseForward(p, row)) {
      await this.deps.guard.denied(
        p,
        action,
        { forwardId: id, agentId: row.agent_id },
        row.account_id,
      );
      throw new TetherError('forbidden', 'only the person who opened a forward may use it');
    }
    return this.settle(row);
  }

  /**
   * Brings a pending forward up to date with its approval, in case its decision event was
   * missed: approved opens it, denied or expired refuses it.
   */
  async settle(row: ForwardsTable): Promise<ForwardsTable> {
    if (row.status !== 'pending' || !row.approval_id) return row;
    const approval = await this.deps.db
      .selectFrom('approval_requests')
      .select(['status'])
      .where('id', '=', row.approval_id)
      .executeTakeFirst();
    if (approval?.status === 'approved') return this.activate(row);
    if (approval && approval.status !== 'pending')
      return this.refuse(row, `the request was ${approval.status}`);
    return row;
  }

  /** Ends a forward (its connections close); null `by` is the system (lease ran out). */
  async end(by: Principal | null, row: ForwardsTable, reason: string): Promise<ForwardsTable> {
    const { db } = this.deps;
    const ended = await db
      .updateTable('forwards')
      .set({
        status: 'ended',
        ended_at: nowIso(),
        ended_by: by?.userId ?? null,
        end_reason: reason,
      })
      .where('id', '=', row.id)
      .where('status', 'in', OPEN_STATUSES)
      .executeTakeFirst();
    if (Number(ended.numUpdatedRows) !== 1) return (await this.load(row.id)) ?? row;
    if (row.approval_id)
      // Nobody waits for an answer any more: the customer's prompt goes away.
      await db
        .updateTable('approval_requests')
        .set({ status: 'cancelled' })
        .where('id', '=', row.approval_id)
        .where('status', '=', 'pending')
        .execute();

    const final = (await this.load(row.id))!;
    await this.connections.closeAll(row.id, endedError(this.toView(final)));
    const totals = (await this.totals([row.id])).get(row.id) ?? NO_TRAFFIC;
    await this.deps.audit.append({
      kind: 'forwardEnded',
      actor: by ? actorOf(by) : null,
      accountId: row.account_id,
      agentId: row.agent_id,
      ticketId: row.ticket_id,
      sessionId: row.id,
      params: { target: row.target, userId: row.user_id },
      result: {
        reason,
        ...totals,
        durationMs: Date.parse(final.ended_at ?? nowIso()) - Date.parse(final.created_at),
      },
    });
    await this.announce(final);
    this.deps.log.info({ forwardId: row.id, reason }, 'forward ended');
    return final;
  }

  /** Ends every open forward whose holder stopped renewing its lease. */
  async sweep(): Promise<number> {
    const due = await this.deps.db
      .selectFrom('forwards')
      .selectAll()
      .where('status', 'in', OPEN_STATUSES)
      .where('lease_until', '<', nowIso())
      .execute();
    for (const row of due) await this.end(null, row, 'its client went away');
    return due.length;
  }

  /** Keeps the forwards held here alive for another lease. */
  async renew(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.deps.db
      .updateTable('forwards')
      .set({ lease_until: new Date(Date.now() + FORWARD_LEASE_MS).toISOString() })
      .where('id', 'in', ids)
      .where('status', 'in', OPEN_STATUSES)
      .execute();
  }

  async list(
    p: Principal,
    agentId: string,
    filter: { status?: string; limit: number },
  ): Promise<ForwardView[]> {
    let query = this.deps.db
      .selectFrom('forwards')
      .selectAll()
      .where(forwardScope(p) as never)
      .where('agent_id', '=', agentId)
      .orderBy('created_at', 'desc')
      .limit(filter.limit);
    if (filter.status) query = query.where('status', '=', filter.status as never);
    const rows = await Promise.all((await query.execute()).map((row) => this.settle(row)));
    const ids = rows.map((row) => row.id);
    const [totals, recent] = await Promise.all([this.totals(ids), this.recent(ids, LIST_RECENT)]);
    return rows.map((row) => this.toView(row, totals.get(row.id), recent.get(row.id) ?? []));
  }

  /** One forward with its totals, without the connections. */
  async summary(row: ForwardsTable): Promise<ForwardView> {
    return this.toView(row, (await this.totals([row.id])).get(row.id));
  }

  /** One forward with its latest connections. */
  async view(row: ForwardsTable): Promise<ForwardView> {
    const [totals, recent] = await Promise.all([
      this.totals([row.id]),
      this.recent([row.id], ONE_RECENT),
    ]);
    return this.toView(row, totals.get(row.id), recent.get(row.id) ?? []);
  }

  /** Without `totals` (a status change on the bus) the counts read zero. */
  toView(row: ForwardsTable, totals = NO_TRAFFIC, recent?: ForwardConnectionsTable[]): ForwardView {
    return {
      id: row.id,
      agentId: row.agent_id,
      accountId: row.account_id,
      ticketId: row.ticket_id,
      approvalId: row.approval_id,
      userId: row.user_id,
      username: row.username,
      target: row.target,
      host: row.host,
      port: Number(row.port),
      status: row.status === 'opening' ? 'pending' : row.status,
      createdAt: row.created_at,
      endedAt: row.ended_at,
      endedBy: row.ended_by,
      endReason: row.end_reason,
      ...totals,
      ...(recent ? { recent: recent.map(connectionView) } : {}),
    };
  }

  load(id: string): Promise<ForwardsTable | undefined> {
    return this.deps.db.selectFrom('forwards').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Tells every process (holders, connections, live subscribers) what the forward is now. */
  async announce(row: ForwardsTable): Promise<void> {
    const totals = (await this.totals([row.id])).get(row.id);
    try {
      this.deps.bus.publish(FORWARD_EVENT_SUBJECT, {
        forward: this.toView(row, totals),
      } satisfies ForwardEvent);
    } catch {
      // The bus closes with this process; holders learn the state when they reconnect.
    }
  }

  private async onDecided(approval: ApprovalView): Promise<void> {
    const row = await this.deps.db
      .selectFrom('forwards')
      .selectAll()
      .where('approval_id', '=', approval.id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (row) await this.settle(row);
  }

  /**
   * Claims the pending forward (one process wins), then spends its approval on it. Nothing can
   * connect until both have happened.
   */
  private async activate(row: ForwardsTable): Promise<ForwardsTable> {
    const { db, approvals } = this.deps;
    const claimed = await db
      .updateTable('forwards')
      .set({ status: 'opening' })
      .where('id', '=', row.id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (Number(claimed.numUpdatedRows) !== 1) return (await this.load(row.id)) ?? row;

    const owner = await this.ownerOf(row);
    try {
      const target = {
        action: 'forward' as const,
        agentId: row.agent_id,
        ticketId: row.ticket_id ?? undefined,
      };
      await approvals.consume(owner, row.approval_id!, target, row.id);
    } catch (error) {
      const reason =
        error instanceof TetherError ? error.message : 'the approval could not be used';
      return this.refuse(row, reason);
    }
    await db
      .updateTable('forwards')
      .set({ status: 'live' })
      .where('id', '=', row.id)
      .where('status', '=', 'opening')
      .execute();
    const live = (await this.load(row.id))!;
    await this.opened(live, owner, { approvalId: row.approval_id });
    return live;
  }

  private async refuse(row: ForwardsTable, reason: string): Promise<ForwardsTable> {
    const refused = await this.deps.db
      .updateTable('forwards')
      .set({ status: 'refused', ended_at: nowIso(), end_reason: reason })
      .where('id', '=', row.id)
      .where('status', 'in', ['pending', 'opening'])
      .executeTakeFirst();
    const current = (await this.load(row.id))!;
    if (Number(refused.numUpdatedRows) !== 1) return current;
    await this.deps.audit.append({
      kind: 'forwardRefused',
      actor: actorOf(await this.ownerOf(row)),
      accountId: row.account_id,
      agentId: row.agent_id,
      ticketId: row.ticket_id,
      sessionId: row.id,
      params: { target: row.target, approvalId: row.approval_id },
      result: { allowed: false, reason },
    });
    await this.announce(current);
    this.deps.log.info({ forwardId: row.id, reason }, 'forward refused');
    return current;
  }

  private async opened(row: ForwardsTable, p: Principal, extra: Record<string, unknown>) {
    await this.deps.audit.append({
      kind: 'forwardOpened',
      actor: actorOf(p),
      accountId: row.account_id,
      agentId: row.agent_id,
      ticketId: row.ticket_id,
      sessionId: row.id,
      params: { target: row.target, ...extra },
      result: { listed: row.listed === 1 },
    });
    await this.announce(row);
    this.deps.log.info(
      { forwardId: row.id, agentId: row.agent_id, target: row.target },
      'forward open',
    );
  }

  /** The person who asked, as a principal: approvals are spent by their requester only. */
  private async ownerOf(row: ForwardsTable): Promise<Principal> {
    const user = await this.deps.db
      .selectFrom('users')
      .select(['id', 'username', 'role', 'account_id'])
      .where('id', '=', row.user_id)
      .executeTakeFirstOrThrow();
    return {
      userId: user.id,
      username: user.username,
      role: user.role as Principal['role'],
      accountId: user.account_id,
      reportIds: [],
    };
  }

  private async checkTicket(p: Principal, agentId: string, accountId: string, ticketId: string) {
    const ticket = await this.deps.db
      .selectFrom('tickets')
      .select(['agent_id'])
      .where('id', '=', ticketId)
      .executeTakeFirst();
    if (ticket?.agent_id === agentId) return;
    await this.deps.guard.denied(p, 'forward.open', { ticketId, agentId }, accountId);
    throw new TetherError('not_found', 'no such ticket on this server');
  }

  /**
   * Connections and bytes of each forward, summed from its connection rows (a connection's
   * bytes count once it has closed), so no counter is written twice per connection.
   */
  private async totals(ids: string[]): Promise<Map<string, Totals>> {
    const byForward = new Map<string, Totals>();
    if (ids.length === 0) return byForward;
    const rows = await this.deps.db
      .selectFrom('forward_connections')
      .select((eb) => [
        'forward_id',
        sql<number>`sum(case when status = 'failed' then 0 else 1 end)`.as('connections'),
        sql<number>`sum(case when status = 'failed' then 1 else 0 end)`.as('failed'),
        eb.fn.sum<number>('bytes_up').as('up'),
        eb.fn.sum<number>('bytes_down').as('down'),
      ])
      .where('forward_id', 'in', ids)
      .groupBy('forward_id')
      .execute();
    for (const row of rows)
      byForward.set(row.forward_id, {
        connections: Number(row.connections),
        failedConnections: Number(row.failed),
        bytesUp: Number(row.up),
        bytesDown: Number(row.down),
      });
    return byForward;
  }

  /** The latest `limit` connections of each forward, newest first, in one query. */
  private async recent(ids: string[], limit: number) {
    const byForward = new Map<string, ForwardConnectionsTable[]>();
    if (ids.length === 0) return byForward;
    const rows = await this.deps.db
      .selectFrom((eb) =>
        eb
          .selectFrom('forward_connections')
          .selectAll()
          .select(
            sql<number>`row_number() over (partition by forward_id order by started_at desc, id)`.as(
              'rank',
            ),
          )
          .where('forward_id', 'in', ids)
          .as('ranked'),
      )
      .selectAll()
      .where('rank', '<=', limit)
      .orderBy('started_at', 'desc')
      .execute();
    for (const row of rows) {
      const list = byForward.get(row.forward_id) ?? [];
      list.push(row);
      byForward.set(row.forward_id, list);
    }
    return byForward;
  }
}

/** The error a connection or holder gets when its forward has ended. */
export function endedError(forward: ForwardView): TetherError {
  const why = forward.endReason ? `: ${forward.endReason}` : '';
  return new TetherError('gone', `the forward has ${forward.status}${why}`);
}

function connectionView(row: ForwardConnectionsTable): ForwardConnectionView {
  return {
    id: row.id,
    status: row.status,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    bytesUp: Number(row.bytes_up),
    bytesDown: Number(row.bytes_down),
    durationMs: row.duration_ms === null ? null : Number(row.duration_ms),
    error: row.error_code
      ? { code: row.error_code as never, message: row.error_message ?? '' }
      : null,
  };
}
