/** The endpoint killed with SIGKILL during a command: agents return, the record stays honest. */
import { mkdtempSync, rmSync } from 'node:fs';
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

const dir = mkdtempSync(join(tmpdir(), 'tether-crash-'));
const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
  rmSync(dir, { recursive: true, force: true });
});

it('crash - a SIGKILLed endpoint comes back with its agents, a valid chain and the command marked interrupted', async () => {
  const port = await freePort();
  const data = join(dir, 'endpoint');
  let endpoint: EndpointProcess = await spawnEndpoint(data, port);
  cleanup.push(() => endpoint.stop());
  const api = (method: string, path: string, body?: unknown) =>
    call(endpoint.url, endpoint.token(), method, path, body);

  await api('POST', '/api/v1/accounts', { name: 'Acme' });
  const { token } = (await api('POST', '/api/v1/join-tokens', { account: 'Acme' })).body;
  const agent = spawnAgent(endpoint.url, token, join(dir, 'agent'), 'box');
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

  const running = api('POST', `/api/v1/agents/${agentId}/exec`, { argv: ['sleep', '30'] }).catch(
    () => null,
  );
  await waitFor(
    async () => (await api('GET', '/api/v1/audit?code=T3001I')).body.events.length > 0,
    10_000,
    'exec started',
  );
  await endpoint.stop('SIGKILL');
  expect(await running).toBeNull();

  endpoint = await spawnEndpoint(data, port);
  await waitFor(
    async () => (await api('GET', `/api/v1/agents/${agentId}`)).body.agent.online,
    30_000,
    'agent back',
  );
  const interrupted = (await api('GET', '/api/v1/audit?code=T3002E')).body.events;
  expect(interrupted).toHaveLength(1);
  expect(interrupted[0]).toMatchObject({ agentId, result: { completed: false } });
  const verify = (await api('GET', '/api/v1/audit/verify')).body;
  expect(verify).toMatchObject({ ok: true });
  const after = await api('POST', `/api/v1/agents/${agentId}/exec`, { argv: ['echo', 'back'] });
  expect(after.body.stdout).toBe('back\n');
}, 90_000);
