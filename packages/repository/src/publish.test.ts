/** Publishing on SQLite and PostgreSQL: staging, signatures, ownership, immutability, locks. */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeTag, hashObject } from './objects/git-object.ts';
import { deflateObject } from './objects/object-store.ts';
import { parseManifest } from './manifest.ts';
import { signBytes } from './keys.ts';
import { ANONYMOUS } from './visibility.ts';
import {
  manifestOf,
  openFixture,
  storeBackends,
  type Fixture,
  type Person,
} from './testing/fixture.ts';

describe.each(storeBackends())('publish on $name', (backend) => {
  let f: Fixture;
  let alice: Person;
  let bob: Person;

  beforeEach(async () => {
    f = await openFixture(backend);
    alice = await f.person('alice');
    bob = await f.person('bob');
  });

  afterEach(async () => {
    await f.close();
  });

  it('publish - a release exists after commit, and git cat-file reads its tag', async () => {
    const published = await f.publish(alice, manifestOf('acme/disk/usage', '1.0.0'), {
      'main.js': 'print(1)',
      'lib/util.js': 'x',
    });
    expect(published).toMatchObject({ name: 'acme/disk/usage', version: '1.0.0', created: true });
    const resolved = await f.repo.catalog.resolve(ANONYMOUS, 'acme/disk/usage', '^1');
    expect(resolved).toMatchObject({ version: '1.0.0', tree: published.tree, tag: published.tag });
    const gitDir = join(f.dir, 'repository');
    const tag = execFileSync('git', ['--git-dir', gitDir, 'cat-file', '-p', published.tag]);
    expect(tag.toString()).toContain(
      `object ${published.tree}\ntype tree\ntag acme/disk/usage@1.0.0`,
    );
    execFileSync('git', ['--git-dir', gitDir, 'fsck', '--no-dangling']);
    const pack = await f.repo.store.readReleasePack(published.tag);
    // The release is also kept as one pack: tag, two trees, script.json, main.js, util.js.
    expect(pack?.readUInt32BE(8)).toBe(6);
    expect(f.audits.map((a) => a.kind)).toContain('scriptPublished');
  });

  it('publish - a second version uploads only the objects the repository lacks', async () => {
    const files = { 'a.js': 'same', 'b.js': 'same too' };
    await f.publish(alice, manifestOf('acme/x', '1.0.0'), files);
    const next = await f.pack(alice, manifestOf('acme/x', '1.0.1'), { ...files, 'c.js': 'new' });
    const upload = await f.repo.publisher.begin(alice, next.tag, 'acme/x@1.0.1');
    const missing = await f.repo.publisher.missing(alice, upload, [...next.objects.keys()]);
    const kinds = missing.map((h) => next.objects.get(h)!.type).sort();
    // new tag, new root tree, new script.json, new c.js; a.js and b.js are already there
    expect(kinds).toEqual(['blob', 'blob', 'tag', 'tree']);
  });

  it("publish - asking what is missing never reveals another package's private objects", async () => {
    const secret = { 'secret.txt': 'the root password is hunter2' };
    await f.publish(alice, manifestOf('acme/private', '1.0.0', { visibility: 'owners' }), secret);
    const probe = await f.pack(bob, manifestOf('bob/probe', '1.0.0', { owners: ['bob'] }), secret);
    const upload = await f.repo.publisher.begin(bob, probe.tag, 'bob/probe@1.0.0');
    const missing = await f.repo.publisher.missing(bob, upload, [...probe.objects.keys()]);
    expect(missing.sort()).toEqual([...probe.objects.keys()].sort());
  });

  it('publish - a publish cut off half way leaves nothing visible, and the retry completes it', async () => {
    const files = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`f${i}.js`, `${i}`]));
    const pack = await f.pack(alice, manifestOf('acme/half', '1.0.0'), files);
    const first = await f.repo.publisher.begin(alice, pack.tag, 'acme/half@1.0.0');
    const all = [...pack.objects.keys()];
    for (const hash of all.slice(0, 10)) {
      const o = pack.objects.get(hash)!;
      await f.repo.publisher.receive(first, hash, deflateObject(o.type, o.content));
    }
    // The connection drops here. Nothing of the release can be seen or read.
    expect((await f.repo.catalog.list(alice)).packages).toEqual([]);
    await expect(f.repo.catalog.object(alice, all[0])).rejects.toMatchObject({ code: 'not_found' });
    await expect(f.repo.catalog.resolve(alice, 'acme/half', '*')).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(f.repo.publisher.commit(alice, first)).rejects.toThrow(/the upload is incomplete/);
    expect(await f.repo.store.objects.has(all[0])).toBe(false);

    // A new run signs the tag again; the same release resumes the same staging folder.
    const resigned = await f.pack(alice, manifestOf('acme/half', '1.0.0'), files);
    const retry = await f.repo.publisher.begin(alice, resigned.tag, 'acme/half@1.0.0');
    expect(retry.id).toBe(first.id);
    const again = [...resigned.objects.keys()];
    const stillMissing = await f.repo.publisher.missing(alice, retry, again);
    expect(stillMissing.sort()).toEqual(again.filter((h) => !all.slice(0, 10).includes(h)).sort());
    const published = await f.upload(alice, resigned);
    expect(published.version).toBe('1.0.0');
    expect((await f.repo.catalog.object(alice, all[0])).type).toBeDefined();
  });

  it('publish - a release signed by someone who is not an owner is refused', async () => {
    await f.publish(alice, manifestOf('acme/owned', '1.0.0'));
    const takeover = manifestOf('acme/owned', '1.1.0', { owners: ['bob'] });
    await expect(f.publish(bob, takeover)).rejects.toThrow(/belongs to alice; only its owners/);
    await expect(f.repo.catalog.version(bob, 'acme/owned', '1.1.0')).rejects.toMatchObject({
      code: 'not_found',
    });
    expect(f.audits.at(-1)).toMatchObject({ kind: 'scriptPublishRefused' });
  });

  it("publish - a release signed with someone else's key is refused", async () => {
    const pack = await f.pack(alice, manifestOf('acme/mine', '1.0.0', { owners: ['bob'] }));
    await expect(f.upload(bob, pack)).rejects.toThrow(/signed with alice's key, not yours/);
  });

  it('publish - a signature over different content is refused', async () => {
    const pack = await f.pack(alice, manifestOf('acme/sig', '1.0.0'));
    const tag = pack.objects.get(pack.tag)!;
    // Same signature block, but the tag now names another tree.
    const other = await f.pack(alice, manifestOf('acme/sig', '1.0.0'), { 'evil.js': 'x' });
    const swapped = Buffer.from(tag.content.toString().replace(pack.tree, other.tree));
    const hash = hashObject('tag', swapped);
    const objects = new Map(other.objects);
    objects.delete(other.tag);
    objects.set(hash, { type: 'tag', content: swapped });
    await expect(f.upload(alice, { ...other, tag: hash, objects })).rejects.toThrow(
      /signature does not match the release/,
    );
  });

  it('publish - a release signed with a removed key is refused', async () => {
    const pack = await f.pack(alice, manifestOf('acme/rm', '1.0.0'));
    await f.repo.keys.remove(alice, alice.keyId);
    await expect(f.upload(alice, pack)).rejects.toThrow(/which was removed/);
  });

  it('publish - a name owned by someone else cannot be taken by naming yourself owner', async () => {
    await f.publish(alice, manifestOf('acme/name', '1.0.0'));
    await expect(
      f.publish(bob, manifestOf('acme/name', '2.0.0', { owners: ['alice', 'bob'] })),
    ).rejects.toMatchObject({ code: 'forbidden' });
  });

  it('publish - the first publisher must name themselves an owner', async () => {
    await expect(f.publish(bob, manifestOf('acme/fresh', '1.0.0'))).rejects.toThrow(
      /owners must include you \(bob\)/,
    );
  });

  it('publish - the same version with other content is refused; the same content is a no-op', async () => {
    const pack = await f.pack(alice, manifestOf('acme/v', '1.0.0'), { 'a.js': '1' });
    const first = await f.upload(alice, pack);
    await expect(f.publish(alice, manifestOf('acme/v', '1.0.0'), { 'a.js': '2' })).rejects.toThrow(
      /already published with other content/,
    );
    // A retried commit of the very same signed tag answers with what is there.
    const again = await f.upload(alice, pack);
    expect(again).toMatchObject({ tree: first.tree, tag: first.tag, created: false });
    const resolved = await f.repo.catalog.resolve(alice, 'acme/v', '1.0.0');
    expect(resolved.tag).toBe(first.tag);
  });

  it('publish - a manifest that fails the schema is refused even when hand-made', async () => {
    const bad = { ...manifestOf('acme/bad', '1.0.0'), visibility: 'everyone' };
    const blob = Buffer.from(JSON.stringify(bad));
    const blobHash = hashObject('blob', blob);
    const treeContent = Buffer.concat([
      Buffer.from('100644 script.json\0'),
      Buffer.from(blobHash, 'hex'),
    ]);
    const tree = hashObject('tree', treeContent);
    const unsigned = encodeTag({
      object: tree,
      type: 'tree',
      tag: 'acme/bad@1.0.0',
      tagger: 'alice <alice@tether> 1 +0000',
      message: `acme/bad@1.0.0\n\n${JSON.stringify(bad)}\n`,
    });
    const sig = signBytes(alice.key, unsigned).toString('base64');
    const content = Buffer.concat([
      unsigned,
      Buffer.from(
        `-----BEGIN TETHER SIGNATURE-----\nkey ${alice.keyId}\nsig ${sig}\n-----END TETHER SIGNATURE-----\n`,
      ),
    ]);
    const tag = hashObject('tag', content);
    const objects = new Map([
      [blobHash, { type: 'blob' as const, content: blob }],
      [tree, { type: 'tree' as const, content: treeContent }],
      [tag, { type: 'tag' as const, content }],
    ]);
    const pack = {
      manifest: parseManifest(JSON.stringify(manifestOf('x', '1.0.0'))),
      tree,
      objects,
      files: 1,
      tag,
    };
    await expect(f.upload(alice, pack)).rejects.toThrow(/visibility:/);
  });

  it('publish - dependencies resolve into a lock stored with the release', async () => {
    await f.publish(alice, manifestOf('acme/fmt', '1.0.0'));
    await f.publish(alice, manifestOf('acme/fmt', '1.4.0'));
    await f.publish(alice, manifestOf('acme/fmt', '2.0.0'));
    await f.publish(
      alice,
      manifestOf('acme/log', '0.3.0', { dependencies: { 'acme/fmt': '^1.2' } }),
    );
    const app = await f.publish(
      alice,
      manifestOf('acme/app', '1.0.0', { dependencies: { 'acme/log': '~0.3.0' } }),
    );
    expect(app.lock.map((l) => `${l.name}@${l.version}`)).toEqual([
      'acme/fmt@1.4.0',
      'acme/log@0.3.0',
    ]);
    const detail = await f.repo.catalog.version(alice, 'acme/app', '1.0.0');
    expect(detail.lock).toEqual(app.lock);
  });

  it('publish - a range nothing satisfies is refused, naming what exists', async () => {
    await f.publish(alice, manifestOf('acme/fmt', '1.0.0'));
    await expect(
      f.publish(alice, manifestOf('acme/app', '1.0.0', { dependencies: { 'acme/fmt': '^3' } })),
    ).rejects.toThrow(
      /no version of acme\/fmt satisfies \^3 \(needed by acme\/app\); there are 1.0.0/,
    );
    await expect(
      f.publish(alice, manifestOf('acme/app', '1.0.0', { dependencies: { 'acme/none': '*' } })),
    ).rejects.toThrow(/no package acme\/none/);
  });

  it('publish - a dependency cycle is refused', async () => {
    await f.publish(alice, manifestOf('acme/a', '1.0.0'));
    await f.publish(alice, manifestOf('acme/b', '1.0.0', { dependencies: { 'acme/a': '^1' } }));
    await expect(
      f.publish(alice, manifestOf('acme/a', '1.1.0', { dependencies: { 'acme/b': '^1' } })),
    ).rejects.toThrow(/dependency cycle: acme\/a → acme\/b → acme\/a/);
  });

  it('publish - two ranges one version cannot meet are a conflict, not a warning', async () => {
    await f.publish(alice, manifestOf('acme/fmt', '1.0.0'));
    await f.publish(alice, manifestOf('acme/fmt', '2.0.0'));
    await f.publish(alice, manifestOf('acme/old', '1.0.0', { dependencies: { 'acme/fmt': '^1' } }));
    const app = manifestOf('acme/app', '1.0.0', {
      dependencies: { 'acme/fmt': '^2', 'acme/old': '^1' },
    });
    await expect(f.publish(alice, app)).rejects.toThrow(
      /dependency conflict: acme\/old needs acme\/fmt@\^1/,
    );
  });

  it('publish - owners add and remove owners by publishing; the history stays in the releases', async () => {
    await f.publish(alice, manifestOf('acme/team', '1.0.0'));
    await f.publish(alice, manifestOf('acme/team', '1.1.0', { owners: ['alice', 'bob'] }));
    await f.publish(bob, manifestOf('acme/team', '1.2.0', { owners: ['bob'] }));
    await expect(f.publish(alice, manifestOf('acme/team', '1.3.0'))).rejects.toThrow(
      /belongs to bob/,
    );
    const versions = await f.repo.catalog.versions(alice, 'acme/team');
    expect(versions.map((v) => v.publisher)).toEqual(['bob', 'alice', 'alice']);
  });

  it('publish - two owners publishing different versions at the same moment both land', async () => {
    await f.publish(alice, manifestOf('acme/race', '1.0.0', { owners: ['alice', 'bob'] }));
    const packs = await Promise.all([
      f.pack(alice, manifestOf('acme/race', '1.1.0', { owners: ['alice', 'bob'] })),
      f.pack(bob, manifestOf('acme/race', '1.2.0', { owners: ['alice', 'bob'] })),
    ]);
    const [a, b] = await Promise.all([f.upload(alice, packs[0]), f.upload(bob, packs[1])]);
    expect([a.version, b.version]).toEqual(['1.1.0', '1.2.0']);
    const versions = await f.repo.catalog.versions(alice, 'acme/race');
    expect(versions.map((v) => v.version)).toEqual(['1.2.0', '1.1.0', '1.0.0']);
  });

  it('publish - two people racing for a new name: exactly one owns it', async () => {
    const packs = await Promise.all([
      f.pack(alice, manifestOf('acme/new', '1.0.0', { owners: ['alice'] })),
      f.pack(bob, manifestOf('acme/new', '1.0.1', { owners: ['bob'] })),
    ]);
    const results = await Promise.allSettled([f.upload(alice, packs[0]), f.upload(bob, packs[1])]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect((await f.repo.catalog.versions(alice, 'acme/new')).length).toBe(1);
  });

  it('publish - a yanked version leaves resolution but stays readable by hash', async () => {
    await f.publish(alice, manifestOf('acme/y', '1.0.0'));
    const bad = await f.publish(alice, manifestOf('acme/y', '1.0.1'), { 'x.js': 'oops' });
    await f.repo.catalog.yank(alice, 'acme/y', '1.0.1', 'deletes the wrong folder');
    expect((await f.repo.catalog.resolve(bob, 'acme/y', '^1')).version).toBe('1.0.0');
    expect((await f.repo.catalog.object(bob, bad.tree)).type).toBe('tree');
    const detail = await f.repo.catalog.version(bob, 'acme/y', '1.0.1');
    expect(detail.yanked).toMatchObject({ by: 'alice', reason: 'deletes the wrong folder' });
    await expect(f.repo.catalog.yank(bob, 'acme/y', '1.0.0', 'mine now')).rejects.toMatchObject({
      code: 'forbidden',
    });
  });

  it('publish - deprecating a package shows its message', async () => {
    await f.publish(alice, manifestOf('acme/dep', '1.0.0'));
    const pkg = await f.repo.catalog.deprecate(alice, 'acme/dep', 'use acme/new');
    expect(pkg.deprecated).toBe('use acme/new');
  });

  it('publish - people without a session cannot publish', async () => {
    const pack = await f.pack(alice, manifestOf('acme/anon', '1.0.0'));
    await expect(f.upload(ANONYMOUS, pack)).rejects.toMatchObject({ code: 'unauthorized' });
  });
});
