/** 1 GB of output through agent, endpoint and CLI, each process in bounded memory. */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { waitFor } from '../testing/harness.ts';
import { call, freePort, spawnAgent, spawnEndpoint, stopChild } from '../testing/processes.ts';

const GIGABYTE = 1_000_000_000;
/** Node's own footprint is about 60-90 MB here; buffering a gigabyte anywhere would blow far past this. */
const RSS_LIMIT_BYTES = 300 * 1024 * 1024;
const TETHER = resolve(import.meta.dirname, '../../../../bin/tether.mjs');

const dir = mkdtempSync(join(tmpdir(), 'tether-gigabyte-'));
const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
  rmSync(dir, { recursive: true, force: true });
});

function rss(pid: number | undefined): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8')
      .split('\n')
      .find((l) => l.startsWith('VmRSS:'));
    return Number(line?.split(/\s+/)[1] ?? 0) * 1024;
  } catch {
    return 0;
  }
}

it('large output - 1 GB streams to the CLI in bounded memory; the record keeps 64 KiB and says truncated', async () => {
  const endpoint = await spawnEndpoint(join(dir, 'endpoint'), await freePort());
  cleanup.push(() => endpoint.stop());
  const api = (m: string, p: string, b?: unknown) => call(endpoint.url, endpoint.token(), m, p, b);
  await api('POST', '/api/v1/accounts', { name: 'Acme' });
  const { token } = (await api('POST', '/api/v1/join-tokens', { account: 'Acme' })).body;
  const agent = spawnAgent(endpoint.url, token, join(dir, 'agent'), 'big');
  cleanup.push(() => stopChild(agent));
  await waitFor(
    async () => (await api('GET', '/api/v1/agents')).body.agents[0]?.online === true,
    20_000,
    'agent online',
  );

  const cli = spawn(
    process.execPath,
    [TETHER, 'exec', 'big', '--timeout', '5m', '--', 'head', '-c', String(GIGABYTE), '/dev/zero'],
    {
      env: { ...process.env, TETHER_URL: endpoint.url, TETHER_TOKEN: endpoint.token() },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let received = 0;
  cli.stdout!.on('data', (chunk: Buffer) => (received += chunk.length));
  const peaks = { endpoint: 0, cli: 0, agent: 0 };
  const sampler = setInterval(() => {
    peaks.endpoint = Math.max(peaks.endpoint, rss(endpoint.child.pid));
    peaks.cli = Math.max(peaks.cli, rss(cli.pid));
    peaks.agent = Math.max(peaks.agent, rss(agent.pid));
  }, 100);
  const code = await new Promise<number | null>((r) => cli.on('exit', (c) => r(c)));
  clearInterval(sampler);

  expect(code).toBe(0);
  expect(received).toBe(GIGABYTE);
  for (const [name, peak] of Object.entries(peaks))
    expect(peak, `${name} peak RSS`).toBeLessThan(RSS_LIMIT_BYTES);
  const event = (await api('GET', '/api/v1/audit?code=T3000I')).body.events[0];
  expect(event.result).toMatchObject({ stdoutBytes: GIGABYTE, truncated: true, exitCode: 0 });
  expect(event.result.stdoutHead.length).toBe(64 * 1024);
}, 180_000);
