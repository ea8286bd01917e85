/** Chat rooms, one per server: text messages stored as written, audited, fanned out on the bus. */
import { z } from 'zod';
import { TetherError } from '@tether/protocol';
import type { Principal } from '../auth/principal.ts';
import type { Services } from '../services.ts';
import type { ChatMessagesTable } from '../store/schema.ts';
import { actorOf } from '../agents/guard.ts';
import { nowIso } from '../auth/secrets.ts';
import { canSeeTicket } from '../audit/visibility.ts';
import { RateLimiter } from '../http/rate-limit.ts';
import { decodeCursor, encodeCursor, olderThan, timeOrderedId } from './page-cursor.ts';
import { plainText } from './plain-text.ts';

export const CHAT_BODY_MAX_CHARS = 4000;
export const CHAT_PAGE_DEFAULT = 50;
export const CHAT_PAGE_MAX = 200;
/** Two a second for a minute is more than anyone types; a script posting faster is stopped. */
const MESSAGES_PER_MINUTE = 120;

/** What a message is made of, for the REST body and the socket's `send` alike. */
export const ChatInput = {
  body: plainText(CHAT_BODY_MAX_CHARS),
  /** The ticket the message was written in; it must be on the same server. */
  ticket: z.string().min(1).max(64).optional(),
};

export interface ChatMessageView {
  id: string;
  agentId: string;
  ticketId: string | null;
  author: { id: string; name: string; role: string };
  /** Plain text exactly as written: render it as text, never as HTML. */
  body: string;
  createdAt: string;
}

/** The socket's server → client message for each new message in the room. */
export interface ChatMessageEvent {
  type: 'message';
  message: ChatMessageView;
}

/** Each room's messages cross endpoint processes here, so every viewer's socket gets them. */
export function chatSubject(agentId: string): string {
  return `chat.${agentId}`;
}

export class ChatRooms {
  private readonly posts = new RateLimiter(MESSAGES_PER_MINUTE, 60_000, 'chat messages');

  constructor(private readonly s: Services) {}

  /** Whoever may see the server may write in its room ('chat.write'). */
  async post(
    p: Principal,
    agentId: string,
    input: { body: string; ticket?: string },
  ): Promise<ChatMessageView> {
    const agent = await this.s.guard.agent(p, agentId, 'chat.write');
    if (input.ticket !== undefined) await this.#checkTicket(p, agent.id, input.ticket);
    this.posts.hit(p.userId);

    const author = await this.s.db
      .selectFrom('users')
      .select('display_name')
      .where('id', '=', p.userId)
      .executeTakeFirst();
    const row: ChatMessagesTable = {
      id: timeOrderedId(),
      agent_id: agent.id,
      account_id: agent.account_id,
      ticket_id: input.ticket ?? null,
      author_id: p.userId,
      author_name: author?.display_name ?? p.username,
      author_role: p.role,
      body: input.body,
      created_at: nowIso(),
    };
    await this.s.db.insertInto('chat_messages').values(row).execute();

    // Customers paste passwords and keys into chat. The body lives in the chat table, under
    // the room's visibility and retention; the audit log, kept for ever, records only that a
    // message of this length was written, and where to find it.
    await this.s.audit.append({
      kind: 'chatMessage',
      actor: actorOf(p),
      accountId: agent.account_id,
      agentId: agent.id,
      ticketId: row.ticket_id,
      params: { messageId: row.id, length: row.body.length },
    });

    const message = view(row);
    this.#publish(message);
    return message;
  }

  /** A page of the room, oldest → newest; `nextCursor` (as `before`) fetches older messages. */
  async history(p: Principal, agentId: string, page: { before?: string; limit?: number }) {
    const agent = await this.s.guard.agent(p, agentId, 'agent.read');
    const limit = page.limit ?? CHAT_PAGE_DEFAULT;
    let query = this.s.db.selectFrom('chat_messages').selectAll().where('agent_id', '=', agent.id);
    if (page.before) query = query.where(olderThan(decodeCursor(page.before)));
    const rows = await query
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();

    const newest = rows.slice(0, limit);
    return {
      messages: newest.reverse().map(view),
      nextCursor: rows.length > limit ? encodeCursor(newest[0]) : null,
    };
  }

  /** A message may name a ticket only on the same server, and one its author may see. */
  async #checkTicket(p: Principal, agentId: string, ticketId: string): Promise<void> {
    const ticket = await this.s.db
      .selectFrom('tickets')
      .select(['id', 'agent_id', 'account_id', 'status', 'assignee_id'])
      .where('id', '=', ticketId)
      .executeTakeFirst();
    if (ticket && ticket.agent_id === agentId && canSeeTicket(p, ticket)) return;
    if (ticket) {
      await this.s.guard.denied(p, 'chat.write', { agentId, ticketId }, ticket.account_id);
    }
    throw new TetherError('not_found', 'no such ticket on this server');
  }

  #publish(message: ChatMessageView): void {
    const event: ChatMessageEvent = { type: 'message', message };
    try {
      this.s.bus.publish(chatSubject(message.agentId), { ...event });
    } catch (error) {
      // The message is stored; open sockets miss it, and history shows it on the next load.
      this.s.log.warn({ err: error, messageId: message.id }, 'chat message not published');
    }
  }
}

function view(row: ChatMessagesTable): ChatMessageView {
  return {
    id: row.id,
    agentId: row.agent_id,
    ticketId: row.ticket_id,
    author: { id: row.author_id, name: row.author_name, role: row.author_role },
    body: row.body,
    createdAt: row.created_at,
  };
}
