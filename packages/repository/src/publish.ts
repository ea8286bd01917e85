/**
 * Publishing: objects arrive in a staging area per upload; a commit checks the whole graph, the
 * signature and the ownership rules, then promotes the objects and writes the version at once.
 */
import { randomBytes } from 'node:crypto';
import type { Kysely, Transaction } from 'kysely';
import type { Logger } from 'pino';
import { TetherError } from '@tether/protocol';
import type { AuditSink } from './audit.ts';
import type { RepositoryDatabase } from './index/schema.ts';
import { searchTerms } from './search-terms.ts';
import { checkReleaseGraph, type Graph } from './release-graph.ts';
import { verifySignature, parsePublicKey } from './keys.ts';
import { MANIFEST_FILE } from './manifest.ts';
import { assertHash } from './objects/git-object.ts';
import { decodeLoose, type LooseObjects, type ObjectStore } from './objects/object-store.ts';
import { FILE_CONCURRENCY, mapLimit } from './concurrency.ts';
import { PublisherKeys, requirePerson } from './publisher-keys.ts';
import type { ReleaseTag } from './release.ts';
import { resolveLock, VersionSource, type LockEntry } from './resolve.ts';
import { isOwner, versionScope, type Caller } from './visibility.ts';

/** Two owners publishing the same name at once: the loser re-reads and tries again. */
const MAX_COMMIT_ATTEMPTS = 5;
/** SQLite allows 32,766 bound values; three per row keeps each insert well inside. */
const INSERT_CHUNK_ROWS = 500;

export interface Upload {
  id: string;
  tag: string;
  userId: string;
  staged: LooseObjects;
}

export interface Published {
  name: string;
  version: string;
  tree: string;
  tag: string;
  lock: LockEntry[];
  /** False when this exact release was already published (a retried commit). */
  created: boolean;
}

export class Publisher {
  constructor(
    private readonly db: Kysely<RepositoryDatabase>,
    private readonly store: ObjectStore,
    private readonly keys: PublisherKeys,
    private readonly audit: AuditSink,
    private readonly log: Logger,
  ) {}

  /**
   * Opens the upload of `release` (name@version) for this person, or resumes the one already
   * open: what it staged before stays staged, even if the tag was signed again since.
   */
  async begin(caller: Caller, tag: string, release = tag): Promise<Upload> {
    const person = requirePerson(caller);
    assertHash(tag, 'release tag');
    if (release.length > 300) throw new TetherError('invalid_request', 'release name too long');
    const now = new Date().toISOString();
    await this.db
      .insertInto('repo_uploads')
      .values({
        id: randomBytes(16).toString('hex'),
        user_id: person.userId,
        release,
        tag,
        created_at: now,
        updated_at: now,
      })
      .onConflict((oc) => oc.columns(['user_id', 'release']).doUpdateSet({ tag, updated_at: now }))
      .execute();
    const row = await this.db
      .selectFrom('repo_uploads')
      .select(['id', 'user_id'])
      .where('user_id', '=', person.userId)
      .where('release', '=', release)
      .executeTakeFirstOrThrow();
    this.log.debug({ upload: row.id, tag, release }, 'upload open');
    return { id: row.id, tag, userId: row.user_id, staged: this.store.staging(row.id) };
  }

  /** Drops uploads untouched for `maxAgeMs` with their staging folders; returns how many. */
  async sweep(maxAgeMs: number): Promise<number> {
    const before = new Date(Date.now() - maxAgeMs).toISOString();
    const stale = await this.db
      .selectFrom('repo_uploads')
      .select('id')
      .where('updated_at', '<', before)
      .execute();
    for (const { id } of stale) {
      await this.store.discard(this.store.staging(id));
      await this.db.deleteFrom('repo_uploads').where('id', '=', id).execute();
    }
    return stale.length;
  }

  /**
   * Of `hashes`, those the uploader must send: not staged for this upload, and not held by the
   * repository in a version the caller may see. An object only a hidden version holds is asked
   * for like any other, so the answer never tells anyone that a private object exists.
   */
  async missing(caller: Caller, upload: Upload, hashes: readonly string[]): Promise<string[]> {
    hashes.forEach((hash) => assertHash(hash));
    const inStore = await mapLimit(hashes, FILE_CONCURRENCY, (h) => this.store.objects.has(h));
    const held = hashes.filter((_, i) => inStore[i]);
    const visible = new Set<string>();
    for (let i = 0; i < held.length; i += INSERT_CHUNK_ROWS) {
      const rows = await this.db
        .selectFrom('repo_object_refs as r')
        .innerJoin('repo_versions as v', (join) =>
          join.onRef('v.name', '=', 'r.name').onRef('v.version', '=', 'r.version'),
        )
        .select('r.hash')
        .distinct()
        .where('r.hash', 'in', held.slice(i, i + INSERT_CHUNK_ROWS))
        .where(versionScope(caller, 'v'))
        .execute();
      rows.forEach((r) => visible.add(r.hash));
    }
    const candidates = hashes.filter((hash) => !visible.has(hash));
    const staged = await mapLimit(candidates, FILE_CONCURRENCY, (h) => upload.staged.has(h));
    return candidates.filter((_, i) => !staged[i]);
  }

  /** Checks one object's bytes against its hash and stages it. */
  async receive(upload: Upload, hash: string, deflated: Buffer): Promise<void> {
    decodeLoose(hash, deflated);
    await this.stageVerified(upload, hash, deflated);
  }

  /** Stages bytes the caller already checked with `decodeLoose` (the sync socket does). */
  async stageVerified(upload: Upload, hash: string, deflated: Buffer): Promise<void> {
    await upload.staged.putVerified(hash, deflated);
  }

  /** Makes the release exist, or refuses it with the reason; a refusal publishes nothing. */
  async commit(caller: Caller, upload: Upload): Promise<Published> {
    const person = requirePerson(caller);
    try {
      const graph = await checkReleaseGraph(this.store, upload);
      await this.#checkSignature(person, graph.release);
      const published = await this.#write(person, upload, graph);
      if (published.created) {
        await this.audit({
          kind: 'scriptPublished',
          caller,
          params: { name: published.name, version: published.version, keyId: graph.release.keyId },
          result: { tree: published.tree, tag: published.tag, objects: graph.hashes.length },
        });
      }
      await this.store.discard(upload.staged);
      await this.db.deleteFrom('repo_uploads').where('id', '=', upload.id).execute();
      this.log.info(
        { upload: upload.id, name: published.name, version: published.version, tag: upload.tag },
        'release published',
      );
      return published;
    } catch (error) {
      if (error instanceof TetherError) {
        await this.audit({
          kind: 'scriptPublishRefused',
          caller,
          params: { tag: upload.tag },
          result: { code: error.code, reason: error.message },
        });
      }
      throw error;
    }
  }

  async #checkSignature(person: { userId: string; username: string }, release: ReleaseTag) {
    const found = await this.keys.active(release.keyId);
    if ('error' in found) throw new TetherError('forbidden', found.error!);
    const key = parsePublicKey(found.row.public_key);
    if (!verifySignature(key.key, release.signed, release.signature)) {
      throw new TetherError('forbidden', 'the signature does not match the release');
    }
    if (found.row.user_id !== person.userId) {
      throw new TetherError(
        'forbidden',
        `the release is signed with ${found.row.username}'s key, not yours`,
      );
    }
    const taggerName = release.tagger.split(' <')[0];
    if (taggerName !== person.username) {
      throw new TetherError(
        'forbidden',
        `the release names ${taggerName} as its publisher, not you`,
      );
    }
  }

  async #write(
    person: Caller & { userId: string; username: string },
    upload: Upload,
    graph: Graph,
  ): Promise<Published> {
    const { release, manifest } = graph;
    // Objects first: until the version row exists nothing can reach them, so they stay unseen.
    await this.store.promote(upload.staged, graph.hashes);
    await this.store.writeReleasePack(upload.tag, graph.objects);
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.db
          .transaction()
          .execute((trx) => this.#insert(trx, person, upload, graph));
      } catch (error) {
        if (error instanceof TetherError || attempt >= MAX_COMMIT_ATTEMPTS) {
          throw error instanceof TetherError ? error : raceLost(release.name, error);
        }
        this.log.debug({ err: error, name: manifest.name, attempt }, 'publish race; retrying');
      }
    }
  }

  async #insert(
    trx: Transaction<RepositoryDatabase>,
    person: Caller & { userId: string; username: string },
    upload: Upload,
    graph: Graph,
  ): Promise<Published> {
    const { release, manifest } = graph;
    const now = new Date().toISOString();
    const existing = await trx
      .selectFrom('repo_versions')
      .select(['tag', 'tree', 'lock'])
      .where('name', '=', manifest.name)
      .where('version', '=', manifest.version)
      .executeTakeFirst();
    if (existing) {
      // The same tree is the same content (script.json is in it); only the tag's time differs.
      if (existing.tree !== release.tree) {
        throw new TetherError(
          'conflict',
          `${manifest.name}@${manifest.version} is already published with other content; ` +
            'a published version never changes, so publish a new version',
        );
      }
      const lock = JSON.parse(existing.lock) as LockEntry[];
      return {
        name: manifest.name,
        version: manifest.version,
        tree: existing.tree,
        tag: existing.tag,
        lock,
        created: false,
      };
    }

    const pkg = await trx
      .selectFrom('repo_packages')
      .select(['owners', 'publish_seq'])
      .where('name', '=', manifest.name)
      .executeTakeFirst();
    if (pkg) {
      const owners = JSON.parse(pkg.owners) as string[];
      if (!isOwner(person, owners)) {
        throw new TetherError(
          'forbidden',
          `${manifest.name} belongs to ${owners.join(', ')}; only its owners publish new versions`,
        );
      }
    } else if (!isOwner(person, manifest.owners)) {
      throw new TetherError(
        'invalid_request',
        `${MANIFEST_FILE}: owners must include you (${person.username}), the first publisher`,
      );
    }

    const lock = await resolveLock(
      new VersionSource(trx, person),
      manifest.name,
      manifest.dependencies,
    );

    if (pkg) {
      const updated = await trx
        .updateTable('repo_packages')
        .set({
          owners: JSON.stringify(manifest.owners),
          publish_seq: pkg.publish_seq + 1,
          updated_at: now,
        })
        .where('name', '=', manifest.name)
        .where('publish_seq', '=', pkg.publish_seq)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) !== 1) throw new Error('package changed meanwhile');
    } else {
      await trx
        .insertInto('repo_packages')
        .values({
          name: manifest.name,
          created_at: now,
          created_by: person.username,
          owners: JSON.stringify(manifest.owners),
          publish_seq: 1,
          deprecated_message: null,
          deprecated_at: null,
          deprecated_by: null,
          updated_at: now,
        })
        .execute();
    }

    const key = { name: manifest.name, version: manifest.version };
    await trx
      .insertInto('repo_versions')
      .values({
        ...key,
        tree: release.tree,
        tag: upload.tag,
        manifest: release.manifestText,
        visibility: manifest.visibility,
        description: manifest.description,
        publisher: person.username,
        key_id: release.keyId,
        published_at: now,
        lock: JSON.stringify(lock),
        yanked_at: null,
        yanked_by: null,
        yank_reason: null,
      })
      .execute();
    await insertChunked(
      trx,
      'repo_version_owners',
      manifest.owners.map((o) => ({ ...key, username: o.toLowerCase() })),
    );
    await insertChunked(
      trx,
      'repo_version_tags',
      manifest.tags.map((tag) => ({ ...key, tag })),
    );
    await insertChunked(
      trx,
      'repo_search_terms',
      searchTerms(manifest).map((term) => ({ ...key, term })),
    );
    await insertChunked(
      trx,
      'repo_object_refs',
      graph.hashes.map((hash) => ({ ...key, hash })),
    );
    return { ...key, tree: release.tree, tag: upload.tag, lock, created: true };
  }
}

async function insertChunked<
  T extends 'repo_version_owners' | 'repo_version_tags' | 'repo_search_terms' | 'repo_object_refs',
>(
  trx: Transaction<RepositoryDatabase>,
  table: T,
  rows: Array<Record<string, string>>,
): Promise<void> {
  const unique = [...new Map(rows.map((r) => [JSON.stringify(r), r])).values()];
  for (let i = 0; i < unique.length; i += INSERT_CHUNK_ROWS) {
    await trx
      .insertInto(table)
      .values(unique.slice(i, i + INSERT_CHUNK_ROWS) as never)
      .execute();
  }
}

function raceLost(name: string, cause: unknown): TetherError {
  return new TetherError('conflict', `${name} kept changing while publishing; try again`, {
    cause,
  });
}
