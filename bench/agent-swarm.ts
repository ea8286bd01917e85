/** Helper process for the idle-agents scenario: many agents in one process, driven over IPC. */
import { join } from 'node:path';
import pino from 'pino';
import { ensureEnrolled, startAgent, type RunningAgent } from '@tether/agent';

/** Enrollments in flight at once: each is one HTTP request and two SQLite transactions. */
const ENROLL_CONCURRENCY = 20;
/** Links started per step: enough to keep the endpoint busy without a thundering herd. */
const CONNECT_BATCH_SIZE = 50;
/** How long one step waits for its links before starting the next one anyway. */
const CONNECT_BATCH_WAIT_MS = 10_000;
const CONNECT_POLL_MS = 50;
const MAX_ENROLL_ATTEMPTS = 4;
const PROGRESS_EVERY_AGENTS = 100;

export type SwarmCommand =
  | { type: 'enroll'; endpoint: string; joinToken: string; count: number; dir: string }
  | { type: 'connect' }
  | { type: 'stop' };

export type SwarmReport =
  | { type: 'progress'; phase: 'enroll' | 'connect'; done: number; total: number }
  | { type: 'enrolled'; failures: string[]; retried: string[] }
  | { type: 'started'; connected: number }
  | { type: 'stopped' }
  | { type: 'error'; message: string };

const log = pino({ level: 'warn', base: { app: 'bench-swarm' } }, pino.destination(2));
const running: RunningAgent[] = [];
const connected = new Set<number>();
let stateDirs: string[] = [];

process.on('message', (command: SwarmCommand) => {
  void handle(command).catch((error: unknown) => {
    report({ type: 'error', message: error instanceof Error ? error.message : String(error) });
  });
});
// If the bench goes away, so do we: nothing of ours may outlive it.
process.on('disconnect', () => process.exit(0));

async function handle(command: SwarmCommand): Promise<void> {
  if (command.type === 'enroll') return enrollAll(command);
  if (command.type === 'connect') return connectAll();
  for (const agent of running) await agent.close();
  report({ type: 'stopped' });
}

/**
 * Enrolls `count` agents, ENROLL_CONCURRENCY at a time. One that fails is retried in a fresh
 * state folder and the failure reported: ssh2 1.17 writes an unreadable ed25519 key about once
 * in 256 (mscdex/ssh2#1390), and that folder can never enroll.
 */
async function enrollAll(c: Extract<SwarmCommand, { type: 'enroll' }>): Promise<void> {
  stateDirs = [];
  const failures: string[] = [];
  const retried: string[] = [];
  let next = 0;
  let done = 0;
  const enrollOne = async (index: number): Promise<void> => {
    const name = `idle-${String(index).padStart(4, '0')}`;
    for (let attempt = 1; ; attempt += 1) {
      const stateDir = join(c.dir, attempt === 1 ? name : `${name}-retry${attempt - 1}`);
      try {
        const { endpoint, joinToken } = c;
        await ensureEnrolled({ endpoint, joinToken, stateDir, name }, log);
        stateDirs[index] = stateDir;
        return;
      } catch (error) {
        const message = `${name}: ${(error as Error).message}`;
        if (attempt >= MAX_ENROLL_ATTEMPTS) return void failures.push(message);
        retried.push(message);
      }
    }
  };
  const worker = async (): Promise<void> => {
    while (next < c.count) {
      await enrollOne(next++);
      done += 1;
      if (done % PROGRESS_EVERY_AGENTS === 0) {
        report({ type: 'progress', phase: 'enroll', done, total: c.count });
      }
    }
  };
  await Promise.all(Array.from({ length: ENROLL_CONCURRENCY }, worker));
  stateDirs = stateDirs.filter(Boolean);
  report({ type: 'enrolled', failures, retried });
}

/** Starts every enrolled agent's link, a batch at a time. */
async function connectAll(): Promise<void> {
  for (let start = 0; start < stateDirs.length; start += CONNECT_BATCH_SIZE) {
    const end = Math.min(stateDirs.length, start + CONNECT_BATCH_SIZE);
    for (let index = start; index < end; index += 1) {
      const agent = await startAgent({ stateDir: stateDirs[index], logger: log });
      agent.link.on('state', (state) => {
        if (state === 'connected') connected.add(index);
        else connected.delete(index);
      });
      running.push(agent);
    }
    const waitUntil = Date.now() + CONNECT_BATCH_WAIT_MS;
    while (connected.size < end && Date.now() < waitUntil) {
      await new Promise((done) => setTimeout(done, CONNECT_POLL_MS));
    }
    report({ type: 'progress', phase: 'connect', done: connected.size, total: stateDirs.length });
  }
  report({ type: 'started', connected: connected.size });
}

function report(message: SwarmReport): void {
  process.send?.(message);
}
