/** The repository's REST API on a real endpoint: browse, search, files, objects, keys, yank. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  publishVia,
  publisher,
  startHarness,
  type Harness,
  type Publisher,
} from '../testing/endpoint.ts';

let h: Harness;
let alice: Publisher;
let customer: { token: string };
let outsider: { token: string };
let disk: { tree: string; tag: string };

const enc = encodeURIComponent;

async function raw(path: string, token?: string, headers: Record<string, string> = {}) {
  return fetch(`${h.url}${path}`, {
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers },
  });
}

beforeAll(async () => {
  h = await startHarness();
  await h.account('acme');
  await h.account('other');
  alice = await publisher(h, 'engineer');
  customer = await h.user('customer', { account: 'acme' });
  outsider = await h.user('customer', { account: 'other' });
  disk = await publishVia(
    h,
    alice,
    {
      name: 'acme/disk/usage',
      version: '1.0.0',
      description: 'Disk usage per folder',
      tags: ['disk'],
      visibility: 'customers',
    },
    { 'README.md': '# Disk usage\n<script>alert(1)</script>\n', 'lib/main.js': 'print(1)' },
  );
  await publishVia(h, alice, {
    name: 'acme/disk/usage',
    version: '1.1.0',
    visibility: 'customers',
    tags: ['disk'],
  });
  await publishVia(h, alice, {
    name: 'acme/net/ping',
    version: '0.1.0',
    description: 'Ping hosts',
    tags: ['net'],
  });
  await publishVia(h, alice, {
    name: 'acme/staff/reset',
    version: '1.0.0',
    visibility: 'staff',
    tags: ['disk'],
  });
  for (let i = 0; i < 5; i++) await publishVia(h, alice, { name: `page/p${i}`, version: '1.0.0' });
}, 60_000);

afterAll(async () => {
  await h?.close();
});

describe('repository REST', () => {
  it('rest - search finds by name word, description, tag and owner, within visibility', async () => {
    const byWord = await h.api(
      'GET',
      '/api/v1/repository/packages?q=disk',
      undefined,
      customer.token,
    );
    expect(byWord.body.packages.map((p: any) => p.name)).toEqual(['acme/disk/usage']);
    const byDescription = await h.api(
      'GET',
      '/api/v1/repository/packages?q=ping%20ho',
      undefined,
      customer.token,
    );
    expect(byDescription.body.packages.map((p: any) => p.name)).toEqual(['acme/net/ping']);
    const byTag = await h.api(
      'GET',
      '/api/v1/repository/packages?tag=disk',
      undefined,
      alice.token,
    );
    expect(byTag.body.packages.map((p: any) => p.name)).toEqual([
      'acme/disk/usage',
      'acme/staff/reset',
    ]);
    const byOwner = await h.api(
      'GET',
      `/api/v1/repository/packages?owner=${alice.username}&limit=200`,
      undefined,
      customer.token,
    );
    expect(byOwner.body.packages).toHaveLength(7);
    expect(byOwner.body.packages[0]).toMatchObject({
      name: 'acme/disk/usage',
      latest: '1.1.0',
      owners: [alice.username],
    });
  });

  it('rest - listing pages with a cursor until there is none', async () => {
    const names: string[] = [];
    let cursor: string | undefined;
    do {
      const query = `limit=3${cursor ? `&cursor=${cursor}` : ''}`;
      const page = await h.api(
        'GET',
        `/api/v1/repository/packages?${query}`,
        undefined,
        alice.token,
      );
      names.push(...page.body.packages.map((p: any) => p.name));
      cursor = page.body.nextCursor ?? undefined;
    } while (cursor);
    expect(names).toEqual([...names].sort());
    expect(names).toHaveLength(8);
  });

  it('rest - a package, its versions and one version with who may run it', async () => {
    const pkg = await h.api(
      'GET',
      `/api/v1/repository/packages/${enc('acme/disk/usage')}`,
      undefined,
      customer.token,
    );
    expect(pkg.body.package).toMatchObject({
      name: 'acme/disk/usage',
      latest: '1.1.0',
      deprecated: null,
    });
    expect(pkg.body.package.versions.map((v: any) => v.version)).toEqual(['1.1.0', '1.0.0']);
    const one = await h.api(
      'GET',
      `/api/v1/repository/packages/${enc('acme/disk/usage')}/versions/1.0.0`,
      undefined,
      customer.token,
    );
    expect(one.body.version).toMatchObject({
      tree: disk.tree,
      tag: disk.tag,
      publisher: alice.username,
      audience: 'every signed-in person and every agent',
      manifest: { description: 'Disk usage per folder' },
      lock: [],
    });
  });

  it("rest - a version's files: folders as JSON, files as bytes that are never HTML", async () => {
    const base = `/api/v1/repository/packages/${enc('acme/disk/usage')}/versions/1.0.0/files`;
    const root = await h.api('GET', `${base}/`, undefined, customer.token);
    expect(root.body.entries.map((e: any) => `${e.type} ${e.name}`)).toEqual([
      'blob README.md',
      'tree lib',
      'blob script.json',
    ]);
    const readme = await raw(`${base}/README.md`, customer.token);
    expect(readme.headers.get('content-type')).toBe('application/octet-stream');
    expect(readme.headers.get('x-content-type-options')).toBe('nosniff');
    expect(readme.headers.get('content-security-policy')).toContain('sandbox');
    expect(await readme.text()).toContain('<script>alert(1)</script>');
    expect((await raw(`${base}/lib/main.js`, customer.token)).status).toBe(200);
    expect((await raw(`${base}/lib/../../etc/passwd`, customer.token)).status).toBe(404);
  });

  it('rest - objects by hash carry an ETag and immutable caching, and answer 304', async () => {
    const first = await raw(`/api/v1/repository/objects/${disk.tree}`, customer.token);
    expect(first.status).toBe(200);
    expect(first.headers.get('etag')).toBe(`"${disk.tree}"`);
    expect(first.headers.get('cache-control')).toContain('immutable');
    expect(first.headers.get('x-git-type')).toBe('tree');
    const again = await raw(`/api/v1/repository/objects/${disk.tree}`, customer.token, {
      'if-none-match': `"${disk.tree}"`,
    });
    expect(again.status).toBe(304);
    const tree = await h.api(
      'GET',
      `/api/v1/repository/trees/${disk.tree}`,
      undefined,
      customer.token,
    );
    expect(tree.body.entries).toHaveLength(3);
  });

  it('rest - resolve picks the highest version in range', async () => {
    const r = await h.api(
      'GET',
      `/api/v1/repository/resolve?name=${enc('acme/disk/usage')}&range=~1.0.0`,
      undefined,
      customer.token,
    );
    expect(r.body.resolved).toMatchObject({ version: '1.0.0', tree: disk.tree });
  });

  it('rest - hidden packages answer 404 everywhere; anonymous callers see public ones only', async () => {
    const staffOnly = enc('acme/staff/reset');
    for (const path of [
      `/api/v1/repository/packages/${staffOnly}`,
      `/api/v1/repository/packages/${staffOnly}/versions`,
      `/api/v1/repository/packages/${staffOnly}/versions/1.0.0`,
      `/api/v1/repository/resolve?name=${staffOnly}`,
    ]) {
      const answer = await h.api('GET', path, undefined, outsider.token);
      expect(answer, path).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    }
    const anonymous = await raw('/api/v1/repository/packages');
    const names = ((await anonymous.json()) as any).packages.map((p: any) => p.name);
    expect(names).not.toContain('acme/disk/usage');
    expect(names).toContain('acme/net/ping');
    expect((await raw(`/api/v1/repository/objects/${disk.tree}`)).status).toBe(404);
  });

  it.each([
    ['an uppercase hash', `/api/v1/repository/objects/${'A'.repeat(40)}`, /40 lowercase hex/],
    ['a short hash', '/api/v1/repository/blobs/abc', /40 lowercase hex/],
    ['a dotted hash', `/api/v1/repository/trees/..%2F${'a'.repeat(37)}`, /40 lowercase hex/],
    ['a bad name', '/api/v1/repository/packages/Acme', /name:/],
    ['an unknown filter', '/api/v1/repository/packages?sort=stars', /unknown field sort/],
    ['a bad cursor', '/api/v1/repository/packages?cursor=xyz', /cursor/],
    ['a bad range', `/api/v1/repository/resolve?name=acme&range=soon`, /not a semver range/],
  ])('rest - %s is a 400 with a clear message', async (_what, path, message) => {
    const answer = await h.api('GET', path, undefined, customer.token);
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toMatch(message);
  });

  it('rest - only owners yank or deprecate; both are audited', async () => {
    const path = `/api/v1/repository/packages/${enc('acme/net/ping')}`;
    const refused = await h.api(
      'POST',
      `${path}/versions/0.1.0/yank`,
      { reason: 'mine' },
      customer.token,
    );
    expect(refused.status).toBe(403);
    const yanked = await h.api(
      'POST',
      `${path}/versions/0.1.0/yank`,
      { reason: 'broken' },
      alice.token,
    );
    expect(yanked.body.version.yanked).toMatchObject({ reason: 'broken' });
    const deprecated = await h.api(
      'POST',
      `${path}/deprecate`,
      { message: 'use acme/net/probe' },
      alice.token,
    );
    expect(deprecated.body.package.deprecated).toBe('use acme/net/probe');
    const audit = await h.api('GET', '/api/v1/audit?limit=50');
    const codes = audit.body.events.map((e: any) => e.code);
    expect(codes).toEqual(
      expect.arrayContaining(['T3500I', 'T3501I', 'T3502I', 'T3503I', 'T3506E']),
    );
  });

  it('rest - keys: add, list, remove; a removed key stays listed as removed', async () => {
    const bob = await publisher(h, 'engineer');
    const listed = await h.api('GET', '/api/v1/repository/keys', undefined, bob.token);
    expect(listed.body.keys).toHaveLength(1);
    const removed = await h.api(
      'DELETE',
      `/api/v1/repository/keys/${enc(bob.keyId)}`,
      undefined,
      bob.token,
    );
    expect(removed.body.key.removedAt).not.toBeNull();
    const bad = await h.api(
      'POST',
      '/api/v1/repository/keys',
      { publicKey: 'ssh-rsa AAAAB3Nza' },
      bob.token,
    );
    expect(bad).toMatchObject({ status: 400 });
    const anonymous = await fetch(`${h.url}/api/v1/repository/keys`);
    expect(anonymous.status).toBe(401);
  });
});
