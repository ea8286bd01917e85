/**
 * Port forwards through a real endpoint and a real agent to real TCP servers on 127.0.0.1, on
 * SQLite and PostgreSQL: the bytes, the approvals, who may do what, and the record.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHarness, waitFor, type Harness } from '../testing/harness.ts';
import { closedPort, connectForward, echoServer, holdForward } from '../testing/forward-client.ts';
import { storeBackends, type TestStore } from '../store/test-stores.ts';

describe.each(storeBackends())('forwards on $name', (backend) => {
  let store: TestStore;
  let h: Harness;
  let accountId: string;
  let agentId: string;
  type Person = { id: string; username: string; token: string };
  let engineer: Person;
  let other: Person;
  let customer: Person;
  let echo: Awaited<ReturnType<typeof echoServer>>;

  beforeAll(async () => {
    store = await backend.open();
    const dbUrl = backend.name === 'postgres' ? store.options.url : undefined;
    await store.close();
    h = await startHarness({ dbUrl });
    accountId = await h.account('Acme');
    agentId = (await h.agent('Acme', 'web-1')).agentId;
    engineer = await h.user('engineer');
    other = await h.user('engineer');
    customer = await h.user('customer', { account: 'Acme' });
    echo = await echoServer();
  }, 60_000);
  afterAll(async () => {
    await echo?.close();
    await h?.close();
    await store?.cleanup();
  });

  const policy = (body: object) =>
    h.api('PUT', `/api/v1/accounts/${accountId}/consent`, body, customer.token);
  const open = (target: string, token = engineer.token, extra: object = {}) =>
    h.api('POST', `/api/v1/agents/${agentId}/forwards`, { target, ...extra }, token);
  const audit = async (code: string) =>
    (await h.api('GET', `/api/v1/audit?code=${code}&limit=1000`)).body.events as any[];

  it('forward - bytes go both ways through one connection, and each end is on the record', async () => {
    await policy({ forwardMode: 'allow', forwardTargets: [] });
    const created = await open(`127.0.0.1:${echo.port}`);
    expect(created.status).toBe(201);
    expect(created.body.forward).toMatchObject({
      status: 'live',
      target: `127.0.0.1:${echo.port}`,
    });
    const id = created.body.forward.id;
    const holder = holdForward(h.url, engineer.token, id);
    await holder.seen((m) => m.type === 'agent' && m.online, 'agent online');

    const conn = connectForward(h.url, engineer.token, id);
    conn.send('hello ');
    expect(await conn.first).toMatchObject({ type: 'open' });
    conn.send('forward');
    await waitFor(() => conn.received().toString() === 'hello forward', 10_000, 'echo');
    conn.eof();
    // The echo server ends its side after ours: eof comes back, then a clean close.
    expect(await conn.closed).toMatchObject({ code: 1000 });
    expect(conn.messages.map((m) => m.type)).toEqual(['open', 'eof']);

    const connectionId = (conn.messages[0] as { connection: string }).connection;
    await waitFor(async () =>
      (await audit('T8311I')).some((e) => e.params.connectionId === connectionId),
    );
    const ended = (await audit('T8311I')).find((e) => e.params.connectionId === connectionId);
    expect(ended).toMatchObject({
      actorId: engineer.id,
      agentId,
      sessionId: id,
      params: { target: `127.0.0.1:${echo.port}` },
      result: { bytesUp: 13, bytesDown: 13, endedBy: 'target' },
    });
    expect(ended.result.durationMs).toBeGreaterThanOrEqual(0);
    expect((await audit('T8310I')).some((e) => e.params.connectionId === connectionId)).toBe(true);

    const got = await h.api('GET', `/api/v1/forwards/${id}`, undefined, engineer.token);
    expect(got.body.forward).toMatchObject({ connections: 1, bytesUp: 13, bytesDown: 13 });
    expect(got.body.forward.recent[0]).toMatchObject({
      id: connectionId,
      status: 'closed',
      bytesUp: 13,
    });

    const deleted = await h.api('DELETE', `/api/v1/forwards/${id}`, undefined, engineer.token);
    expect(deleted.body.forward).toMatchObject({
      status: 'ended',
      endReason: `ended by ${engineer.username}`,
    });
    await holder.closed;
    expect(holder.messages.at(-1)).toMatchObject({ type: 'forward', forward: { status: 'ended' } });
    const endEvent = (await audit('T8301I')).find((e) => e.sessionId === id);
    expect(endEvent.result).toMatchObject({ connections: 1, bytesUp: 13, bytesDown: 13 });
  });

  it('forward - a closed port gives the client the reason and a 4502 close', async () => {
    await policy({ forwardMode: 'allow', forwardTargets: [] });
    const port = await closedPort();
    const id = (await open(`127.0.0.1:${port}`)).body.forward.id;
    const holder = holdForward(h.url, engineer.token, id);
    const conn = connectForward(h.url, engineer.token, id);
    expect(await conn.first).toEqual({
      type: 'error',
      error: {
        code: 'target_unreachable',
        message: `connection refused by 127.0.0.1:${port} (nothing listens there)`,
      },
    });
    expect((await conn.closed).code).toBe(4502);
    const failed = (await audit('T8310E')).filter((e) => e.sessionId === id);
    expect(failed).toHaveLength(1);
    expect(failed[0].result).toMatchObject({ code: 'target_unreachable' });
    holder.close();
  });

  it('forward - refused by the policy with a reason, audited, and nothing is dialled', async () => {
    const cases: Array<[object, string, string]> = [
      [
        { forwardMode: 'off' },
        `127.0.0.1:${echo.port}`,
        'the account has switched port forwarding off',
      ],
      [
        { forwardMode: 'allow', forwardTargets: ['127.0.0.1:5432'] },
        `127.0.0.1:${echo.port}`,
        `127.0.0.1:${echo.port} is not in the account's list of forward targets`,
      ],
      [
        { forwardMode: 'allow', forwardTargets: [] },
        '169.254.169.254:80',
        '169.254.169.254 is a cloud metadata address; the account must list 169.254.169.254:80 to allow it',
      ],
      [
        { forwardMode: 'allow', forwardTargets: [] },
        '[fd00:ec2::254]:80',
        'fd00:ec2::254 is a cloud metadata address; the account must list [fd00:ec2::254]:80 to allow it',
      ],
      [
        { forwardMode: 'allow', forwardTargets: [] },
        '169.254.10.20:8080',
        '169.254.10.20 is a link-local address; the account must list 169.254.10.20:8080 to allow it',
      ],
    ];
    for (const [rules, target, reason] of cases) {
      await policy(rules);
      const refused = await open(target);
      expect(refused.status, target).toBe(403);
      expect(refused.body.error).toEqual({ code: 'forbidden', message: reason });
      const events = await audit('T8300E');
      expect(events.some((e) => e.params.target === target && e.result.reason === reason)).toBe(
        true,
      );
    }
    // Nothing was created for any of them, so there is nothing a connection could dial.
    const listed = await h.api(
      'GET',
      `/api/v1/agents/${agentId}/forwards`,
      undefined,
      engineer.token,
    );
    expect(listed.body.forwards.map((f: any) => f.target)).not.toContain('169.254.169.254:80');
  });

  it('forward - a metadata address the account listed may be forwarded to', async () => {
    await policy({ forwardMode: 'allow', forwardTargets: ['169.254.169.254:80'] });
    const created = await open('169.254.169.254:80');
    expect(created.status).toBe(201);
    // Never connected to: the forward ends here, unused.
    await h.api('DELETE', `/api/v1/forwards/${created.body.forward.id}`, undefined, engineer.token);
  });

  it('forward - bad input is refused with a clear message and changes nothing', async () => {
    await policy({ forwardMode: 'allow', forwardTargets: [] });
    const before = (await h.api('GET', `/api/v1/agents/${agentId}/forwards`)).body.forwards.length;
    const cases: Array<[unknown, string]> = [
      [{}, 'body.target: invalid input: expected string, received undefined'],
      [{ target: 'no-port' }, 'bad target "no-port": give host:port'],
      [{ target: 'db:99999' }, 'bad target "db:99999": the port must be 1 to 65535'],
      [{ target: '2852039166:80' }, 'is a number, not a host name'],
      [{ target: 'db:80', port: 1 }, 'unknown field port in body'],
    ];
    for (const [body, says] of cases) {
      const answer = await h.api(
        'POST',
        `/api/v1/agents/${agentId}/forwards`,
        body,
        engineer.token,
      );
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error.code).toBe('invalid_request');
      expect(answer.body.error.message.toLowerCase()).toContain(says.toLowerCase());
    }
    expect((await h.api('GET', `/api/v1/agents/${agentId}/forwards`)).body.forwards).toHaveLength(
      before,
    );
  });

  it('forward - waits for the customer: pending refuses connections, approval opens it', async () => {
    await policy({ forwardMode: 'always_ask', forwardTargets: [] });
    const created = await open(`127.0.0.1:${echo.port}`);
    expect(created.status).toBe(202);
    const { id, approvalId } = created.body.forward;
    expect(created.body.forward.status).toBe('pending');
    const holder = holdForward(h.url, engineer.token, id);
    await holder.seen((m) => m.type === 'agent');

    const early = connectForward(h.url, engineer.token, id);
    expect(await early.first).toMatchObject({ type: 'error', error: { code: 'conflict' } });
    expect((await early.closed).code).toBe(4409);

    const approval = (
      await h.api('GET', `/api/v1/approvals/${approvalId}`, undefined, customer.token)
    ).body.approval;
    expect(approval).toMatchObject({ action: 'forward', status: 'pending' });
    const requested = (await audit('T8001I')).find((e) => e.params.approvalId === approvalId);
    expect(requested.params).toMatchObject({ target: `127.0.0.1:${echo.port}`, forwardId: id });
    await h.api('POST', `/api/v1/approvals/${approvalId}/approve`, undefined, customer.token);
    await holder.seen((m) => m.type === 'forward' && m.forward.status === 'live', 'live');

    const conn = connectForward(h.url, engineer.token, id);
    expect(await conn.first).toMatchObject({ type: 'open' });
    conn.send('approved');
    await waitFor(() => conn.received().toString() === 'approved');
    conn.ws.close();
    const used = (await h.api('GET', `/api/v1/approvals/${approvalId}`, undefined, customer.token))
      .body.approval;
    expect(used).toMatchObject({ status: 'used', sessionId: id });
    expect(
      (await audit('T8300I')).some((e) => e.sessionId === id && e.params.approvalId === approvalId),
    ).toBe(true);
    holder.ws.send(JSON.stringify({ type: 'end' }));
    await holder.closed;
  });

  it('forward - a denied request refuses the forward and tells its holder', async () => {
    await policy({ forwardMode: 'always_ask' });
    const { id, approvalId } = (await open(`127.0.0.1:${echo.port}`)).body.forward;
    const holder = holdForward(h.url, engineer.token, id);
    await holder.seen((m) => m.type === 'agent');
    await h.api('POST', `/api/v1/approvals/${approvalId}/deny`, undefined, customer.token);
    await holder.closed;
    expect(holder.messages.at(-1)).toMatchObject({
      type: 'forward',
      forward: { status: 'refused', endReason: 'the request was denied' },
    });
    const conn = connectForward(h.url, engineer.token, id);
    expect(await conn.first).toMatchObject({ type: 'error', error: { code: 'gone' } });
    expect((await conn.closed).code).toBe(4410);
    expect((await audit('T8300E')).some((e) => e.sessionId === id)).toBe(true);
  });

  it('forward - the ticket’s engineer is pre-approved when the policy says so', async () => {
    await policy({ forwardMode: 'preapprove_assignee' });
    const ticket = (
      await h.api(
        'POST',
        '/api/v1/tickets',
        { agent: agentId, title: 'db is slow', question: 'please look' },
        customer.token,
      )
    ).body.ticket;
    await h.api('POST', `/api/v1/tickets/${ticket.id}/take`, undefined, engineer.token);
    const mine = await open(`127.0.0.1:${echo.port}`, engineer.token, { ticket: ticket.id });
    expect(mine.body.forward).toMatchObject({ status: 'live', ticketId: ticket.id });
    const theirs = await open(`127.0.0.1:${echo.port}`, other.token, { ticket: ticket.id });
    expect(theirs.body.forward.status).toBe('pending');
    for (const f of [mine, theirs])
      await h.api('DELETE', `/api/v1/forwards/${f.body.forward.id}`, undefined, customer.token);
  });

  it('forward - customers forward on their own servers only when self-service is on', async () => {
    await policy({ forwardMode: 'always_ask', selfService: false });
    const refused = await open(`127.0.0.1:${echo.port}`, customer.token);
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('self-service is off');
    await policy({ forwardMode: 'always_ask', selfService: true });
    const own = await open(`127.0.0.1:${echo.port}`, customer.token);
    expect(own.status).toBe(201);
    expect(own.body.forward).toMatchObject({ status: 'live', approvalId: null });
    const conn = connectForward(h.url, customer.token, own.body.forward.id);
    expect(await conn.first).toMatchObject({ type: 'open' });
    conn.ws.close();
    await h.api('DELETE', `/api/v1/forwards/${own.body.forward.id}`, undefined, customer.token);
  });

  it('forward - another engineer’s forward is a 404 everywhere; a customer may see and end it', async () => {
    await policy({ forwardMode: 'allow', selfService: false });
    const id = (await open(`127.0.0.1:${echo.port}`)).body.forward.id;

    for (const [method, path] of [
      ['GET', `/api/v1/forwards/${id}`],
      ['DELETE', `/api/v1/forwards/${id}`],
    ] as const) {
      const answer = await h.api(method, path, undefined, other.token);
      expect(answer.status, `${method} ${path}`).toBe(404);
    }
    const conn = connectForward(h.url, other.token, id);
    expect(await conn.first).toEqual({
      type: 'error',
      error: { code: 'not_found', message: 'no such forward' },
    });
    expect((await conn.closed).code).toBe(4404);
    const holder = holdForward(h.url, other.token, id);
    expect((await holder.closed).code).toBe(4404);
    const listed = await h.api('GET', `/api/v1/agents/${agentId}/forwards`, undefined, other.token);
    expect(listed.body.forwards.map((f: any) => f.id)).not.toContain(id);
    const denied = (await audit('T9000E')).filter((e) => e.params.forwardId === id);
    expect(denied.map((e) => e.params.action).sort()).toEqual(
      ['forward.connect', 'forward.end', 'forward.hold', 'forward.read'].sort(),
    );

    const byCustomer = connectForward(h.url, customer.token, id);
    expect(await byCustomer.first).toMatchObject({ type: 'error', error: { code: 'forbidden' } });
    const seen = await h.api('GET', `/api/v1/forwards/${id}`, undefined, customer.token);
    expect(seen.status).toBe(200);
    const ended = await h.api('DELETE', `/api/v1/forwards/${id}`, undefined, customer.token);
    expect(ended.body.forward).toMatchObject({ status: 'ended', endedBy: customer.id });
    const again = await h.api('DELETE', `/api/v1/forwards/${id}`, undefined, engineer.token);
    expect(again.status).toBe(409);
  });

  it('forward - ending it closes its open connections and tells their clients why', async () => {
    await policy({ forwardMode: 'allow' });
    const id = (await open(`127.0.0.1:${echo.port}`)).body.forward.id;
    const conns = [1, 2, 3].map(() => connectForward(h.url, engineer.token, id));
    for (const conn of conns) expect(await conn.first).toMatchObject({ type: 'open' });
    await h.api('DELETE', `/api/v1/forwards/${id}`, undefined, customer.token);
    for (const conn of conns) {
      expect((await conn.closed).code).toBe(4410);
      expect(conn.messages.at(-1)).toMatchObject({
        type: 'error',
        error: { code: 'gone', message: `the forward has ended: ended by ${customer.username}` },
      });
    }
    const forward = (await h.api('GET', `/api/v1/forwards/${id}`)).body.forward;
    expect(forward.recent.map((c: any) => c.status)).toEqual(['closed', 'closed', 'closed']);
  });

  it('forward - a policy changed after opening stops new connections at once', async () => {
    await policy({ forwardMode: 'allow', forwardTargets: [] });
    const id = (await open(`127.0.0.1:${echo.port}`)).body.forward.id;
    await policy({ forwardMode: 'allow', forwardTargets: ['127.0.0.1:1'] });
    const conn = connectForward(h.url, engineer.token, id);
    expect(await conn.first).toMatchObject({
      type: 'error',
      error: { code: 'forbidden', message: expect.stringContaining('not in the account') },
    });
    expect((await conn.closed).code).toBe(4403);
    await h.api('DELETE', `/api/v1/forwards/${id}`, undefined, engineer.token);
  });

  it('forward - a forward nobody holds ends when its lease runs out', async () => {
    await policy({ forwardMode: 'allow', forwardTargets: [] });
    const id = (await open(`127.0.0.1:${echo.port}`)).body.forward.id;
    const past = new Date(Date.now() - 1000).toISOString();
    // As if its client had died 30 s ago without a word.
    await h.endpoint.services.db
      .updateTable('forwards')
      .set({ lease_until: past })
      .where('id', '=', id)
      .execute();
    expect(await h.endpoint.services.forwards.sweep()).toBeGreaterThanOrEqual(1);
    const forward = (await h.api('GET', `/api/v1/forwards/${id}`)).body.forward;
    expect(forward).toMatchObject({
      status: 'ended',
      endReason: 'its client went away',
      endedBy: null,
    });
    const event = (await audit('T8301I')).find((e) => e.sessionId === id);
    expect(event).toMatchObject({ actorId: null, result: { reason: 'its client went away' } });
  });

  it('forward - a held forward keeps its lease', async () => {
    await policy({ forwardMode: 'allow', forwardTargets: [] });
    const id = (await open(`127.0.0.1:${echo.port}`)).body.forward.id;
    const holder = holdForward(h.url, engineer.token, id);
    await holder.seen((m) => m.type === 'agent');
    const lease = async () => (await h.endpoint.services.forwards.load(id))!.lease_until;
    const first = await lease();
    await h.endpoint.services.forwards.renew([id]);
    expect(await lease()).not.toBe(first);
    expect(await h.endpoint.services.forwards.sweep()).toBe(0);
    holder.close();
  });

  it('forward - a socket that sends what it should not is told why and closed; the forward stays', async () => {
    await policy({ forwardMode: 'allow', forwardTargets: [] });
    const id = (await open(`127.0.0.1:${echo.port}`)).body.forward.id;
    const cases: Array<[string, string]> = [
      ['{"type":"close"}', 'unknown control message; send {"type":"eof"}'],
      ['not json', 'unknown control message; send {"type":"eof"}'],
      [JSON.stringify({ type: 'eof', pad: 'x'.repeat(2000) }), 'control frame too large'],
    ];
    for (const [frame, says] of cases) {
      const conn = connectForward(h.url, engineer.token, id);
      expect(await conn.first).toMatchObject({ type: 'open' });
      conn.ws.send(frame);
      expect((await conn.closed).code).toBe(4400);
      expect(conn.messages.at(-1)).toEqual({
        type: 'error',
        error: { code: 'invalid_request', message: says },
      });
    }
    const afterEof = connectForward(h.url, engineer.token, id);
    expect(await afterEof.first).toMatchObject({ type: 'open' });
    afterEof.eof();
    afterEof.send('too late');
    expect((await afterEof.closed).code).toBe(4400);

    const holder = holdForward(h.url, engineer.token, id);
    await holder.seen((m) => m.type === 'agent');
    holder.ws.send(Buffer.from('bytes'));
    expect((await holder.closed).code).toBe(4400);
    expect((await h.api('GET', `/api/v1/forwards/${id}`)).body.forward.status).toBe('live');
    await h.api('DELETE', `/api/v1/forwards/${id}`, undefined, engineer.token);
  });

  it('forward - customers watching the live topic see a forward open and end', async () => {
    await policy({ forwardMode: 'allow', forwardTargets: [] });
    const live = new WebSocket(`${h.url.replace('http', 'ws')}/api/v1/live`, {
      headers: { authorization: `Bearer ${customer.token}` },
    });
    const events: any[] = [];
    live.on('message', (data) => events.push(JSON.parse(String(data))));
    await new Promise((resolve) => live.once('open', resolve));
    live.send(JSON.stringify({ type: 'subscribe', topics: ['forwards'] }));
    await waitFor(() => events.some((e) => e.type === 'subscribed'));
    const id = (await open(`127.0.0.1:${echo.port}`)).body.forward.id;
    await h.api('DELETE', `/api/v1/forwards/${id}`, undefined, engineer.token);
    await waitFor(() =>
      events.some(
        (e) =>
          e.topic === 'forwards' && e.event.forward.id === id && e.event.forward.status === 'ended',
      ),
    );
    expect(
      events
        .filter((e) => e.topic === 'forwards' && e.event.forward.id === id)
        .map((e) => e.event.forward.status),
    ).toEqual(['live', 'ended']);
    live.close();
  });

  it('forward - the OpenAPI document lists every forward route and socket', async () => {
    const { paths } = (await h.api('GET', '/api/v1/openapi.json')).body;
    expect(paths['/api/v1/agents/{id}/forwards']).toHaveProperty('post');
    expect(paths['/api/v1/agents/{id}/forwards']).toHaveProperty('get');
    expect(paths['/api/v1/forwards/{id}']).toHaveProperty('get');
    expect(paths['/api/v1/forwards/{id}']).toHaveProperty('delete');
    expect(paths['/api/v1/forwards/{id}/connect']).toHaveProperty('get');
    expect(paths['/api/v1/forwards/{id}/socket']).toHaveProperty('get');
  });
});
