/** `name@range` to an exact version, and a release's dependencies to a lock: one version a name. */
import semver from 'semver';
import type { Kysely } from 'kysely';
import { TetherError } from '@tether/protocol';
import type { RepositoryDatabase, RepoVersionsTable } from './index/schema.ts';
import { versionScope, type Caller } from './visibility.ts';

export interface LockEntry {
  name: string;
  version: string;
  tree: string;
  tag: string;
}

type Candidate = Pick<RepoVersionsTable, 'name' | 'version' | 'tree' | 'tag' | 'manifest'>;

/** Reads each name's resolvable versions once per resolution. */
export class VersionSource {
  readonly #cache = new Map<string, Candidate[]>();

  constructor(
    private readonly db: Kysely<RepositoryDatabase>,
    private readonly caller: Caller,
  ) {}

  /** Versions of `name` the caller may see, yanked ones left out. */
  async candidates(name: string): Promise<Candidate[]> {
    let found = this.#cache.get(name);
    if (!found) {
      found = await this.db
        .selectFrom('repo_versions')
        .select(['name', 'version', 'tree', 'tag', 'manifest'])
        .where('name', '=', name)
        .where('yanked_at', 'is', null)
        .where(versionScope(this.caller))
        .execute();
      this.#cache.set(name, found);
    }
    return found;
  }

  /** The highest version satisfying `range`; a clear error when nothing does. */
  async best(name: string, range: string, neededBy?: string): Promise<Candidate> {
    const candidates = await this.candidates(name);
    const via = neededBy ? ` (needed by ${neededBy})` : '';
    if (candidates.length === 0) throw new TetherError('not_found', `no package ${name}${via}`);
    const version = semver.maxSatisfying(
      candidates.map((c) => c.version),
      range,
    );
    if (version === null) {
      const known = candidates.map((c) => c.version).sort(semver.compare);
      throw new TetherError(
        'not_found',
        `no version of ${name} satisfies ${range}${via}; there are ${known.join(', ')}`,
      );
    }
    return candidates.find((c) => c.version === version)!;
  }
}

/**
 * Resolves `dependencies` of `root` depth first. A name meets at most one version: a second
 * range that the chosen version does not satisfy is a conflict, and reaching `root` again
 * is a cycle; both are errors that name the path.
 */
export async function resolveLock(
  source: VersionSource,
  root: string,
  dependencies: Record<string, string>,
): Promise<LockEntry[]> {
  const chosen = new Map<string, Candidate & { range: string; by: string }>();

  const visit = async (name: string, range: string, path: string[]): Promise<void> => {
    if (name === root || path.includes(name)) {
      throw new TetherError('conflict', `dependency cycle: ${[...path, name].join(' → ')}`);
    }
    const by = path.at(-1)!;
    const already = chosen.get(name);
    if (already) {
      if (semver.satisfies(already.version, range)) return;
      throw new TetherError(
        'conflict',
        `dependency conflict: ${by} needs ${name}@${range} but ${already.by} needs ` +
          `${name}@${already.range}, which chose ${already.version}`,
      );
    }
    const best = await source.best(name, range, by);
    chosen.set(name, { ...best, range, by });
    const manifest = JSON.parse(best.manifest) as { dependencies?: Record<string, string> };
    for (const [dep, depRange] of Object.entries(manifest.dependencies ?? {})) {
      await visit(dep, depRange, [...path, name]);
    }
  };

  for (const [name, range] of Object.entries(dependencies)) await visit(name, range, [root]);
  return [...chosen.values()]
    .map(({ name, version, tree, tag }) => ({ name, version, tree, tag }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
}
