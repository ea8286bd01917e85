/**
 * File operations of a session: list, stat, view text, diff, save (atomic, with the conflict
 * check), make folders, rename, delete, change modes. Each is audited through
 * FileService.operate and, where issue 4 asks, kept in the history.
 */
import { AUDIT, FILE_TEXT_MAX_BYTES, type FileEntry, type FileTextView } from '@tether/protocol';
import { OpenFlag, type SftpClient } from '@tether/protocol/sftp';
import { entryOf, typeOf } from './entries.ts';
import {
  conflictWith,
  decodePage,
  listFolder,
  readEditable,
  readRange,
  removeTree,
  sha256,
  unifiedDiff,
} from './file-content.ts';
import { errnoOf } from './file-errors.ts';
import type { FileService, OperationKinds } from './file-service.ts';
import { discard, temporaryFor, writeTemporary } from './atomic-write.ts';
import { baseName, display, shown } from './paths.ts';
import type { Principal } from '../auth/principal.ts';

/** Entries in one listing; a folder with more answers `truncated: true`. */
export const LIST_MAX_ENTRIES = 10_000;

export interface Listing {
  path: string;
  pathB64?: string;
  entries: FileEntry[];
  truncated: boolean;
}

export interface Saved {
  path: string;
  pathB64?: string;
  hash: string;
  previousHash: string;
  diff: string;
  unchanged: boolean;
  ownerKept: boolean;
}

export class FileOps {
  constructor(private readonly files: FileService) {}

  list(p: Principal, id: string, path: Buffer): Promise<Listing> {
    const kinds = { ok: 'fileListed', failed: 'fileListFailed' } as const;
    return this.files.operate(p, id, 'read', kinds, { path: display(path) }, async (w) => {
      const { client, release } = await w.lease('read');
      try {
        const { entries, truncated } = await listFolder(client, path, LIST_MAX_ENTRIES);
        await this.files.history.record(w.row, {
          code: AUDIT.fileListed.code,
          kind: 'list',
          path,
          detail: { entries: entries.length, truncated },
        });
        await this.files.live.noteCwd(w.row.id, path);
        return {
          value: { ...shown(path), entries, truncated },
          params: {},
          result: { entries: entries.length, truncated },
        };
      } finally {
        release();
      }
    });
  }

  stat(p: Principal, id: string, path: Buffer): Promise<FileEntry> {
    const kinds = { ok: 'fileStat', failed: 'fileStatFailed' } as const;
    return this.files.operate(p, id, 'read', kinds, { path: display(path) }, async (w) => {
      const { client, release } = await w.lease('read');
      try {
        const entry = entryOf(path, baseName(path), await client.lstat(path));
        return { value: entry, params: {}, result: { type: entry.type, size: entry.size } };
      } finally {
        release();
      }
    });
  }

  /**
   * A page of a file as text. Files up to FILE_TEXT_MAX_BYTES are read whole and hashed (the
   * hash a save must name); larger ones are read only in the page asked for, read-only.
   */
  text(
    p: Principal,
    id: string,
    path: Buffer,
    page: { offset?: number; length?: number; tail?: number },
  ): Promise<FileTextView> {
    const kinds = { ok: 'fileViewed', failed: 'fileViewFailed' } as const;
    const params = { path: display(path), ...page };
    return this.files.operate(p, id, 'read', kinds, params, async (w) => {
      const { client, release } = await w.lease('read');
      try {
        const handle = await client.open(path, OpenFlag.READ);
        let size: number;
        let hash: string | null = null;
        let start: number;
        let bytes: Buffer;
        try {
          size = (await client.fstat(handle)).size ?? 0;
          const length = Math.min(page.length ?? FILE_TEXT_MAX_BYTES, FILE_TEXT_MAX_BYTES);
          start = page.tail !== undefined ? Math.max(0, size - page.tail) : (page.offset ?? 0);
          if (size <= FILE_TEXT_MAX_BYTES) {
            const whole = await readRange(client, handle, 0, size);
            size = whole.length;
            hash = sha256(whole);
            bytes = whole.subarray(start, start + length);
          } else {
            bytes = await readRange(client, handle, start, Math.min(size, start + length));
          }
        } finally {
          await client.close(handle).catch(() => {});
        }

        const reachedEnd = start + bytes.length >= size;
        const decoded = decodePage(bytes, reachedEnd);
        const view: FileTextView = {
          ...shown(path),
          size,
          hash,
          offset: start,
          length: decoded.length,
          content: decoded.binary ? '' : decoded.text,
          binary: decoded.binary,
          eof: start + decoded.length >= size,
          readOnly: size > FILE_TEXT_MAX_BYTES || decoded.binary || w.row.can_write !== 1,
        };
        if (decoded.binary) view.base64 = bytes.toString('base64');

        // A view is recorded when another file opens, or this one opens again changed; a
        // follow (tail) poll of the file already open is not a new view.
        const samePath = w.row.open_b64 === path.toString('base64');
        if (!samePath || (page.tail === undefined && hash !== w.row.open_hash)) {
          await this.files.history.record(w.row, {
            code: AUDIT.fileViewed.code,
            kind: 'view',
            path,
            afterHash: hash,
            bytes: size,
          });
          await this.files.live.noteOpen(w.row.id, path, hash);
        }
        return { value: view, params: {}, result: { size, hash, bytes: decoded.length } };
      } finally {
        release();
      }
    });
  }

  diff(p: Principal, id: string, path: Buffer, content: string, baseHash: string) {
    const kinds = { ok: 'fileDiffed', failed: 'fileDiffFailed' } as const;
    return this.files.operate(
      p,
      id,
      'read',
      kinds,
      { path: display(path), baseHash },
      async (w) => {
        const { client, release } = await w.lease('read');
        try {
          const current = await readEditable(client, path);
          const currentHash = sha256(current.bytes);
          const diff = unifiedDiff(path, current.text, content, 'on the server', 'edited');
          const conflict = currentHash !== baseHash;
          return {
            value: { diff, currentHash, conflict },
            params: {},
            result: { currentHash, conflict },
          };
        } finally {
          release();
        }
      },
    );
  }

  /**
   * Saves `content` over the file if it still has `baseHash`; otherwise refuses with a
   * conflict whose details hold the current hash and the diff from it to `content`.
   */
  save(p: Principal, id: string, path: Buffer, content: string, baseHash: string): Promise<Saved> {
    const kinds = { ok: 'fileSaved', failed: 'fileSaveFailed' } as const;
    return this.files.operate(
      p,
      id,
      'write',
      kinds,
      { path: display(path), baseHash },
      async (w) => {
        const { client, release } = await w.lease('write');
        try {
          const real = await client.realpath(path);
          const current = await readEditable(client, real);
          const currentHash = sha256(current.bytes);
          if (currentHash !== baseHash) throw conflictWith(path, current.text, content);
          const bytes = Buffer.from(content, 'utf8');
          const hash = sha256(bytes);
          if (hash === currentHash) {
            const value = {
              ...shown(path),
              hash,
              previousHash: currentHash,
              diff: '',
              unchanged: true,
              ownerKept: true,
            };
            return { value, params: {}, result: { hash, unchanged: true } };
          }

          const temp = temporaryFor(real);
          const keep = { mode: current.mode, uid: current.uid, gid: current.gid };
          const written = await writeTemporary(client, temp, [bytes], keep);
          try {
            await client.casRename(temp, real, currentHash);
          } catch (error) {
            await discard(client, temp);
            if (errnoOf(error) !== 'ECONFLICT') throw error;
            // Someone saved in between: show them what is there now, keep nothing of ours.
            const now = await readEditable(client, real).catch(() => ({
              text: '',
              bytes: Buffer.alloc(0),
            }));
            throw conflictWith(path, now.text, content, sha256(now.bytes));
          }

          const history = this.files.history;
          history.keep(current.bytes);
          history.keep(bytes);
          const diff = unifiedDiff(path, current.text, content, 'before', 'saved');
          await history.record(w.row, {
            code: AUDIT.fileSaved.code,
            kind: 'save',
            path,
            beforeHash: currentHash,
            afterHash: hash,
            bytes: bytes.length,
            diff,
            detail: real.equals(path) ? undefined : { realPath: display(real) },
          });
          this.files.live.publish(w.row.id, { type: 'saved', ...shown(path), hash });
          await this.files.live.noteOpen(w.row.id, path, hash);
          const value = {
            ...shown(path),
            hash,
            previousHash: currentHash,
            diff,
            unchanged: false,
            ownerKept: written.ownerKept,
          };
          return {
            value,
            params: {},
            result: {
              hash,
              previousHash: currentHash,
              bytes: bytes.length,
              ownerKept: written.ownerKept,
            },
          };
        } finally {
          release();
        }
      },
    );
  }

  mkdir(p: Principal, id: string, path: Buffer, mode = 0o755): Promise<FileEntry> {
    const kinds = { ok: 'fileFolderMade', failed: 'fileFolderMakeFailed' } as const;
    return this.change(p, id, kinds, path, { mode }, async (client) => {
      await client.mkdir(path, { mode });
      const entry = entryOf(path, baseName(path), await client.lstat(path));
      return { entry, kind: 'mkdir' as const, detail: { mode } };
    });
  }

  rename(p: Principal, id: string, from: Buffer, to: Buffer): Promise<FileEntry> {
    const kinds = { ok: 'fileRenamed', failed: 'fileRenameFailed' } as const;
    return this.change(p, id, kinds, from, { to: display(to) }, async (client) => {
      await client.rename(from, to);
      const entry = entryOf(to, baseName(to), await client.lstat(to));
      return { entry, kind: 'rename' as const, toPath: to };
    });
  }

  remove(p: Principal, id: string, path: Buffer, recursive: boolean): Promise<FileEntry | null> {
    const kinds = { ok: 'fileDeleted', failed: 'fileDeleteFailed' } as const;
    return this.change(p, id, kinds, path, { recursive }, async (client) => {
      const attrs = await client.lstat(path);
      const type = typeOf(attrs.mode ?? 0);
      const counts = { files: 0, folders: 0 };
      if (type === 'dir') {
        if (recursive) await removeTree(client, path, counts);
        else {
          await client.rmdir(path);
          counts.folders++;
        }
      } else {
        await client.remove(path);
        counts.files++;
      }
      return { entry: null, kind: 'delete' as const, detail: { type, ...counts } };
    });
  }

  chmod(p: Principal, id: string, path: Buffer, mode: number): Promise<FileEntry> {
    const kinds = { ok: 'fileModeChanged', failed: 'fileModeChangeFailed' } as const;
    return this.change(p, id, kinds, path, { mode: mode.toString(8) }, async (client) => {
      const before = (await client.lstat(path)).mode ?? 0;
      await client.setstat(path, { mode });
      const entry = entryOf(path, baseName(path), await client.lstat(path));
      const detail = { mode: mode.toString(8), before: (before & 0o7777).toString(8) };
      return { entry, kind: 'chmod' as const, detail };
    });
  }

  /** The frame of a change: a writable channel, the work, its history row. */
  private change<T extends FileEntry | null>(
    p: Principal,
    id: string,
    kinds: OperationKinds,
    path: Buffer,
    params: Record<string, unknown>,
    work: (client: SftpClient) => Promise<{
      entry: T;
      kind: 'mkdir' | 'rename' | 'delete' | 'chmod';
      toPath?: Buffer;
      detail?: Record<string, unknown>;
    }>,
  ): Promise<T> {
    return this.files.operate(
      p,
      id,
      'write',
      kinds,
      { path: display(path), ...params },
      async (w) => {
        const { client, release } = await w.lease('write');
        try {
          const done = await work(client);
          await this.files.history.record(w.row, {
            code: AUDIT[kinds.ok].code,
            kind: done.kind,
            path,
            toPath: done.toPath,
            detail: done.detail,
          });
          return { value: done.entry, params: {}, result: done.detail ?? {} };
        } finally {
          release();
        }
      },
    );
  }
}
