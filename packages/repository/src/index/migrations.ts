/** The index's tables; the endpoint runs this as its migration '0005-repository'. */
import type { Kysely, Migration } from 'kysely';

export const repositoryMigration: Migration = {
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('repo_packages')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('created_by', 'text', (c) => c.notNull())
      .addColumn('owners', 'text', (c) => c.notNull())
      .addColumn('publish_seq', 'integer', (c) => c.notNull())
      .addColumn('deprecated_message', 'text')
      .addColumn('deprecated_at', 'text')
      .addColumn('deprecated_by', 'text')
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .execute();

    await db.schema
      .createTable('repo_versions')
      .addColumn('name', 'text', (c) => c.notNull().references('repo_packages.name'))
      .addColumn('version', 'text', (c) => c.notNull())
      .addColumn('tree', 'text', (c) => c.notNull())
      .addColumn('tag', 'text', (c) => c.notNull())
      .addColumn('manifest', 'text', (c) => c.notNull())
      .addColumn('visibility', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('publisher', 'text', (c) => c.notNull())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('published_at', 'text', (c) => c.notNull())
      .addColumn('lock', 'text', (c) => c.notNull())
      .addColumn('yanked_at', 'text')
      .addColumn('yanked_by', 'text')
      .addColumn('yank_reason', 'text')
      .addPrimaryKeyConstraint('repo_versions_pk', ['name', 'version'])
      .execute();
    await db.schema.createIndex('repo_versions_tag').on('repo_versions').column('tag').execute();

    for (const [table, column] of [
      ['repo_version_owners', 'username'],
      ['repo_version_tags', 'tag'],
      ['repo_search_terms', 'term'],
    ] as const) {
      await db.schema
        .createTable(table)
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('version', 'text', (c) => c.notNull())
        .addColumn(column, 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint(`${table}_pk`, ['name', 'version', column])
        .execute();
      await db.schema.createIndex(`${table}_by_${column}`).on(table).column(column).execute();
    }

    await db.schema
      .createTable('repo_object_refs')
      .addColumn('hash', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('version', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('repo_object_refs_pk', ['hash', 'name', 'version'])
      .execute();

    await db.schema
      .createTable('repo_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('username', 'text', (c) => c.notNull())
      .addColumn('public_key', 'text', (c) => c.notNull())
      .addColumn('comment', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('removed_at', 'text')
      .execute();
    await db.schema.createIndex('repo_keys_user').on('repo_keys').column('user_id').execute();

    await db.schema
      .createTable('repo_uploads')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('release', 'text', (c) => c.notNull())
      .addColumn('tag', 'text', (c) => c.notNull())
      .addColumn('created_at', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'text', (c) => c.notNull())
      .addUniqueConstraint('repo_uploads_user_release', ['user_id', 'release'])
      .execute();
  },
};
