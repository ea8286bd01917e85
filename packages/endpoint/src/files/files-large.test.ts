/**
 * A 1 GB download and a 512 MB upload through `tether cp`, the endpoint and a real agent, each
 * a process of its own, every one of them in bounded memory: nothing holds a whole file.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { waitFor } from '../testing/harness.ts';
import { call, freePort, spawnAgent, spawnEndpoint, stopChild } from '../testing/processes.ts';

const GIGABYTE = 1_000_000_000;
const UPLOAD_BYTES = 512 * 1024 * 1024;
/** Node's own footprint is 60–150 MB here (tsx included); a buffered file would be far past this. */
const RSS_LIMIT_BYTES = 300 * 1024 * 1024;
const TETHER = resolve(import.meta.dirname, '../../../../bin/tether.mjs');

const dir = mkdtempSync(join(tmpdir(), 'tether-files-large-'));
const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
  rmSync(dir, { recursive: true, force: true });
});

function rss(pid: number | undefined): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    // The process ended between samples; its last sample already counted.
    return 0;
  }
}

it('large files - 1 GB down and 512 MB up through tether cp, every process in bounded memory', async () => {
  const srv = mkdtempSync(join(dir, 'srv-'));
  const endpoint = await spawnEndpoint(join(dir, 'endpoint'), await freePort());
  cleanup.push(() => endpoint.stop());
  const api = (m: string, p: string, b?: unknown) => call(endpoint.url, endpoint.token(), m, p, b);
  const account = (await api('POST', '/api/v1/accounts', { name: 'Acme' })).body.account.id;
  await api('PUT', `/api/v1/accounts/${account}/consent`, {
    fileReadMode: 'allow',
    fileWriteMode: 'allow',
    pathAllow: [srv],
  });
  const { token } = (await api('POST', '/api/v1/join-tokens', { account: 'Acme' })).body;
  const agent = spawnAgent(endpoint.url, token, join(dir, 'agent'), 'big');
  cleanup.push(() => stopChild(agent));
  await waitFor(
    async () => (await api('GET', '/api/v1/agents')).body.agents[0]?.online === true,
    30_000,
    'agent online',
  );

  // Sparse: a gigabyte to read without a gigabyte of disk.
  const remote = join(srv, 'disk.img');
  writeFileSync(remote, '');
  truncateSync(remote, GIGABYTE);
  const local = join(dir, 'disk.img');
  const down = await measured(['cp', `big:${remote}`, local]);
  expect(down.code, down.stderr).toBe(0);
  expect(statSync(local).size).toBe(GIGABYTE);
  for (const [name, peak] of Object.entries(down.peaks))
    expect(peak, `${name} peak RSS while downloading`).toBeLessThan(RSS_LIMIT_BYTES);

  const upload = join(dir, 'upload.bin');
  writeFileSync(upload, '');
  truncateSync(upload, UPLOAD_BYTES);
  rmSync(local);
  const up = await measured(['cp', upload, `big:${join(srv, 'uploaded.bin')}`]);
  expect(up.code, up.stderr).toBe(0);
  expect(statSync(join(srv, 'uploaded.bin')).size).toBe(UPLOAD_BYTES);
  for (const [name, peak] of Object.entries(up.peaks))
    expect(peak, `${name} peak RSS while uploading`).toBeLessThan(RSS_LIMIT_BYTES);

  const events = (await api('GET', '/api/v1/audit?code=T8213I')).body.events;
  expect(events[0].result).toMatchObject({ size: GIGABYTE, sent: GIGABYTE });

  async function measured(args: string[]) {
    const cli = spawn(process.execPath, [TETHER, ...args], {
      env: { ...process.env, TETHER_URL: endpoint.url, TETHER_TOKEN: endpoint.token() },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    cli.stderr!.on('data', (chunk: Buffer) => (stderr += chunk));
    const peaks = { endpoint: 0, agent: 0, cli: 0 };
    const sampler = setInterval(() => {
      peaks.endpoint = Math.max(peaks.endpoint, rss(endpoint.child.pid));
      peaks.agent = Math.max(peaks.agent, rss(agent.pid));
      peaks.cli = Math.max(peaks.cli, rss(cli.pid));
    }, 100);
    const code = await new Promise<number | null>((r) => cli.on('exit', (c) => r(c)));
    clearInterval(sampler);
    return { code, stderr, peaks };
  }
}, 300_000);
