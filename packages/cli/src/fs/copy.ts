/**
 * `tether cp`: files to and from an agent with a progress bar. Downloads go to `NAME.tether-part`
 * beside the destination with the file's ETag kept next to it, so an interrupted download
 * resumes where it stopped (Range + If-Range) and starts over only if the file changed.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FileEntry } from '@tether/protocol';
import { ApiError, StreamClosedError, UsageError } from '../errors.ts';
import { sessionPath, type OpenSession } from './file-session.ts';
import { printable } from '../output.ts';
import { progressBar, type Progress } from './progress.ts';
import { lastName } from './remote-path.ts';

const PART_SUFFIX = '.tether-part';
const TAG_SUFFIX = '.tether-part.etag';

/** Uploads each local file to `target`: into it when it is a folder (or several files go). */
export async function upload(
  session: OpenSession,
  sources: string[],
  target: string,
  overwrite: boolean,
): Promise<void> {
  const into =
    sources.length > 1 || target.endsWith('/') || (await isRemoteFolder(session, target));
  if (sources.length > 1 && !into) throw new UsageError('several files go into a folder');
  for (const source of sources) {
    const info = await stat(source).catch(() => null);
    if (!info?.isFile()) throw new UsageError(`${source} is not a file`);
    const remote = into ? `${target.replace(/\/+$/, '')}/${basename(source)}` : target;
    const bar = progressBar(basename(source), info.size);
    const body = createReadStream(source).pipe(counter(bar));
    const response = await session.client.raw('PUT', sessionPath(session, 'upload'), {
      query: { path: remote, overwrite: overwrite ? 1 : 0 },
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(info.size) },
      body,
      doing: `uploading ${source}`,
    });
    const { entry } = (await response.json()) as { entry: FileEntry };
    bar.done();
    const where = printable(`${session.agent.name}:${entry.path}`);
    process.stderr.write(`${printable(source)} → ${where} (${entry.size} bytes)\n`);
  }
}

/**
 * Downloads `remote` to `local` (into it when it is a folder). A folder arrives as
 * NAME.tar.gz. Resumes a download that was cut off.
 */
export async function download(
  session: OpenSession,
  remote: string,
  local: string,
): Promise<string> {
  const { entry } = await session.client.get<{ entry: FileEntry }>(sessionPath(session, 'stat'), {
    query: { path: remote },
    doing: `looking up ${remote}`,
  });
  const folder = entry.type === 'dir' || (entry.type === 'symlink' && entry.targetType === 'dir');
  const name = folder ? `${lastName(remote)}.tar.gz` : lastName(remote);
  const localInfo = await stat(local).catch(() => null);
  const destination = localInfo?.isDirectory() ? join(local, name) : local;
  const part = destination + PART_SUFFIX;
  const tagFile = destination + TAG_SUFFIX;

  // A folder's archive is made afresh each time: no resuming it.
  const have = folder ? 0 : ((await stat(part).catch(() => null))?.size ?? 0);
  const tag = have > 0 ? await readFile(tagFile, 'utf8').catch(() => null) : null;
  const headers: Record<string, string> = {};
  if (have > 0 && tag) {
    headers.range = `bytes=${have}-`;
    headers['if-range'] = tag;
  }
  const response = await session.client.raw('GET', sessionPath(session, 'download'), {
    query: { path: remote },
    headers,
    doing: `downloading ${remote}`,
  });
  if (response.status === 416) {
    // The part is already whole (or longer than the file now is): check by starting over.
    await response.body?.cancel();
    await rm(part, { force: true });
    return download(session, remote, local);
  }
  const resuming = response.status === 206;
  const etag = response.headers.get('etag');
  if (etag && !folder) await writeFile(tagFile, etag);
  const length = Number(response.headers.get('content-length'));
  const total = Number.isFinite(length) && response.headers.has('content-length') ? length : null;
  const start = resuming ? have : 0;
  if (resuming) process.stderr.write(`resuming ${printable(name)} at byte ${have}\n`);
  const bar = progressBar(name, total === null ? null : total + start, start);
  try {
    await pipeline(
      Readable.fromWeb(response.body as import('node:stream/web').ReadableStream<Uint8Array>),
      counter(bar),
      createWriteStream(part, { flags: resuming ? 'a' : 'w' }),
    );
  } catch (error) {
    bar.done();
    throw new StreamClosedError(
      `the download was cut off: ${(error as Error).message}; run the same command again to resume`,
      { cause: error },
    );
  }
  bar.done();
  await rename(part, destination);
  await rm(tagFile, { force: true });
  return destination;
}

/** Streams a remote file to stdout (tether fs cat), with backpressure. */
export async function cat(session: OpenSession, remote: string): Promise<void> {
  const response = await session.client.raw('GET', sessionPath(session, 'download'), {
    query: { path: remote },
    doing: `reading ${remote}`,
  });
  const body = Readable.fromWeb(
    response.body as import('node:stream/web').ReadableStream<Uint8Array>,
  );
  await pipeline(body, process.stdout, { end: false });
}

async function isRemoteFolder(session: OpenSession, path: string): Promise<boolean> {
  try {
    const { entry } = await session.client.get<{ entry: FileEntry }>(sessionPath(session, 'stat'), {
      query: { path },
    });
    return entry.type === 'dir' || (entry.type === 'symlink' && entry.targetType === 'dir');
  } catch (error) {
    if (error instanceof ApiError && error.code === 'not_found') return false;
    throw error;
  }
}

function counter(bar: Progress): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bar.add(chunk.length);
      callback(null, chunk);
    },
  });
}
