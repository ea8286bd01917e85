/** The object store against git itself: same hashes, and `git cat-file` reads what we wrote. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  encodeTag,
  encodeTree,
  frame,
  hashObject,
  MODE_EXECUTABLE,
  MODE_FILE,
  MODE_TREE,
  parseTag,
  parseTree,
} from './git-object.ts';
import { MAX_OBJECT_BYTES, ObjectStore } from './object-store.ts';

let dir: string;
let store: ObjectStore;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tether-objects-'));
  store = new ObjectStore(join(dir, 'repository'));
  await store.init();
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function git(...args: string[]): string {
  return execFileSync('git', ['--git-dir', store.root, ...args], { encoding: 'utf8' });
}

describe('object store', () => {
  it('objects - a blob hashes as git hash-object says', async () => {
    const content = Buffer.from('echo hello\n');
    const hash = await store.objects.put('blob', content);
    const fromGit = execFileSync('git', ['hash-object', '--stdin'], { input: content })
      .toString()
      .trim();
    expect(hash).toBe(fromGit);
  });

  it('objects - git cat-file reads blobs, trees and tags we stored', async () => {
    const blob = await store.objects.put('blob', Buffer.from('print("hi")\n'));
    const sub = await store.objects.put(
      'tree',
      encodeTree([{ mode: MODE_EXECUTABLE, name: 'run.sh', hash: blob }]),
    );
    const tree = await store.objects.put(
      'tree',
      encodeTree([
        { mode: MODE_FILE, name: 'main.js', hash: blob },
        { mode: MODE_TREE, name: 'bin', hash: sub },
      ]),
    );
    const tag = await store.objects.put(
      'tag',
      encodeTag({
        object: tree,
        type: 'tree',
        tag: 'acme/disk@1.0.0',
        tagger: 'alice <alice@tether> 1700000000 +0000',
        message: 'acme/disk@1.0.0\n',
      }),
    );

    expect(git('cat-file', '-p', blob)).toBe('print("hi")\n');
    expect(git('cat-file', '-t', tree).trim()).toBe('tree');
    expect(git('cat-file', '-p', tree)).toBe(
      `040000 tree ${sub}\tbin\n100644 blob ${blob}\tmain.js\n`,
    );
    expect(git('cat-file', '-p', tag)).toContain(`object ${tree}\ntype tree\ntag acme/disk@1.0.0`);
    expect(git('fsck', '--strict', '--no-dangling').trim()).toBe('');
  });

  it('objects - trees and tags parse back to what was encoded', () => {
    const a = 'a'.repeat(40);
    const entries = [
      { mode: MODE_FILE, name: 'b.txt', hash: a },
      { mode: MODE_TREE, name: 'b', hash: a },
      { mode: MODE_FILE, name: 'a', hash: a },
    ];
    expect(parseTree(encodeTree(entries)).map((e) => e.name)).toEqual(['a', 'b.txt', 'b']);
    const tag = { object: a, type: 'tree' as const, tag: 't', tagger: 'x', message: 'm\n' };
    expect(parseTag(encodeTag(tag))).toEqual(tag);
  });

  it('objects - bytes that do not match their hash are refused and nothing is stored', async () => {
    const real = deflateSync(frame('blob', Buffer.from('real')));
    const claimed = hashObject('blob', Buffer.from('other'));
    await expect(store.objects.putDeflated(claimed, real)).rejects.toThrow(/do not match/);
    expect(await store.objects.has(claimed)).toBe(false);
  });

  it.each([
    ['too short', 'abc123'],
    ['too long', 'a'.repeat(41)],
    ['uppercase', 'A'.repeat(40)],
    ['a path', `../${'a'.repeat(37)}`],
    ['a path inside', `aa/../${'b'.repeat(34)}`],
  ])('objects - a hash that is %s is refused before any file is touched', async (_what, bad) => {
    await expect(store.objects.has(bad)).rejects.toThrow(/40 lowercase hex/);
    await expect(store.objects.putDeflated(bad, Buffer.alloc(1))).rejects.toThrow(/40 lowercase/);
    await expect(store.objects.read(bad)).rejects.toThrow(/40 lowercase hex/);
  });

  it('objects - an object over the size limit is refused', async () => {
    const big = Buffer.alloc(MAX_OBJECT_BYTES + 1, 0x61);
    await expect(store.objects.put('blob', big)).rejects.toMatchObject({
      code: 'payload_too_large',
    });
    const framed = frame('blob', big);
    const hash = hashObject('blob', big);
    await expect(store.objects.putDeflated(hash, deflateSync(framed))).rejects.toMatchObject({
      code: 'payload_too_large',
    });
  });

  it('objects - a zip bomb stops inflating at the limit and is refused', async () => {
    // 1 GiB of zeros deflates to about 1 MiB; inflating it must stop near the 8 MiB limit.
    const bomb = deflateSync(
      Buffer.concat([Buffer.from('blob 1073741824\0'), Buffer.alloc(64 * 1024 * 1024)]),
    );
    const before = process.memoryUsage().arrayBuffers;
    await expect(store.objects.putDeflated('b'.repeat(40), bomb)).rejects.toMatchObject({
      code: 'payload_too_large',
    });
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
    expect(await readdir(store.objects.dir)).toEqual([]);
  });

  it('objects - data after the zlib stream is refused, as git would refuse it', async () => {
    const framed = frame('blob', Buffer.from('x'));
    const hash = hashObject('blob', Buffer.from('x'));
    const padded = Buffer.concat([deflateSync(framed), Buffer.from('junk')]);
    await expect(store.objects.putDeflated(hash, padded)).rejects.toThrow(/after its zlib/);
  });

  it('objects - tree names with a slash, dot-dot or .git are refused', () => {
    const a = 'a'.repeat(40);
    for (const name of ['x/y', '..', '.git', 'a\u0000b', '']) {
      expect(() => encodeTree([{ mode: MODE_FILE, name, hash: a }])).toThrow(/not allowed/);
    }
    expect(() => encodeTree([{ mode: '120000', name: 'link', hash: a }])).toThrow(/mode/);
  });

  it('objects - staged objects reach the repository only when promoted', async () => {
    const staged = store.staging('0123456789abcdef');
    const content = Buffer.from('staged');
    const hash = hashObject('blob', content);
    await staged.putDeflated(hash, deflateSync(frame('blob', content)));
    expect(await store.objects.has(hash)).toBe(false);
    await store.promote(staged, [hash]);
    expect(await store.objects.has(hash)).toBe(true);
    await store.discard(staged);
    expect((await store.objects.read(hash))?.content.toString()).toBe('staged');
  });
});

describe('pack folder', () => {
  it('pack - a folder packs to the tree git makes of it, empty folders left out', async () => {
    const { mkdir, writeFile, chmod } = await import('node:fs/promises');
    const { packFolder } = await import('../pack.ts');
    const folder = join(dir, 'pkg');
    await mkdir(join(folder, 'a/b/c'), { recursive: true });
    await mkdir(join(folder, 'empty/deeper'), { recursive: true });
    await writeFile(
      join(folder, 'script.json'),
      JSON.stringify({ name: 'x', version: '1.0.0', owners: ['o'], visibility: 'public' }),
    );
    await writeFile(join(folder, 'a/b/c/deep.txt'), 'deep');
    await writeFile(join(folder, 'a/top.sh'), 'echo');
    await chmod(join(folder, 'a/top.sh'), 0o755);
    const pack = await packFolder(folder);
    execFileSync('git', ['init', '--quiet', folder]);
    execFileSync('git', ['add', '-A'], { cwd: folder });
    const fromGit = execFileSync('git', ['write-tree'], { cwd: folder }).toString().trim();
    expect(pack.tree).toBe(fromGit);
    expect(pack.files).toBe(3);
  });
});
