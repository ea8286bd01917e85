/**
 * Faults in file work, each on the real file system: two savers, a file deleted, grown or
 * shrunk while read, a full disk, permission denied, the agent's link dropping mid-upload.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  appendFileSync,
  chmodSync,
  chownSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../testing/harness.ts';
import { engineerSession, filesFetch, q, setPolicy, type FilesUser } from './files-testing.ts';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const isRoot = process.getuid?.() === 0;

let h: Harness;
let accountId: string;
let agentId: string;
let engineer: FilesUser;
let second: FilesUser;
let customer: FilesUser;
let root: string;

beforeAll(async () => {
  h = await startHarness();
  accountId = await h.account('Acme');
  agentId = (await h.agent('Acme', 'web-1')).agentId;
  engineer = await h.user('engineer');
  second = await h.user('engineer');
  customer = await h.user('customer', { account: 'Acme' });
  root = mkdtempSync(join(h.dir, 'srv-'));
  await setPolicy(h, accountId, customer, {
    pathAllow: [root],
    fileReadMode: 'allow',
    fileWriteMode: 'allow',
  });
}, 60_000);
afterAll(() => h.close());

const open = (who = engineer) => engineerSession(h, agentId, who, customer, { write: true });
const save = (id: string, path: string, content: string, baseHash: string, who = engineer) =>
  h.api('PUT', `/api/v1/file-sessions/${id}/text`, { path, content, baseHash }, who.token);
const download = (id: string, path: string, headers: Record<string, string> = {}) =>
  filesFetch(h, engineer.token, `/api/v1/file-sessions/${id}/download?${q(path)}`, { headers });
const upload = (id: string, path: string, body: BodyInit, overwrite = true) =>
  filesFetch(
    h,
    engineer.token,
    `/api/v1/file-sessions/${id}/upload?${q(path)}&overwrite=${overwrite ? 1 : 0}`,
    {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body,
      ...(body instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit,
  );
const temporaries = (dir: string) => readdirSync(dir).filter((n) => n.includes('.tether-'));

describe('file faults', () => {
  it('save - two engineers save the same file at once: one wins, the other gets a conflict with the diff', async () => {
    const [a, b] = await Promise.all([open(engineer), open(second)]);
    const conf = join(root, 'shared.conf');
    writeFileSync(conf, 'workers = 1\n');
    const base = sha256('workers = 1\n');
    const results = await Promise.all([
      save(a, conf, 'workers = 2\n', base, engineer),
      save(b, conf, 'workers = 3\n', base, second),
    ]);
    const statuses = results.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 409]);
    const winner = results.find((r) => r.status === 200)!;
    const loser = results.find((r) => r.status === 409)!;
    const final = readFileSync(conf, 'utf8');
    expect(winner.body.hash).toBe(sha256(final));
    // Nothing lost: the loser's text is in the diff they got back, against what won.
    const theirs = final === 'workers = 2\n' ? 'workers = 3' : 'workers = 2';
    expect(loser.body.error.details.diff).toContain(`+${theirs}`);
    expect(loser.body.error.details.currentHash).toBe(sha256(final));
    expect(temporaries(root)).toEqual([]);
  });

  it('save - keeps mode and owner, replaces the file by rename, and saves a symlink’s target', async () => {
    const id = await open();
    const conf = join(root, 'owned.conf');
    writeFileSync(conf, 'a\n');
    chmodSync(conf, 0o640);
    if (isRoot) chownSync(conf, 1234, 2345);
    const inode = statSync(conf).ino;
    const saved = await save(id, conf, 'b\n', sha256('a\n'));
    expect(saved.status).toBe(200);
    expect(saved.body.ownerKept).toBe(true);
    const after = statSync(conf);
    expect(after.mode & 0o7777).toBe(0o640);
    if (isRoot) expect([after.uid, after.gid]).toEqual([1234, 2345]);
    expect(after.ino).not.toBe(inode);

    symlinkSync('owned.conf', join(root, 'link.conf'));
    const viaLink = await save(id, join(root, 'link.conf'), 'c\n', sha256('b\n'));
    expect(viaLink.status).toBe(200);
    expect(lstatSync(join(root, 'link.conf')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(root, 'link.conf'))).toBe('owned.conf');
    expect(readFileSync(conf, 'utf8')).toBe('c\n');
  });

  it.skipIf(!isRoot)(
    'save - permission denied on the server is a clear 403 and the file is untouched',
    async () => {
      const id = await open();
      const conf = join(root, 'locked.conf');
      writeFileSync(conf, 'locked\n');
      execFileSync('chattr', ['+i', conf]);
      try {
        const refused = await save(id, conf, 'changed\n', sha256('locked\n'));
        expect(refused.status).toBe(403);
        expect(refused.body.error.message).toBe('operation not permitted on the server');
        expect(readFileSync(conf, 'utf8')).toBe('locked\n');
        const chmod = await h.api(
          'POST',
          `/api/v1/file-sessions/${id}/chmod`,
          { path: conf, mode: 0o600 },
          engineer.token,
        );
        expect(chmod.status).toBe(403);
      } finally {
        execFileSync('chattr', ['-i', conf]);
      }
      expect(temporaries(root)).toEqual([]);
    },
  );

  it('download - ranges, If-Range and an unsatisfiable range', async () => {
    const id = await open();
    const file = join(root, 'range.bin');
    const data = randomBytes(100_000);
    writeFileSync(file, data);
    const full = await download(id, file);
    expect(full.status).toBe(200);
    const etag = full.headers.get('etag')!;
    expect(full.headers.get('content-length')).toBe('100000');
    expect(full.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await full.arrayBuffer()).equals(data)).toBe(true);

    const part = await download(id, file, { range: 'bytes=1000-1999', 'if-range': etag });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 1000-1999/100000');
    expect(Buffer.from(await part.arrayBuffer()).equals(data.subarray(1000, 2000))).toBe(true);

    const resumed = await download(id, file, { range: 'bytes=99000-' });
    expect(Buffer.from(await resumed.arrayBuffer()).equals(data.subarray(99000))).toBe(true);

    appendFileSync(file, 'more');
    const changed = await download(id, file, { range: 'bytes=1000-', 'if-range': etag });
    expect(changed.status).toBe(200);
    expect(Number(changed.headers.get('content-length'))).toBe(100_004);
    await changed.arrayBuffer();

    const beyond = await download(id, file, { range: 'bytes=200000-' });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe('bytes */100004');
  });

  it('download - a file deleted while it is read arrives whole', async () => {
    const id = await open();
    const file = join(root, 'deleted.bin');
    const data = randomBytes(16 * 1024 * 1024);
    writeFileSync(file, data);
    const response = await download(id, file);
    const reader = response.body!.getReader();
    const first = await reader.read();
    unlinkSync(file);
    const chunks = [Buffer.from(first.value!)];
    for (let r = await reader.read(); !r.done; r = await reader.read())
      chunks.push(Buffer.from(r.value));
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(data));
  });

  it('download - a file that grows while read comes as it was when opened; one that shrinks fails', async () => {
    const id = await open();
    const log = join(root, 'growing.log');
    const data = randomBytes(16 * 1024 * 1024);
    writeFileSync(log, data);
    const response = await download(id, log);
    const reader = response.body!.getReader();
    const chunks = [Buffer.from((await reader.read()).value!)];
    appendFileSync(log, randomBytes(1024 * 1024));
    for (let r = await reader.read(); !r.done; r = await reader.read())
      chunks.push(Buffer.from(r.value));
    expect(response.headers.get('content-length')).toBe(String(data.length));
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(data));

    const shrinking = join(root, 'shrinking.bin');
    writeFileSync(shrinking, randomBytes(16 * 1024 * 1024));
    const cut = await download(id, shrinking);
    const cutReader = cut.body!.getReader();
    await cutReader.read();
    truncateSync(shrinking, 1024);
    const failed = await (async () => {
      try {
        for (let r = await cutReader.read(); !r.done; r = await cutReader.read());
        return false;
      } catch {
        return true;
      }
    })();
    expect(failed).toBe(true);
    await expect
      .poll(async () => {
        const events = (await h.api('GET', '/api/v1/audit?code=T8213E&limit=100')).body
          .events as any[];
        return events.some((e) => e.sessionId === id && e.result.reason?.includes('shrank'));
      })
      .toBe(true);
  });

  it('download - a folder comes as .tar.gz with its files, folders and symlinks', async () => {
    const id = await open();
    const dir = join(root, 'site');
    mkdirSync(join(dir, 'css'), { recursive: true });
    writeFileSync(join(dir, 'index.html'), '<h1>hi</h1>');
    writeFileSync(join(dir, 'css', 'a.css'), 'body{}');
    symlinkSync('index.html', join(dir, 'home.html'));
    const response = await download(id, dir);
    expect(response.headers.get('content-type')).toBe('application/gzip');
    expect(response.headers.get('content-disposition')).toContain('site.tar.gz');
    const archive = join(h.dir, 'site.tar.gz');
    writeFileSync(archive, Buffer.from(await response.arrayBuffer()));
    const out = mkdtempSync(join(h.dir, 'untar-'));
    execFileSync('tar', ['-xzf', archive, '-C', out]);
    expect(readFileSync(join(out, 'site', 'index.html'), 'utf8')).toBe('<h1>hi</h1>');
    expect(readFileSync(join(out, 'site', 'css', 'a.css'), 'utf8')).toBe('body{}');
    expect(readlinkSync(join(out, 'site', 'home.html'))).toBe('index.html');
  });

  describe.skipIf(!isRoot)('on a 1 MiB disk', () => {
    let disk: string;
    beforeAll(() => {
      disk = mkdtempSync(join(root, 'disk-'));
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', disk]);
    });
    afterAll(() => {
      execFileSync('umount', [disk]);
      rmSync(disk, { recursive: true, force: true });
    });

    it('upload - larger than the free space is refused before a byte is written', async () => {
      const id = await open();
      writeFileSync(join(disk, 'data.bin'), 'old');
      const refused = await upload(id, join(disk, 'data.bin'), randomBytes(2 * 1024 * 1024));
      expect(refused.status).toBe(507);
      expect((await refused.json()).error.code).toBe('insufficient_storage');
      expect(readFileSync(join(disk, 'data.bin'), 'utf8')).toBe('old');
      expect(temporaries(disk)).toEqual([]);
    });

    it('upload - a disk that fills up mid-stream keeps the old file and leaves no half file', async () => {
      const id = await open();
      writeFileSync(join(disk, 'data.bin'), 'old');
      let sent = 0;
      const body = new ReadableStream({
        pull(controller) {
          if (sent >= 3 * 1024 * 1024) return controller.close();
          sent += 256 * 1024;
          controller.enqueue(randomBytes(256 * 1024));
        },
      });
      const full = await upload(id, join(disk, 'data.bin'), body);
      expect(full.status).toBe(507);
      expect((await full.json()).error.message).toContain('no space left');
      expect(readFileSync(join(disk, 'data.bin'), 'utf8')).toBe('old');
      expect(temporaries(disk)).toEqual([]);

      const saved = await save(id, join(disk, 'data.bin'), 'x'.repeat(900 * 1024), sha256('old'));
      expect(saved.status).toBe(200);
      const second = await save(
        id,
        join(disk, 'data.bin'),
        'y'.repeat(900 * 1024),
        saved.body.hash,
      );
      expect(second.status).toBe(507);
      expect(readFileSync(join(disk, 'data.bin'), 'utf8')).toBe('x'.repeat(900 * 1024));
      expect(temporaries(disk)).toEqual([]);
    });
  });

  it('upload - the agent’s link dropping mid-upload keeps the old content and removes the half file', async () => {
    const agent = await h.agent('Acme', 'web-2');
    const opened = await engineerSession(h, agent.agentId, engineer, customer, { write: true });
    const target = join(root, 'big.iso');
    writeFileSync(target, 'old content');
    let chunks = 0;
    const body = new ReadableStream({
      async pull(controller) {
        chunks++;
        if (chunks === 20) agent.link.stop();
        if (chunks > 400) return controller.close();
        await new Promise((resolve) => setTimeout(resolve, 5));
        controller.enqueue(randomBytes(64 * 1024));
      },
    });
    const response = await upload(opened, target, body).catch((error: Error) => error);
    if (response instanceof Response) {
      expect(response.status).toBe(409);
      expect((await response.json()).error.code).toBe('agent_offline');
    }
    expect(readFileSync(target, 'utf8')).toBe('old content');
    await expect.poll(() => temporaries(root)).toEqual([]);
  });
});
