/** The endpoint SIGKILLed mid-session: the recording plays up to the crash, the record says so. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { waitFor } from '../testing/harness.ts';
import {
  call,
  freePort,
  spawnAgent,
  spawnEndpoint,
  stopChild,
  type EndpointProcess,
} from '../testing/processes.ts';
import { terminalClient } from '../testing/terminal-client.ts';

const dir = mkdtempSync(join(tmpdir(), 'tether-tty-crash-'));
const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) {
    const t = Date.now();
    await step();
    console.log('step', Date.now() - t, step.toString());
  }
  rmSync(dir, { recursive: true, force: true });
});

/** A user with a password, signed in, holding a bearer token of their own. */
async function person(endpoint: EndpointProcess, role: string, account?: string) {
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

it('crash - a SIGKILLed endpoint leaves a playable recording and the session interrupted', async () => {
  const port = await freePort();
  const data = join(dir, 'endpoint');
  let endpoint = await spawnEndpoint(data, port);
  cleanup.push(() => endpoint.stop());
  const api = (method: string, path: string, body?: unknown, token = endpoint.token()) =>
    call(endpoint.url, token, method, path, body);

  await api('POST', '/api/v1/accounts', { name: 'Acme' });
  const { token } = (await api('POST', '/api/v1/join-tokens', { account: 'Acme' })).body;
  // Plain sh: no rc file of this machine's user decides whether the test passes.
  const agent = spawnAgent(endpoint.url, token, join(dir, 'agent'), 'box', { SHELL: '/bin/sh' });
  cleanup.push(() => stopChild(agent));
  let agentId = '';
  await waitFor(
    async () => {
      const agents = (await api('GET', '/api/v1/agents')).body.agents;
      agentId = agents[0]?.id ?? '';
      return agents[0]?.online === true;
    },
    20_000,
    'agent online',
  );
  const engineer = await person(endpoint, 'engineer');
  const customer = await person(endpoint, 'customer', 'Acme');

  const asked = await api(
    'POST',
    `/api/v1/agents/${agentId}/terminal-requests`,
    {},
    engineer.token,
  );
  await api(
    'POST',
    `/api/v1/approvals/${asked.body.approval.id}/approve`,
    undefined,
    customer.token,
  );
  const client = terminalClient(
    endpoint.url,
    `/api/v1/terminals/socket?approval=${asked.body.approval.id}&agent=${agentId}`,
    engineer.token,
  );
  const { session } = await client.waitMessage('hello');
  client.type('for i in $(seq 1 400); do echo "line-$i é"; sleep 0.01; done\r');
  await client.waitText('line-150', 20_000);
  await endpoint.stop('SIGKILL');

  const recordings = join(data, 'recordings');
  expect(readdirSync(recordings)).toContain(`${session}.cast`);
  const lines = readFileSync(join(recordings, `${session}.cast`), 'utf8').split('\n');
  expect(lines.at(-1)).toBe('');
  const parsed = lines.slice(0, -1).map((line) => JSON.parse(line));
  expect(parsed[0]).toMatchObject({ version: 2, width: 80, height: 24 });
  const output = parsed
    .slice(1)
    .filter((e) => e[1] === 'o')
    .map((e) => e[2])
    .join('');
  // Flushed at least once a second: what the engineer saw a second before the crash is there.
  expect(output).toContain('line-50 é');

  endpoint = await spawnEndpoint(data, port);
  const record = (await api('GET', `/api/v1/terminals/${session}`)).body.session;
  expect(record).toMatchObject({ status: 'interrupted' });
  expect((await api('GET', '/api/v1/audit?code=T8101E')).body.events).toHaveLength(1);
  const exported = await fetch(`${endpoint.url}/api/v1/terminals/${session}/recording`, {
    headers: { authorization: `Bearer ${customer.token}` },
  });
  expect(exported.status).toBe(200);
  client.close();
}, 90_000);
