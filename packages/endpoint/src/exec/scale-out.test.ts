/** Two endpoint processes sharing PostgreSQL and NATS: an agent on one, commands through the other. */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { waitFor } from '../testing/harness.ts';
import { call, freePort, spawnAgent, spawnEndpoint, stopChild } from '../testing/processes.ts';
import { postgresAvailable, storeBackends, type TestStore } from '../store/test-stores.ts';

const NATS_URL = process.env.TETHER_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const natsAvailable = await new Promise<boolean>((resolve) => {
  const { hostname, port } = new URL(NATS_URL);
  const socket = connect(Number(port), hostname, () => (socket.end(), resolve(true)));
  socket.on('error', () => resolve(false));
});
const ready = postgresAvailable && natsAvailable;
if (!ready)
  console.warn(
    `scale-out test skipped: postgres ${postgresAvailable ? 'up' : 'down'}, NATS at ${NATS_URL} ${natsAvailable ? 'up' : 'down'}`,
  );

const dir = mkdtempSync(join(tmpdir(), 'tether-scale-'));
const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!ready)('scale-out', () => {
  it('scale-out - exec through one endpoint reaches an agent linked to the other', async () => {
    const store = (await storeBackends()
      .find((b) => b.name === 'postgres')!
      .open()) as TestStore;
    await store.close();
    cleanup.push(() => store.cleanup());
    const shared = ['--db', store.options.url as string, '--bus', NATS_URL];

    const a = await spawnEndpoint(join(dir, 'a'), await freePort(), shared);
    cleanup.push(() => a.stop());
    // Every process sharing the database signs the audit log with the same key.
    mkdirSync(join(dir, 'b'), { recursive: true });
    copyFileSync(join(dir, 'a', 'audit.key'), join(dir, 'b', 'audit.key'));
    const b = await spawnEndpoint(join(dir, 'b'), await freePort(), shared);
    cleanup.push(() => b.stop());
    const viaA = (m: string, p: string, body?: unknown) => call(a.url, a.token(), m, p, body);
    const viaB = (m: string, p: string, body?: unknown) => call(b.url, b.token(), m, p, body);

    await viaA('POST', '/api/v1/accounts', { name: 'Acme' });
    const { token } = (await viaA('POST', '/api/v1/join-tokens', { account: 'Acme' })).body;
    const agent = spawnAgent(a.url, token, join(dir, 'agent'), 'box');
    cleanup.push(() => stopChild(agent));
    let agentId = '';
    await waitFor(
      async () => {
        const agents = (await viaB('GET', '/api/v1/agents')).body.agents;
        agentId = agents[0]?.id ?? '';
        return agents[0]?.online === true;
      },
      30_000,
      'agent online as seen from B',
    );
    expect((await (await fetch(`${a.url}/healthz`)).json()).agents).toBe(1);
    expect((await (await fetch(`${b.url}/healthz`)).json()).agents).toBe(0);

    const small = await viaB('POST', `/api/v1/agents/${agentId}/exec`, {
      command: 'echo relayed; echo e >&2; exit 4',
    });
    expect(small.body).toMatchObject({ exitCode: 4, stdout: 'relayed\n', stderr: 'e\n' });

    // 20 MB through the bus exercises the credit window many times over.
    const big = await viaB('POST', `/api/v1/agents/${agentId}/exec`, {
      command: 'head -c 20000000 /dev/urandom | wc -c; head -c 20000000 /dev/zero',
    });
    expect(big.body).toMatchObject({
      exitCode: 0,
      stdoutBytes: 20_000_000 + '20000000\n'.length,
      truncated: true,
    });

    const revoked = await viaB('POST', `/api/v1/agents/${agentId}/revoke`);
    expect(revoked.status).toBe(200);
    await waitFor(
      async () => (await viaA('GET', `/api/v1/agents/${agentId}`)).body.agent.online === false,
      5_000,
      'revoked across nodes',
    );
    expect((await viaA('GET', '/api/v1/audit/verify')).body).toMatchObject({ ok: true });
  }, 120_000);
});
