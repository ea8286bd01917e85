/** A server's chat room over REST and its WebSocket, against a real endpoint. */
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHarness, waitFor, type Harness } from '../testing/harness.ts';
import { postgresAvailable, storeBackends, type TestStore } from '../store/test-stores.ts';

type User = { id: string; username: string; token: string };

let h: Harness;
let agentId: string;
let otherAgent: string;
let customer: User;
let engineer: User;
let outsider: User;

/** A chat socket and everything it has received, in order. */
interface Room {
  ws: WebSocket;
  received: any[];
  closed: Promise<{ code: number; reason: string }>;
  next(type: string): Promise<any>;
}

function connect(token: string, id = agentId, at = h): Room {
  const ws = new WebSocket(`${at.url.replace('http', 'ws')}/api/v1/agents/${id}/chat/socket`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const received: any[] = [];
  ws.on('message', (data) => received.push(JSON.parse(data.toString())));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const next = async (type: string) => {
    const seen = received.length;
    await waitFor(() => received.slice(seen).some((m) => m.type === type), 5000, type);
    return received.slice(seen).find((m) => m.type === type);
  };
  return { ws, received, closed, next };
}

async function ready(token: string, id = agentId, at = h): Promise<Room> {
  const room = connect(token, id, at);
  await waitFor(() => room.received.some((m) => m.type === 'ready'), 5000, 'ready');
  return room;
}

const post = (body: unknown, token = customer.token, id = agentId) =>
  h.api('POST', `/api/v1/agents/${id}/chat`, body, token);
const history = (query = '', token = customer.token, id = agentId) =>
  h.api('GET', `/api/v1/agents/${id}/chat${query}`, undefined, token);

describe.each(storeBackends())('chat on $name', (backend) => {
  let store: TestStore;

  beforeAll(async () => {
    store = await backend.open();
    await store.close();
    h = await startHarness({ dbUrl: store.options.url });
    await h.account('Acme');
    await h.account('Globex');
    customer = await h.user('customer', { account: 'Acme' });
    outsider = await h.user('customer', { account: 'Globex' });
    engineer = await h.user('engineer');
    agentId = (await h.agent('Acme', 'web-1')).agentId;
    otherAgent = (await h.agent('Globex', 'db-1')).agentId;
  });

  afterAll(async () => {
    await h?.close();
    await store?.cleanup();
  });

  it("chat - a customer's message reaches the engineer's socket at once and persists", async () => {
    const room = await ready(engineer.token);
    const arrived = room.next('message');
    const sent = await post({ body: 'hello, the site is down' });
    expect(sent.status).toBe(200);

    const { message } = await arrived;
    expect(message).toEqual({
      id: sent.body.message.id,
      agentId,
      ticketId: null,
      author: { id: customer.id, name: customer.username, role: 'customer' },
      body: 'hello, the site is down',
      createdAt: sent.body.message.createdAt,
    });
    const stored = await history('', engineer.token);
    expect(stored.body.messages.at(-1)).toEqual(message);
    room.ws.close();
  });

  it('chat - a message sent on the socket is checked, stored and audited like a POST', async () => {
    const engineerRoom = await ready(engineer.token);
    const customerRoom = await ready(customer.token);
    const arrived = customerRoom.next('message');
    const acked = engineerRoom.next('sent');
    engineerRoom.ws.send(JSON.stringify({ type: 'send', body: 'on it', ref: 'r1' }));

    const { message } = await arrived;
    expect(await acked).toEqual({ type: 'sent', ref: 'r1', messageId: message.id });
    expect(message).toMatchObject({ body: 'on it', author: { id: engineer.id } });

    const audit = await h.api('GET', `/api/v1/audit?code=T7100I&agent=${agentId}`);
    const event = audit.body.events.find((e: any) => e.params.messageId === message.id);
    expect(event).toMatchObject({ actorId: engineer.id, params: { length: 5 } });
    expect(JSON.stringify(event)).not.toContain('on it');

    const refused = engineerRoom.next('error');
    engineerRoom.ws.send(JSON.stringify({ type: 'send', body: '   ', ref: 'r2' }));
    expect(await refused).toMatchObject({ ref: 'r2', error: { code: 'invalid_request' } });
    engineerRoom.ws.close();
    customerRoom.ws.close();
  });

  it('chat - HTML and script stay text: stored and returned byte for byte, as JSON', async () => {
    const body =
      '<script>alert(document.cookie)</script><img src=x onerror="alert(1)"> & &amp; ' +
      '"quotes" \u202etxt.exe\n\ttabbed 🎉';
    const sent = await post({ body });
    expect(sent.body.message.body).toBe(body);

    const response = await fetch(`${h.url}/api/v1/agents/${agentId}/chat?limit=1`, {
      headers: { authorization: `Bearer ${customer.token}` },
    });
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    const page = (await response.json()) as any;
    expect(page.messages[0].body).toBe(body);
    const row = await h.endpoint.services.db
      .selectFrom('chat_messages')
      .select('body')
      .where('id', '=', sent.body.message.id)
      .executeTakeFirstOrThrow();
    expect(Buffer.from(row.body)).toEqual(Buffer.from(body));
  });

  it.each([
    ['an empty body', { body: '' }],
    ['a blank body', { body: ' \n\t ' }],
    ['a body over 4000 characters', { body: 'x'.repeat(4001) }],
    ['a body holding NUL', { body: 'a\u0000b' }],
    ['a lone surrogate', { body: 'a\ud800b' }],
    ['an unknown field', { body: 'hi', html: true }],
  ])('chat - a message with %s answers 400', async (_, body) => {
    const { status, body: answer } = await post(body);
    expect(status).toBe(400);
    expect(answer.error.code).toBe('invalid_request');
  });

  it('chat - history pages newest to oldest, each page oldest to newest', async () => {
    const room = (await h.agent('Acme', 'quiet-1')).agentId;
    for (const body of ['one', 'two', 'three', 'four', 'five'])
      expect((await post({ body }, customer.token, room)).status).toBe(200);

    const page1 = await history('?limit=2', customer.token, room);
    expect(page1.body.messages.map((m: any) => m.body)).toEqual(['four', 'five']);
    const page2 = await history(`?limit=2&before=${page1.body.nextCursor}`, customer.token, room);
    expect(page2.body.messages.map((m: any) => m.body)).toEqual(['two', 'three']);
    const page3 = await history(`?limit=2&before=${page2.body.nextCursor}`, customer.token, room);
    expect(page3.body).toMatchObject({ messages: [{ body: 'one' }], nextCursor: null });
  });

  it("chat - another account's customer gets 404 on the room, 4404 on its socket", async () => {
    expect((await history('', outsider.token)).status).toBe(404);
    expect((await post({ body: 'hi' }, outsider.token)).status).toBe(404);
    const room = connect(outsider.token);
    expect(await room.closed).toEqual({ code: 4404, reason: 'no such agent' });
    expect(room.received).toEqual([]);
  });

  it('chat - a message may name a ticket only on the same server', async () => {
    const ticket = await h.api(
      'POST',
      '/api/v1/tickets',
      { agent: otherAgent, title: 'db slow', question: 'why?' },
      outsider.token,
    );
    const elsewhere = await post({ body: 'hi', ticket: ticket.body.ticket.id });
    expect(elsewhere.status).toBe(404);

    const own = await h.api(
      'POST',
      '/api/v1/tickets',
      { agent: agentId, title: 'web slow', question: 'why?' },
      customer.token,
    );
    const tagged = await post({ body: 'about this one', ticket: own.body.ticket.id });
    expect(tagged.body.message.ticketId).toBe(own.body.ticket.id);
  });

  it('chat - malformed frames get a typed error; binary and oversized frames close', async () => {
    const room = await ready(customer.token);
    for (const frame of ['not json', '{"type":"shout"}', '{"type":"send"}', '[1,2]', 'null']) {
      const error = room.next('error');
      room.ws.send(frame);
      expect(await error).toMatchObject({ type: 'error', error: { code: 'invalid_request' } });
    }
    const pong = room.next('pong');
    room.ws.send('{"type":"ping"}');
    await pong;

    room.ws.send(Buffer.from('{"type":"ping"}'), { binary: true });
    expect((await room.closed).code).toBe(1003);

    const big = await ready(customer.token);
    big.ws.send(JSON.stringify({ type: 'send', body: 'x'.repeat(64 * 1024) }));
    expect((await big.closed).code).toBe(1009);
  });
});

const NATS_URL = process.env.TETHER_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const natsAvailable = await new Promise<boolean>((resolve) => {
  const { hostname, port } = new URL(NATS_URL);
  const socket = createConnection(Number(port), hostname, () => (socket.end(), resolve(true)));
  socket.on('error', () => resolve(false));
});

describe.skipIf(!postgresAvailable || !natsAvailable)('chat across processes', () => {
  it('chat - a message posted through one endpoint reaches a socket on another', async () => {
    const store = (await storeBackends()
      .find((b) => b.name === 'postgres')!
      .open()) as TestStore;
    await store.close();
    const shared = { dbUrl: store.options.url, busUrl: NATS_URL };
    const a = await startHarness(shared);
    // Every process sharing the database signs the audit log with the same key.
    const b = await startHarness({ ...shared, auditKeyFile: join(a.dir, 'endpoint', 'audit.key') });
    try {
      await a.account('Acme');
      const writer = await a.user('customer', { account: 'Acme' });
      const reader = await a.user('engineer');
      const agent = (await a.agent('Acme', 'web-1')).agentId;

      const room = await ready(reader.token, agent, b);
      const arrived = room.next('message');
      const body = { body: 'via the other process' };
      await a.api('POST', `/api/v1/agents/${agent}/chat`, body, writer.token);
      expect((await arrived).message.body).toBe('via the other process');
      room.ws.close();
    } finally {
      await b.close();
      await a.close();
      await store.cleanup();
    }
  });
});
