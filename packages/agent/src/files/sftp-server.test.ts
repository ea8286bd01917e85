/** The agent's SFTP server on a real Unix socket and the real file system (temp folders). */
import { createHash, randomBytes } from 'node:crypto';
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import {
  AttrExt,
  OpenFlag,
  SftpClient,
  SftpStatusError,
  Status,
  sftpReadStream,
  sftpWriteFrom,
  type NameEntry,
} from '@tether/protocol/sftp';
import { serveSftp } from './sftp-server.ts';
import type { CheckHooks } from './checked-fs.ts';

const REPO = join(import.meta.dirname, '../../../..');
const OPENSSH_SFTP = '/usr/bin/sftp';
const quiet = pino({ level: process.env.TETHER_TEST_LOG ?? 'silent' });
const b64 = (path: string | Buffer) => Buffer.from(path).toString('base64');

let dir: string;
let server: Server;
let socketPath: string;
let hooks: CheckHooks = {};
const clients: SftpClient[] = [];
const serverSockets = new Set<Socket>();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tether-sftp-'));
  socketPath = join(dir, 'sftp.sock');
  server = createServer((socket) => {
    serverSockets.add(socket);
    socket.on('close', () => serverSockets.delete(socket));
    serveSftp(socket, {
      log: quiet,
      hooks: {
        afterCheck: (p) => hooks.afterCheck?.(p),
        beforeRead: () => hooks.beforeRead?.(),
      },
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});
afterEach(() => {
  hooks = {};
  clients.splice(0).forEach((c) => c.end());
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh folder with its own client, its policy already sent. */
async function session(
  policy: { allow?: string[]; deny?: string[]; readOnly?: boolean } = {},
  setPolicy = true,
) {
  const root = mkdtempSync(join(dir, 'root-'));
  const socket = connect(socketPath);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  const client = await SftpClient.start(socket);
  clients.push(client);
  if (setPolicy)
    await client.policy({
      allow: (policy.allow ?? [root]).map(b64),
      deny: (policy.deny ?? []).map(b64),
      readOnly: policy.readOnly ?? false,
      sessionId: 'test',
    });
  return { client, root };
}

async function list(client: SftpClient, path: string | Buffer): Promise<NameEntry[]> {
  const handle = await client.opendir(path);
  const entries: NameEntry[] = [];
  for (let batch = await client.readdir(handle); batch; batch = await client.readdir(handle))
    entries.push(...batch);
  await client.close(handle);
  return entries;
}

async function failure(work: Promise<unknown>): Promise<SftpStatusError> {
  const error = await work.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SftpStatusError);
  return error as SftpStatusError;
}

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

describe('agent sftp server', () => {
  it('sftp - nothing is served before the policy, and the policy is set only once', async () => {
    const { client, root } = await session({}, false);
    expect(client.extensions.get('policy@tether')).toBe('1');
    const before = await failure(client.lstat(root));
    expect(before.errno).toBe('EPOLICY');
    await client.policy({ allow: [b64(root)], deny: [], readOnly: true, sessionId: 's' });
    expect((await client.lstat(root)).mode! & 0o170000).toBe(0o040000);
    const again = await failure(
      client.policy({ allow: ['Lw=='], deny: [], readOnly: false, sessionId: 's' }),
    );
    expect(again.message).toContain('already set');
  });

  it('sftp - lists names as raw bytes with owners, modes, sizes and symlink targets', async () => {
    const { client, root } = await session();
    const latin1 = Buffer.concat([Buffer.from(join(root, 'caf')), Buffer.from([0xe9])]);
    writeFileSync(latin1, 'not utf-8');
    writeFileSync(join(root, '<img src=x onerror=alert(1)>.txt'), 'html');
    mkdirSync(join(root, 'sub'));
    symlinkSync('sub', join(root, 'to-sub'));
    symlinkSync('/etc', join(root, 'to-etc'));
    symlinkSync('nowhere', join(root, 'dangling'));
    symlinkSync('loop-b', join(root, 'loop-a'));
    symlinkSync('loop-a', join(root, 'loop-b'));

    const entries = await list(client, root);
    const byName = new Map(entries.map((e) => [e.filename.toString('latin1'), e]));
    expect(byName.get(Buffer.from([0x63, 0x61, 0x66, 0xe9]).toString('latin1'))?.attrs.size).toBe(
      9,
    );
    expect(byName.get('<img src=x onerror=alert(1)>.txt')?.attrs.size).toBe(4);
    const linkType = (name: string) =>
      byName.get(name)?.attrs.extended?.get(AttrExt.linkType)?.toString();
    expect(linkType('to-sub')).toBe('dir');
    expect(linkType('to-etc')).toBe('outside');
    expect(linkType('dangling')).toBe('missing');
    expect(linkType('loop-a')).toBe('loop');
    expect(byName.get('to-etc')?.attrs.extended?.get(AttrExt.link)?.toString()).toBe('/etc');
    const sub = byName.get('sub')!;
    expect(sub.attrs.extended?.get(AttrExt.owner)?.toString()).toBe('root');
    expect(sub.longname.toString()).toMatch(/^drwx/);

    // The raw name works as a path too.
    expect((await client.stat(latin1)).size).toBe(9);
  });

  it('sftp - a symlink inside an allowed folder that points outside it is refused', async () => {
    const { client, root } = await session();
    symlinkSync('/etc', join(root, 'to-etc'));
    symlinkSync('/etc/hostname', join(root, 'hostname'));
    for (const attempt of [
      client.opendir(join(root, 'to-etc')),
      client.open(join(root, 'hostname'), OpenFlag.READ),
      client.stat(join(root, 'to-etc', 'passwd')),
      client.open(join(root, 'to-etc', 'passwd'), OpenFlag.READ),
    ]) {
      const error = await failure(attempt);
      expect(error.errno).toBe('EPOLICY');
      expect(error.status).toBe(Status.PERMISSION_DENIED);
    }
    // The link itself lives inside: it can be inspected and removed.
    expect((await client.readlink(join(root, 'to-etc'))).toString()).toBe('/etc');
    await client.remove(join(root, 'to-etc'));
    expect(() => lstatSync(join(root, 'to-etc'))).toThrow();
  });

  it('sftp - a folder swapped for a symlink to outside between check and open is refused', async () => {
    const { client, root } = await session();
    const outside = mkdtempSync(join(dir, 'outside-'));
    writeFileSync(join(outside, 'secret'), 'secret');
    mkdirSync(join(root, 'logs'));
    writeFileSync(join(root, 'logs', 'secret'), 'fine');

    hooks.afterCheck = (path) => {
      if (!path.toString().endsWith('/logs') && !path.toString().endsWith('/logs/secret')) return;
      hooks.afterCheck = undefined;
      renameSync(join(root, 'logs'), join(root, 'logs-old'));
      symlinkSync(outside, join(root, 'logs'));
    };
    const read = await failure(client.open(join(root, 'logs', 'secret'), OpenFlag.READ));
    expect(read.errno).toBe('ECHANGED');

    rmSync(join(root, 'logs'));
    renameSync(join(root, 'logs-old'), join(root, 'logs'));
    hooks.afterCheck = (path) => {
      if (!path.toString().endsWith('/logs')) return;
      hooks.afterCheck = undefined;
      renameSync(join(root, 'logs'), join(root, 'logs-old'));
      symlinkSync(outside, join(root, 'logs'));
    };
    const write = await failure(
      client.open(join(root, 'logs', 'new'), OpenFlag.WRITE | OpenFlag.CREAT),
    );
    expect(write.errno).toBe('ECHANGED');
    expect(readdirSync(outside)).toEqual(['secret']);
  });

  it('sftp - a listing under way keeps reading the folder it opened when it is swapped', async () => {
    const { client, root } = await session();
    const outside = mkdtempSync(join(dir, 'outside-'));
    writeFileSync(join(outside, 'secret'), 'secret');
    mkdirSync(join(root, 'logs'));
    writeFileSync(join(root, 'logs', 'app.log'), 'log');

    const handle = await client.opendir(join(root, 'logs'));
    renameSync(join(root, 'logs'), join(root, 'logs-old'));
    symlinkSync(outside, join(root, 'logs'));
    const names = ((await client.readdir(handle)) ?? []).map((e) => e.filename.toString());
    expect(names).toEqual(['app.log']);
    await client.close(handle);
  });

  it('sftp - .. segments, NUL bytes, over-long names and relative escapes are refused clearly', async () => {
    const { client, root } = await session();
    const cases: [string | Buffer, string][] = [
      [`${root}/../etc/passwd`, 'EBADPATH'],
      [Buffer.concat([Buffer.from(`${root}/a`), Buffer.from([0]), Buffer.from('b')]), 'EBADPATH'],
      [`${root}/${'x'.repeat(300)}`, 'ENAMETOOLONG'],
      [`/${'y/'.repeat(2100)}`, 'EBADPATH'],
      ['../../etc/passwd', 'EBADPATH'],
      ['/etc/passwd', 'EPOLICY'],
    ];
    for (const [path, errno] of cases) {
      const error = await failure(client.open(path, OpenFlag.READ));
      expect(error.errno, String(path).slice(0, 60)).toBe(errno);
    }
    const created = await failure(
      client.open(`${root}/${'z'.repeat(256)}`, OpenFlag.WRITE | OpenFlag.CREAT),
    );
    expect(created.errno).toBe('ENAMETOOLONG');
  });

  it('sftp - a read-only session refuses every change', async () => {
    const { client, root } = await session({ readOnly: true });
    writeFileSync(join(root, 'f'), 'keep');
    const attempts = [
      client.open(join(root, 'f'), OpenFlag.WRITE),
      client.open(join(root, 'g'), OpenFlag.WRITE | OpenFlag.CREAT),
      client.remove(join(root, 'f')),
      client.mkdir(join(root, 'd')),
      client.setstat(join(root, 'f'), { mode: 0o600 }),
      client.posixRename(join(root, 'f'), join(root, 'h')),
      client.symlink('/etc', join(root, 'l')),
    ];
    for (const attempt of attempts) expect((await failure(attempt)).errno).toBe('EREADONLY');
    expect(readFileSync(join(root, 'f'), 'utf8')).toBe('keep');
    expect(statSync(join(root, 'f')).mode & 0o777).not.toBe(0o600);
  });

  it('sftp - denied folders are hidden from listings and refused inside allowed ones', async () => {
    const root = mkdtempSync(join(dir, 'root-'));
    mkdirSync(join(root, 'secrets'));
    writeFileSync(join(root, 'secrets', 'key'), 'k');
    writeFileSync(join(root, 'open'), 'o');
    const { client } = await session({ allow: [root], deny: [join(root, 'secrets')] });
    const names = (await list(client, root)).map((e) => e.filename.toString());
    expect(names).toEqual(['open']);
    expect((await failure(client.opendir(join(root, 'secrets')))).errno).toBe('EPOLICY');
    expect((await failure(client.remove(join(root, 'secrets', 'key')))).errno).toBe('EPOLICY');
    // An allowed folder itself cannot be removed or renamed from its (outside) parent.
    expect((await failure(client.rmdir(root))).errno).toBe('EPOLICY');
  });

  it('sftp - compare-and-rename replaces only an unchanged file; unfinished temporaries are removed', async () => {
    const { client, root } = await session();
    const target = join(root, 'app.conf');
    writeFileSync(target, 'v1');
    const temp = join(root, '.app.conf.tether-0123abcd.tmp');
    const handle = await client.open(temp, OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.EXCL);
    await client.write(handle, 0, Buffer.from('v2'));
    await client.fsync(handle);
    await client.close(handle);

    writeFileSync(target, 'changed by someone else');
    const conflict = await failure(client.casRename(temp, target, sha256(Buffer.from('v1'))));
    expect(conflict.errno).toBe('ECONFLICT');
    expect(readFileSync(target, 'utf8')).toBe('changed by someone else');

    await client.casRename(temp, target, sha256(Buffer.from('changed by someone else')));
    expect(readFileSync(target, 'utf8')).toBe('v2');

    const leftover = join(root, '.app.conf.tether-feedbeef.tmp');
    const half = await client.open(leftover, OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.EXCL);
    await client.write(half, 0, Buffer.from('half'));
    client.end();
    await expect.poll(() => readdirSync(root)).toEqual(['app.conf']);
  });

  it('sftp - a large file streams both ways intact with many requests in flight', async () => {
    const { client, root } = await session();
    const data = randomBytes(24 * 1024 * 1024 + 12345);
    const handle = await client.open(
      join(root, 'big.bin'),
      OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.TRUNC,
    );
    const written = await sftpWriteFrom(
      client,
      handle,
      Readable.from([data.subarray(0, 1000), data.subarray(1000)]),
    );
    await client.close(handle);
    expect(written).toBe(data.length);
    expect(sha256(readFileSync(join(root, 'big.bin')))).toBe(sha256(data));

    const reader = await client.open(join(root, 'big.bin'), OpenFlag.READ);
    const hash = createHash('sha256');
    await pipeline(
      sftpReadStream(client, reader, { start: 5, end: data.length, exact: true }),
      hash,
    );
    await client.close(reader);
    expect(hash.digest('hex')).toBe(sha256(data.subarray(5)));
  });

  it('sftp - a handle closed under running reads closes after them; no read sees another file', async () => {
    const { client, root } = await session();
    const a = randomBytes(8 * 1024 * 1024);
    writeFileSync(join(root, 'a.bin'), a);
    writeFileSync(join(root, 'b.bin'), Buffer.alloc(8 * 1024 * 1024, 0xbb));
    // Reads wait a moment before their I/O, so the close and the next open come first.
    hooks.beforeRead = () => new Promise((resolve) => setTimeout(resolve, 20));
    for (let round = 0; round < 3; round++) {
      const handle = await client.open(join(root, 'a.bin'), OpenFlag.READ);
      const reads = Array.from({ length: 32 }, (_, i) =>
        client.read(handle, i * 256 * 1024, 256 * 1024).then(
          (data) => ({ i, data }),
          () => ({ i, data: null }),
        ),
      );
      const closed = client.close(handle);
      const other = await client.open(join(root, 'b.bin'), OpenFlag.READ);
      for (const { i, data } of await Promise.all(reads))
        expect(data?.equals(a.subarray(i * 256 * 1024, (i + 1) * 256 * 1024)), `read ${i}`).toBe(
          true,
        );
      await closed;
      await client.close(other);
    }
  });

  it('sftp - FIFOs and devices are not opened as files', async () => {
    const { client } = await session({ allow: ['/dev'] });
    const error = await failure(client.open('/dev/zero', OpenFlag.READ));
    expect(error.errno).toBe('ENOTREG');
  });

  it.skipIf(!existsSync(OPENSSH_SFTP))(
    "sftp - OpenSSH's own sftp client puts, lists, renames, changes modes and gets back",
    async () => {
      const root = mkdtempSync(join(dir, 'openssh-'));
      const local = mkdtempSync(join(dir, 'local-'));
      writeFileSync(join(local, 'in.txt'), 'from openssh\n');
      const batch = join(local, 'batch');
      writeFileSync(
        batch,
        [
          `put ${join(local, 'in.txt')} up.txt`,
          'rename up.txt moved.txt',
          'chmod 600 moved.txt',
          'mkdir sub',
          'ls -l',
          `get moved.txt ${join(local, 'back.txt')}`,
          'rmdir sub',
        ].join('\n'),
      );
      const server = `${process.execPath} ${join(REPO, 'bin/run-ts.mjs')} ${join(import.meta.dirname, 'testing/stdio-sftp.ts')} ${root}`;
      const output = await new Promise<string>((resolve, reject) =>
        execFile(
          OPENSSH_SFTP,
          ['-b', batch, '-D', server],
          { timeout: 20_000 },
          (error, out, err) =>
            error ? reject(new Error(`${error.message}\n${err}`)) : resolve(out),
        ),
      );
      expect(output).toMatch(/-rw------- .* moved\.txt/);
      expect(readFileSync(join(local, 'back.txt'), 'utf8')).toBe('from openssh\n');
      expect(statSync(join(root, 'moved.txt')).mode & 0o777).toBe(0o600);
      expect(readdirSync(root)).toEqual(['moved.txt']);
    },
  );
});
