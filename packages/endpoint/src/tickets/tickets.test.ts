/** Support requests end to end: open, queue, take, close with a summary, over a real endpoint. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHarness, waitFor, type Harness } from '../testing/harness.ts';
import { storeBackends, type TestStore } from '../store/test-stores.ts';

type User = { id: string; username: string; token: string };

let h: Harness;
let acmeAgent: string;
let globexAgent: string;
let customer: User;
let colleague: User;
let outsider: User;
let manager: User;
let engineer: User;
let rival: User;

async function open(title = 'disk full', token = customer.token, agent = acmeAgent) {
  const { status, body } = await h.api(
    'POST',
    '/api/v1/tickets',
    { agent, title, question: 'The disk on web-1 is full.\nCan you look?' },
    token,
  );
  expect(status, JSON.stringify(body)).toBe(200);
  return body.ticket;
}

const take = (id: string, token: string) => h.api('POST', `/api/v1/tickets/${id}/take`, {}, token);
const close = (id: string, token: string) =>
  h.api('POST', `/api/v1/tickets/${id}/close`, {}, token);
const get = (id: string, token: string) => h.api('GET', `/api/v1/tickets/${id}`, undefined, token);

/** Subscribes to the live 'tickets' topic; resolves once the endpoint confirms. */
function watchTickets(token: string): Promise<{ events: any[]; ws: WebSocket }> {
  const ws = new WebSocket(`${h.url.replace('http', 'ws')}/api/v1/live`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const events: any[] = [];
  return new Promise((resolve, reject) => {
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString());
      if (message.type === 'subscribed') resolve({ events, ws });
      if (message.type === 'event' && message.topic === 'tickets') events.push(message.event);
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', topics: ['tickets'] })));
    ws.on('error', reject);
  });
}

describe.each(storeBackends())('tickets on $name', (backend) => {
  let store: TestStore;

  beforeAll(async () => {
    store = await backend.open();
    await store.close();
    h = await startHarness({ dbUrl: store.options.url });
    await h.account('Acme');
    await h.account('Globex');
    customer = await h.user('customer', { account: 'Acme' });
    colleague = await h.user('customer', { account: 'Acme' });
    outsider = await h.user('customer', { account: 'Globex' });
    manager = await h.user('manager');
    engineer = await h.user('engineer', { manager: manager.username });
    rival = await h.user('engineer');
    acmeAgent = (await h.agent('Acme', 'web-1')).agentId;
    globexAgent = (await h.agent('Globex', 'db-1')).agentId;
  });

  afterAll(async () => {
    await h?.close();
    await store?.cleanup();
  });

  it('tickets - a customer opens a request on their server; it is open and audited', async () => {
    const ticket = await open('  nginx returns 502  ');
    expect(ticket).toMatchObject({
      title: 'nginx returns 502',
      question: 'The disk on web-1 is full.\nCan you look?',
      status: 'open',
      agent: { id: acmeAgent, name: 'web-1', online: true },
      account: { name: 'Acme' },
      createdBy: { id: customer.id, name: customer.username },
      assignee: null,
      summary: null,
    });
    const audit = await h.api('GET', `/api/v1/audit?code=T7000I&agent=${acmeAgent}`);
    const event = audit.body.events.find((e: any) => e.ticketId === ticket.id);
    expect(event).toMatchObject({ actorId: customer.id, params: { title: 'nginx returns 502' } });
    expect(JSON.stringify(event)).not.toContain('Can you look');
  });

  it.each([
    ['an empty title', { title: '', question: 'q' }],
    ['a title over 200 characters', { title: 'x'.repeat(201), question: 'q' }],
    ['a title with a control character', { title: 'a\u001b[2Jb', question: 'q' }],
    ['a blank question', { title: 't', question: ' \n ' }],
    ['a question over 10000 characters', { title: 't', question: 'q'.repeat(10_001) }],
    ['a question holding NUL', { title: 't', question: 'a\u0000b' }],
    ['an unknown field', { title: 't', question: 'q', priority: 'high' }],
  ])('tickets - opening with %s answers 400', async (_, fields) => {
    const { status, body } = await h.api(
      'POST',
      '/api/v1/tickets',
      { agent: acmeAgent, ...fields },
      customer.token,
    );
    expect(status).toBe(400);
    expect(body.error.code).toBe('invalid_request');
  });

  it("tickets - another account's server answers 404; staff may not open tickets", async () => {
    const body = { agent: globexAgent, title: 't', question: 'q' };
    expect((await h.api('POST', '/api/v1/tickets', body, customer.token)).status).toBe(404);
    const staff = await h.api(
      'POST',
      '/api/v1/tickets',
      { ...body, agent: acmeAgent },
      rival.token,
    );
    expect(staff.status).toBe(403);
  });

  it('tickets - the list is newest first, filtered, and pages with a cursor', async () => {
    const made = [await open('first'), await open('second'), await open('third')];
    const page1 = await h.api(
      'GET',
      `/api/v1/tickets?agent=${acmeAgent}&status=open&limit=2`,
      undefined,
      customer.token,
    );
    expect(page1.body.tickets.map((t: any) => t.title)).toEqual(['third', 'second']);
    const page2 = await h.api(
      'GET',
      `/api/v1/tickets?agent=${acmeAgent}&status=open&limit=2&cursor=${page1.body.nextCursor}`,
      undefined,
      customer.token,
    );
    expect(page2.body.tickets[0].id).toBe(made[0].id);
    const bad = await h.api('GET', '/api/v1/tickets?cursor=nonsense', undefined, customer.token);
    expect(bad.status).toBe(400);
    const theirs = await h.api('GET', '/api/v1/tickets', undefined, outsider.token);
    expect(theirs.body.tickets.some((t: any) => t.account.name === 'Acme')).toBe(false);
  });

  it("tickets - an engineer on the live 'tickets' topic sees a new ticket appear", async () => {
    const engineerFeed = await watchTickets(engineer.token);
    const outsiderFeed = await watchTickets(outsider.token);
    const ticket = await open('live one');
    await waitFor(
      () => engineerFeed.events.some((e) => e.type === 'created' && e.ticket.id === ticket.id),
      5000,
      'created event',
    );
    expect(engineerFeed.events.at(-1).ticket).toMatchObject({ title: 'live one', status: 'open' });
    expect(outsiderFeed.events.some((e) => e.ticket.id === ticket.id)).toBe(false);
    engineerFeed.ws.close();
    outsiderFeed.ws.close();
  });

  it('tickets - two engineers taking the same ticket: one wins, the other gets 409', async () => {
    const ticket = await open('race');
    const answers = await Promise.all([
      take(ticket.id, engineer.token),
      take(ticket.id, rival.token),
    ]);
    const won = answers.filter((a) => a.status === 200);
    const lost = answers.filter((a) => a.status === 409);
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    const winner = won[0].body.ticket.assignee.name;
    expect(lost[0].body.error).toEqual({ code: 'conflict', message: `already taken by ${winner}` });
    const late = await take(ticket.id, won[0] === answers[0] ? rival.token : engineer.token);
    expect(late.body.error.message).toBe(`already taken by ${winner}`);
    const again = await take(ticket.id, won[0] === answers[0] ? engineer.token : rival.token);
    expect(again.body.ticket).toMatchObject({ status: 'taken', assignee: { name: winner } });
  });

  it('tickets - open tickets show to all staff, a taken one only to its team', async () => {
    const ticket = await open('visibility');
    expect((await get(ticket.id, rival.token)).status).toBe(200);
    const rivalFeed = await watchTickets(rival.token);
    const taken = await take(ticket.id, engineer.token);
    expect(taken.body.ticket).toMatchObject({
      status: 'taken',
      assignee: { id: engineer.id, name: engineer.username },
    });

    expect((await get(ticket.id, engineer.token)).status).toBe(200);
    expect((await get(ticket.id, manager.token)).status).toBe(200);
    expect((await get(ticket.id, colleague.token)).status).toBe(200);
    expect((await get(ticket.id, rival.token)).status).toBe(404);
    expect((await get(ticket.id, outsider.token)).status).toBe(404);
    const queue = await h.api('GET', '/api/v1/tickets?status=taken', undefined, rival.token);
    expect(queue.body.tickets.some((t: any) => t.id === ticket.id)).toBe(false);
    // The ticket leaves the rival's live queue: staff get the change of a ticket that was open.
    await waitFor(
      () => rivalFeed.events.some((e) => e.type === 'taken' && e.ticket.id === ticket.id),
      5000,
      'taken event',
    );
    rivalFeed.ws.close();
  });

  it('tickets - customers may not take; only the team working a ticket may close it', async () => {
    const ticket = await open('who closes');
    expect((await take(ticket.id, customer.token)).status).toBe(403);
    expect((await take(ticket.id, outsider.token)).status).toBe(404);
    expect((await take('no-such-ticket', engineer.token)).status).toBe(404);
    expect((await close(ticket.id, engineer.token)).status).toBe(403);
    await take(ticket.id, engineer.token);
    expect((await close(ticket.id, customer.token)).status).toBe(403);
    expect((await close(ticket.id, rival.token)).status).toBe(404);
    expect((await close(ticket.id, manager.token)).status).toBe(200);
    expect((await close(ticket.id, engineer.token)).status).toBe(409);
    const denied = await h.api('GET', `/api/v1/audit?code=T9000E&agent=${acmeAgent}`);
    expect(denied.body.events.some((e: any) => e.ticketId === ticket.id)).toBe(true);
  });

  it("tickets - a closed ticket's summary lists the assignee's commands and sessions", async () => {
    const ticket = await open('slow site');
    await take(ticket.id, engineer.token);
    const exec = (token: string, argv: string[]) =>
      h.api('POST', `/api/v1/agents/${acmeAgent}/exec`, { argv }, token);
    const mine = await exec(engineer.token, ['echo', 'checking disk']);
    const other = await exec(rival.token, ['echo', 'not for this ticket']);
    expect(mine.body.exitCode).toBe(0);
    await addSession(ticket.id, engineer.id, customer.id);

    const closed = await close(ticket.id, engineer.token);
    expect(closed.status).toBe(200);
    const { summary } = closed.body.ticket;
    expect(summary.commands).toEqual([
      expect.objectContaining({
        execId: mine.body.execId,
        command: "echo 'checking disk'",
        exitCode: 0,
        ok: true,
      }),
    ]);
    expect(summary.commands.some((c: any) => c.execId === other.body.execId)).toBe(false);
    expect(summary.sessions).toEqual([
      expect.objectContaining({
        engineer: { id: engineer.id, name: engineer.username },
        durationMs: 90_000,
        endedBy: { id: customer.id, name: customer.username },
        links: {
          session: `/api/v1/terminals/session-${ticket.id}`,
          recording: `/api/v1/terminals/session-${ticket.id}/recording`,
        },
      }),
    ]);
    expect(summary.totals).toEqual({
      sessions: 1,
      commands: 1,
      failedCommands: 0,
      terminalMs: 90_000,
    });

    const seen = await get(ticket.id, customer.token);
    expect(seen.body.ticket).toMatchObject({ status: 'closed', closedBy: { id: engineer.id } });
    expect(seen.body.ticket.summary).toEqual(summary);
    const linked = await h.api('GET', summary.links.audit, undefined, customer.token);
    expect(linked.body.events.some((e: any) => e.params.execId === mine.body.execId)).toBe(true);
  });
});

it('tickets - the OpenAPI document lists the ticket and chat routes and socket', async () => {
  const harness = await startHarness();
  try {
    const { paths } = (await harness.api('GET', '/api/v1/openapi.json')).body;
    expect(Object.keys(paths['/api/v1/tickets'])).toEqual(['post', 'get']);
    for (const path of ['/api/v1/tickets/{id}/take', '/api/v1/tickets/{id}/close'])
      expect(paths[path].post.tags).toEqual(['tickets']);
    expect(Object.keys(paths['/api/v1/agents/{id}/chat'])).toEqual(['get', 'post']);
    expect(paths['/api/v1/agents/{id}/chat/socket'].get.summary).toContain('WebSocket');
  } finally {
    await harness.close();
  }
});

/** A finished terminal session for the ticket, as the terminal code records one. */
async function addSession(ticketId: string, engineerId: string, endedBy: string) {
  const agent = await h.endpoint.services.db
    .selectFrom('agents')
    .select('account_id')
    .where('id', '=', acmeAgent)
    .executeTakeFirstOrThrow();
  await h.endpoint.services.db
    .insertInto('terminal_sessions')
    .values({
      id: `session-${ticketId}`,
      agent_id: acmeAgent,
      account_id: agent.account_id,
      ticket_id: ticketId,
      approval_id: null,
      engineer_id: engineerId,
      node_id: h.endpoint.nodeId,
      status: 'ended',
      started_at: '2025-01-01T10:00:00.000Z',
      ended_at: '2025-01-01T10:01:30.000Z',
      ended_by: endedBy,
      end_reason: 'ended by the customer',
      cols: 80,
      rows: 24,
      recording: `session-${ticketId}.cast`,
      bytes_out: 0,
      bytes_in: 0,
    })
    .execute();
}
