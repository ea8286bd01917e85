/** The built agent executables, run alone: no node on PATH, no node_modules, no environment. */
import { execFile, execFileSync } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  openSync,
  readSync,
  rmSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_DOWNLOADS, AGENT_VERSION, type AgentArch } from '@tether/protocol';
import { isSea, runSelfTest } from './native-addons.ts';

const DIST = fileURLToPath(new URL('../../../dist/agent/', import.meta.url));
/**
 * Building the executables needs binutils and a cross compiler, which a machine with only Node
 * and npm lacks; there the tests say they skipped. CI builds first, and fails if it did not.
 */
const NOT_BUILT = !process.env.CI && !existsSync(join(DIST, AGENT_DOWNLOADS.x64));
const SKIP = process.env.TETHER_SKIP_SEA_TEST === '1' || NOT_BUILT;
if (NOT_BUILT) console.warn('agent executable tests skipped: run `npm run build:agent` first');
/** Natively the agent starts in about 0.1 s; under qemu-user, arm64 takes about 2 s. */
const RUN_TIMEOUT_MS = 30_000;
const QEMU_ARM64 = 'qemu-aarch64-static';
/** ELF e_machine for aarch64 (System V ABI), at byte 18 of the header. */
const EM_AARCH64 = 183;
const ELF_MACHINE_OFFSET = 18;

let work = '';

/** A copy in a folder of its own, so nothing beside the build can help it start. */
function isolatedCopy(arch: AgentArch): string {
  const built = join(DIST, AGENT_DOWNLOADS[arch]);
  if (!existsSync(built)) {
    throw new Error(
      `${built} is missing: run \`npm run build:agent\` first ` +
        '(or set TETHER_SKIP_SEA_TEST=1 to skip the executable tests)',
    );
  }
  const dir = mkdtempSync(join(work, `${arch}-`));
  const copy = join(dir, AGENT_DOWNLOADS[arch]);
  copyFileSync(built, copy);
  return copy;
}

/** `env -i`: no PATH, no HOME, no NODE_OPTIONS; TMPDIR keeps the unpacked addons in `work`. */
function runAlone(command: string[]): Promise<{ code: number | null; stdout: string }> {
  const args = ['-i', `TMPDIR=${work}`, ...command];
  return new Promise((resolve) => {
    execFile('/usr/bin/env', args, { timeout: RUN_TIMEOUT_MS }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout: stdout + stderr });
    });
  });
}

function hasTool(tool: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    return true;
  } catch {
    // `command -v` exits non-zero when the tool is absent.
    return false;
  }
}

describe('native addons in development', () => {
  it('native-addons - the self-test passes with the packages from node_modules', async () => {
    const checks = await runSelfTest();

    expect(isSea()).toBe(false);
    expect(checks.map(({ name, ok }) => ({ name, ok }))).toEqual([
      { name: 'pty', ok: true },
      { name: 'bufferutil', ok: true },
    ]);
  });
});

describe.skipIf(SKIP)('agent executable', () => {
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'tether-sea-test-'));
  });

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('sea - the x64 executable prints its version', async () => {
    const run = await runAlone([isolatedCopy('x64'), '--version']);

    expect(run).toEqual({ code: 0, stdout: `tether-agent ${AGENT_VERSION}\n` });
  });

  it('sea - the x64 executable prints its usage', async () => {
    const run = await runAlone([isolatedCopy('x64'), '--help']);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('--join-token TOKEN');
    expect(run.stdout).toContain('--self-test');
  });

  it('sea - the self-test runs a pty and bufferutil from the executable itself', async () => {
    const run = await runAlone([isolatedCopy('x64'), '--self-test']);

    expect(run.stdout).toMatch(/^ok {3}pty: \/bin\/echo ok printed "ok\\r\\n", exit 0 /m);
    expect(run.stdout).toMatch(/^ok {3}bufferutil: mask and unmask/m);
    expect(run.stdout).toContain(`${work}/tether-agent-${AGENT_VERSION}-`);
    expect(run.stdout).not.toContain('node_modules');
    expect(run.code).toBe(0);
  });

  it('sea - the arm64 executable is an aarch64 ELF file', () => {
    const header = Buffer.alloc(ELF_MACHINE_OFFSET + 2);
    const fd = openSync(isolatedCopy('arm64'), 'r');
    try {
      readSync(fd, header, 0, header.length, 0);
    } finally {
      closeSync(fd);
    }

    expect(header.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
    expect(header.readUInt16LE(ELF_MACHINE_OFFSET)).toBe(EM_AARCH64);
  });

  it('sea - the arm64 executable prints its version under qemu-user', async (ctx) => {
    const copy = isolatedCopy('arm64');
    if (!hasTool(QEMU_ARM64)) {
      const reason =
        `${QEMU_ARM64} is not installed (apt-get install qemu-user-static, ` +
        'plus libc6:arm64 and libstdc++6:arm64 after dpkg --add-architecture arm64)';
      process.stdout.write(`skipped: ${reason}\n`);
      ctx.skip(reason);
    }

    const run = await runAlone([`/usr/bin/${QEMU_ARM64}`, copy, '--version']);

    expect(run).toEqual({ code: 0, stdout: `tether-agent ${AGENT_VERSION}\n` });
  });
});
