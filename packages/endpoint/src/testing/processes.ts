/** Test helper: endpoints and agents as real processes, started and stopped by pid. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
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

/** Runs `tether serve` and waits until /healthz answers (over HTTPS when given a CA to trust). */
export async function spawnEndpoint(
  dataDir: string,
  port: number,
  extra: string[] = [],
  tls?: { ca: string },
): Promise<EndpointProcess> {
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  const child = spawn(
    process.execPath,
    [
      TETHER,
      'serve',
      '--data',
      dataDir,
      '--listen',
      `127.0.0.1:${port}`,
      '--log-level',
      'warn',
      ...extra,
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  await waitFor(
    async () => {
      if (child.exitCode !== null) throw new Error(`endpoint exited: ${output}`);
      if (tls)
        return request(url, '', 'GET', '/healthz', undefined, tls.ca).then(
          (r) => r.status === 200,
          () => false,
        );
      return fetch(`${url}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
    },
    30_000,
    'endpoint to answer',
  );
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

export function spawnAgent(
  endpoint: string,
  joinToken: string,
  stateDir: string,
  name: string,
  env: NodeJS.ProcessEnv = {},
): ChildProcess {
  const args = ['agent', '--endpoint', endpoint, '--join-token', joinToken, '--state', stateDir];
  return spawn(process.execPath, [TETHER, ...args, '--name', name, '--log-level', 'warn'], {
    stdio: 'ignore',
    env: { ...process.env, ...env },
  });
}

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  await exited;
}

export async function call(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as any };
}

/** JSON over node:https with a CA of the test's own, which fetch cannot be given. */
export function request(
  url: string,
  token: string,
  method: string,
  path: string,
  body: unknown,
  ca: string,
) {
  return new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = httpsRequest(
      `${url}${path}`,
      {
        method,
        ca: readFileSync(ca),
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
