/** Test helper: endpoints and agents as real processes, started and stopped by pid. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { waitFor } from './harness.ts';

const REPO = resolve(import.meta.dirname, '../../../..');
const TETHER = join(REPO, 'bin/tether.mjs');

export interface EndpointProcess {
  child: ChildProcess;
  url: string;
  token: () => string;
  output: () => string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
    server.on('error', reject);
  });
}

/** Runs `tether serve` and waits until /healthz answers. */
export async function spawnEndpoint(dataDir: string, port: number, extra: string[] = []): Promise<EndpointProcess> {
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(process.execPath, [TETHER, 'serve', '--data', dataDir, '--listen', `127.0.0.1:${port}`, '--log-level', 'warn', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await waitFor(async () => {
    if (child.exitCode !== null) throw new Error(`endpoint exited: ${output}`);
    return fetch(`${url}/healthz`).then((r) => r.ok, () => false);
  }, 30_000, 'endpoint to answer');
  return {
    child,
    url,
    token: () => readFileSync(join(dataDir, 'admin.token'), 'utf8').trim(),
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export function spawnAgent(endpoint: string, joinToken: string, stateDir: string, name: string): ChildProcess {
  return spawn(process.execPath, [TETHER, 'agent', '--endpoint', endpoint, '--join-token', joinToken, '--state', stateDir, '--name', name, '--log-level', 'warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  await exited;
}

export async function call(url: string, token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}
