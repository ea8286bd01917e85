/**
 * `tether keys` and `tether script` as child processes against a real endpoint, then the same
 * through an endpoint that forwards to a separate `tether repository serve`.
 */
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliHarness, closedPort } from './e2e-harness.ts';

/** Each tether child loads its TypeScript through tsx: seconds apiece on a loaded machine. */
const SLOW_MS = 180_000;

let dir: string;
let endpoint: { url: string; adminToken: string; services: any; close(): Promise<void> };
let h: CliHarness;

async function writePackage(
  name: string,
  manifest: Record<string, unknown>,
  files: Record<string, string> = {},
) {
  const folder = join(dir, name.replace(/\//g, '_') + String(manifest.version));
  await mkdir(folder, { recursive: true });
  await writeFile(
    join(folder, 'script.json'),
    JSON.stringify({ name, owners: ['admin'], visibility: 'customers', ...manifest }),
  );
  for (const [path, text] of Object.entries(files)) await writeFile(join(folder, path), text);
  return folder;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tether-cli-scripts-'));
  const { startEndpoint } = await import('@tether/endpoint');
  endpoint = await startEndpoint({
    dataDir: join(dir, 'endpoint'),
    listen: { host: '127.0.0.1', port: 0 },
    logLevel: 'silent',
  });
  h = new CliHarness(dir, endpoint);
}, 60_000);

afterAll(async () => {
  const leaked = h?.children.size ?? 0;
  await endpoint?.close();
  await rm(dir, { recursive: true, force: true });
  expect(leaked).toBe(0);
});

describe('cli - scripts', { timeout: SLOW_MS }, () => {
  it('cli - keys add makes a private key (0600) and registers it; publish prints version and tree', async () => {
    const added = await h.tether(['keys', 'add', '--comment', 'laptop']);
    expect(added.stderr).toBe('');
    expect(added.stdout).toMatch(
      /^made a new signing key in .*publisher-key.pem\nregistered SHA256:/,
    );
    const keyFile = join(dir, 'config', 'tether', 'publisher-key.pem');
    expect((await readFile(keyFile, 'utf8')).startsWith('-----BEGIN PRIVATE KEY-----')).toBe(true);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);

    const folder = await writePackage(
      'acme/disk/usage',
      { version: '1.0.0', description: 'Disk usage', tags: ['disk'] },
      {
        'main.js': 'print(1)',
        'README.md': '# Disk',
      },
    );
    const published = await h.tether(['script', 'publish', folder]);
    expect(published.code).toBe(0);
    expect(published.stdout).toMatch(
      /^published acme\/disk\/usage@1.0.0\ntree [0-9a-f]{40}\ntag  [0-9a-f]{40}\n$/,
    );

    const again = await h.tether(['script', 'publish', folder]);
    expect(again.stdout).toContain('published acme/disk/usage@1.0.0 (already there)');
    await writeFile(join(folder, 'main.js'), 'print(2)');
    const changed = await h.tether(['script', 'publish', folder]);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toMatch(
      /^tether: publishing acme\/disk\/usage@1.0.0: .*already published with other content/,
    );
  });

  it('cli - ls, search, info, versions and cat show what was published', async () => {
    const folder = await writePackage(
      'acme/disk/usage',
      { version: '1.1.0', description: 'Disk usage', tags: ['disk'] },
      { 'main.js': 'print(3)' },
    );
    expect((await h.tether(['script', 'publish', folder])).code).toBe(0);

    const ls = await h.tether(['script', 'ls']);
    expect(ls.stdout).toMatch(
      /^NAME +LATEST +VISIBILITY +DESCRIPTION\nacme\/disk\/usage +1.1.0 +customers +Disk usage\n$/,
    );
    const search = await h.tether(['script', 'search', 'dis', '--json']);
    expect(JSON.parse(search.stdout).map((p: any) => p.name)).toEqual(['acme/disk/usage']);
    const none = await h.tether(['script', 'search', 'nothing-like-it', '--json']);
    expect(JSON.parse(none.stdout)).toEqual([]);

    const info = await h.tether(['script', 'info', 'acme/disk/usage']);
    expect(info.stdout).toContain(
      'who may run:  every signed-in person and every agent (customers)',
    );
    expect(info.stdout).toContain('versions:     1.1.0, 1.0.0');

    const versions = await h.tether(['script', 'versions', 'acme/disk/usage']);
    expect(versions.stdout.split('\n')[1]).toMatch(/^1.1.0 /);

    const cat = await h.tether(['script', 'cat', 'acme/disk/usage@~1.0.0', 'main.js']);
    expect(cat.stdout).toBe('print(1)');
    const folderListing = await h.tether(['script', 'cat', 'acme/disk/usage@^1', '/']);
    expect(folderListing.stdout).toMatch(/blob +100644 +[0-9a-f]{40} +main.js/);
  });

  it('cli - yank and deprecate; a yanked version leaves resolution', async () => {
    const yank = await h.tether(['script', 'yank', 'acme/disk/usage@1.1.0', '--reason', 'broken']);
    expect(yank.stdout).toBe('yanked acme/disk/usage@1.1.0\n');
    const cat = await h.tether(['script', 'cat', 'acme/disk/usage@^1', 'main.js']);
    expect(cat.stdout).toBe('print(1)');
    const deprecate = await h.tether([
      'script',
      'deprecate',
      'acme/disk/usage',
      '--message',
      'use acme/df',
    ]);
    expect(deprecate.stdout).toBe('deprecated acme/disk/usage\n');
    const neither = await h.tether(['script', 'deprecate', 'acme/disk/usage']);
    expect(neither.stderr).toBe('tether: give either --message TEXT or --undo\n');
  });

  it('cli - a manifest that fails the schema is one clear line and exit 1', async () => {
    const folder = await writePackage('acme/bad', { version: 'one' });
    const run = await h.tether(['script', 'publish', folder]);
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'tether: script.json: version: must be a semantic version such as 1.2.3 (no build metadata)\n',
    );
  });

  it('cli - keys ls and rm; a removed key signs nothing new', async () => {
    const listed = JSON.parse((await h.tether(['keys', 'ls', '--json'])).stdout);
    expect(listed).toHaveLength(1);
    const removed = await h.tether(['keys', 'rm', listed[0].id]);
    expect(removed.stdout).toBe(`removed ${listed[0].id}\n`);
    const folder = await writePackage('acme/after', { version: '1.0.0' });
    const run = await h.tether(['script', 'publish', folder]);
    expect(run.stderr).toMatch(/which was removed/);
  });
});

describe('cli - separate repository', { timeout: SLOW_MS }, () => {
  it('cli - tether serve --repository forwards to tether repository serve, visibility intact', async () => {
    const repoPort = await closedPort();
    const endpointPort = await closedPort();
    const { startEndpoint } = await import('@tether/endpoint');
    // The endpoint first, to learn its key; then the repository that trusts it.
    const front = await startEndpoint({
      dataDir: join(dir, 'front'),
      listen: { host: '127.0.0.1', port: endpointPort },
      logLevel: 'silent',
      repositoryUrl: `http://127.0.0.1:${repoPort}`,
    });
    const server = h.start([
      'repository',
      'serve',
      '--data',
      join(dir, 'standalone'),
      '--listen',
      `127.0.0.1:${repoPort}`,
      '--trust-endpoint-key',
      join(dir, 'front', 'endpoint-key.pub'),
      '--log-level',
      'warn',
    ]);
    try {
      const env = {
        TETHER_URL: front.url,
        TETHER_TOKEN: front.adminToken,
        XDG_CONFIG_HOME: join(dir, 'config2'),
      };
      const deadline = Date.now() + 30_000;
      while (
        !(await fetch(`http://127.0.0.1:${repoPort}/healthz`).then(
          (r) => r.ok,
          () => false,
        ))
      ) {
        if (Date.now() > deadline) throw new Error(`repository did not start: ${server.stderr()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      expect((await h.tether(['keys', 'add'], '', env)).code).toBe(0);
      const folder = await writePackage(
        'ops/secret',
        { version: '1.0.0', visibility: 'staff' },
        { 'a.sh': 'x' },
      );
      const published = await h.tether(['script', 'publish', folder], '', env);
      expect(published.stdout).toMatch(/^published ops\/secret@1.0.0/);

      const direct = await fetch(`http://127.0.0.1:${repoPort}/api/v1/repository/packages`);
      expect(((await direct.json()) as any).packages).toEqual([]);
      const viaAdmin = await h.tether(['script', 'ls', '--json'], '', env);
      expect(JSON.parse(viaAdmin.stdout).map((p: any) => p.name)).toEqual(['ops/secret']);

      await fetch(`${front.url}/api/v1/accounts`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${front.adminToken}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({ name: 'cust' }),
      });
      const user = await front.services.people.createUser({
        username: 'cu',
        displayName: 'Cu',
        role: 'customer',
        accountId: (await front.services.people.findAccount('cust'))!.id,
      });
      const { token } = await front.services.people.createApiToken(user.id, 't');
      const hidden = await h.tether(['script', 'info', 'ops/secret'], '', {
        ...env,
        TETHER_TOKEN: token,
      });
      expect(hidden.stderr).toBe('tether: reading ops/secret: no package ops/secret\n');

      const forged = await fetch(`http://127.0.0.1:${repoPort}/api/v1/repository/packages`, {
        headers: { 'x-tether-caller': 'e30.AAAA' },
      });
      expect(forged.status).toBe(401);
    } finally {
      server.child.kill('SIGTERM');
      await server.done;
      await front.close();
    }
  });
});
