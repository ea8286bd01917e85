/** Native addons: from node_modules in development, from SEA assets in the agent executable. */
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { constants as osConstants, homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as sea from 'node:sea';
import type * as NodePty from '@lydell/node-pty';
import { AGENT_VERSION } from '@tether/protocol';

/** The addons the executable carries; the SEA asset of each is `<name>.node`. */
export type AddonName = 'pty' | 'bufferutil';

export type PtyModule = typeof NodePty;

/** The subset of bufferutil that ws calls. */
export interface BufferUtil {
  mask(source: Buffer, mask: Buffer, output: Buffer, offset: number, length: number): void;
  unmask(buffer: Buffer, mask: Buffer): void;
}

export interface SelfTestCheck {
  name: string;
  ok: boolean;
  detail: string;
}

/** Under qemu-user an arm64 agent starts a pty in about a second; natively in milliseconds. */
const PTY_CHECK_TIMEOUT_MS = 15_000;
/** node-pty can report exit just before the last output arrives; wait this long for it. */
const PTY_DRAIN_MS = 200;
/** ws hands frames of 48 bytes and more to bufferutil; test well past that and unaligned. */
const MASK_TEST_BYTES = 4099;
/** Private to the user: nobody else may swap a library we are about to load. */
const CACHE_DIR_MODE = 0o700;
const GROUP_OTHER_BITS = 0o077;
/** Enough of the content hash to tell two builds of one version apart. */
const HASH_NAME_CHARS = 16;

export class AddonError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AddonError';
  }
}

const loaded = new Map<AddonName, { exports: unknown; file: string }>();

/** True inside the single-executable agent. */
export function isSea(): boolean {
  return sea.isSea();
}

/**
 * Loads an addon carried as a SEA asset: written once per version and user, then dlopened.
 * Only the executable's shims call this; elsewhere the packages load their own binaries.
 */
export function loadAddon(name: AddonName): unknown {
  const known = loaded.get(name);
  if (known) return known.exports;
  if (!isSea()) throw new AddonError(`addon ${name} is carried only by the agent executable`);

  const bytes = Buffer.from(sea.getRawAsset(`${name}.node`) as ArrayBuffer);
  const hash = createHash('sha256').update(bytes).digest('hex').slice(0, HASH_NAME_CHARS);
  const failures: unknown[] = [];
  for (const base of cacheBases()) {
    try {
      const file = materialize(join(base, cacheDirName()), `${name}-${hash}.node`, bytes);
      const addon = { exports: {} as unknown };
      process.dlopen(addon, file, osConstants.dlopen.RTLD_NOW);
      loaded.set(name, { exports: addon.exports, file });
      return addon.exports;
    } catch (error) {
      // A noexec or read-only mount is common for /tmp on hardened hosts: try the next place.
      failures.push(error);
    }
  }
  throw new AddonError(`cannot load addon ${name} in any of ${cacheBases().join(', ')}`, {
    cause: new AggregateError(failures),
  });
}

/** Where a loaded addon came from, for the self-test's report. */
export function addonFile(name: AddonName): string | undefined {
  return loaded.get(name)?.file;
}

/** The node-pty module, with its binding from node_modules or from the executable. */
export async function loadPty(): Promise<PtyModule> {
  const module = (await import('@lydell/node-pty')) as PtyModule & { default?: PtyModule };
  return module.default ?? module;
}

/** The bufferutil addon that ws uses for masking, loaded the way ws loads it. */
export function loadBufferUtil(): BufferUtil {
  if (isSea()) return loadAddon('bufferutil') as BufferUtil;
  return createRequire(import.meta.url)('bufferutil') as BufferUtil;
}

/** `tether-agent --self-test`: a pty runs a program, and bufferutil masks and unmasks. */
export async function runSelfTest(): Promise<SelfTestCheck[]> {
  return [await checkPty(), checkBufferUtil()];
}

async function checkPty(): Promise<SelfTestCheck> {
  const name = 'pty';
  try {
    const pty = await loadPty();
    const { output, exitCode } = await runInPty(pty, '/bin/echo', ['ok']);
    const ok = exitCode === 0 && output.trim() === 'ok';
    const from = addonFile('pty') ?? 'node_modules';
    const printed = JSON.stringify(output);
    return { name, ok, detail: `/bin/echo ok printed ${printed}, exit ${exitCode} (${from})` };
  } catch (error) {
    return { name, ok: false, detail: describe(error) };
  }
}

function runInPty(
  pty: PtyModule,
  file: string,
  args: string[],
): Promise<{ output: string; exitCode: number }> {
  return new Promise((resolve, reject) => {
    const child = pty.spawn(file, args, { name: 'xterm', cols: 80, rows: 24, env: {} });
    let output = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new AddonError(`${file} gave no exit in ${PTY_CHECK_TIMEOUT_MS} ms`));
    }, PTY_CHECK_TIMEOUT_MS);
    child.onData((data) => {
      output += data;
    });
    child.onExit(({ exitCode }) => {
      clearTimeout(timer);
      setTimeout(() => resolve({ output, exitCode }), PTY_DRAIN_MS);
    });
  });
}

function checkBufferUtil(): SelfTestCheck {
  const name = 'bufferutil';
  try {
    const bufferUtil = loadBufferUtil();
    const mask = randomBytes(4);
    const payload = randomBytes(MASK_TEST_BYTES);
    const offset = 3;
    const framed = Buffer.alloc(offset + payload.length);
    bufferUtil.mask(payload, mask, framed, offset, payload.length);
    const masked = framed.subarray(offset);
    const changed = !masked.equals(payload);
    bufferUtil.unmask(masked, mask);
    const ok = changed && masked.equals(payload);
    const from = addonFile('bufferutil') ?? 'node_modules';
    return { name, ok, detail: `mask and unmask of ${MASK_TEST_BYTES} bytes (${from})` };
  } catch (error) {
    return { name, ok: false, detail: describe(error) };
  }
}

/** Per version and user, so two agents or two versions never share or replace a file. */
function cacheDirName(): string {
  return `tether-agent-${AGENT_VERSION}-${process.getuid?.() ?? 'user'}`;
}

function cacheBases(): string[] {
  const bases = [process.env.XDG_RUNTIME_DIR, tmpdir(), join(homedir(), '.cache')];
  return [...new Set(bases.filter((base): base is string => !!base && base.startsWith('/')))];
}

/** Writes the addon beside its final name and renames it there, unless it is there already. */
function materialize(dir: string, fileName: string, bytes: Buffer): string {
  ensurePrivateDir(dir);
  const file = join(dir, fileName);
  if (sameContent(file, bytes)) return file;

  const temp = join(dir, `.${fileName}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    writeFileSync(temp, bytes, { mode: CACHE_DIR_MODE, flag: 'wx' });
    renameSync(temp, file);
  } finally {
    rmSync(temp, { force: true });
  }
  return file;
}

/** Refuses a folder someone else owns or can write: /tmp is shared, and we dlopen from here. */
function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: CACHE_DIR_MODE });
  const stat = lstatSync(dir);
  const uid = process.getuid?.();
  if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) {
    throw new AddonError(`${dir} is not a folder of this user`);
  }
  if (stat.mode & GROUP_OTHER_BITS) chmodSync(dir, CACHE_DIR_MODE);
}

function sameContent(file: string, bytes: Buffer): boolean {
  try {
    return readFileSync(file).equals(bytes);
  } catch {
    // Not there yet (or unreadable): the caller writes it afresh.
    return false;
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${describe(error.cause)}` : '';
  if (error instanceof AggregateError) return error.errors.map(describe).join('; ');
  return `${error.message}${cause}`;
}
