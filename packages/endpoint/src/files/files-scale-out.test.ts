/** Two endpoint processes sharing PostgreSQL and NATS: the agent on one, file work through the other. */
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

const dir = mkdtempSync(join(tmpdir(), 'tether-files-scale-'));
const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
  rmSync(dir, { recursive: true, force: true });
});

describe.skipIf(!ready)('files scale-out', () => {
  it('scale-out - a file session on one endpoint works on an agent linked to the other', async () => {
    const store = (await storeBackends()
      .find((b) => b.name === 'postgres')!
      .open()) as TestStore;
    await store.close();
    cleanup.push(() => store.cleanup());
    const shared = ['--db', store.options.url as string, '--bus', NATS_URL];
    const a = await spawnEndpoint(join(dir, 'a'), await freePort(), shared);
    cleanup.push(() => a.stop());
    mkdirSync(join(dir, 'b'), { recursive: true });
    copyFileSync(join(dir, 'a', 'audit.key'), join(dir, 'b', 'audit.key'));
    const b = await spawnEndpoint(join(dir, 'b'), await freePort(), shared);
    cleanup.push(() => b.stop());
    const viaA = (m: string, p: string, body?: unknown) => call(a.url, a.token(), m, p, body);
    const viaB = (m: string, p: string, body?: unknown) => call(b.url, b.token(), m, p, body);

    const srv = mkdtempSync(join(dir, 'srv-'));
    writeFileSync(join(srv, 'app.conf'), 'port = 80\n');
    const account = (await viaA('POST', '/api/v1/accounts', { name: 'Acme' })).body.account.id;
    await viaA('PUT', `/api/v1/accounts/${account}/consent`, {
      fileReadMode: 'allow',
      fileWriteMode: 'allow',
      pathAllow: [srv],
    });
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
    expect((await (await fetch(`${b.url}/healthz`)).json()).agents).toBe(0);

    const { session } = (await viaB('POST', `/api/v1/agents/${agentId}/file-sessions`, {})).body;
    const listed = await viaB(
      'GET',
      `/api/v1/file-sessions/${session.id}/list?path=${encodeURIComponent(srv)}`,
    );
    expect(listed.body.entries.map((e: any) => e.name)).toEqual(['app.conf']);

    const saved = await viaB('PUT', `/api/v1/file-sessions/${session.id}/text`, {
      path: join(srv, 'app.conf'),
      content: 'port = 8080\n',
      baseHash: sha256('port = 80\n'),
    });
    expect(saved.status).toBe(200);
    expect(readFileSync(join(srv, 'app.conf'), 'utf8')).toBe('port = 8080\n');

    const data = randomBytes(8 * 1024 * 1024);
    const auth = { authorization: `Bearer ${b.token()}` };
    const up = await fetch(
      `${b.url}/api/v1/file-sessions/${session.id}/upload?path=${encodeURIComponent(join(srv, 'big.bin'))}`,
      {
        method: 'PUT',
        headers: { ...auth, 'content-type': 'application/octet-stream' },
        body: data,
      },
    );
    expect(up.status).toBe(200);
    const down = await fetch(
      `${b.url}/api/v1/file-sessions/${session.id}/download?path=${encodeURIComponent(join(srv, 'big.bin'))}`,
      { headers: auth },
    );
    expect(sha256(Buffer.from(await down.arrayBuffer()))).toBe(sha256(data));
  }, 120_000);
});
