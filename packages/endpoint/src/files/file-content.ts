/** Reading over SFTP for the file operations: folders, trees, ranges, editable text, diffs. */
import { createHash } from 'node:crypto';
import { createTwoFilesPatch } from 'diff';
import { FILE_TEXT_MAX_BYTES, TetherError, type FileEntry } from '@tether/protocol';
import { OpenFlag, sftpReadStream, type SftpClient } from '@tether/protocol/sftp';
import { entryOf, typeOf } from './entries.ts';
import { display, joinPath, utf8 } from './paths.ts';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export async function listFolder(client: SftpClient, path: Buffer, max: number) {
  const handle = await client.opendir(path);
  const entries: FileEntry[] = [];
  let truncated = false;
  try {
    for (let batch = await client.readdir(handle); batch; batch = await client.readdir(handle)) {
      for (const e of batch) {
        if (entries.length >= max) {
          truncated = true;
          break;
        }
        entries.push(entryOf(joinPath(path, e.filename), e.filename, e.attrs));
      }
      if (truncated) break;
    }
  } finally {
    await client.close(handle).catch(() => {});
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { entries, truncated };
}

/** Deletes a folder's contents depth first, then the folder; symlinks are removed, not followed. */
export async function removeTree(
  client: SftpClient,
  path: Buffer,
  counts: { files: number; folders: number },
): Promise<void> {
  const handle = await client.opendir(path);
  const children: { path: Buffer; dir: boolean }[] = [];
  try {
    for (let batch = await client.readdir(handle); batch; batch = await client.readdir(handle))
      for (const e of batch)
        children.push({
          path: joinPath(path, e.filename),
          dir: typeOf(e.attrs.mode ?? 0) === 'dir',
        });
  } finally {
    await client.close(handle).catch(() => {});
  }
  for (const child of children) {
    if (child.dir) await removeTree(client, child.path, counts);
    else {
      await client.remove(child.path);
      counts.files++;
    }
  }
  await client.rmdir(path);
  counts.folders++;
}

/** Bytes [start, end) of an open file; at most FILE_TEXT_MAX_BYTES by the callers' limits. */
export async function readRange(client: SftpClient, handle: Buffer, start: number, end: number) {
  const chunks: Buffer[] = [];
  for await (const chunk of sftpReadStream(client, handle, { start, end }))
    chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** A file small enough and textual enough to edit: its bytes, text, mode and owner. */
export async function readEditable(client: SftpClient, path: Buffer) {
  const handle = await client.open(path, OpenFlag.READ);
  try {
    const attrs = await client.fstat(handle);
    if ((attrs.size ?? 0) > FILE_TEXT_MAX_BYTES)
      throw new TetherError(
        'payload_too_large',
        'the file is larger than 2 MiB: it opens read-only; download and upload it instead',
      );
    const bytes = await readRange(client, handle, 0, FILE_TEXT_MAX_BYTES + 1);
    if (bytes.length > FILE_TEXT_MAX_BYTES)
      throw new TetherError('payload_too_large', 'the file grew past 2 MiB while it was read');
    const text = utf8(bytes);
    if (text === null || bytes.includes(0))
      throw new TetherError(
        'invalid_request',
        'the file is binary; download and upload it instead',
      );
    return {
      bytes,
      text,
      mode: (attrs.mode ?? 0o644) & 0o7777,
      uid: attrs.uid ?? 0,
      gid: attrs.gid ?? 0,
    };
  } finally {
    await client.close(handle).catch(() => {});
  }
}

export function conflictWith(
  path: Buffer,
  current: string,
  mine: string,
  hash?: string,
): TetherError {
  return new TetherError(
    'conflict',
    'the file changed on the server since it was opened; nothing was saved',
    {
      details: {
        currentHash: hash ?? sha256(Buffer.from(current, 'utf8')),
        diff: unifiedDiff(path, current, mine, 'on the server now', 'yours'),
      },
    },
  );
}

export function unifiedDiff(
  path: Buffer,
  before: string,
  after: string,
  a: string,
  b: string,
): string {
  const name = display(path);
  return createTwoFilesPatch(name, name, before, after, a, b);
}

/**
 * A page's text. A page that ends inside a UTF-8 character leaves those bytes to the next
 * page (only when the file goes on), so a page boundary never reads as binary.
 */
export function decodePage(
  bytes: Buffer,
  atEnd: boolean,
): { text: string; length: number; binary: boolean } {
  let length = bytes.length;
  if (!atEnd) length -= incompleteTail(bytes);
  const body = bytes.subarray(0, length);
  if (body.includes(0)) return { text: '', length: bytes.length, binary: true };
  try {
    return { text: strictUtf8.decode(body), length, binary: false };
  } catch {
    return { text: '', length: bytes.length, binary: true };
  }
}

/** Bytes at the end that start a UTF-8 sequence not finished within `bytes` (0 to 3). */
function incompleteTail(bytes: Buffer): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back];
    if ((byte & 0xc0) === 0x80) continue;
    const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}
