/** Bad paths and names through the files API: each refused clearly or shown exactly, none escaping. */
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../testing/harness.ts';
import { engineerSession, filesFetch, q, setPolicy, type FilesUser } from './files-testing.ts';

let h: Harness;
let agentId: string;
let engineer: FilesUser;
let customer: FilesUser;
let root: string;
let outside: string;
let id: string;

beforeAll(async () => {
  h = await startHarness();
  const accountId = await h.account('Acme');
  agentId = (await h.agent('Acme', 'web-1')).agentId;
  engineer = await h.user('engineer');
  customer = await h.user('customer', { account: 'Acme' });
  root = mkdtempSync(join(h.dir, 'srv-'));
  outside = mkdtempSync(join(h.dir, 'outside-'));
  writeFileSync(join(outside, 'secret'), 'top secret');
  writeFileSync(join(root, 'ok.txt'), 'fine');
  await setPolicy(h, accountId, customer, {
    pathAllow: [root],
    fileReadMode: 'allow',
    fileWriteMode: 'allow',
  });
  id = await engineerSession(h, agentId, engineer, customer, { write: true });
}, 60_000);
afterAll(() => h.close());

const get = (route: string, query: string) =>
  h.api('GET', `/api/v1/file-sessions/${id}/${route}?${query}`, undefined, engineer.token);
const post = (route: string, body: unknown) =>
  h.api('POST', `/api/v1/file-sessions/${id}/${route}`, body, engineer.token);

describe('files bad input', () => {
  it.each([
    ['.. segments', `path=${encodeURIComponent(`${'/x'}/../etc/passwd`)}`, '.. segments'],
    ['percent-encoded ..', 'path=%2Fsrv%2F%2e%2e%2Fetc%2Fpasswd', '.. segments'],
    ['a NUL byte', 'path=%2Ftmp%2Fa%00b', 'NUL'],
    ['a relative path', 'path=etc%2Fpasswd', 'absolute'],
    [
      'a path over 4095 bytes',
      `path=${encodeURIComponent('/' + 'a/'.repeat(2100))}`,
      'longer than 4095',
    ],
    ['both path and pathB64', 'path=%2F&pathB64=Lw%3D%3D', 'path or pathB64'],
    ['neither path nor pathB64', '', 'path or pathB64'],
    ['pathB64 that is not base64', 'pathB64=%2F%2F%2F!', 'not base64'],
  ])('bad input - %s is refused with a clear 400', async (_, query, message) => {
    const response = await get('list', query);
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('invalid_request');
    expect(response.body.error.message).toContain(message);
  });

  it('bad input - a double-encoded .. is a literal name and escapes nothing', async () => {
    const response = await get(
      'text',
      `path=${encodeURIComponent(`${root}/%2e%2e/%2e%2e/etc/passwd`)}`,
    );
    expect(response.status).toBe(404);
    expect(response.body.error.message).toBe('no such file or folder');
  });

  it('bad input - a name too long for the file system is refused clearly', async () => {
    const response = await post('mkdir', { path: join(root, 'n'.repeat(300)) });
    expect(response.status).toBe(400);
    expect(response.body.error.message).toBe('a name in the path is too long');
  });

  it('names - a name that is not UTF-8 is shown with its exact bytes and works as a path', async () => {
    const raw = Buffer.concat([
      Buffer.from(`${root}/caf`),
      Buffer.from([0xe9]),
      Buffer.from('.txt'),
    ]);
    writeFileSync(raw, 'latin-1 name');
    const listed = await get('list', q(root));
    const entry = listed.body.entries.find((e: any) => e.nameB64);
    expect(entry.name).toBe('caf\uFFFD.txt');
    expect(Buffer.from(entry.nameB64, 'base64')).toEqual(
      Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x2e, 0x74, 0x78, 0x74]),
    );
    expect(Buffer.from(entry.pathB64, 'base64').equals(raw)).toBe(true);

    const text = await get('text', `pathB64=${encodeURIComponent(entry.pathB64)}`);
    expect(text.body).toMatchObject({ content: 'latin-1 name', pathB64: entry.pathB64 });
    const download = await filesFetch(
      h,
      engineer.token,
      `/api/v1/file-sessions/${id}/download?pathB64=${encodeURIComponent(entry.pathB64)}`,
    );
    expect(await download.text()).toBe('latin-1 name');
    const renamed = await post('rename', { fromB64: entry.pathB64, to: join(root, 'cafe.txt') });
    expect(renamed.status).toBe(200);
    expect(readFileSync(join(root, 'cafe.txt'), 'utf8')).toBe('latin-1 name');
  });

  it('names - HTML and control characters in names come back as plain text, never in a header', async () => {
    const html = '<img src=x onerror=alert(1)>.txt';
    const crlf = 'evil\r\nSet-Cookie: stolen=1.txt';
    writeFileSync(join(root, html), 'html');
    writeFileSync(join(root, crlf), 'crlf');
    const names = (await get('list', q(root))).body.entries.map((e: any) => e.name);
    expect(names).toContain(html);
    expect(names).toContain(crlf);

    const response = await filesFetch(
      h,
      engineer.token,
      `/api/v1/file-sessions/${id}/download?${q(join(root, crlf))}`,
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('set-cookie')).toBeNull();
    const disposition = response.headers.get('content-disposition')!;
    expect(disposition).not.toMatch(/[\r\n]/);
    expect(disposition).toContain(`filename*=UTF-8''${encodeURIComponent(crlf)}`);
    expect(await response.text()).toBe('crlf');
  });

  it('symlinks - a loop is listed as a loop and refused when opened', async () => {
    symlinkSync('loop-b', join(root, 'loop-a'));
    symlinkSync('loop-a', join(root, 'loop-b'));
    const entry = (await get('list', q(root))).body.entries.find((e: any) => e.name === 'loop-a');
    expect(entry).toMatchObject({ type: 'symlink', target: 'loop-b', targetType: 'loop' });
    const opened = await get('text', q(join(root, 'loop-a')));
    expect(opened.status).toBe(400);
    expect(opened.body.error.message).toContain('symbolic links');
  });

  it('symlinks - one inside the allowed folder pointing outside is shown but refused', async () => {
    symlinkSync(outside, join(root, 'to-outside'));
    const entry = (await get('list', q(root))).body.entries.find(
      (e: any) => e.name === 'to-outside',
    );
    expect(entry).toMatchObject({ type: 'symlink', targetType: 'outside' });
    for (const [route, query] of [
      ['list', q(join(root, 'to-outside'))],
      ['text', q(join(root, 'to-outside', 'secret'))],
      ['download', q(join(root, 'to-outside', 'secret'))],
    ]) {
      const response = await get(route, query);
      expect(response.status, route).toBe(403);
      expect(JSON.stringify(response.body)).not.toContain('top secret');
    }
    const write = await filesFetch(
      h,
      engineer.token,
      `/api/v1/file-sessions/${id}/upload?${q(join(root, 'to-outside', 'planted'))}`,
      { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: 'x' },
    );
    expect(write.status).toBe(403);
    expect(readdirSync(outside)).toEqual(['secret']);
  });

  it('symlinks - a folder swapped for a link to outside during a download leaks nothing', async () => {
    mkdirSync(join(root, 'logs'));
    const data = randomBytes(8 * 1024 * 1024);
    writeFileSync(join(root, 'logs', 'secret'), data);
    const response = await filesFetch(
      h,
      engineer.token,
      `/api/v1/file-sessions/${id}/download?${q(join(root, 'logs', 'secret'))}`,
    );
    renameSync(join(root, 'logs'), join(root, 'logs-old'));
    symlinkSync(outside, join(root, 'logs'));
    const body = Buffer.from(await response.arrayBuffer());
    // The download that was opened before the swap reads the file it opened, nothing else.
    expect(createHash('sha256').update(body).digest('hex')).toBe(
      createHash('sha256').update(data).digest('hex'),
    );
    const after = await get('text', q(join(root, 'logs', 'secret')));
    expect(after.status).toBe(403);
    expect(JSON.stringify(after.body)).not.toContain('top secret');
  });
});
