/** User and group names for uids and gids, read from /etc/passwd and /etc/group. */
import { readFile, stat } from 'node:fs/promises';

/** A listing asks for every entry's owner; the files' mtimes are checked at most this often. */
const RECHECK_MS = 1_000;

/**
 * The files are read again when their mtime changes. Users known only through NSS modules
 * (LDAP, systemd-homed) are not in them; those owners show as numbers, as `ls -n` would.
 */
class NameTable {
  private names = new Map<number, string>();
  private readMtimeMs = -1;
  private checkedAt = 0;
  private refreshing: Promise<void> | null = null;

  constructor(private readonly file: string) {}

  async lookup(id: number): Promise<string | undefined> {
    // Lookups arriving while the file is being read wait for it, rather than see no names.
    if (Date.now() - this.checkedAt >= RECHECK_MS)
      this.refreshing ??= this.refresh().finally(() => {
        this.checkedAt = Date.now();
        this.refreshing = null;
      });
    if (this.refreshing) await this.refreshing;
    return this.names.get(id);
  }

  private async refresh(): Promise<void> {
    let mtimeMs: number;
    try {
      mtimeMs = (await stat(this.file)).mtimeMs;
    } catch {
      // No such file (a minimal container): every owner shows as a number.
      this.names.clear();
      return;
    }
    if (mtimeMs === this.readMtimeMs) return;
    const names = new Map<number, string>();
    const text = await readFile(this.file, 'utf8').catch(() => '');
    for (const line of text.split('\n')) {
      const [name, , id] = line.split(':');
      const number = Number(id);
      if (name && Number.isInteger(number) && !names.has(number)) names.set(number, name);
    }
    this.names = names;
    this.readMtimeMs = mtimeMs;
  }
}

export class Owners {
  private readonly users = new NameTable('/etc/passwd');
  private readonly groups = new NameTable('/etc/group');

  user(uid: number): Promise<string | undefined> {
    return this.users.lookup(uid);
  }

  group(gid: number): Promise<string | undefined> {
    return this.groups.lookup(gid);
  }
}
