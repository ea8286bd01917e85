/** Test helper: every Store backend that store-backed tests run on, each opened fresh. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { setTimeout as delay } from 'node:timers/promises';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type Store, type StoreOptions } from './store.ts';

/** A local PostgreSQL accepts a connect in well under a millisecond; 500 ms means it is absent. */
const PROBE_TIMEOUT_MS = 500;
const LOCAL_POSTGRES = { host: '127.0.0.1', port: 5432 };
/** Trust auth on this machine: the superuser needs no password. */
const LOCAL_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
/** Closed pools leave the server within milliseconds; a connection still there later leaked. */
const DISCONNECT_WAIT_MS = 2_000;
const DISCONNECT_POLL_MS = 10;
/** Every test database is named with this prefix, so only our own are ever created or dropped. */
const TEST_DATABASE_PREFIX = 'tether_test_';

export interface TestStore extends Store {
  /** Closes the store if still open and removes everything it held. */
  cleanup(): Promise<void>;
  /** Opens a second, independent Store on the same database, as another process would. */
  reopen(): Promise<Store>;
  /** What `openStore` was given, for a child process that opens the same database. */
  options: StoreOptions;
}

export interface StoreBackend {
  name: 'sqlite' | 'postgres';
  open(): Promise<TestStore>;
}

const adminUrl = process.env.TETHER_TEST_POSTGRES_URL || LOCAL_POSTGRES_URL;

export const postgresAvailable: boolean =
  Boolean(process.env.TETHER_TEST_POSTGRES_URL) || (await canConnect(LOCAL_POSTGRES));

if (!postgresAvailable) {
  console.warn(
    'postgres store tests skipped: TETHER_TEST_POSTGRES_URL is unset and nothing listens on ' +
      `${LOCAL_POSTGRES.host}:${LOCAL_POSTGRES.port}`,
  );
}

export function storeBackends(): StoreBackend[] {
  const backends: StoreBackend[] = [{ name: 'sqlite', open: openSqliteStore }];
  if (postgresAvailable) backends.push({ name: 'postgres', open: openPostgresStore });
  return backends;
}

async function openSqliteStore(): Promise<TestStore> {
  const dataDir = await mkdtemp(join(tmpdir(), 'tether-store-'));
  const options = { dataDir };
  const remove = () => rm(dataDir, { recursive: true, force: true });
  const store = await openStore(options).catch(async (error: unknown) => {
    await remove();
    throw error;
  });

  return withCleanup(store, options, {
    reopen: () => openStore(options),
    remove,
  });
}

async function openPostgresStore(): Promise<TestStore> {
  const name = TEST_DATABASE_PREFIX + randomBytes(6).toString('hex');
  await asAdmin((client) => client.query(`create database ${name}`));
  const url = databaseUrl(name);
  const options = { url, dataDir: '' };
  const store = await openStore(options).catch(async (error: unknown) => {
    await dropDatabase(name);
    throw error;
  });

  return withCleanup(store, options, {
    reopen: () => openStore(options),
    remove: () => dropDatabase(name),
  });
}

function withCleanup(
  store: Store,
  options: StoreOptions,
  how: { reopen(): Promise<Store>; remove(): Promise<void> },
): TestStore {
  const others: Store[] = [];
  const close = once(store.close);
  const cleanup = once(async () => {
    await Promise.all(others.map((other) => other.close()));
    await close();
    await how.remove();
  });
  const reopen = async () => {
    const opened = await how.reopen();
    const other = { db: opened.db, dialect: opened.dialect, close: once(opened.close) };
    others.push(other);
    return other;
  };
  return { db: store.db, dialect: store.dialect, close, cleanup, reopen, options };
}

async function dropDatabase(name: string): Promise<void> {
  if (!name.startsWith(TEST_DATABASE_PREFIX)) throw new Error(`refusing to drop ${name}`);
  await asAdmin(async (client) => {
    await waitForDisconnects(client, name);
    await client.query(
      'select pg_terminate_backend(pid) from pg_stat_activity ' +
        'where datname = $1 and pid <> pg_backend_pid()',
      [name],
    );
    await client.query(`drop database if exists ${name}`);
  });
}

/**
 * pg's pool resolves `end()` before its sockets have closed; terminating a connection that is
 * still saying goodbye makes its client throw an uncaught error in the test process. Waiting
 * first leaves the terminate for connections a test really leaked.
 */
async function waitForDisconnects(client: pg.Client, name: string): Promise<void> {
  const deadline = Date.now() + DISCONNECT_WAIT_MS;
  while (Date.now() < deadline) {
    const { rows } = await client.query<{ n: number }>(
      'select count(*)::int as n from pg_stat_activity where datname = $1',
      [name],
    );
    if (rows[0].n === 0) return;
    await delay(DISCONNECT_POLL_MS);
  }
}

async function asAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

function databaseUrl(name: string): string {
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

function canConnect(target: { host: string; port: number }): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(target);
    const finish = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}

/** Closing twice makes pg's pool throw, and tests often close before their cleanup runs. */
function once(fn: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => (running ??= fn());
}
