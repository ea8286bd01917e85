/** For the end-to-end tests: runs the real `tether` as a child process against one endpoint. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { AuditEventView } from '@tether/protocol';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const BIN = join(ROOT, 'bin', 'tether.mjs');
const WAIT_STEP_MS = 100;
/** Enough of each run's stdout to search for a leaked token without holding 256 MiB. */
const KEPT_OUTPUT_CHARS = 100_000;

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface Started {
  child: ChildProcess;
  done: Promise<Run>;
  stdout(): string;
  stderr(): string;
}

export interface EndpointUnderTest {
  url: string;
  adminToken: string;
}

export interface AgentRow {
  id: string;
  online: boolean;
  revokedAt: string | null;
}

export class CliHarness {
  /** Children still running; the suite fails if any is left at the end. */
  readonly children = new Set<ChildProcess>();
  /** Everything the children printed, to check that no secret ever appears. */
  readonly outputs: string[] = [];

  constructor(
    readonly dir: string,
    readonly endpoint: EndpointUnderTest,
  ) {}

  /** Runs `tether args…` to the end, with the admin token in its environment. */
  tether(args: string[], input = '', env: Record<string, string> = {}): Promise<Run> {
    return this.start(args, input, env).done;
  }

  start(args: string[], input = '', env: Record<string, string> = {}): Started {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: this.childEnv(env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.children.add(child);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr!.on('data', (chunk: Buffer) => err.push(chunk));
    child.stdin!.end(input);

    const done = new Promise<Run>((resolveRun, reject) => {
      child.once('error', reject);
      child.once('close', (code, signal) => {
        this.children.delete(child);
        const stdout = Buffer.concat(out).toString();
        const run = { code, signal, stdout, stderr: Buffer.concat(err).toString() };
        this.outputs.push(run.stdout.slice(0, KEPT_OUTPUT_CHARS), run.stderr);
        resolveRun(run);
      });
    });
    return {
      child,
      done,
      stdout: () => Buffer.concat(out).toString(),
      stderr: () => Buffer.concat(err).toString(),
    };
  }

  /** Only what the CLI needs, so a developer's own TETHER_* or saved login cannot leak in. */
  childEnv(extra: Record<string, string> = {}): Record<string, string> {
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.dir,
      XDG_CONFIG_HOME: join(this.dir, 'config'),
      TETHER_URL: this.endpoint.url,
      TETHER_TOKEN: this.endpoint.adminToken,
    };
    for (const [key, value] of Object.entries(extra)) {
      if (value === '') delete env[key];
      else env[key] = value;
    }
    return env;
  }

  /** Calls the endpoint directly as the admin, for setup and for checking what happened. */
  async api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    const authorization = `Bearer ${this.endpoint.adminToken}`;
    const headers: Record<string, string> = { authorization };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${this.endpoint.url}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await response.json();
    if (!response.ok) {
      throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    }
    return json as T;
  }

  async recentEvents(): Promise<AuditEventView[]> {
    const path = '/api/v1/audit?limit=20';
    return (await this.api<{ events: AuditEventView[] }>('GET', path)).events;
  }

  async agentRow(agentId: string): Promise<AgentRow> {
    const { agents } = await this.api<{ agents: AgentRow[] }>('GET', '/api/v1/agents');
    const row = agents.find((candidate) => candidate.id === agentId);
    if (!row) throw new Error(`agent ${agentId} is not listed`);
    return row;
  }
}

/** The argv an exec event recorded, joined with spaces. */
export function commandOf(event: AuditEventView): string | undefined {
  return (event.params.argv as string[] | undefined)?.join(' ');
}

/** Resident memory of a process from /proc, or 0 once it is gone. */
export function rssBytes(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
  } catch {
    // The process ended between samples; its last sample already counted.
    return 0;
  }
}

/** A loopback port that was just free: bound, read, and released. */
export async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolveListen) => probe.listen(0, '127.0.0.1', resolveListen));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolveClose) => probe.close(resolveClose));
  return port;
}

export async function until(condition: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolveWait) => setTimeout(resolveWait, WAIT_STEP_MS));
  }
}
