/**
 * Downloads and uploads: bytes stream between the HTTP client and the agent with backpressure
 * both ways and no whole-file buffer, so memory stays flat for any size. Downloads take a
 * Range (and If-Range with the ETag); uploads land in a temporary file renamed into place.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { AUDIT, TetherError, type FileEntry } from '@tether/protocol';
import { OpenFlag, sftpReadStream } from '@tether/protocol/sftp';
import type { Principal } from '../auth/principal.ts';
import { entryOf, etagOf, typeOf } from './entries.ts';
import { errnoOf } from './file-errors.ts';
import type { FileService, OperationOutcome } from './file-service.ts';
import { archiveFolder } from './folder-archive.ts';
import { discard, temporaryFor, writeTemporary } from './atomic-write.ts';
import { baseName, display, parentOf } from './paths.ts';

export interface DownloadRequest {
  range?: string;
  ifRange?: string;
}

export interface DownloadPlan {
  status: 200 | 206 | 416;
  headers: Record<string, string>;
  body: Readable | null;
}

export interface Uploaded {
  entry: FileEntry;
  hash: string;
}

type Range = { start: number; end: number } | 'unsatisfiable' | null;

export class FileTransfers {
  constructor(private readonly files: FileService) {}

  download(
    p: Principal,
    id: string,
    path: Buffer,
    request: DownloadRequest,
  ): Promise<DownloadPlan> {
    const kinds = { ok: 'fileDownloaded', failed: 'fileDownloadFailed' } as const;
    const params = { path: display(path), ...(request.range ? { range: request.range } : {}) };
    return this.files.operate(
      p,
      id,
      'read',
      kinds,
      params,
      async (w): Promise<OperationOutcome<DownloadPlan>> => {
        const { client, release } = await w.lease('read');
        let handed = false;
        try {
          const kind = typeOf((await client.stat(path)).mode ?? 0);
          const name = display(baseName(path)) || 'root';

          if (kind === 'dir') {
            const archive = archiveFolder(client, path);
            const counted = countBytes(archive.stream);
            const finished = Promise.all([archive.done, counted.done]).then(
              async ([totals, sent]) => {
                await this.files.history.record(w.row, {
                  code: AUDIT.fileDownloaded.code,
                  kind: 'download',
                  path,
                  bytes: totals.bytes,
                  detail: { archive: 'tar.gz', ...totals, sent },
                });
                return { archive: 'tar.gz', ...totals, sent };
              },
            );
            void finished.finally(release).catch(() => {});
            handed = true;
            return {
              value: {
                status: 200,
                headers: {
                  'content-type': 'application/gzip',
                  'content-disposition': attachment(`${name}.tar.gz`),
                },
                body: counted.stream,
              },
              params: {},
              finished,
            };
          }

          const handle = await client.open(path, OpenFlag.READ);
          const attrs = await client.fstat(handle);
          const size = attrs.size ?? 0;
          const etag = etagOf(attrs);
          let range = parseRange(request.range, size);
          if (request.ifRange !== undefined && request.ifRange !== etag) range = null;
          const headers: Record<string, string> = {
            'content-type': 'application/octet-stream',
            'content-disposition': attachment(name),
            'accept-ranges': 'bytes',
            etag,
          };
          if (range === 'unsatisfiable') {
            await client.close(handle).catch(() => {});
            return {
              value: {
                status: 416,
                headers: { ...headers, 'content-range': `bytes */${size}` },
                body: null,
              },
              params: {},
              result: { status: 416, size },
            };
          }
          const start = range?.start ?? 0;
          const end = range?.end ?? size - 1;
          headers['content-length'] = String(Math.max(0, end - start + 1));
          if (range) headers['content-range'] = `bytes ${start}-${end}/${size}`;

          // Exactly the bytes announced: a file that grows is cut at the size it had when opened,
          // one that shrinks fails the download (the client sees it short, not padded).
          const source = sftpReadStream(client, handle, { start, end: end + 1, exact: true });
          const counted = countBytes(source);
          const finished = counted.done.then(async (sent) => {
            await this.files.history.record(w.row, {
              code: AUDIT.fileDownloaded.code,
              kind: 'download',
              path,
              bytes: sent,
              detail: { size, ...(range ? { range: `${start}-${end}` } : {}) },
            });
            return { size, sent, etag, ...(range ? { range: `${start}-${end}` } : {}) };
          });
          void finished
            .finally(async () => {
              await client.close(handle).catch(() => {});
              release();
            })
            .catch(() => {});
          handed = true;
          return {
            value: { status: range ? 206 : 200, headers, body: counted.stream },
            params: {},
            finished,
          };
        } finally {
          if (!handed) release();
        }
      },
    );
  }

  /**
   * Streams `body` into a temporary file beside `path` and renames it into place: the target
   * has its old content or the whole new one, never a part. `length` (Content-Length), when
   * given, is checked against the free space first.
   */
  upload(
    p: Principal,
    id: string,
    path: Buffer,
    body: AsyncIterable<Buffer>,
    options: { overwrite: boolean; length: number | null },
  ): Promise<Uploaded> {
    const kinds = { ok: 'fileUploaded', failed: 'fileUploadFailed' } as const;
    const params = { path: display(path), overwrite: options.overwrite, length: options.length };
    return this.files.operate(p, id, 'write', kinds, params, async (w) => {
      const { client, release } = await w.lease('write');
      try {
        let target = path;
        let existing = await client.lstat(target).catch((error: unknown) => {
          if (errnoOf(error) === 'ENOENT') return null;
          throw error;
        });
        if (existing && typeOf(existing.mode ?? 0) === 'symlink') {
          // Like a save: the file the link points to gets the bytes, the link stays.
          target = await client.realpath(target);
          existing = await client.lstat(target);
        }
        if (existing && typeOf(existing.mode ?? 0) !== 'file')
          throw new TetherError(
            'invalid_request',
            'a folder or special file is there; upload into it by name',
          );
        if (existing && !options.overwrite)
          throw new TetherError(
            'conflict',
            'the file exists; upload with overwrite=1 to replace it',
          );
        if (options.length !== null) {
          const space = await client.statvfs(parentOf(target));
          const free = space.bavail * space.frsize;
          if (options.length > free)
            throw new TetherError(
              'insufficient_storage',
              `the upload is ${options.length} bytes; the server has ${free} bytes free there`,
            );
        }

        const temp = temporaryFor(target);
        const hash = createHash('sha256');
        const keep = existing
          ? {
              mode: (existing.mode ?? 0o644) & 0o7777,
              uid: existing.uid ?? 0,
              gid: existing.gid ?? 0,
            }
          : null;
        const written = await writeTemporary(client, temp, body, keep, (chunk) =>
          hash.update(chunk),
        );
        try {
          if (existing) await client.posixRename(temp, target);
          else {
            // link(2) refuses an existing name: a file created meanwhile is never replaced.
            await client.hardlink(temp, target);
            await client.remove(temp);
          }
        } catch (error) {
          await discard(client, temp);
          if (errnoOf(error) === 'EEXIST')
            throw new TetherError(
              'conflict',
              'a file of that name appeared meanwhile; nothing was replaced',
            );
          throw error;
        }

        const digest = hash.digest('hex');
        const entry = entryOf(path, baseName(path), await client.lstat(path));
        await this.files.history.record(w.row, {
          code: AUDIT.fileUploaded.code,
          kind: 'upload',
          path,
          afterHash: digest,
          bytes: written.bytes,
          detail: { replaced: existing !== null, ownerKept: written.ownerKept },
        });
        return {
          value: { entry, hash: digest },
          params: {},
          result: { hash: digest, bytes: written.bytes, replaced: existing !== null },
        };
      } finally {
        release();
      }
    });
  }
}

/** One `bytes=` range: `a-b`, `a-` or `-n`. Several ranges are answered with the whole file. */
export function parseRange(header: string | undefined, size: number): Range {
  if (!header) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return null;
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
    if (match[2] !== '' && Number(match[2]) < start) return null;
  }
  if (start >= size) return 'unsatisfiable';
  return { start, end };
}

/**
 * `attachment` with an ASCII fallback and the exact name in RFC 5987 form; no character of the
 * name can end the header or start another (CR, LF and quotes never pass through).
 */
export function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]|["\\%]/g, '_') || 'download';
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/** Passes a stream through and counts it; `done` resolves with the count at its end. */
function countBytes(source: Readable) {
  let bytes = 0;
  let ended = false;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      callback(null, chunk);
    },
  });
  const done = new Promise<number>((resolve, reject) => {
    counter.on('end', () => {
      ended = true;
      resolve(bytes);
    });
    const cut = (error?: Error | null) => {
      if (ended) return;
      reject(
        Object.assign(error ?? new Error('the download was cut off'), { result: { sent: bytes } }),
      );
    };
    counter.on('error', cut);
    counter.on('close', () => cut(null));
    source.on('error', (error) => counter.destroy(error));
  });
  done.catch(() => {});
  source.pipe(counter);
  counter.on('close', () => source.destroy());
  return { stream: counter as Readable, done };
}
