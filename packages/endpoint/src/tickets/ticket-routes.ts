/** REST for support requests, and the live 'tickets' topic that feeds the engineers' queue. */
import { z } from 'zod';
import { displayName } from '@tether/protocol';
import type { Api } from '../http/api.ts';
import type { Services } from '../services.ts';
import { canSeeQueueExit, canSeeTicket } from '../audit/visibility.ts';
import { plainText } from '../chat/plain-text.ts';
import { TICKET_EVENT_SUBJECT, TICKET_PAGE_MAX, Tickets, type TicketEvent } from './tickets.ts';

const TITLE_MAX_CHARS = 200;
const QUESTION_MAX_CHARS = 10_000;
const IdParams = z.strictObject({ id: z.string().min(1).max(64) });
const Status = z.enum(['open', 'taken', 'closed']);

export function ticketRoutes(api: Api, s: Services): void {
  const tickets = new Tickets(s);

  api.route({
    method: 'POST',
    url: '/api/v1/tickets',
    summary: 'Open a support request on one of your servers',
    tag: 'tickets',
    body: z.strictObject({
      agent: z.string().min(1).max(64),
      title: displayName(TITLE_MAX_CHARS),
      question: plainText(QUESTION_MAX_CHARS),
    }),
    handler: async ({ principal, body }) => ({
      ticket: await tickets.open(principal, {
        agentId: body.agent,
        title: body.title,
        question: body.question,
      }),
    }),
  });

  api.route({
    method: 'GET',
    url: '/api/v1/tickets',
    summary: 'Tickets the caller may see, newest first, with cursor paging',
    tag: 'tickets',
    query: z.strictObject({
      status: Status.optional(),
      agent: z.string().min(1).max(64).optional(),
      cursor: z.string().max(200).optional(),
      limit: z.coerce.number().int().positive().max(TICKET_PAGE_MAX).optional(),
    }),
    handler: async ({ principal, query }) =>
      tickets.list(principal, {
        status: query.status,
        agentId: query.agent,
        cursor: query.cursor,
        limit: query.limit,
      }),
  });

  api.route({
    method: 'GET',
    url: '/api/v1/tickets/:id',
    summary: "One ticket, with its server's name and online state, and its summary once closed",
    tag: 'tickets',
    params: IdParams,
    handler: async ({ principal, params }) => ({ ticket: await tickets.get(principal, params.id) }),
  });

  api.route({
    method: 'POST',
    url: '/api/v1/tickets/:id/take',
    summary: 'Take an open ticket (staff); of two engineers racing, the other gets 409',
    tag: 'tickets',
    params: IdParams,
    handler: async ({ principal, params }) => ({
      ticket: await tickets.take(principal, params.id),
    }),
  });

  api.route({
    method: 'POST',
    url: '/api/v1/tickets/:id/close',
    summary: 'Close a ticket; stores a summary of the sessions and commands done for it',
    tag: 'tickets',
    params: IdParams,
    handler: async ({ principal, params }) => ({
      ticket: await tickets.close(principal, params.id),
    }),
  });

  /*
   * Whoever may see the ticket after the change gets the event. Staff also get every change
   * of a ticket that was open just before (`from: 'open'`), so a ticket another engineer
   * took, or an admin closed, leaves their queue: `visible` sees one event and answers yes or
   * no, so there is no separate "removed" message; the site drops a ticket from the queue
   * when an event says it is no longer open.
   */
  s.live.add({
    name: 'tickets',
    subject: TICKET_EVENT_SUBJECT,
    visible: (principal, payload) => {
      const event = payload as unknown as Partial<TicketEvent>;
      const ticket = event.ticket;
      if (!ticket?.account || !ticket.status) return false;
      const row = {
        account_id: ticket.account.id,
        status: ticket.status,
        assignee_id: ticket.assignee?.id ?? null,
      };
      return canSeeTicket(principal, row) || (event.from === 'open' && canSeeQueueExit(principal));
    },
  });
}
