/**
 * A folder as a .tar.gz stream, read over SFTP one file at a time with backpressure all the
 * way: the gzip stream's reader paces tar, tar paces each file's reads. Symlinks go in as
 * symlinks (never followed); other special files are left out.
 */
import { createGzip } from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { PassThrough, Readable, Writable } from 'node:stream';
import tar from 'tar-stream';
import {
  AttrExt,
  OpenFlag,
  sftpReadStream,
  type Attrs,
  type SftpClient,
} from '@tether/protocol/sftp';
import { typeOf } from './entries.ts';
import { baseName, display, joinPath } from './paths.ts';

/** Zero bytes to make up a file that shrank while archived (tar needs the announced size). */
const PAD_CHUNK = Buffer.alloc(64 * 1024);

export interface ArchiveTotals {
  files: number;
  folders: number;
  links: number;
  /** Content bytes (before compression). */
  bytes: number;
  /** Files that changed size while read: shorter ones were padded, longer ones cut. */
  changed: string[];
  /** Entries the agent refused (a denied folder, an unreadable file): left out. */
  skipped: string[];
}

export function archiveFolder(client: SftpClient, root: Buffer) {
  const pack = tar.pack();
  const gzip = createGzip();
  const totals: ArchiveTotals = {
    files: 0,
    folders: 0,
    links: 0,
    bytes: 0,
    changed: [],
    skipped: [],
  };
  const top = display(baseName(root)) || 'root';

  const walk = (async () => {
    const stack: { path: Buffer; name: string }[] = [{ path: root, name: top }];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      const attrs = await client.stat(dir.path);
      await add(pack, { name: `${dir.name}/`, type: 'directory', ...meta(attrs) });
      totals.folders++;
      let children: { name: Buffer; attrs: Attrs }[];
      try {
        children = await readFolder(client, dir.path);
      } catch {
        totals.skipped.push(display(dir.path));
        continue;
      }
      for (const child of children) {
        const path = joinPath(dir.path, child.name);
        const name = `${dir.name}/${display(child.name)}`;
        const type = typeOf(child.attrs.mode ?? 0);
        if (type === 'dir') stack.push({ path, name });
        else if (type === 'symlink') {
          const target = child.attrs.extended?.get(AttrExt.link);
          await add(pack, {
            name,
            type: 'symlink',
            linkname: display(target ?? Buffer.alloc(0)),
            ...meta(child.attrs),
          });
          totals.links++;
        } else if (type === 'file') {
          try {
            await addFile(client, pack, path, name, totals);
          } catch (error) {
            if (isFatal(error)) throw error;
            totals.skipped.push(display(path));
          }
        }
      }
    }
    pack.finalize();
  })();
  walk.catch((error: unknown) => pack.destroy(error as Error));

  const out = new PassThrough();
  const done = pipeline(pack, gzip, out).then(async () => {
    await walk;
    return totals;
  });
  done.catch(() => {});
  return { stream: out as Readable, done };
}

async function readFolder(client: SftpClient, path: Buffer) {
  const handle = await client.opendir(path);
  const children: { name: Buffer; attrs: Attrs }[] = [];
  try {
    for (let batch = await client.readdir(handle); batch; batch = await client.readdir(handle))
      for (const e of batch) children.push({ name: e.filename, attrs: e.attrs });
  } finally {
    await client.close(handle).catch(() => {});
  }
  return children.sort((a, b) => Buffer.compare(a.name, b.name));
}

async function addFile(
  client: SftpClient,
  pack: tar.Pack,
  path: Buffer,
  name: string,
  totals: ArchiveTotals,
): Promise<void> {
  const handle = await client.open(path, OpenFlag.READ);
  try {
    const attrs = await client.fstat(handle);
    const size = attrs.size ?? 0;
    let written = 0;
    const sink = pack.entry({ name, size, type: 'file', ...meta(attrs) });
    const finished = new Promise<void>((resolve, reject) => {
      sink.on('finish', resolve);
      sink.on('error', reject);
    });
    const counter = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.length;
        if (sink.write(chunk)) callback();
        else sink.once('drain', () => callback());
      },
    });
    await pipeline(sftpReadStream(client, handle, { start: 0, end: size }), counter);
    if (written < size) {
      totals.changed.push(display(path));
      for (let left = size - written; left > 0; left -= PAD_CHUNK.length) {
        if (!sink.write(PAD_CHUNK.subarray(0, Math.min(left, PAD_CHUNK.length))))
          await new Promise((resolve) => sink.once('drain', resolve));
      }
    }
    sink.end();
    await finished;
    totals.files++;
    totals.bytes += size;
  } finally {
    await client.close(handle).catch(() => {});
  }
}

function add(pack: tar.Pack, header: tar.Headers): Promise<void> {
  return new Promise((resolve, reject) => {
    pack.entry(header, (error) => (error ? reject(error) : resolve()));
  });
}

function meta(attrs: Attrs) {
  return {
    mode: (attrs.mode ?? 0) & 0o7777,
    mtime: new Date((attrs.mtime ?? 0) * 1000),
    uid: attrs.uid ?? 0,
    gid: attrs.gid ?? 0,
    uname: attrs.extended?.get(AttrExt.owner)?.toString(),
    gname: attrs.extended?.get(AttrExt.group)?.toString(),
  };
}

/** A lost link or a broken archive ends the whole download; one unreadable file does not. */
function isFatal(error: unknown): boolean {
  const name = (error as Error | null)?.name;
  return (
    name === 'SftpClosedError' ||
    name === 'MalformedPacket' ||
    !(error as { errno?: string })?.errno
  );
}
