/**
 * Two endpoint processes' worth of services sharing PostgreSQL and NATS: the agent is linked to
 * one, the client's forward goes through the other, and the bytes cross the bus.
 */
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEndpoint, type RunningEndpoint } from '../server.ts';
import { quiet, startHarness, waitFor, type Harness } from '../testing/harness.ts';
import { closedPort, connectForward, echoServer, holdForward } from '../testing/forward-client.ts';
import { postgresAvailable, storeBackends, type TestStore } from '../store/test-stores.ts';

const NATS_URL = process.env.TETHER_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const natsAvailable = await new Promise<boolean>((resolve) => {
  const { hostname, port } = new URL(NATS_URL);
  const socket = connect(Number(port), hostname, () => (socket.end(), resolve(true)));
  socket.on('error', () => resolve(false));
});
const ready = postgresAvailable && natsAvailable;
if (!ready) console.warn('forward relay test skipped: it needs PostgreSQL and NATS on 127.0.0.1');

describe.skipIf(!ready)('forwards across endpoint processes', () => {
  let store: TestStore;
  let a: Harness;
  let b: RunningEndpoint;
  let agentId: string;
  let engineer: { token: string };
  let echo: Awaited<ReturnType<typeof echoServer>>;

  beforeAll(async () => {
    store = await storeBackends()
      .find((backend) => backend.name === 'postgres')!
      .open();
    await store.close();
    const shared = { dbUrl: store.options.url, busUrl: NATS_URL };
    a = await startHarness(shared);
    b = await startEndpoint({
      ...shared,
      dataDir: join(a.dir, 'endpoint-b'),
      listen: { host: '127.0.0.1', port: 0 },
      // Every process sharing the database signs the audit log with the same key.
      auditKeyFile: join(a.dir, 'endpoint', 'audit.key'),
      logger: quiet,
    });
    const accountId = await a.account('Acme');
    agentId = (await a.agent('Acme', 'far')).agentId;
    engineer = await a.user('engineer');
    const customer = await a.user('customer', { account: 'Acme' });
    await a.api(
      'PUT',
      `/api/v1/accounts/${accountId}/consent`,
      { forwardMode: 'allow' },
      customer.token,
    );
    echo = await echoServer();
  }, 60_000);
  afterAll(async () => {
    await echo?.close();
    await b?.close();
    await a?.close();
    await store?.cleanup();
  });

  const viaB = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${b.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${engineer.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as any };
  };

  it('relay - 16 MiB each way through a process that does not hold the agent arrive whole', async () => {
    expect(a.endpoint.services.hub.isLocal(agentId)).toBe(true);
    expect(b.services.hub.isLocal(agentId)).toBe(false);
    const id = (
      await viaB('POST', `/api/v1/agents/${agentId}/forwards`, {
        target: `127.0.0.1:${echo.port}`,
      })
    ).body.forward.id;
    const holder = holdForward(b.url, engineer.token, id);
    await holder.seen((m) => m.type === 'agent' && m.online, 'online as seen from B');

    const payload = randomBytes(16 * 1024 * 1024);
    const conn = connectForward(b.url, engineer.token, id);
    expect(await conn.first).toMatchObject({ type: 'open' });
    for (let at = 0; at < payload.length; at += 64 * 1024)
      conn.send(payload.subarray(at, at + 64 * 1024));
    conn.eof();
    expect((await conn.closed).code).toBe(1000);
    const digest = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
    expect(conn.received().length).toBe(payload.length);
    expect(digest(conn.received())).toBe(digest(payload));
    expect(conn.messages.map((m) => m.type)).toEqual(['open', 'eof']);

    await waitFor(
      async () =>
        (await viaB('GET', `/api/v1/forwards/${id}`)).body.forward.bytesDown === payload.length,
    );
    holder.close();
  });

  it('relay - a closed port gives the same clear error across processes', async () => {
    const port = await closedPort();
    const id = (
      await viaB('POST', `/api/v1/agents/${agentId}/forwards`, {
        target: `127.0.0.1:${port}`,
      })
    ).body.forward.id;
    const conn = connectForward(b.url, engineer.token, id);
    expect(await conn.first).toEqual({
      type: 'error',
      error: {
        code: 'target_unreachable',
        message: `connection refused by 127.0.0.1:${port} (nothing listens there)`,
      },
    });
    expect((await conn.closed).code).toBe(4502);
  });

  it('relay - ending the forward on one process closes its connections on the other', async () => {
    const id = (
      await viaB('POST', `/api/v1/agents/${agentId}/forwards`, {
        target: `127.0.0.1:${echo.port}`,
      })
    ).body.forward.id;
    const conn = connectForward(b.url, engineer.token, id);
    expect(await conn.first).toMatchObject({ type: 'open' });
    const ended = await a.api('DELETE', `/api/v1/forwards/${id}`, undefined, engineer.token);
    expect(ended.body.forward.status).toBe('ended');
    expect((await conn.closed).code).toBe(4410);
  });
});
