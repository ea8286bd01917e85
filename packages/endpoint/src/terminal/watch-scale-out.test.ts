/** Two endpoint processes on PostgreSQL and NATS: a session runs on A, its watchers come to B. */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { postgresAvailable, storeBackends, type TestStore } from '../store/test-stores.ts';
import { waitFor } from '../testing/harness.ts';
import {
  call,
  freePort,
  spawnAgent,
  spawnEndpoint,
  stopChild,
  type EndpointProcess,
} from '../testing/processes.ts';
import { terminalClient, type TerminalClient } from '../testing/terminal-client.ts';

const NATS_URL = process.env.TETHER_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const natsAvailable = await new Promise<boolean>((resolve) => {
  const { hostname, port } = new URL(NATS_URL);
  const socket = connect(Number(port), hostname, () => (socket.end(), resolve(true)));
  socket.on('error', () => resolve(false));
});
const ready = postgresAvailable && natsAvailable;
if (!ready)
  console.warn(
    `watch scale-out test skipped: postgres ${postgresAvailable ? 'up' : 'down'}, NATS at ${NATS_URL} ${natsAvailable ? 'up' : 'down'}`,
  );

const dir = mkdtempSync(join(tmpdir(), 'tether-watch-'));
const cleanup: Array<() => Promise<void>> = [];
const sockets: TerminalClient[] = [];
let a: EndpointProcess;
let b: EndpointProcess;
let agentId = '';
let engineer: Person;
let customer: Person;
let outsider: Person;

interface Person {
  username: string;
  token: string;
}

beforeAll(async () => {
  if (!ready) return;
  const store = (await storeBackends()
    .find((backend) => backend.name === 'postgres')!
    .open()) as TestStore;
  await store.close();
  cleanup.push(() => store.cleanup());
  const shared = ['--db', store.options.url as string, '--bus', NATS_URL];
  a = await spawnEndpoint(join(dir, 'a'), await freePort(), shared);
  cleanup.push(() => a.stop());
  // Every process sharing the database signs the audit log with the same key.
  mkdirSync(join(dir, 'b'), { recursive: true });
  copyFileSync(join(dir, 'a', 'audit.key'), join(dir, 'b', 'audit.key'));
  b = await spawnEndpoint(join(dir, 'b'), await freePort(), shared);
  cleanup.push(() => b.stop());

  await call(a.url, a.token(), 'POST', '/api/v1/accounts', { name: 'Acme' });
  await call(a.url, a.token(), 'POST', '/api/v1/accounts', { name: 'Globex' });
  const { token } = (
    await call(a.url, a.token(), 'POST', '/api/v1/join-tokens', { account: 'Acme' })
  ).body;
  // Plain sh: no rc file of this machine's user decides whether the test passes.
  const agent = spawnAgent(a.url, token, join(dir, 'agent'), 'box', { SHELL: '/bin/sh' });
  cleanup.push(() => stopChild(agent));
  await waitFor(
    async () => {
      const agents = (await call(b.url, b.token(), 'GET', '/api/v1/agents')).body.agents;
      agentId = agents[0]?.id ?? '';
      return agents[0]?.online === true;
    },
    30_000,
    'agent online',
  );
  engineer = await person(a, 'engineer');
  customer = await person(a, 'customer', 'Acme');
  outsider = await person(a, 'customer', 'Globex');
}, 90_000);
afterEach(() => sockets.splice(0).forEach((socket) => socket.close()));
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
  rmSync(dir, { recursive: true, force: true });
});

/** A user with a password, signed in, holding a bearer token of their own. */
async function person(endpoint: EndpointProcess, role: string, account?: string): Promise<Person> {
  const username = `${role}-${Math.random().toString(36).slice(2, 8)}`;
  const password = 'correct horse battery staple';
  const admin = endpoint.token();
  await call(endpoint.url, admin, 'POST', '/api/v1/users', { username, role, password, account });
  const login = await fetch(`${endpoint.url}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0];
  const created = await fetch(`${endpoint.url}/api/v1/api-tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({ name: 'test' }),
  });
  return { username, token: ((await created.json()) as { token: string }).token };
}

function socket(endpoint: EndpointProcess, path: string, who: Person): TerminalClient {
  const client = terminalClient(endpoint.url, path, who.token);
  sockets.push(client);
  return client;
}

/** The engineer's terminal on A, approved by the customer. */
async function sessionOnA(): Promise<{ engineerSocket: TerminalClient; id: string }> {
  const asked = await call(
    a.url,
    engineer.token,
    'POST',
    `/api/v1/agents/${agentId}/terminal-requests`,
    { cols: 80, rows: 24 },
  );
  await call(a.url, customer.token, 'POST', `/api/v1/approvals/${asked.body.approval.id}/approve`);
  const path = `/api/v1/terminals/socket?approval=${asked.body.approval.id}&agent=${agentId}`;
  const engineerSocket = socket(a, path, engineer);
  const hello = await engineerSocket.waitMessage('hello');
  await engineerSocket.waitMessage('snapshot');
  return { engineerSocket, id: hello.session };
}

describe.skipIf(!ready)('watch scale-out', () => {
  it('scale-out - a customer on B watches a session A runs: screen on join, live output, the end', async () => {
    const { engineerSocket, id } = await sessionOnA();
    engineerSocket.type('echo before-$((6*7))\r');
    await engineerSocket.waitText(/before-42\r\n/);

    const watcher = socket(b, `/api/v1/terminals/${id}/socket`, customer);
    expect(await watcher.waitMessage('hello')).toMatchObject({
      session: id,
      role: 'observer',
      readOnly: true,
    });
    await watcher.waitMessage('snapshot');
    await watcher.waitText('before-42');

    engineerSocket.type('echo live-$((2+3))\r');
    await watcher.waitText(/live-5\r\n/);
    watcher.type('touch /tmp/watcher-was-here\r');
    expect((await watcher.waitMessage('error')).error.code).toBe('forbidden');
    const refused = socket(b, `/api/v1/terminals/${id}/socket`, outsider);
    expect((await refused.waitMessage('error')).error.code).toBe('not_found');

    watcher.control({ type: 'end' });
    for (const client of [engineerSocket, watcher])
      expect(await client.waitMessage('ended')).toMatchObject({
        status: 'ended',
        by: customer.username,
      });
    expect((await watcher.closed).code).toBe(1000);
    const audit = (code: string) =>
      call(b.url, b.token(), 'GET', `/api/v1/audit?code=${code}&limit=100`).then(
        (r) => r.body.events as Array<{ sessionId: string }>,
      );
    expect((await audit('T8102I')).some((e) => e.sessionId === id)).toBe(true);
    expect((await audit('T8104E')).some((e) => e.sessionId === id)).toBe(true);
    const recording = await fetch(`${a.url}/api/v1/terminals/${id}/recording`, {
      headers: { authorization: `Bearer ${customer.token}` },
    });
    expect(await recording.text()).toContain(`joined: ${customer.username}`);
  }, 60_000);

  it('scale-out - a slow watcher on B falls behind and is resynced; the engineer never waits', async () => {
    const { engineerSocket, id } = await sessionOnA();
    const slow = socket(b, `/api/v1/terminals/${id}/socket`, customer);
    await slow.waitMessage('snapshot');
    slow.ws.pause();
    engineerSocket.type('yes | head -c 20000000\r');
    await waitFor(() => engineerSocket.bytes() > 18_000_000, 60_000, 'engineer got 18 MB');
    engineerSocket.type('clear; echo resynced-$((2+5))\r');
    await engineerSocket.waitText(/resynced-7\r\n/, 30_000);
    slow.ws.resume();
    await waitFor(
      () => slow.messages.filter((m) => m.type === 'snapshot').length >= 2,
      20_000,
      'resync',
    );
    await slow.waitText(/resynced-7\r\n/, 20_000);
    expect(slow.bytes()).toBeLessThan(15_000_000);
    engineerSocket.control({ type: 'end' });
    await slow.waitMessage('ended');
  }, 120_000);

  it('scale-out - when A dies, B tells its watchers the session was interrupted', async () => {
    const { engineerSocket, id } = await sessionOnA();
    const watcher = socket(b, `/api/v1/terminals/${id}/socket`, customer);
    await watcher.waitMessage('snapshot');
    engineerSocket.type('echo last-$((1+1))\r');
    await watcher.waitText('last-2');
    await a.stop('SIGKILL');
    // B hears nothing from A for the silence limit (20 s), then gives up on it.
    const ended = await watcher.waitMessage('ended', 40_000);
    expect(ended).toMatchObject({ status: 'interrupted', by: null });
    expect((await watcher.closed).code).toBe(1000);
  }, 60_000);
});
