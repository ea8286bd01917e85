/** `tether script …`: publish, find, read, yank and deprecate scripts in the repository. */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { Command } from 'commander';
import { TetherError } from '@tether/protocol';
import type { SyncClient } from '@tether/repository';
import type { Client } from './client.ts';
import { clientFor, withConnection } from './context.ts';
import { UsageError } from './errors.ts';
import { defaultKeyPath } from './keys.ts';
import { formatJson, formatTable, truncate } from './output.ts';

/** A dropped connection is retried this often; the repository resumes the same upload. */
const PUBLISH_ATTEMPTS = 3;
const RETRY_PAUSE_MS = 1_000;
const DESCRIPTION_COLUMN = 60;

const EXAMPLES = `
Examples:
  tether keys add                       once: make and register your signing key
  tether script publish ./disk-usage    prints the version and tree hash
  tether script search disk --tag ops
  tether script info acme/disk/usage
  tether script cat acme/disk/usage@^1 README.md
  tether script yank acme/disk/usage@1.0.1 --reason "deletes the wrong folder"`;

interface PackageRow {
  name: string;
  latest: string;
  description: string;
  visibility: string;
  deprecated: string | null;
  tags: string[];
  owners: string[];
}

export function scriptCommand(): Command {
  const script = new Command('script')
    .description('the script repository: publish, search, read, yank')
    .addHelpText('after', EXAMPLES);

  withConnection(script.command('publish'), { json: true })
    .description('sign and publish the package in DIR (default: here); uploads only what is new')
    .argument('[dir]', 'folder holding script.json', '.')
    .option('--key <file>', `signing key (PEM); default ${defaultKeyPath()}`)
    .action(async (dir: string, options) => {
      const client = await clientFor(options);
      const published = await publish(client, resolve(dir), options.key ?? defaultKeyPath());
      if (options.json) return void process.stdout.write(formatJson(published));
      const lines = [
        `published ${published.name}@${published.version}${published.created ? '' : ' (already there)'}`,
        `tree ${published.tree}`,
        `tag  ${published.tag}`,
        ...published.lock.map((l) => `lock ${l.name}@${l.version} ${l.tree}`),
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  const list = (query: string | undefined, options: Record<string, any>) =>
    listPackages(options, { q: query, tag: options.tag, owner: options.owner });
  withConnection(script.command('ls'), { json: true })
    .description('list the scripts you may see')
    .option('--tag <tag>', 'only with this tag')
    .option('--owner <username>', 'only owned by this person')
    .action((options) => list(undefined, options));
  withConnection(script.command('search'), { json: true })
    .description('find scripts by words in their name, description or tags')
    .argument('<query>')
    .option('--tag <tag>', 'only with this tag')
    .option('--owner <username>', 'only owned by this person')
    .action((query: string, options) => list(query, options));

  withConnection(script.command('info'), { json: true })
    .description('a package: description, owners, who may run it, versions, dependencies')
    .argument('<name>')
    .action(async (name: string, options) => {
      const client = await clientFor(options);
      const { package: pkg } = await client.get<{ package: any }>(packagePath(name), {
        doing: `reading ${name}`,
      });
      const { version } = await client.get<{ version: any }>(
        `${packagePath(name)}/versions/${encodeURIComponent(pkg.latest)}`,
        { doing: `reading ${name}@${pkg.latest}` },
      );
      if (options.json)
        return void process.stdout.write(formatJson({ ...pkg, latestVersion: version }));
      const deps = Object.entries(version.manifest.dependencies as Record<string, string>);
      const caps = Object.entries(version.manifest.capabilities as Record<string, string[]>);
      const lines = [
        `${pkg.name}@${pkg.latest}`,
        pkg.description ? `  ${pkg.description}` : '',
        pkg.deprecated ? `DEPRECATED: ${pkg.deprecated}` : '',
        `owners:       ${pkg.owners.join(', ')}`,
        `tags:         ${pkg.tags.join(', ') || '-'}`,
        `who may run:  ${version.audience} (${version.visibility})`,
        `tree:         ${version.tree}`,
        `dependencies: ${deps.map(([n, r]) => `${n}@${r}`).join(', ') || '-'}`,
        `capabilities: ${caps.map(([c, v]) => `${c} [${v.join(', ')}]`).join('; ') || '-'}`,
        `versions:     ${pkg.versions.map((v: any) => v.version + (v.yanked ? ' (yanked)' : '')).join(', ')}`,
      ];
      process.stdout.write(`${lines.filter((l) => l !== '').join('\n')}\n`);
    });

  withConnection(script.command('versions'), { json: true })
    .description('every version of a package, newest first')
    .argument('<name>')
    .action(async (name: string, options) => {
      const client = await clientFor(options);
      const { versions } = await client.get<{ versions: any[] }>(`${packagePath(name)}/versions`, {
        doing: `listing versions of ${name}`,
      });
      if (options.json) return void process.stdout.write(formatJson(versions));
      const rows = versions.map((v) => [
        v.version,
        v.publishedAt,
        v.publisher,
        v.tree,
        v.yanked ? `yanked: ${v.yanked.reason}` : '',
      ]);
      process.stdout.write(formatTable(['VERSION', 'PUBLISHED', 'BY', 'TREE', ''], rows));
    });

  withConnection(script.command('cat'))
    .description("print a file of the version NAME@RANGE resolves to (a folder's entries)")
    .argument('<name@range>')
    .argument('[path]', 'path inside the package', 'script.json')
    .action(async (spec: string, path: string, options) => {
      const client = await clientFor(options);
      const { name, rest: range } = splitSpec(spec, '*');
      const query = { name, range };
      const { resolved } = await client.get<{ resolved: { version: string } }>(
        '/api/v1/repository/resolve',
        { query, doing: `resolving ${spec}` },
      );
      const url = `${client.url}${packagePath(name)}/versions/${resolved.version}/files/${path
        .split('/')
        .map(encodeURIComponent)
        .join('/')}`;
      const response = await fetch(url, { headers: client.authHeaders() });
      if (!response.ok) {
        const body = (await response.json().catch(() => null)) as any;
        throw client.streamError(
          body?.error ?? { code: 'not_found', message: `no ${path}` },
          `reading ${path}`,
        );
      }
      if (response.headers.get('content-type')?.startsWith('application/json')) {
        const { entries } = (await response.json()) as { entries: any[] };
        const rows = entries.map((e) => [e.type, e.mode, e.hash, e.name]);
        return void process.stdout.write(formatTable(['TYPE', 'MODE', 'HASH', 'NAME'], rows));
      }
      process.stdout.write(Buffer.from(await response.arrayBuffer()));
    });

  withConnection(script.command('yank'), { json: true })
    .description('leave a version out of resolution (it stays fetchable by hash)')
    .argument('<name@version>')
    .requiredOption('--reason <text>', 'why, for whoever pinned it')
    .action(async (spec: string, options) => {
      const client = await clientFor(options);
      const { name, rest: version } = splitSpec(spec);
      const { version: yanked } = await client.post<{ version: any }>(
        `${packagePath(name)}/versions/${encodeURIComponent(version)}/yank`,
        { reason: options.reason },
        { doing: `yanking ${spec}` },
      );
      if (options.json) return void process.stdout.write(formatJson(yanked));
      process.stdout.write(`yanked ${name}@${yanked.version}\n`);
    });

  withConnection(script.command('deprecate'), { json: true })
    .description('mark a package deprecated with a message (--undo takes it back)')
    .argument('<name>')
    .option('--message <text>', 'what to use instead, or why')
    .option('--undo', 'remove the deprecation')
    .action(async (name: string, options) => {
      if (!options.message === !options.undo) {
        throw new UsageError('give either --message TEXT or --undo');
      }
      const client = await clientFor(options);
      const body = { message: options.undo ? null : options.message };
      const { package: pkg } = await client.post<{ package: PackageRow }>(
        `${packagePath(name)}/deprecate`,
        body,
        { doing: `deprecating ${name}` },
      );
      if (options.json) return void process.stdout.write(formatJson(pkg));
      process.stdout.write(
        pkg.deprecated ? `deprecated ${name}\n` : `${name} is no longer deprecated\n`,
      );
    });

  return script;
}

async function publish(client: Client, dir: string, keyPath: string) {
  // Loaded here, not at the top: every other tether command starts faster without it.
  const { loadPrivateKey, packFolder, signPack, SyncClient } = await import('@tether/repository');
  if (!existsSync(keyPath)) {
    throw new UsageError(`no signing key at ${keyPath}: run tether keys add, or pass --key FILE`);
  }
  const signer = loadPrivateKey(await readFile(keyPath, 'utf8'));
  const pack = await packFolder(dir).catch((error) => {
    throw error instanceof TetherError ? new UsageError(error.message, { cause: error }) : error;
  });
  const me = await client.get<{ user: { username: string } }>('/api/v1/me', {
    doing: 'asking who you are',
  });
  const signed = signPack(pack, {
    username: me.user.username,
    key: signer.key,
    keyId: signer.publicKey.fingerprint,
  });
  const doing = `publishing ${pack.manifest.name}@${pack.manifest.version}`;
  const bar = new cliProgress.SingleBar(
    { format: `${doing} [{bar}] {value}/{total} objects`, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  for (let attempt = 1; ; attempt++) {
    let sync: SyncClient | null = null;
    try {
      sync = await SyncClient.connect(client.url, client.authHeaders());
      let started = false;
      return await sync.publish(signed, (sent, total) => {
        if (!started) bar.start(total, sent);
        started = true;
        bar.update(sent);
      });
    } catch (error) {
      const retry = error instanceof TetherError && error.code === 'unavailable';
      if (!retry || attempt >= PUBLISH_ATTEMPTS) {
        if (error instanceof TetherError) throw client.streamError(error.toWire(), doing);
        throw error;
      }
      process.stderr.write(`\nconnection lost (${error.message}); resuming\n`);
      await new Promise((r) => setTimeout(r, RETRY_PAUSE_MS));
    } finally {
      bar.stop();
      await sync?.close();
    }
  }
}

async function listPackages(
  options: Record<string, any>,
  filter: Record<string, string | undefined>,
) {
  const client = await clientFor(options as never);
  const packages: PackageRow[] = [];
  let cursor: string | undefined;
  do {
    const page = await client.get<{ packages: PackageRow[]; nextCursor: string | null }>(
      '/api/v1/repository/packages',
      { query: { ...filter, cursor, limit: 200 }, doing: 'listing scripts' },
    );
    packages.push(...page.packages);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  if (options.json) return void process.stdout.write(formatJson(packages));
  const rows = packages.map((p) => [
    p.name,
    p.latest,
    p.visibility,
    truncate(p.deprecated ? `(deprecated) ${p.description}` : p.description, DESCRIPTION_COLUMN),
  ]);
  process.stdout.write(formatTable(['NAME', 'LATEST', 'VISIBILITY', 'DESCRIPTION'], rows));
}

function packagePath(name: string): string {
  return `/api/v1/repository/packages/${encodeURIComponent(name)}`;
}

/** `acme/disk@^1` → name and range; names hold no `@`, so the first one splits. */
function splitSpec(spec: string, fallback?: string): { name: string; rest: string } {
  const at = spec.indexOf('@');
  if (at < 0) {
    if (fallback !== undefined) return { name: spec, rest: fallback };
    throw new UsageError(`expected NAME@VERSION, got "${spec}"`);
  }
  return { name: spec.slice(0, at), rest: spec.slice(at + 1) };
}
