/** Bench helpers: tracked child processes, temp folders, an endpoint process, REST, statistics. */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO_ROOT = resolve(import.meta.dirname, '..');
export const TETHER_CLI = join(REPO_ROOT, 'bin/tether.mjs');
export const RUN_TS = join(REPO_ROOT, 'bin/run-ts.mjs');
/** Built by `npm run build:agent`; starts in about 50 ms, against a second or two for tsx. */
export const AGENT_EXECUTABLE = join(REPO_ROOT, 'dist/agent/tether-agent-linux-x64');
export const LOOPBACK = '127.0.0.1';
/** The endpoint loads its TypeScript through tsx; on a busy 2-core machine that takes seconds. */
const ENDPOINT_START_TIMEOUT_MS = 60_000;
/** Shutdown with a thousand links writes a thousand presence rows and audit events. */
export const STOP_TIMEOUT_MS = 30_000;
const POLL_INTERVAL_MS = 200;
const LISTENING_LINE = /tether endpoint on (http:\/\/[^\s]+)/;

export class BenchError extends Error {
  override name = 'BenchError';
}

const started = Date.now();

/** One progress line on stderr, stamped with the seconds since the bench began. */
export function progress(scenario: string, message: string): void {
  const seconds = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[${seconds}s] ${scenario}: ${message}\n`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((done) => setTimeout(done, ms));
}

// ---------------------------------------------------------------------------------------------
// Temp folders and processes, so that every exit path can clean up what this run made.

let tempRoot: string | null = null;
let keepTemp = false;
const children = new Map<number, { name: string; child: ChildProcess }>();

/** A fresh folder under this run's temp root; all of it is removed by `cleanupAll`. */
export function tempDir(prefix: string): string {
  tempRoot ??= mkdtempSync(join(tmpdir(), 'tether-bench-'));
  return mkdtempSync(join(tempRoot, `${prefix}-`));
}

/** Spawns a child whose stdout and stderr go to `logFile`, and remembers its pid. */
export function spawnTracked(
  name: string,
  file: string,
  args: string[],
  options: { logFile: string; pipeStderr?: boolean; ipc?: boolean; cwd?: string },
): ChildProcess {
  const fd = openSync(options.logFile, 'a');
  const stdio: SpawnOptions['stdio'] = [
    'ignore',
    fd,
    options.pipeStderr ? 'pipe' : fd,
    ...(options.ipc ? (['ipc'] as const) : []),
  ];
  const child = spawn(file, args, { cwd: options.cwd ?? REPO_ROOT, stdio, env: process.env });
  closeSync(fd);
  if (child.pid === undefined) throw new BenchError(`cannot start ${name}`);
  const pid = child.pid;
  children.set(pid, { name, child });
  child.once('exit', () => children.delete(pid));
  child.once('error', () => children.delete(pid));
  return child;
}

export interface StopOutcome {
  ms: number;
  /** True when SIGTERM was not enough and the process had to be killed. */
  killed: boolean;
  code: number | null;
  signal: string | null;
}

/** SIGTERM by pid, then SIGKILL after `timeoutMs`; resolves once the process has exited. */
export async function stopProcess(
  child: ChildProcess,
  timeoutMs = STOP_TIMEOUT_MS,
): Promise<StopOutcome> {
  const began = Date.now();
  if (child.exitCode !== null || child.signalCode !== null) {
    return { ms: 0, killed: false, code: child.exitCode, signal: child.signalCode };
  }
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  signal(child.pid, 'SIGTERM');
  let killed = false;
  const timer = setTimeout(() => {
    killed = true;
    signal(child.pid, 'SIGKILL');
  }, timeoutMs);
  await exited;
  clearTimeout(timer);
  return { ms: Date.now() - began, killed, code: child.exitCode, signal: child.signalCode };
}

/** Stops every child this run started, in parallel, each by its own pid. */
export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children.values()].map(({ child }) => stopProcess(child, 5_000)));
}

/** For looking into a failure: leave the temp root (logs, data folders) where it is. */
export function keepTempFolders(): void {
  keepTemp = true;
}

/** Last resort on the way out: SIGKILL each remaining pid and remove the temp root. */
export function cleanupSync(): void {
  for (const pid of children.keys()) signal(pid, 'SIGKILL');
  children.clear();
  if (tempRoot && keepTemp) process.stderr.write(`bench: kept ${tempRoot}\n`);
  else if (tempRoot) rmSync(tempRoot, { recursive: true, force: true });
  tempRoot = null;
}

function signal(pid: number | undefined, name: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, name);
  } catch {
    // ESRCH: it has already exited, which is what we were asking for.
  }
}

/** Resident set size of a process in KiB, from /proc/<pid>/status. */
export function rssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match) throw new BenchError(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}

/** Linux counts CPU time in clock ticks; USER_HZ is 100 on every mainstream kernel build. */
const CLOCK_TICKS_PER_S = 100;

/**
 * CPU time (user + system, all threads) a process has used so far, in ms. Unlike wall-clock
 * rates it barely moves with what else the machine is doing, so it compares runs on a
 * shared machine.
 */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may hold spaces; utime and stime are fields 14 and 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_S;
}

// ---------------------------------------------------------------------------------------------
// The endpoint as its own process, through the `tether serve` command.

export interface EndpointProcess {
  url: string;
  port: number;
  pid: number;
  child: ChildProcess;
  api: Api;
  logFile: string;
}

/** Starts `tether serve` on loopback; port 0 picks a free port the first time. */
/**
 * Extra Node flags for the endpoint only, e.g. TETHER_BENCH_ENDPOINT_ARGS="--cpu-prof
 * --cpu-prof-dir=/tmp/prof" to see where its time goes during a scenario.
 */
const ENDPOINT_NODE_ARGS = (process.env.TETHER_BENCH_ENDPOINT_ARGS ?? '')
  .split(/\s+/)
  .filter(Boolean);

export async function startEndpointProcess(dataDir: string, port = 0): Promise<EndpointProcess> {
  const logFile = join(dataDir, `endpoint-${Date.now()}.log`);
  const child = spawnTracked(
    'endpoint',
    process.execPath,
    [
      ...ENDPOINT_NODE_ARGS,
      TETHER_CLI,
      'serve',
      '--data',
      dataDir,
      '--listen',
      `${LOOPBACK}:${port}`,
    ],
    { logFile, pipeStderr: true },
  );
  let stderr = '';
  const url = await new Promise<string>((done, fail) => {
    const timer = setTimeout(
      () => fail(new BenchError('endpoint did not start in time')),
      ENDPOINT_START_TIMEOUT_MS,
    );
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const match = LISTENING_LINE.exec(stderr);
      if (match) {
        clearTimeout(timer);
        done(match[1]);
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(timer);
      fail(new BenchError(`endpoint exited (${code ?? sig}) before listening:\n${stderr}`));
    });
  });
  const token = readFileSync(join(dataDir, 'admin.token'), 'utf8').trim();
  return {
    url,
    port: Number(new URL(url).port),
    pid: child.pid!,
    child,
    api: new Api(url, token),
    logFile,
  };
}

/** How many warn and error lines the endpoint's pino log holds, with the first few messages. */
export function logProblems(logFile: string): { warn: number; error: number; samples: string[] } {
  if (!existsSync(logFile)) return { warn: 0, error: 0, samples: [] };
  let warn = 0;
  let error = 0;
  const samples = new Set<string>();
  for (const line of readFileSync(logFile, 'utf8').split('\n')) {
    const level = /^\{"level":(\d+)/.exec(line);
    if (!level) continue;
    const value = Number(level[1]);
    if (value < 40) continue;
    if (value >= 50) error += 1;
    else warn += 1;
    const msg = /"msg":"([^"]*)"/.exec(line)?.[1] ?? line.slice(0, 120);
    if (samples.size < 5) samples.add(`${value >= 50 ? 'error' : 'warn'}: ${msg}`);
  }
  return { warn, error, samples: [...samples] };
}

// ---------------------------------------------------------------------------------------------
// REST over one kept-alive connection, so the timings hold no TCP handshakes.

export class Api {
  private readonly agent = new http.Agent({ keepAlive: true });

  constructor(
    readonly baseUrl: string,
    private readonly token: string,
  ) {}

  call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const url = new URL(path, this.baseUrl);
    const headers: Record<string, string | number> = { authorization: `Bearer ${this.token}` };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    return new Promise<T>((done, fail) => {
      const request = http.request(url, { method, headers, agent: this.agent }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = response.statusCode ?? 0;
          if (status < 200 || status >= 300) {
            fail(new BenchError(`${method} ${path}: HTTP ${status} ${text.slice(0, 300)}`));
            return;
          }
          done(JSON.parse(text) as T);
        });
        response.on('error', fail);
      });
      request.on('error', fail);
      request.end(payload);
    });
  }

  async agentsLinked(): Promise<number> {
    return (await this.call<{ agents: number }>('GET', '/healthz')).agents;
  }

  close(): void {
    this.agent.destroy();
  }
}

/** Creates an account and a join token that `uses` agents may enroll with. */
export async function accountWithToken(api: Api, account: string, uses: number): Promise<string> {
  await api.call('POST', '/api/v1/accounts', { name: account });
  const body = { account, maxUses: uses, ttlSeconds: 3600 };
  return (await api.call<{ token: string }>('POST', '/api/v1/join-tokens', body)).token;
}

/** Polls until `check` returns true, reporting each value; throws after `timeoutMs`. */
export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = POLL_INTERVAL_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) {
      throw new BenchError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// The agent as its own process: the single executable when built, else the CLI through tsx.

export const agentRuntime = existsSync(AGENT_EXECUTABLE) ? 'executable' : 'cli (tsx)';

export function spawnAgentProcess(
  name: string,
  args: { endpoint: string; joinToken: string; stateDir: string },
): ChildProcess {
  const flags = [
    '--endpoint',
    args.endpoint,
    '--join-token',
    args.joinToken,
    '--state',
    args.stateDir,
    '--name',
    name,
  ];
  const logFile = `${args.stateDir}.log`;
  if (agentRuntime === 'executable') {
    return spawnTracked(name, AGENT_EXECUTABLE, flags, { logFile });
  }
  return spawnTracked(name, process.execPath, [TETHER_CLI, 'agent', ...flags], { logFile });
}

// ---------------------------------------------------------------------------------------------
// Statistics.

/** Nearest-rank percentile of unsorted samples. */
export function percentile(samples: number[], p: number): number {
  if (samples.length === 0) return Number.NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export function median(samples: number[]): number {
  return percentile(samples, 50);
}

export function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** One line of the result table; `met` is null for figures that have no target. */
export interface Row {
  measure: string;
  tether: string;
  baseline: string;
  diff: string;
  target: string;
  met: boolean | null;
}

export interface ScenarioResult {
  rows: Row[];
  details: Record<string, unknown>;
  notes: string[];
}
