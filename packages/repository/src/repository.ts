/** The repository as one object: its object store, index, publish pipeline and keys. */
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AuditSink } from './audit.ts';
import { Catalog } from './catalog.ts';
import type { RepositoryDatabase } from './index/schema.ts';
import { ObjectStore } from './objects/object-store.ts';
import { Publisher } from './publish.ts';
import { PublisherKeys } from './publisher-keys.ts';

/** An upload nobody touched for a day was abandoned; its staged objects go. */
const STALE_UPLOAD_MS = 24 * 60 * 60 * 1000;

export interface RepositoryOptions {
  /** Objects live in `<dataDir>/repository`. */
  dataDir: string;
  /** A Kysely on a database where `repositoryMigration` has run. */
  db: Kysely<RepositoryDatabase>;
  audit: AuditSink;
  log: Logger;
}

export class Repository {
  readonly store: ObjectStore;
  readonly catalog: Catalog;
  readonly publisher: Publisher;
  readonly keys: PublisherKeys;
  readonly log: Logger;

  private constructor(options: RepositoryOptions) {
    this.log = options.log;
    this.store = new ObjectStore(join(options.dataDir, 'repository'));
    this.keys = new PublisherKeys(options.db, options.audit);
    this.catalog = new Catalog(options.db, this.store, options.audit);
    this.publisher = new Publisher(options.db, this.store, this.keys, options.audit, options.log);
  }

  static async open(options: RepositoryOptions): Promise<Repository> {
    const repository = new Repository(options);
    await repository.store.init();
    const swept = await repository.publisher.sweep(STALE_UPLOAD_MS);
    if (swept > 0) options.log.info({ uploads: swept }, 'dropped stale uploads');
    return repository;
  }
}
