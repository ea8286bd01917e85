/** Support requests: opened on a server by a customer, taken by one engineer, closed summarised. */
import { TetherError } from '@tether/protocol';
import type { Principal } from '../auth/principal.ts';
import type { Services } from '../services.ts';
import type { TicketsTable } from '../store/schema.ts';
import { actorOf } from '../agents/guard.ts';
import { nowIso } from '../auth/secrets.ts';
import {
  canCloseTicket,
  canSeeQueueExit,
  canSeeTicket,
  may,
  ticketScope,
} from '../audit/visibility.ts';
import { decodeCursor, encodeCursor, olderThan, timeOrderedId } from '../chat/page-cursor.ts';
import { summarize, type TicketSummary } from './ticket-summary.ts';

/** Live subscribers of the 'tickets' topic get every `TicketEvent` from here. */
export const TICKET_EVENT_SUBJECT = 'ticket.event';
export const TICKET_PAGE_DEFAULT = 50;
export const TICKET_PAGE_MAX = 200;

export type TicketStatus = TicketsTable['status'];

export interface Person {
  id: string;
  /** The user's display name; null when the user no longer exists. */
  name: string | null;
}

/** A ticket as lists and live events show it. */
export interface TicketView {
  id: string;
  title: string;
  question: string;
  status: TicketStatus;
  account: { id: string; name: string | null };
  agent: { id: string; name: string | null; online: boolean };
  createdBy: Person;
  assignee: Person | null;
  closedBy: Person | null;
  createdAt: string;
  takenAt: string | null;
  closedAt: string | null;
}

/** One ticket on its own page: the view plus what was done, once it is closed. */
export interface TicketDetail extends TicketView {
  summary: TicketSummary | null;
}

/** On the bus and the live socket. `from` is the status before the change (null: created). */
export interface TicketEvent {
  type: 'created' | 'taken' | 'closed';
  from: TicketStatus | null;
  ticket: TicketView;
}

export interface TicketFilter {
  status?: TicketStatus;
  agentId?: string;
  cursor?: string;
  limit?: number;
}

export class Tickets {
  constructor(private readonly s: Services) {}

  async open(p: Principal, input: { agentId: string; title: string; question: string }) {
    const agent = await this.s.guard.agent(p, input.agentId, 'ticket.create');
    if (agent.revoked_at) throw new TetherError('agent_revoked', 'that server was revoked');

    const row: TicketsTable = {
      id: timeOrderedId(),
      account_id: agent.account_id,
      agent_id: agent.id,
      title: input.title,
      question: input.question,
      status: 'open',
      created_by: p.userId,
      assignee_id: null,
      created_at: nowIso(),
      taken_at: null,
      closed_at: null,
      closed_by: null,
      summary: null,
    };
    await this.s.db.insertInto('tickets').values(row).execute();

    // The question may hold whatever the customer pasted; the audit record keeps the title only.
    await this.#audit('ticketCreated', p, row, { title: row.title });
    return this.#changed('created', null, row);
  }

  /** Newest first, only what `p` may see; pass `nextCursor` back for the next, older page. */
  async list(p: Principal, filter: TicketFilter) {
    const limit = filter.limit ?? TICKET_PAGE_DEFAULT;
    let query = this.s.db.selectFrom('tickets').selectAll().where(ticketScope(p));
    if (filter.status) query = query.where('status', '=', filter.status);
    if (filter.agentId) query = query.where('agent_id', '=', filter.agentId);
    if (filter.cursor) query = query.where(olderThan(decodeCursor(filter.cursor)));
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();

    const page = rows.slice(0, limit);
    await this.s.audit.append({
      kind: 'ticketsListed',
      actor: actorOf(p),
      accountId: p.accountId,
      params: { status: filter.status, agentId: filter.agentId },
      result: { count: page.length },
    });
    return {
      tickets: await this.views(page),
      nextCursor: rows.length > limit ? encodeCursor(page[limit - 1]) : null,
    };
  }

  async get(p: Principal, id: string): Promise<TicketDetail> {
    return this.detail(await this.#visible(p, id, 'ticket.read'));
  }

  /** Atomic: of two engineers racing, one update finds the ticket open and the other does not. */
  async take(p: Principal, id: string): Promise<TicketDetail> {
    const row = await this.#find(id);
    if (!row || !(canSeeTicket(p, row) || canSeeQueueExit(p)))
      throw await this.#notFound(p, 'ticket.take', id, row);
    if (!may(p, 'ticket.take', { accountId: row.account_id })) {
      await this.#denied(p, 'ticket.take', id, row);
      throw new TetherError('forbidden', 'your role may not take tickets');
    }

    const takenAt = nowIso();
    const updated = await this.s.db
      .updateTable('tickets')
      .set({ status: 'taken', assignee_id: p.userId, taken_at: takenAt })
      .where('id', '=', id)
      .where('status', '=', 'open')
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) {
      const now = await this.#find(id);
      // Taking one's own ticket again (a double click) answers as the first take did.
      if (now?.status === 'taken' && now.assignee_id === p.userId) return this.detail(now);
      throw await this.#takeConflict(now);
    }

    const taken: TicketsTable = {
      ...row,
      status: 'taken',
      assignee_id: p.userId,
      taken_at: takenAt,
    };
    await this.#audit('ticketTaken', p, taken, {}, { assigneeId: p.userId });
    return this.#changed('taken', 'open', taken);
  }

  /** Writes the summary of what was done once, at close; later reads return it as stored. */
  async close(p: Principal, id: string): Promise<TicketDetail> {
    const row = await this.#visible(p, id, 'ticket.close');
    if (!canCloseTicket(p, row)) {
      await this.#denied(p, 'ticket.close', id, row);
      throw new TetherError('forbidden', 'only the engineer working the ticket may close it');
    }
    if (row.status === 'closed') throw new TetherError('conflict', 'ticket is already closed');

    const closedAt = nowIso();
    const summary = await summarize(this.s.db, row, closedAt);
    const closing = {
      status: 'closed' as const,
      closed_at: closedAt,
      closed_by: p.userId,
      summary: JSON.stringify(summary),
    };
    const updated = await this.s.db
      .updateTable('tickets')
      .set(closing)
      .where('id', '=', id)
      .where('status', '=', row.status)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1)
      throw new TetherError('conflict', 'ticket changed while closing; reload it');

    const closed: TicketsTable = { ...row, ...closing };
    await this.#audit('ticketClosed', p, closed, {}, summary.totals);
    return this.#changed('closed', row.status, closed);
  }

  async detail(row: TicketsTable): Promise<TicketDetail> {
    const [view] = await this.views([row]);
    return {
      ...view,
      summary: row.summary === null ? null : (JSON.parse(row.summary) as TicketSummary),
    };
  }

  /** Rows to views, with names and online state fetched in three queries for the whole page. */
  async views(rows: TicketsTable[]): Promise<TicketView[]> {
    if (rows.length === 0) return [];
    const { db } = this.s;
    const userIds = rows.flatMap((r) => [r.created_by, r.assignee_id, r.closed_by]);
    const [agents, users, accounts] = await Promise.all([
      db
        .selectFrom('agents')
        .select(['id', 'name', 'connected_node'])
        .where('id', 'in', unique(rows.map((r) => r.agent_id)))
        .execute(),
      db
        .selectFrom('users')
        .select(['id', 'display_name'])
        .where('id', 'in', unique(userIds))
        .execute(),
      db
        .selectFrom('accounts')
        .select(['id', 'name'])
        .where('id', 'in', unique(rows.map((r) => r.account_id)))
        .execute(),
    ]);
    const agentById = new Map(agents.map((a) => [a.id, a]));
    const nameOf = new Map(users.map((u) => [u.id, u.display_name]));
    const accountName = new Map(accounts.map((a) => [a.id, a.name]));
    const person = (id: string | null): Person | null =>
      id === null ? null : { id, name: nameOf.get(id) ?? null };

    return rows.map((r) => {
      const agent = agentById.get(r.agent_id);
      return {
        id: r.id,
        title: r.title,
        question: r.question,
        status: r.status,
        account: { id: r.account_id, name: accountName.get(r.account_id) ?? null },
        agent: {
          id: r.agent_id,
          name: agent?.name ?? null,
          online: Boolean(agent?.connected_node),
        },
        createdBy: person(r.created_by) as Person,
        assignee: person(r.assignee_id),
        closedBy: person(r.closed_by),
        createdAt: r.created_at,
        takenAt: r.taken_at,
        closedAt: r.closed_at,
      };
    });
  }

  async #find(id: string): Promise<TicketsTable | undefined> {
    return this.s.db.selectFrom('tickets').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** The ticket if `p` may see it; otherwise 404, the same for "hidden" and "absent", audited. */
  async #visible(p: Principal, id: string, action: string): Promise<TicketsTable> {
    const row = await this.#find(id);
    if (!row || !canSeeTicket(p, row)) throw await this.#notFound(p, action, id, row);
    return row;
  }

  async #notFound(p: Principal, action: string, id: string, row: TicketsTable | undefined) {
    await this.#denied(p, action, id, row);
    return new TetherError('not_found', 'no such ticket');
  }

  async #denied(p: Principal, action: string, id: string, row: TicketsTable | undefined) {
    await this.s.audit.append({
      kind: 'accessDenied',
      actor: actorOf(p),
      accountId: row?.account_id ?? null,
      agentId: row?.agent_id ?? null,
      ticketId: row ? row.id : null,
      params: { action, ticketId: id },
      result: { allowed: false },
    });
  }

  async #takeConflict(now: TicketsTable | undefined): Promise<TetherError> {
    if (now?.status === 'closed') return new TetherError('conflict', 'ticket is closed');
    const [view] = now ? await this.views([now]) : [];
    const who = view?.assignee?.name ?? 'someone else';
    return new TetherError('conflict', `already taken by ${who}`);
  }

  async #audit(
    kind: 'ticketCreated' | 'ticketTaken' | 'ticketClosed',
    p: Principal,
    row: TicketsTable,
    params: Record<string, unknown>,
    result: Record<string, unknown> = {},
  ): Promise<void> {
    await this.s.audit.append({
      kind,
      actor: actorOf(p),
      accountId: row.account_id,
      agentId: row.agent_id,
      ticketId: row.id,
      params: { ticketId: row.id, ...params },
      result,
    });
  }

  /** Publishes the change for live subscribers and returns the ticket's detail. */
  async #changed(type: TicketEvent['type'], from: TicketStatus | null, row: TicketsTable) {
    const detail = await this.detail(row);
    // Events carry no summary: it can be large, and the closed ticket's page reads it once.
    const { summary: _summary, ...ticket } = detail;
    const event: TicketEvent = { type, from, ticket };
    try {
      this.s.bus.publish(TICKET_EVENT_SUBJECT, { ...event });
    } catch (error) {
      // The change is committed; only live subscribers miss it, and the list shows it.
      this.s.log.warn({ err: error, ticketId: row.id }, 'ticket event not published');
    }
    return detail;
  }
}

function unique(ids: Array<string | null>): string[] {
  return [...new Set(ids.filter((id): id is string => id !== null))];
}
