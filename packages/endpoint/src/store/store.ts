/** Opens the Store: Kysely over SQLite in the data folder by default, or PostgreSQL by URL. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.ts';
import { migrationProvider, type Dialect } from './migrations.ts';

/** SQLite waits this long for a lock held by another connection before it reports busy. */
const SQLITE_BUSY_TIMEOUT_MS = 5_000;
const PG_POOL_SIZE = 10;

export interface Store {
  db: Kysely<Database>;
  dialect: Dialect;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** `postgres://…` for PostgreSQL; otherwise SQLite at `<dataDir>/tether.db`. */
  url?: string;
  dataDir: string;
}

export async function openStore(options: StoreOptions): Promise<Store> {
  const store = options.url?.startsWith('postgres')
    ? openPostgres(options.url)
    : openSqlite(options.dataDir);
  await migrate(store);
  return store;
}

function openSqlite(dataDir: string): Store {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const database = new SQLite(join(dataDir, 'tether.db'));
  database.pragma('journal_mode = WAL');
  database.pragma('foreign_keys = ON');
  database.pragma(`busy_timeout = ${SQLITE_BUSY_TIMEOUT_MS}`);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database }) });
  return { db, dialect: 'sqlite', close: () => db.destroy() };
}

function openPostgres(url: string): Store {
  // bigint columns (byte counts, audit seq) arrive as strings by default; they fit a double.
  pg.types.setTypeParser(20, (value: string) => Number(value));
  const pool = new pg.Pool({ connectionString: url, max: PG_POOL_SIZE });
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  return { db, dialect: 'postgres', close: () => db.destroy() };
}

async function migrate(store: Store): Promise<void> {
  const migrator = new Migrator({ db: store.db, provider: migrationProvider(store.dialect) });
  const { error } = await migrator.migrateToLatest();
  if (error) throw new Error('database migration failed', { cause: error });
}
