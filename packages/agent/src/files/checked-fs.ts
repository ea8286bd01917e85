/**
 * File system access that cannot be steered outside the session's policy: every path is
 * resolved (symlinks followed), checked, opened without following a final symlink, and the
 * opened descriptor's real path (/proc/self/fd/N) is checked again. Work on an entry goes
 * through a descriptor of its folder, so swapping a folder for a symlink after the check
 * changes nothing: the kernel walks from the folder that was checked.
 */
import { constants, type Stats } from 'node:fs';
import { lstat, readlink, realpath } from 'node:fs/promises';
import { closeFd, openFd } from './fd-io.ts';
import { joinPath, normalize, splitPath, type PathPolicy } from './path-policy.ts';

const { O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK } = constants;
/** O_PATH (Linux; the same value on x86-64 and arm64): a descriptor naming an inode, no I/O. */
export const O_PATH = 0o10000000;

export type RefusalCode =
  'EPOLICY' | 'EREADONLY' | 'EBADPATH' | 'ECHANGED' | 'ENOTREG' | 'ECONFLICT';

/** A request the policy or the path's shape rules out; the message is shown to people. */
export class Refused extends Error {
  constructor(
    readonly errno: RefusalCode,
    message: string,
  ) {
    super(message);
    this.name = 'Refused';
  }
}

/** Test seams: after a path passed its check and before it is used; before a read's I/O. */
export interface CheckHooks {
  afterCheck?(path: Buffer): Promise<void> | void;
  beforeRead?(): Promise<void> | void;
}

/** An entry reached through a descriptor of its (checked) folder. */
export interface Anchor {
  /** The entry's path with its folder's symlinks resolved (the entry itself not followed). */
  path: Buffer;
  parent: Buffer;
  name: Buffer;
  /** `/proc/self/fd/N/name`: the entry inside the folder that was checked. */
  at: Buffer;
  release(): Promise<void>;
}

export type Purpose = 'read' | 'write';

export class CheckedFs {
  constructor(
    readonly policy: PathPolicy,
    private readonly hooks: CheckHooks = {},
  ) {}

  /** A request's path, normalized; relative paths start at the policy's first folder. */
  parse(raw: Buffer): Buffer {
    const absolute = raw[0] === 0x2f ? raw : joinPath(this.policy.home, raw);
    const path = normalize(absolute);
    if (!path) throw new Refused('EBADPATH', describeBadPath(raw));
    return path;
  }

  /** Follows every symlink and checks the result; the resolved path. */
  async resolve(path: Buffer, purpose: Purpose = 'read'): Promise<Buffer> {
    const real = await realpath(path, { encoding: 'buffer' });
    this.check(real, purpose);
    return real;
  }

  /**
   * Opens what `path` resolves to. `flags` get O_NOFOLLOW and O_NONBLOCK (a FIFO must not
   * block the agent); the caller checks the file's type on the descriptor.
   */
  async openResolved(path: Buffer, flags: number, purpose: Purpose): Promise<OpenedFd> {
    const real = await this.resolve(path, purpose);
    await this.hooks.afterCheck?.(real);
    const fd = await openFd(real, flags | O_NOFOLLOW | O_NONBLOCK).catch((error) => {
      throw changedIfLoop(error);
    });
    await this.verify(fd, real, true);
    return { fd, real };
  }

  /**
   * Anchors an entry for work that does not follow it (lstat, unlink, rename, mkdir, create).
   * Writing needs the folder and the entry allowed, so an allowed folder itself cannot be
   * deleted or renamed away from its parent.
   */
  async anchor(path: Buffer, purpose: Purpose): Promise<Anchor> {
    const split = splitPath(path);
    if (!split) throw new Refused('EBADPATH', 'the root folder cannot be changed this way');
    const parent = await realpath(split.parent, { encoding: 'buffer' });
    const entry = joinPath(parent, split.name);
    this.check(entry, purpose);
    if (purpose === 'write') this.check(parent, purpose);
    await this.hooks.afterCheck?.(parent);
    const fd = await openFd(parent, O_PATH | O_DIRECTORY | O_NOFOLLOW).catch((error) => {
      throw changedIfLoop(error);
    });
    // The folder itself need not be allowed for reading an entry in it (an allowed folder's
    // own entry lives in its parent); it was checked above when writing.
    await this.verify(fd, parent, purpose === 'write');
    return {
      path: entry,
      parent,
      name: split.name,
      at: procPath(fd, split.name),
      release: () => closeFd(fd),
    };
  }

  /** Stats an entry without following it; the root folder is stat'ed directly. */
  async lstat(path: Buffer): Promise<{ stats: Stats; at: Buffer; path: Buffer }> {
    if (path.length === 1) {
      this.check(path, 'read');
      return { stats: await lstat(path), at: path, path };
    }
    const anchor = await this.anchor(path, 'read');
    try {
      return { stats: await lstat(anchor.at), at: anchor.at, path: anchor.path };
    } finally {
      await anchor.release();
    }
  }

  check(real: Buffer, purpose: Purpose): void {
    if (purpose === 'write' && this.policy.readOnly)
      throw new Refused('EREADONLY', 'this file session may only read');
    if (!this.policy.allows(real))
      throw new Refused('EPOLICY', 'the path is outside the folders this account allows');
  }

  /** The descriptor must name exactly the checked path; anything else was swapped under us. */
  private async verify(fd: number, expected: Buffer, allowed: boolean): Promise<void> {
    const actual = await readlink(`/proc/self/fd/${fd}`, { encoding: 'buffer' }).catch(() => null);
    if (actual && actual.equals(expected) && (!allowed || this.policy.allows(actual))) return;
    await closeFd(fd);
    throw new Refused('ECHANGED', 'the path changed while it was being opened');
  }
}

export interface OpenedFd {
  fd: number;
  real: Buffer;
}

export function procPath(fd: number, name?: Buffer): Buffer {
  const base = Buffer.from(`/proc/self/fd/${fd}`);
  return name ? Buffer.concat([base, Buffer.from('/'), name]) : base;
}

/**
 * A path that resolved a moment ago and now meets a symlink (ELOOP under O_NOFOLLOW) or a
 * non-folder where a folder was (ENOTDIR) was swapped in between.
 */
function changedIfLoop(error: NodeJS.ErrnoException): Error {
  if (error.code === 'ELOOP' || error.code === 'ENOTDIR')
    return new Refused('ECHANGED', 'the path changed while it was being opened');
  return error;
}

function describeBadPath(raw: Buffer): string {
  if (raw.includes(0)) return 'the path holds a NUL byte';
  if (raw.length > 4095) return 'the path is longer than 4095 bytes';
  if (raw.toString('latin1').split('/').includes('..')) return 'the path must not hold .. segments';
  return 'the path must be absolute';
}
