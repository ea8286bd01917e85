/** The real agent executable, installed by the real install script into an empty folder. */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_DOWNLOADS, installCommand } from '@tether/protocol';
import { startHarness, waitFor, type Harness } from '../testing/harness.ts';

const DIST = resolve(import.meta.dirname, '../../../../dist/agent');
const built = existsSync(join(DIST, AGENT_DOWNLOADS.x64));
const skip = !built && !process.env.CI;
if (skip) console.warn('installed-agent test skipped: run `npm run build:agent` first');

let h: Harness;
const work = mkdtempSync(join(tmpdir(), 'tether-real-agent-'));
const children: Array<ReturnType<typeof spawn>> = [];

beforeAll(async () => {
  if (skip) return;
  h = await startHarness({ distDir: DIST });
  await h.account('Acme');
});
afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  }
  await h?.close();
  rmSync(work, { recursive: true, force: true });
});

describe.skipIf(skip)('installed agent', () => {
  it('install - the one-liner installs the executable, enrolls it, and it runs commands with no node around', async () => {
    const token = await h.joinToken('Acme');
    const prefix = join(work, 'bin');
    const state = join(work, 'state');
    // PATH without node: the executable must carry everything it needs.
    const env = { PATH: '/usr/bin:/bin', HOME: work, TMPDIR: work };
    const script = `${installCommand(h.url, token)} --prefix '${prefix}' --state '${state}' --name installed --no-service`;
    const run = await new Promise<{ code: number; out: string }>((done) => {
      execFile('sh', ['-c', script], { env, timeout: 60_000 }, (error, stdout, stderr) =>
        done({ code: error ? Number(error.code ?? 1) : 0, out: stdout + stderr }),
      );
    });
    expect(run.code, run.out).toBe(0);
    expect(run.out).not.toContain(token);
    expect(existsSync(join(prefix, 'tether-agent'))).toBe(true);

    const agent = spawn(join(prefix, 'tether-agent'), ['--state', state, '--log-level', 'warn'], {
      env,
      stdio: 'ignore',
    });
    children.push(agent);
    let agentId = '';
    await waitFor(
      async () => {
        const found = (await h.api('GET', '/api/v1/agents')).body.agents.find(
          (a: any) => a.name === 'installed',
        );
        agentId = found?.id ?? '';
        return found?.online === true;
      },
      20_000,
      'installed agent online',
    );
    const result = await h.api('POST', `/api/v1/agents/${agentId}/exec`, {
      command: 'echo "$0 runs"; exit 9',
    });
    expect(result.body).toMatchObject({ exitCode: 9, stdout: '/bin/sh runs\n' });
  }, 90_000);
});
