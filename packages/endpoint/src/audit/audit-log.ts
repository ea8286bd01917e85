/** The audit log: one append-only, hash-chained table, read through visibility, verifiable. */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Logger } from 'pino';
import { AUDIT, TetherError, type AuditEventView, type AuditKind } from '@tether/protocol';
import type { Principal } from '../auth/principal.ts';
import type { Bus } from '../bus/bus.ts';
import type { AuditEventsTable, Database } from '../store/schema.ts';
import type { Store } from '../store/store.ts';
import { auditScope } from './visibility.ts';

/** Live subscribers receive every appended event here, before any visibility filtering. */
export const AUDIT_EVENT_SUBJECT = 'audit.event';
/** The first event's `prev_hash`: there is nothing before it. */
export const GENESIS_HASH = '0'.repeat(64);
/** `settings` key of the last appended event, so that deleting the last event is detected too. */
const HEAD_KEY = 'audit_head';
/**
 * PostgreSQL advisory lock key that serialises appends across endpoint processes; any constant
 * no other code in the database uses will do ("tether audit" in hex, trimmed to 32 bits).
 */
const PG_APPEND_LOCK_KEY = 0x7e7a_0d17;
const DEFAULT_LIST_LIMIT = 100;
const MAX_LIST_LIMIT = 1_000;
/** Events per query while verifying: memory stays bounded however long the log grows. */
const VERIFY_PAGE_SIZE = 1_000;
const REDACTED = '[redacted]';
/** Keys whose values are secrets. `joinToken`, `accessToken`, `clientSecret` all match. */
const SECRET_KEY = /password|passwd|token|secret|authorization|cookie|private_?key/i;
/** `joinTokenId`, `token_id`: they name a secret's record without revealing the secret. */
const REFERENCE_KEY = /(?:_ids?|[a-z]Ids?)$/;

export interface AuditActor {
  id: string;
  name: string;
  role: string;
}

export interface AppendInput {
  kind: AuditKind;
  /** Null for what the system does on its own (an agent's link dropping, a restart). */
  actor?: AuditActor | null;
  /** Set on every event about an account, a customer's sign-in included: its customers see it. */
  accountId?: string | null;
  agentId?: string | null;
  ticketId?: string | null;
  sessionId?: string | null;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
}

export interface AuditFilter {
  /** ISO-8601 time, inclusive. */
  since?: string;
  /** ISO-8601 time, exclusive. */
  until?: string;
  agentId?: string;
  actorId?: string;
  accountId?: string;
  code?: string;
  limit?: number;
  /** `nextCursor` from the previous page. */
  cursor?: string;
}

export type VerifyFailure = 'edited' | 'broken link' | 'head mismatch';

export type VerifyResult =
  | { ok: true; checked: number }
  | { ok: false; checked: number; firstBad: { seq: number; id: string; reason: VerifyFailure } };

interface Head {
  seq: number;
  id: string;
  hash: string;
}

const EMPTY_HEAD: Head = { seq: 0, id: '', hash: GENESIS_HASH };

export class AuditLog {
  readonly #store: Store;
  readonly #hash: (row: Omit<AuditEventsTable, 'hash'>) => string;
  readonly #bus: Bus;
  readonly #logger: Logger;

  /**
   * `key` makes each hash an HMAC: someone who can write the database but cannot read the
   * endpoint's key file cannot re-chain an edited log. Without it, plain SHA-256.
   */
  constructor(options: { store: Store; bus: Bus; logger: Logger; key?: Buffer }) {
    this.#store = options.store;
    this.#hash = hasher(options.key);
    this.#bus = options.bus;
    this.#logger = options.logger.child({ module: 'audit' });
  }

  /**
   * Writes one event after the current head and publishes it on `AUDIT_EVENT_SUBJECT`.
   * Params and result pass through `redact` first: the log never holds a secret.
   */
  async append(input: AppendInput): Promise<AuditEventView> {
    const { code, event } = AUDIT[input.kind];
    const params = canonicalJson(redact(input.params ?? {}));
    const result = canonicalJson(redact(input.result ?? {}));

    const row = await this.#serialised(async (db) => {
      const head = await readHead(db);
      const tail = await readTail(db);
      if (tail.seq !== head.seq || tail.hash !== head.hash) {
        // Chaining from the head, not the tail, keeps the alteration visible to verify().
        this.#logger.error({ head, tail }, 'audit head does not match the last stored event');
      }

      const unhashed = {
        seq: Math.max(head.seq, tail.seq) + 1,
        id: randomUUID(),
        time: new Date().toISOString(),
        code,
        event,
        actor_id: input.actor?.id ?? null,
        actor_name: input.actor?.name ?? null,
        actor_role: input.actor?.role ?? null,
        account_id: input.accountId ?? null,
        agent_id: input.agentId ?? null,
        ticket_id: input.ticketId ?? null,
        session_id: input.sessionId ?? null,
        params,
        result,
        prev_hash: head.hash,
      };
      const row: AuditEventsTable = { ...unhashed, hash: this.#hash(unhashed) };
      await db.insertInto('audit_events').values(row).execute();
      await writeHead(db, { seq: row.seq, id: row.id, hash: row.hash });
      return row;
    });

    const view = toView(row);
    this.#logger.debug({ seq: row.seq, auditId: row.id, code }, 'audit event appended');
    this.#publish(view);
    return view;
  }

  /** Newest first, only what `p` may see; pass `nextCursor` back for the next, older page. */
  async list(
    p: Principal,
    filter: AuditFilter = {},
  ): Promise<{ events: AuditEventView[]; nextCursor: string | null }> {
    const limit = clampLimit(filter.limit);
    let query = this.#store.db.selectFrom('audit_events').selectAll().where(auditScope(p));

    if (filter.since !== undefined) query = query.where('time', '>=', isoTime(filter.since));
    if (filter.until !== undefined) query = query.where('time', '<', isoTime(filter.until));
    if (filter.agentId !== undefined) query = query.where('agent_id', '=', filter.agentId);
    if (filter.actorId !== undefined) query = query.where('actor_id', '=', filter.actorId);
    if (filter.accountId !== undefined) query = query.where('account_id', '=', filter.accountId);
    if (filter.code !== undefined) query = query.where('code', '=', filter.code);
    if (filter.cursor !== undefined) query = query.where('seq', '<', decodeCursor(filter.cursor));

    const rows = await query
      .orderBy('seq', 'desc')
      .limit(limit + 1)
      .execute();
    const page = rows.slice(0, limit);
    const more = rows.length > limit;
    const nextCursor = more ? encodeCursor(page[limit - 1].seq) : null;
    return { events: page.map(toView), nextCursor };
  }

  /**
   * Walks every event up to the head as it stood when verify started, in `seq` order, and
   * reports the first one whose hash, link or place at the end does not hold.
   */
  async verify(onProgress?: (checked: number) => void): Promise<VerifyResult> {
    const db = this.#store.db;
    // The highest seq is read before the head: a legitimate append writes both at once, so a
    // row beyond a later-read head was not written by append().
    const tailSeq = (await readTail(db)).seq;
    const head = await readHead(db);
    let checked = 0;
    let last: Head = EMPTY_HEAD;

    for (;;) {
      const rows = await db
        .selectFrom('audit_events')
        .selectAll()
        .where('seq', '>', last.seq)
        .where('seq', '<=', head.seq)
        .orderBy('seq', 'asc')
        .limit(VERIFY_PAGE_SIZE)
        .execute();

      for (const row of rows) {
        const reason = faultOf(row, last.hash, this.#hash);
        if (reason !== null) return this.#failed(checked, { seq: row.seq, id: row.id, reason });
        last = { seq: row.seq, id: row.id, hash: row.hash };
        checked += 1;
      }

      onProgress?.(checked);
      if (rows.length < VERIFY_PAGE_SIZE) break;
    }

    const beyondHead = await this.#firstBeyondHead(head, tailSeq);
    if (beyondHead !== null) return this.#failed(checked, beyondHead);
    if (last.seq < head.seq) {
      // The missing event's id is known only when it is the head itself.
      const id = head.seq === last.seq + 1 ? head.id : '';
      return this.#failed(checked, { seq: last.seq + 1, id, reason: 'head mismatch' });
    }
    if (last.hash !== head.hash) {
      return this.#failed(checked, { seq: last.seq, id: last.id, reason: 'head mismatch' });
    }

    this.#logger.info({ checked }, 'audit log verified');
    return { ok: true, checked };
  }

  async #firstBeyondHead(
    head: Head,
    tailSeq: number,
  ): Promise<{ seq: number; id: string; reason: VerifyFailure } | null> {
    if (tailSeq <= head.seq) return null;
    const row = await this.#store.db
      .selectFrom('audit_events')
      .select(['seq', 'id'])
      .where('seq', '>', head.seq)
      .orderBy('seq', 'asc')
      .limit(1)
      .executeTakeFirst();
    return row === undefined ? null : { seq: row.seq, id: row.id, reason: 'head mismatch' };
  }

  #failed(
    checked: number,
    firstBad: { seq: number; id: string; reason: VerifyFailure },
  ): VerifyResult {
    this.#logger.error({ checked, firstBad }, 'audit log failed verification');
    return { ok: false, checked, firstBad };
  }

  /**
   * Runs `work` while no other append, in this process or another, can read or move the head.
   * PostgreSQL: a transaction-scoped advisory lock. SQLite: `begin immediate` takes the write
   * lock before the head is read (a plain `begin` would let two processes read the same head),
   * and Kysely's SQLite driver hands its one connection to one caller at a time.
   */
  async #serialised<T>(work: (db: Kysely<Database>) => Promise<T>): Promise<T> {
    const { db, dialect } = this.#store;
    if (dialect === 'postgres') {
      return db.transaction().execute(async (trx) => {
        await sql`select pg_advisory_xact_lock(${PG_APPEND_LOCK_KEY})`.execute(trx);
        return work(trx);
      });
    }

    return db.connection().execute(async (conn) => {
      await sql`begin immediate`.execute(conn);
      try {
        const out = await work(conn);
        await sql`commit`.execute(conn);
        return out;
      } catch (error) {
        await sql`rollback`.execute(conn).catch((rollbackError: unknown) => {
          // SQLite has already rolled back after some failures; the original error matters.
          this.#logger.warn({ err: rollbackError }, 'audit append rollback failed');
        });
        throw error;
      }
    });
  }

  #publish(view: AuditEventView): void {
    try {
      this.#bus.publish(AUDIT_EVENT_SUBJECT, { ...view });
    } catch (error) {
      // The event is committed; only live subscribers miss it, and they can re-read the log.
      this.#logger.warn({ err: error, auditId: view.id }, 'audit event not published');
    }
  }
}

/** The stored row as every reader sees it: camelCase, params and result parsed. */
export function toView(row: AuditEventsTable): AuditEventView {
  return {
    seq: row.seq,
    id: row.id,
    time: row.time,
    code: row.code,
    event: row.event,
    actorId: row.actor_id,
    actorName: row.actor_name,
    actorRole: row.actor_role,
    accountId: row.account_id,
    agentId: row.agent_id,
    ticketId: row.ticket_id,
    sessionId: row.session_id,
    params: parseObject(row.params),
    result: parseObject(row.result),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/**
 * A deep, JSON-safe copy of `value` in which every value under a secret-looking key (password,
 * token, secret, authorization, cookie, private key; any case, anywhere in the key) reads
 * '[redacted]'. `publicKey` and keys naming a secret's id (`joinTokenId`) are kept.
 */
export function redact(value: unknown): unknown {
  return redactValue(value, new WeakSet());
}

function redactValue(value: unknown, seen: WeakSet<object>): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[circular]';

  const json = (value as { toJSON?: unknown }).toJSON;
  if (typeof json === 'function') return redactValue(json.call(value), seen);

  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((item) => redactValue(item, seen) ?? null);
    const copy: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined || typeof item === 'function' || typeof item === 'symbol') continue;
      copy[key] = isSecretKey(key) ? REDACTED : redactValue(item, seen);
    }
    return copy;
  } finally {
    // Only a true cycle is circular; the same object twice side by side is copied twice.
    seen.delete(value);
  }
}

function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key) && !REFERENCE_KEY.test(key);
}

/** JSON with object keys sorted by code unit, so the same event always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((item) => canonicalJson(item)).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    const members = entries.map(([key, item]) => `${JSON.stringify(key)}:${canonicalJson(item)}`);
    return `{${members.join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/** A link is checked before the hash, so a moved or deleted event reads as a broken link. */
function faultOf(
  row: AuditEventsTable,
  prevHash: string,
  hash: (row: Omit<AuditEventsTable, 'hash'>) => string,
): VerifyFailure | null {
  if (row.prev_hash !== prevHash) return 'broken link';
  if (hash(row) !== row.hash) return 'edited';
  return null;
}

/** A digest over every column but `hash`; `seq` is included so that reordering shows. */
function hasher(key: Buffer | undefined) {
  return (row: Omit<AuditEventsTable, 'hash'> & { hash?: string }): string => {
    const { hash: _ignored, ...fields } = row;
    const digest = key ? createHmac('sha256', key) : createHash('sha256');
    return digest.update(canonicalJson(fields)).digest('hex');
  };
}

async function readHead(db: Kysely<Database>): Promise<Head> {
  const row = await db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', HEAD_KEY)
    .executeTakeFirst();
  if (row === undefined) return EMPTY_HEAD;
  const head = JSON.parse(row.value) as Partial<Head>;
  if (typeof head.seq !== 'number' || typeof head.hash !== 'string') {
    // Only someone writing to the database directly gets here; no append can chain from it.
    throw new Error('audit head is unreadable');
  }
  return { seq: head.seq, id: String(head.id ?? ''), hash: head.hash };
}

async function writeHead(db: Kysely<Database>, head: Head): Promise<void> {
  const value = JSON.stringify(head);
  await db
    .insertInto('settings')
    .values({ key: HEAD_KEY, value })
    .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
    .execute();
}

async function readTail(db: Kysely<Database>): Promise<Head> {
  const row = await db
    .selectFrom('audit_events')
    .select(['seq', 'id', 'hash'])
    .orderBy('seq', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row ?? EMPTY_HEAD;
}

function parseObject(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
      return value as Record<string, unknown>;
    }
    return { value };
  } catch {
    // An edited row may hold anything; show it as it is rather than fail the whole page.
    return { unparsable: text };
  }
}

function clampLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_LIST_LIMIT;
  return Math.min(Math.max(Math.trunc(limit), 1), MAX_LIST_LIMIT);
}

function isoTime(text: string): string {
  const time = new Date(text);
  if (Number.isNaN(time.getTime())) throw new TetherError('invalid_request', 'invalid time');
  return time.toISOString();
}

function encodeCursor(seq: number): string {
  return Buffer.from(JSON.stringify({ seq })).toString('base64url');
}

function decodeCursor(cursor: string): number {
  try {
    const { seq } = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as {
      seq?: unknown;
    };
    if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq > 0) return seq;
  } catch {
    // Falls through to the same answer as a well-formed cursor holding nonsense.
  }
  throw new TetherError('invalid_request', 'invalid cursor');
}
