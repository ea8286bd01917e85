/** Reading the index through visibility: packages, versions, search, files, objects by hash. */
import type { Kysely } from 'kysely';
import semver from 'semver';
import { TetherError } from '@tether/protocol';
import type { AuditSink } from './audit.ts';
import type { RepositoryDatabase, RepoVersionsTable } from './index/schema.ts';
import type { Manifest } from './manifest.ts';
import { entryType, parseTree, type GitObject, type TreeEntry } from './objects/git-object.ts';
import type { ObjectStore } from './objects/object-store.ts';
import { queryWords } from './search-terms.ts';
import { resolveLock, VersionSource, type LockEntry } from './resolve.ts';
import { audienceOf, canManage, versionScope, type Caller } from './visibility.ts';

const DEFAULT_PAGE = 50;
const MAX_PAGE = 200;
const MAX_PATH_DEPTH = 64;

export interface ListFilter {
  q?: string;
  tag?: string;
  owner?: string;
  cursor?: string;
  limit?: number;
}

export interface PackageSummary {
  name: string;
  latest: string;
  description: string;
  tags: string[];
  owners: string[];
  visibility: string;
  deprecated: string | null;
  updatedAt: string;
  /** True when every version the caller sees is yanked (`latest` is then a yanked one). */
  latestYanked: boolean;
  /** How many of the versions the caller sees are yanked. */
  yankedVersions: number;
}

export interface VersionView {
  name: string;
  version: string;
  tree: string;
  tag: string;
  publisher: string;
  keyId: string;
  publishedAt: string;
  visibility: string;
  /** The owners this version's manifest named: read in order, they are the ownership history. */
  owners: string[];
  /** Who may see and run it, in words. */
  audience: string;
  yanked: { at: string; by: string | null; reason: string } | null;
}

export interface VersionDetail extends VersionView {
  manifest: Manifest;
  lock: LockEntry[];
  /** True when some locked dependency is hidden from the caller (and left out of `lock`). */
  lockHidden: boolean;
}

export interface Resolved {
  name: string;
  version: string;
  tree: string;
  tag: string;
  lock: LockEntry[];
}

export type FileAt =
  | { kind: 'tree'; hash: string; entries: Array<TreeEntry & { type: string }> }
  | { kind: 'blob'; hash: string; mode: string; content: Buffer };

export class Catalog {
  constructor(
    private readonly db: Kysely<RepositoryDatabase>,
    private readonly store: ObjectStore,
    private readonly audit: AuditSink,
  ) {}

  async list(caller: Caller, filter: ListFilter = {}) {
    const limit = Math.min(filter.limit ?? DEFAULT_PAGE, MAX_PAGE);
    let query = this.db
      .selectFrom('repo_versions as v')
      .select('v.name')
      .distinct()
      .where(versionScope(caller, 'v'))
      .orderBy('v.name')
      .limit(limit + 1);
    for (const word of queryWords(filter.q ?? '')) {
      query = query.where(({ exists, selectFrom }) =>
        exists(
          selectFrom('repo_search_terms as s')
            .select('s.term')
            .whereRef('s.name', '=', 'v.name')
            .whereRef('s.version', '=', 'v.version')
            .where('s.term', 'like', `${word}%`),
        ),
      );
    }
    if (filter.tag) {
      const tag = filter.tag;
      query = query.where(({ exists, selectFrom }) =>
        exists(
          selectFrom('repo_version_tags as t')
            .select('t.tag')
            .whereRef('t.name', '=', 'v.name')
            .whereRef('t.version', '=', 'v.version')
            .where('t.tag', '=', tag),
        ),
      );
    }
    if (filter.owner) {
      const owner = filter.owner.toLowerCase();
      query = query.where(({ exists, selectFrom }) =>
        exists(
          selectFrom('repo_version_owners as o')
            .select('o.username')
            .whereRef('o.name', '=', 'v.name')
            .whereRef('o.version', '=', 'v.version')
            .where('o.username', '=', owner),
        ),
      );
    }
    const after = filter.cursor ? decodeCursor(filter.cursor) : undefined;
    if (after !== undefined) query = query.where('v.name', '>', after);

    const names = (await query.execute()).map((r) => r.name);
    const page = names.slice(0, limit);
    const packages = await this.#summaries(caller, page);
    const nextCursor = names.length > limit ? encodeCursor(page.at(-1)!) : null;
    return { packages, nextCursor };
  }

  /** A package as the caller may see it: its visible versions, newest first. */
  async package(caller: Caller, name: string) {
    const [summary] = await this.#summaries(caller, [name]);
    if (!summary) throw await this.#hidden(caller, { name });
    const pkg = await this.db
      .selectFrom('repo_packages')
      .select(['created_at', 'deprecated_at', 'deprecated_by'])
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
    return {
      ...summary,
      createdAt: pkg.created_at,
      deprecatedAt: pkg.deprecated_at,
      versions: await this.versions(caller, name),
    };
  }

  async versions(caller: Caller, name: string): Promise<VersionView[]> {
    const rows = await this.#visibleVersions(caller, [name]);
    if (rows.length === 0) throw await this.#hidden(caller, { name });
    return rows.sort((a, b) => semver.rcompare(a.version, b.version)).map(versionView);
  }

  async version(caller: Caller, name: string, version: string): Promise<VersionDetail> {
    const row = await this.db
      .selectFrom('repo_versions')
      .selectAll()
      .where('name', '=', name)
      .where('version', '=', version)
      .where(versionScope(caller))
      .executeTakeFirst();
    if (!row) throw await this.#hidden(caller, { name, version });
    const lock = JSON.parse(row.lock) as LockEntry[];
    const visible = await this.#visibleOf(caller, lock);
    return {
      ...versionView(row),
      manifest: JSON.parse(row.manifest) as Manifest,
      lock: visible,
      lockHidden: visible.length !== lock.length,
    };
  }

  /** `name@range` to the highest visible, unyanked version that satisfies it. */
  async resolve(caller: Caller, name: string, range: string): Promise<Resolved> {
    if (semver.validRange(range) === null) {
      throw new TetherError('invalid_request', `"${range}" is not a semver range`);
    }
    const best = await new VersionSource(this.db, caller).best(name, range).catch(async (error) => {
      if (error instanceof TetherError && error.message.startsWith('no package')) {
        throw await this.#hidden(caller, { name });
      }
      throw error;
    });
    const detail = await this.version(caller, name, best.version);
    return { name, version: best.version, tree: detail.tree, tag: detail.tag, lock: detail.lock };
  }

  /** Resolves dependencies as a publish would, without publishing (for `tether script info`). */
  async lockFor(caller: Caller, name: string, dependencies: Record<string, string>) {
    return resolveLock(new VersionSource(this.db, caller), name, dependencies);
  }

  /** Whether `hash` is reachable from a version the caller may see. */
  async canRead(caller: Caller, hash: string): Promise<boolean> {
    const row = await this.db
      .selectFrom('repo_object_refs as r')
      .innerJoin('repo_versions as v', (join) =>
        join.onRef('v.name', '=', 'r.name').onRef('v.version', '=', 'r.version'),
      )
      .select('r.hash')
      .where('r.hash', '=', hash)
      .where(versionScope(caller, 'v'))
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** An object by hash, only through a visible version; anything else is 404. */
  async object(caller: Caller, hash: string): Promise<GitObject> {
    if (!(await this.canRead(caller, hash))) throw await this.#hiddenObject(caller, hash);
    const object = await this.store.objects.read(hash);
    if (!object) throw new TetherError('not_found', `no object ${hash}`);
    return object;
  }

  /** A path inside a version's tree: a folder's entries or a file's bytes. */
  async fileAt(caller: Caller, name: string, version: string, path: string): Promise<FileAt> {
    const detail = await this.version(caller, name, version);
    const segments = path.split('/').filter(Boolean);
    if (segments.length > MAX_PATH_DEPTH) throw new TetherError('invalid_request', 'path too deep');
    let hash = detail.tree;
    let mode = '40000';
    for (const segment of segments) {
      if (mode !== '40000') throw noPath(name, version, path);
      const tree = await this.store.objects.read(hash);
      const entry = parseTree(tree!.content).find((e) => e.name === segment);
      if (!entry) throw noPath(name, version, path);
      hash = entry.hash;
      mode = entry.mode;
    }
    const object = await this.store.objects.read(hash);
    if (!object) throw noPath(name, version, path);
    if (object.type === 'tree') {
      const entries = parseTree(object.content).map((e) => ({ ...e, type: entryType(e) }));
      return { kind: 'tree', hash, entries };
    }
    return { kind: 'blob', hash, mode, content: object.content };
  }

  async yank(caller: Caller, name: string, version: string, reason: string) {
    await this.version(caller, name, version);
    await this.#requireManager(caller, name, 'yank');
    const now = new Date().toISOString();
    await this.db
      .updateTable('repo_versions')
      .set({ yanked_at: now, yanked_by: caller.username, yank_reason: reason })
      .where('name', '=', name)
      .where('version', '=', version)
      .execute();
    await this.audit({ kind: 'scriptYanked', caller, params: { name, version, reason } });
    return this.version(caller, name, version);
  }

  /** Sets the package's deprecation message; null takes it back. */
  async deprecate(caller: Caller, name: string, message: string | null) {
    await this.versions(caller, name);
    await this.#requireManager(caller, name, 'deprecate');
    const now = new Date().toISOString();
    await this.db
      .updateTable('repo_packages')
      .set({
        deprecated_message: message,
        deprecated_at: message === null ? null : now,
        deprecated_by: message === null ? null : caller.username,
        updated_at: now,
      })
      .where('name', '=', name)
      .execute();
    await this.audit({ kind: 'scriptDeprecated', caller, params: { name, message } });
    return this.package(caller, name);
  }

  async #requireManager(caller: Caller, name: string, action: string): Promise<void> {
    const pkg = await this.db
      .selectFrom('repo_packages')
      .select('owners')
      .where('name', '=', name)
      .executeTakeFirstOrThrow();
    const owners = JSON.parse(pkg.owners) as string[];
    if (canManage(caller, owners)) return;
    await this.audit({ kind: 'scriptRefused', caller, params: { name, action } });
    throw new TetherError(
      'forbidden',
      `only the owners of ${name} (${owners.join(', ')}) may ${action} it`,
    );
  }

  async #visibleVersions(caller: Caller, names: string[]) {
    if (names.length === 0) return [];
    return this.db
      .selectFrom('repo_versions')
      .selectAll()
      .where('name', 'in', names)
      .where(versionScope(caller))
      .execute();
  }

  /** The lock entries the caller may see, in one query however long the lock. */
  async #visibleOf(caller: Caller, lock: LockEntry[]): Promise<LockEntry[]> {
    if (lock.length === 0) return [];
    const rows = await this.db
      .selectFrom('repo_versions')
      .select(['name', 'version'])
      .where('name', 'in', [...new Set(lock.map((entry) => entry.name))])
      .where(versionScope(caller))
      .execute();
    const visible = new Set(rows.map((row) => `${row.name}@${row.version}`));
    return lock.filter((entry) => visible.has(`${entry.name}@${entry.version}`));
  }

  async #summaries(caller: Caller, names: string[]): Promise<PackageSummary[]> {
    const rows = await this.#visibleVersions(caller, names);
    const packages = names.length
      ? await this.db.selectFrom('repo_packages').selectAll().where('name', 'in', names).execute()
      : [];
    const summaries: PackageSummary[] = [];
    for (const name of names) {
      const versions = rows.filter((r) => r.name === name);
      const pkg = packages.find((p) => p.name === name);
      const latest = newest(versions);
      if (!latest || !pkg) continue;
      const manifest = JSON.parse(latest.manifest) as Manifest;
      summaries.push({
        name,
        latest: latest.version,
        description: manifest.description,
        tags: manifest.tags,
        owners: manifest.owners,
        visibility: latest.visibility,
        deprecated: pkg.deprecated_message,
        updatedAt: latest.published_at,
        latestYanked: latest.yanked_at !== null,
        yankedVersions: versions.filter((v) => v.yanked_at !== null).length,
      });
    }
    return summaries;
  }

  /** The 404 for something hidden; audited when it exists, so real denials are on record. */
  async #hidden(caller: Caller, what: { name: string; version?: string }): Promise<TetherError> {
    const exists = await this.db
      .selectFrom('repo_versions')
      .select('name')
      .where('name', '=', what.name)
      .$if(what.version !== undefined, (q) => q.where('version', '=', what.version!))
      .executeTakeFirst();
    if (exists) await this.audit({ kind: 'scriptHidden', caller, params: what });
    const label = what.version ? `${what.name}@${what.version}` : what.name;
    return new TetherError('not_found', `no package ${label}`);
  }

  async #hiddenObject(caller: Caller, hash: string): Promise<TetherError> {
    const exists = await this.db
      .selectFrom('repo_object_refs')
      .select('hash')
      .where('hash', '=', hash)
      .executeTakeFirst();
    if (exists) await this.audit({ kind: 'scriptHidden', caller, params: { hash } });
    return new TetherError('not_found', `no object ${hash}`);
  }
}

/** The newest unyanked release version, else the newest prerelease, else the newest yanked. */
function newest(rows: RepoVersionsTable[]): RepoVersionsTable | undefined {
  const pick = (candidates: RepoVersionsTable[]) =>
    candidates.sort((a, b) => semver.rcompare(a.version, b.version))[0];
  const live = rows.filter((r) => r.yanked_at === null);
  return (
    pick(live.filter((r) => semver.prerelease(r.version) === null)) ?? pick(live) ?? pick(rows)
  );
}

function versionView(row: RepoVersionsTable): VersionView {
  return {
    name: row.name,
    version: row.version,
    tree: row.tree,
    tag: row.tag,
    publisher: row.publisher,
    keyId: row.key_id,
    publishedAt: row.published_at,
    visibility: row.visibility,
    owners: (JSON.parse(row.manifest) as Manifest).owners,
    audience: audienceOf(row.visibility),
    yanked: row.yanked_at
      ? { at: row.yanked_at, by: row.yanked_by, reason: row.yank_reason ?? '' }
      : null,
  };
}

function noPath(name: string, version: string, path: string): TetherError {
  return new TetherError('not_found', `${name}@${version} has no ${path}`);
}

function encodeCursor(name: string): string {
  return Buffer.from(JSON.stringify({ after: name })).toString('base64url');
}

function decodeCursor(cursor: string): string {
  try {
    const parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      after?: unknown;
    };
    if (typeof parsed.after === 'string') return parsed.after;
  } catch {
    // Falls through to the error below: a cursor we did not make.
  }
  throw new TetherError('invalid_request', 'cursor is not one this repository gave out');
}
