/** What the SFTP server does to entries: stat, list, create, remove, rename, modes, links. */
import { createHash } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import {
  chmod,
  chown,
  link,
  lstat,
  mkdir,
  readlink,
  realpath,
  rename,
  rmdir,
  stat,
  statfs,
  symlink,
  truncate,
  unlink,
  utimes,
} from 'node:fs/promises';
import {
  closeFd,
  fchmodFd,
  fchownFd,
  fstatFd,
  fsyncFd,
  ftruncateFd,
  futimesFd,
  openFd,
  readFd,
} from './fd-io.ts';
import { AttrExt, type Attrs, type LinkType, type NameEntry } from '@tether/protocol/sftp';
import { O_PATH, procPath, Refused, type CheckedFs } from './checked-fs.ts';
import { joinPath, PATH_MAX_BYTES } from './path-policy.ts';
import { Owners } from './owners.ts';

const { O_RDONLY, O_NOFOLLOW, O_NONBLOCK, O_CREAT, O_EXCL } = constants;
/** Temporary files the endpoint writes saves and uploads into: `.name.tether-<hex>.tmp`. */
const TEMPORARY_NAME = /^\..*\.tether-[0-9a-f]{8,64}\.tmp$/s;
const HASH_CHUNK_BYTES = 256 * 1024;
const SIX_MONTHS_MS = 182 * 24 * 3600 * 1000;
const MONTHS = 'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ');

/**
 * One lock per target path for compare-and-rename. Every file channel of this agent runs in
 * this one process, so two engineers saving the same file (through any endpoint process)
 * queue here, and the second finds the first one's content.
 */
const renameLocks = new Map<string, Promise<void>>();
const owners = new Owners();

export class EntryOps {
  /** Temporary files created on this channel and not yet renamed or removed. */
  private readonly temporaries = new Map<string, { path: Buffer; ino: number }>();

  constructor(private readonly fs: CheckedFs) {}

  async create(path: Buffer, flags: number, mode: number): Promise<{ fd: number; real: Buffer }> {
    const anchor = await this.fs.anchor(path, 'write');
    try {
      const fd = await openFd(anchor.at, flags | O_NOFOLLOW | O_NONBLOCK, mode & 0o7777);
      if ((flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL) && isTemporary(anchor.name)) {
        const { ino } = await fstatFd(fd);
        this.temporaries.set(anchor.path.toString('latin1'), { path: anchor.path, ino });
      }
      return { fd, real: anchor.path };
    } finally {
      await anchor.release();
    }
  }

  async lstatAttrs(path: Buffer): Promise<Attrs> {
    const { stats, at } = await this.fs.lstat(path);
    return this.describe(stats, stats.isSymbolicLink() ? await this.linkOf(at) : undefined);
  }

  async statAttrs(path: Buffer): Promise<Attrs> {
    const real = await this.fs.resolve(path);
    return this.describe((await this.fs.lstat(real)).stats);
  }

  /** One listed entry, or null when it vanished meanwhile or the policy hides it. */
  async listEntry(dirFd: number, dirPath: Buffer, name: Buffer): Promise<NameEntry | null> {
    if (!this.fs.policy.allows(joinPath(dirPath, name))) return null;
    const at = procPath(dirFd, name);
    let stats: Stats;
    try {
      stats = await lstat(at);
    } catch {
      return null;
    }
    const attrs = await this.describe(
      stats,
      stats.isSymbolicLink() ? await this.linkOf(at) : undefined,
    );
    return { filename: name, longname: await longname(stats, name), attrs };
  }

  async describe(stats: Stats, link?: { target: Buffer; type: LinkType }): Promise<Attrs> {
    const extended = new Map<string, Buffer>();
    const user = await owners.user(stats.uid);
    const group = await owners.group(stats.gid);
    if (user) extended.set(AttrExt.owner, Buffer.from(user));
    if (group) extended.set(AttrExt.group, Buffer.from(group));
    extended.set(AttrExt.mtimeNs, Buffer.from(String(Math.round(stats.mtimeMs * 1000) * 1000)));
    extended.set(AttrExt.ino, Buffer.from(String(stats.ino)));
    if (link) {
      extended.set(AttrExt.link, link.target);
      extended.set(AttrExt.linkType, Buffer.from(link.type));
    }
    return {
      size: stats.size,
      uid: stats.uid,
      gid: stats.gid,
      mode: stats.mode,
      atime: Math.floor(stats.atimeMs / 1000),
      mtime: Math.floor(stats.mtimeMs / 1000),
      extended,
    };
  }

  async setstat(path: Buffer, attrs: Attrs): Promise<void> {
    const anchor = await this.fs.anchor(path, 'write');
    try {
      // An O_PATH descriptor of the entry itself: never a symlink's target, and needs no
      // read permission. Changes go through /proc/self/fd/N, which is that very inode.
      const fd = await openFd(anchor.at, O_PATH | O_NOFOLLOW);
      try {
        if ((await fstatFd(fd)).isSymbolicLink())
          throw new Refused('ENOTREG', 'a symlink has no mode of its own');
        const at = procPath(fd);
        if (attrs.uid !== undefined && attrs.gid !== undefined)
          await chown(at, attrs.uid, attrs.gid);
        if (attrs.mode !== undefined) await chmod(at, attrs.mode & 0o7777);
        if (attrs.size !== undefined) await truncate(at, attrs.size);
        if (attrs.atime !== undefined && attrs.mtime !== undefined)
          await utimes(at, attrs.atime, attrs.mtime);
      } finally {
        await closeFd(fd);
      }
    } finally {
      await anchor.release();
    }
  }

  async fsetstat(fd: number, attrs: Attrs): Promise<void> {
    if (attrs.uid !== undefined && attrs.gid !== undefined)
      await fchownFd(fd, attrs.uid, attrs.gid);
    if (attrs.mode !== undefined) await fchmodFd(fd, attrs.mode & 0o7777);
    if (attrs.size !== undefined) await ftruncateFd(fd, attrs.size);
    if (attrs.atime !== undefined && attrs.mtime !== undefined)
      await futimesFd(fd, attrs.atime, attrs.mtime);
  }

  remove(path: Buffer): Promise<void> {
    return this.atEntry(path, async (at, real) => {
      await unlink(at);
      this.temporaries.delete(real.toString('latin1'));
    });
  }

  mkdir(path: Buffer, mode = 0o755): Promise<void> {
    return this.atEntry(path, (at) => mkdir(at, mode & 0o7777));
  }

  rmdir(path: Buffer): Promise<void> {
    return this.atEntry(path, (at) => rmdir(at));
  }

  /** rename(2); without `replace`, an existing target is refused (SFTP v3's RENAME). */
  async rename(from: Buffer, to: Buffer, replace: boolean): Promise<void> {
    await this.atTwo(from, to, async (a, b, realFrom) => {
      if (
        !replace &&
        (await lstat(b).then(
          () => true,
          () => false,
        ))
      ) {
        throw Object.assign(new Error('target exists'), { code: 'EEXIST' });
      }
      await rename(a, b);
      this.temporaries.delete(realFrom.toString('latin1'));
    });
  }

  async hardlink(from: Buffer, to: Buffer): Promise<void> {
    await this.atTwo(from, to, (a, b) => link(a, b));
  }

  async readlink(path: Buffer): Promise<Buffer> {
    const anchor = await this.fs.anchor(path, 'read');
    try {
      return await readlink(anchor.at, { encoding: 'buffer' });
    } finally {
      await anchor.release();
    }
  }

  async symlink(target: Buffer, path: Buffer): Promise<void> {
    if (target.length === 0 || target.length > PATH_MAX_BYTES || target.includes(0))
      throw new Refused('EBADPATH', 'a symlink target must be 1 to 4095 bytes without NUL');
    await this.atEntry(path, (at) => symlink(target, at));
  }

  async fsync(fd: number): Promise<void> {
    await fsyncFd(fd);
  }

  /** statvfs@openssh.com's eleven numbers, from statfs(2). */
  async statvfs(path: Buffer): Promise<number[]> {
    const real = await this.fs.resolve(path);
    const s = await statfs(real);
    return [s.bsize, s.bsize, s.blocks, s.bfree, s.bavail, s.files, s.ffree, s.ffree, 0, 0, 255];
  }

  /**
   * Renames `temp` over `target` if `target`'s SHA-256 is still `expected` (empty: if it does
   * not exist), under this agent's lock for `target`.
   */
  async casRename(temp: Buffer, target: Buffer, expected: string): Promise<void> {
    await this.atTwo(temp, target, async (a, b, realTemp, realTarget) => {
      await withLock(realTarget.toString('latin1'), async () => {
        if (expected === '') {
          await link(a, b).catch((error: NodeJS.ErrnoException) => {
            if (error.code === 'EEXIST')
              throw new Refused('ECONFLICT', 'the file was created meanwhile');
            throw error;
          });
          await unlink(a);
        } else {
          const current = await hashOf(b);
          if (current === null) throw new Refused('ECONFLICT', 'the file was deleted meanwhile');
          if (current !== expected) throw new Refused('ECONFLICT', 'the file changed meanwhile');
          await rename(a, b);
        }
        this.temporaries.delete(realTemp.toString('latin1'));
      });
    });
  }

  /** Removes this channel's temporary files that were never renamed: no half file stays. */
  async removeTemporaries(): Promise<number> {
    let removed = 0;
    for (const { path, ino } of this.temporaries.values()) {
      try {
        const anchor = await this.fs.anchor(path, 'write');
        try {
          if ((await lstat(anchor.at)).ino === ino) {
            await unlink(anchor.at);
            removed++;
          }
        } finally {
          await anchor.release();
        }
      } catch {
        // Gone already, or its folder is: nothing of ours is left there.
      }
    }
    this.temporaries.clear();
    return removed;
  }

  private async linkOf(at: Buffer): Promise<{ target: Buffer; type: LinkType }> {
    const target = await readlink(at, { encoding: 'buffer' });
    let type: LinkType;
    try {
      const real = await realpath(at, { encoding: 'buffer' });
      if (!this.fs.policy.allows(real)) type = 'outside';
      else {
        const stats = await stat(real);
        type = stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : 'other';
      }
    } catch (error) {
      type = (error as NodeJS.ErrnoException).code === 'ELOOP' ? 'loop' : 'missing';
    }
    return { target, type };
  }

  private async atEntry(path: Buffer, work: (at: Buffer, real: Buffer) => Promise<unknown>) {
    const anchor = await this.fs.anchor(path, 'write');
    try {
      await work(anchor.at, anchor.path);
    } finally {
      await anchor.release();
    }
  }

  private async atTwo(
    from: Buffer,
    to: Buffer,
    work: (a: Buffer, b: Buffer, realFrom: Buffer, realTo: Buffer) => Promise<unknown>,
  ): Promise<void> {
    const a = await this.fs.anchor(from, 'write');
    try {
      const b = await this.fs.anchor(to, 'write');
      try {
        await work(a.at, b.at, a.path, b.path);
      } finally {
        await b.release();
      }
    } finally {
      await a.release();
    }
  }
}

function isTemporary(name: Buffer): boolean {
  return TEMPORARY_NAME.test(name.toString('latin1'));
}

async function withLock(key: string, work: () => Promise<void>): Promise<void> {
  const before = renameLocks.get(key) ?? Promise.resolve();
  const mine = before.then(work, work);
  const settled = mine.catch(() => {});
  renameLocks.set(key, settled);
  try {
    await mine;
  } finally {
    if (renameLocks.get(key) === settled) renameLocks.delete(key);
  }
}

/** SHA-256 of a regular file (not followed if a symlink), or null when it does not exist. */
async function hashOf(at: Buffer): Promise<string | null> {
  let fd: number;
  try {
    fd = await openFd(at, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    if (!(await fstatFd(fd)).isFile()) throw new Refused('ENOTREG', 'not a regular file');
    const hash = createHash('sha256');
    const buffer = Buffer.allocUnsafe(HASH_CHUNK_BYTES);
    for (let position = 0; ;) {
      const { bytesRead } = await readFd(fd, buffer, 0, buffer.length, position);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    return hash.digest('hex');
  } finally {
    await closeFd(fd);
  }
}

/** An `ls -l` line, as SFTP v3 clients show it. */
async function longname(stats: Stats, name: Buffer): Promise<Buffer> {
  const user = (await owners.user(stats.uid)) ?? String(stats.uid);
  const group = (await owners.group(stats.gid)) ?? String(stats.gid);
  const date = new Date(stats.mtimeMs);
  const recent = Math.abs(Date.now() - stats.mtimeMs) < SIX_MONTHS_MS;
  const clock = recent
    ? `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`
    : String(date.getFullYear()).padStart(5);
  const when = `${MONTHS[date.getMonth()]} ${String(date.getDate()).padStart(2)} ${clock}`;
  const line =
    `${modeString(stats.mode)} ${String(stats.nlink).padStart(4)} ${user.padEnd(8)} ` +
    `${group.padEnd(8)} ${String(stats.size).padStart(8)} ${when} `;
  return Buffer.concat([Buffer.from(line), name]);
}

function modeString(mode: number): string {
  const type = constants.S_IFMT & mode;
  const kind =
    type === constants.S_IFDIR
      ? 'd'
      : type === constants.S_IFLNK
        ? 'l'
        : type === constants.S_IFIFO
          ? 'p'
          : type === constants.S_IFSOCK
            ? 's'
            : type === constants.S_IFCHR
              ? 'c'
              : type === constants.S_IFBLK
                ? 'b'
                : '-';
  const bits = 'rwxrwxrwx'
    .split('')
    .map((letter, i) => (mode & (0o400 >> i) ? letter : '-'))
    .join('');
  return kind + bits;
}
