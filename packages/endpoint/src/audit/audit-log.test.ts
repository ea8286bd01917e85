/** The audit log on every Store backend: chain, paging, visibility, concurrency, tampering. */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AUDIT, TetherError, type AuditEventView, type Role } from '@tether/protocol';
import type { Principal } from '../auth/principal.ts';
import type { Bus, BusPayload } from '../bus/bus.ts';
import { storeBackends, type TestStore } from '../store/test-stores.ts';
import {
  AUDIT_EVENT_SUBJECT,
  AuditLog,
  GENESIS_HASH,
  redact,
  type AppendInput,
} from './audit-log.ts';

const run = promisify(execFile);

/** Two child processes each open their own Store; startup through tsx takes about a second. */
const CHILD_TIMEOUT_MS = 30_000;
/** Children and this process start appending together, after both children have started. */
const CHILD_START_DELAY_MS = 2_500;
const CHILD_APPENDS = 40;
const ENDPOINT_DIR = fileURLToPath(new URL('../../', import.meta.url));
const AUDIT_LOG_MODULE = new URL('./audit-log.ts', import.meta.url).href;
const STORE_MODULE = new URL('../store/store.ts', import.meta.url).href;

const ENGINEER = { id: 'u-eng', name: 'Erin', role: 'engineer' };
const ENGINEER2 = { id: 'u-eng2', name: 'Ed', role: 'engineer' };
const CUSTOMER = { id: 'u-cust', name: 'Cora', role: 'customer' };
const OTHER_CUSTOMER = { id: 'u-custg', name: 'Gus', role: 'customer' };

const PEOPLE = {
  admin: person('u-admin', 'admin', null),
  manager: person('u-manager', 'manager', null, ['u-eng']),
  engineer: person('u-eng', 'engineer', null),
  customer: person('u-cust', 'customer', 'acme'),
} satisfies Record<string, Principal>;

/** A tiny bus that records what is published; subscriptions are not needed here. */
class RecordingBus implements Bus {
  readonly published: Array<{ subject: string; payload: BusPayload }> = [];

  publish(subject: string, payload: BusPayload): void {
    this.published.push({ subject, payload });
  }

  subscribe(): () => void {
    return () => {};
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}
}

describe('audit - redact', () => {
  const cases: Array<{ name: string; input: unknown; secrets: string[]; kept: string[] }> = [
    {
      name: 'a password nested in an object',
      input: { user: { name: 'cora', password: 'hunter2' } },
      secrets: ['hunter2'],
      kept: ['cora'],
    },
    {
      name: 'tokens inside arrays of objects',
      input: { items: [{ joinToken: 'jt-secret' }, [{ accessToken: 'at-secret' }]] },
      secrets: ['jt-secret', 'at-secret'],
      kept: [],
    },
    {
      name: 'headers in any case',
      input: { headers: { Authorization: 'Bearer abc', COOKIE: 'sid=def', 'X-Api-Token': 'ghi' } },
      secrets: ['Bearer abc', 'sid=def', 'ghi'],
      kept: [],
    },
    {
      name: 'private keys in both spellings, but not the public key',
      input: { privateKey: 'pk-1', private_key: 'pk-2', publicKey: 'ssh-ed25519 AAAA' },
      secrets: ['pk-1', 'pk-2'],
      kept: ['ssh-ed25519 AAAA'],
    },
    {
      name: 'a secret that is itself an object',
      input: { clientSecret: { value: 's3cr3t' }, api_token: ['t0k3n'] },
      secrets: ['s3cr3t', 't0k3n'],
      kept: [],
    },
    {
      name: "a secret's id, which is kept",
      input: { joinTokenId: 'jt-123', token_id: 'tk-456', password: 'pw' },
      secrets: ['"pw"'],
      kept: ['jt-123', 'tk-456'],
    },
  ];

  it.each(named(cases))('audit - redact hides %s', (_, { input, secrets, kept }) => {
    const text = JSON.stringify(redact(input));
    for (const secret of secrets) expect(text).not.toContain(secret);
    for (const value of kept) expect(text).toContain(value);
    expect(text).toContain('[redacted]');
  });

  it('audit - redact copies deeply and leaves its input alone', () => {
    const input = { nested: { password: 'pw', list: [1, 2] } };
    const copy = redact(input) as typeof input;
    expect(input.nested.password).toBe('pw');
    expect(copy.nested.list).not.toBe(input.nested.list);
  });

  it('audit - redact survives cycles, dates and bigints', () => {
    const cyclic: Record<string, unknown> = { at: new Date(0), big: 10n };
    cyclic.self = cyclic;
    expect(redact(cyclic)).toEqual({
      at: '1970-01-01T00:00:00.000Z',
      big: '10',
      self: '[circular]',
    });
  });
});

describe.each(storeBackends())('audit log on $name', (backend) => {
  let store: TestStore;
  let bus: RecordingBus;
  let log: AuditLog;

  beforeEach(async () => {
    store = await backend.open();
    bus = new RecordingBus();
    log = new AuditLog({ store, bus, logger: pino({ level: 'silent' }) });
  });

  afterEach(async () => {
    vi.useRealTimers();
    await store.cleanup();
  });

  it('audit - append writes a chained event with its stable code', async () => {
    const first = await log.append({ kind: 'execFinished', actor: ENGINEER, accountId: 'acme' });
    const second = await log.append({ kind: 'agentRevoked', actor: CUSTOMER, agentId: 'a-1' });

    expect(first).toMatchObject({ seq: 1, code: 'T3000I', event: 'exec', prevHash: GENESIS_HASH });
    expect(first.actorId).toBe('u-eng');
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(second).toMatchObject({ seq: 2, ...AUDIT.agentRevoked, prevHash: first.hash });
    expect(new Date(second.time).toISOString()).toBe(second.time);
  });

  it('audit - append stores params and result with secrets redacted', async () => {
    await log.append({
      kind: 'joinTokenCreated',
      actor: CUSTOMER,
      accountId: 'acme',
      params: { maxUses: 3, nested: [{ password: 'hunter2' }] },
      result: { joinToken: 'tj_live_secret', joinTokenId: 'jt-1' },
    });

    const row = await store.db.selectFrom('audit_events').selectAll().executeTakeFirstOrThrow();
    expect(row.params + row.result).not.toMatch(/hunter2|tj_live_secret/);
    const [view] = (await log.list(PEOPLE.admin)).events;
    expect(view.params).toEqual({ maxUses: 3, nested: [{ password: '[redacted]' }] });
    expect(view.result).toEqual({ joinToken: '[redacted]', joinTokenId: 'jt-1' });
  });

  it('audit - list returns newest first and pages with an opaque cursor', async () => {
    for (let i = 0; i < 25; i += 1) await log.append({ kind: 'execFinished', actor: ENGINEER });

    const seen: number[] = [];
    let cursor: string | undefined;
    const sizes: number[] = [];
    do {
      const page = await log.list(PEOPLE.admin, { limit: 10, cursor });
      sizes.push(page.events.length);
      seen.push(...page.events.map((event) => event.seq));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);

    expect(sizes).toEqual([10, 10, 5]);
    expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => 25 - i));
  });

  it('audit - list refuses a cursor it did not make', async () => {
    const attempt = log.list(PEOPLE.admin, { cursor: 'not-a-cursor' });
    await expect(attempt).rejects.toBeInstanceOf(TetherError);
    await expect(attempt).rejects.toMatchObject({ code: 'invalid_request' });
  });

  it('audit - list filters by time, agent, actor, account and code', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const at = (time: string, input: AppendInput) => {
      vi.setSystemTime(new Date(time));
      return log.append(input);
    };
    await at('2025-01-01T10:00:00Z', {
      kind: 'execFinished',
      actor: ENGINEER,
      agentId: 'a-1',
      accountId: 'acme',
    });
    await at('2025-01-02T10:00:00Z', {
      kind: 'execFailed',
      actor: ENGINEER2,
      agentId: 'a-2',
      accountId: 'acme',
    });
    await at('2025-01-03T10:00:00Z', {
      kind: 'agentRevoked',
      actor: OTHER_CUSTOMER,
      agentId: 'a-3',
      accountId: 'globex',
    });

    const filters = [
      { name: 'since, inclusive', filter: { since: '2025-01-02T10:00:00Z' }, seqs: [3, 2] },
      { name: 'until, exclusive', filter: { until: '2025-01-02T10:00:00Z' }, seqs: [1] },
      {
        name: 'since with an offset',
        filter: { since: '2025-01-02T12:00:00+02:00' },
        seqs: [3, 2],
      },
      { name: 'agent', filter: { agentId: 'a-2' }, seqs: [2] },
      { name: 'actor', filter: { actorId: 'u-eng' }, seqs: [1] },
      { name: 'account', filter: { accountId: 'acme' }, seqs: [2, 1] },
      { name: 'code', filter: { code: 'T3000E' }, seqs: [2] },
      { name: 'account and code', filter: { accountId: 'acme', code: 'T2004I' }, seqs: [] },
    ];
    for (const { name, filter, seqs } of filters) {
      const { events } = await log.list(PEOPLE.admin, filter);
      expect(
        events.map((event) => event.seq),
        name,
      ).toEqual(seqs);
    }
  });

  it('audit - list shows each role only what it may see', async () => {
    await log.append({
      kind: 'accountCreated',
      actor: { id: 'u-admin', name: 'Ada', role: 'admin' },
    });
    await log.append({ kind: 'execFinished', actor: ENGINEER, accountId: 'acme' });
    await log.append({ kind: 'execFinished', actor: ENGINEER2, accountId: 'acme' });
    await log.append({ kind: 'execFinished', actor: ENGINEER, accountId: 'globex' });
    await log.append({ kind: 'agentRevoked', actor: CUSTOMER, accountId: 'acme' });
    await log.append({ kind: 'agentDisconnected', actor: null, accountId: 'acme' });
    await log.append({ kind: 'agentRevoked', actor: OTHER_CUSTOMER, accountId: 'globex' });

    const rows: Array<{ name: string; who: keyof typeof PEOPLE; seqs: number[] }> = [
      { name: 'admin sees everything', who: 'admin', seqs: [7, 6, 5, 4, 3, 2, 1] },
      { name: 'manager sees its own and its report', who: 'manager', seqs: [4, 2] },
      { name: 'engineer sees only its own', who: 'engineer', seqs: [4, 2] },
      { name: 'customer sees its whole account', who: 'customer', seqs: [6, 5, 3, 2] },
    ];
    for (const { name, who, seqs } of rows) {
      const { events } = await log.list(PEOPLE[who]);
      expect(
        events.map((event) => event.seq),
        name,
      ).toEqual(seqs);
    }
  });

  it('audit - 200 concurrent appends keep a valid chain and publish each event', async () => {
    const appended = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        log.append({ kind: 'execFinished', actor: ENGINEER, params: { i } }),
      ),
    );

    const seqs = appended.map((event) => event.seq).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(await log.verify()).toEqual({ ok: true, checked: 200 });

    expect(bus.published).toHaveLength(200);
    expect(bus.published.every(({ subject }) => subject === AUDIT_EVENT_SUBJECT)).toBe(true);
    const byId = new Map(appended.map((event) => [event.id, event]));
    for (const { payload } of bus.published) {
      const view = payload as unknown as AuditEventView;
      expect(view).toEqual(byId.get(view.id));
    }

    const firstPage = await log.list(PEOPLE.engineer);
    expect(firstPage.events).toHaveLength(100);
    expect(firstPage.nextCursor).not.toBeNull();
  });

  it.runIf(backend.name === 'postgres')(
    'audit - two stores appending at once keep a valid chain',
    async () => {
      const other = await store.reopen();
      const otherLog = new AuditLog({ store: other, bus, logger: pino({ level: 'silent' }) });
      const each = (target: AuditLog) =>
        Array.from({ length: 100 }, () => target.append({ kind: 'execStarted', actor: ENGINEER }));

      await Promise.all([...each(log), ...each(otherLog)]);

      expect(await log.verify()).toEqual({ ok: true, checked: 200 });
    },
  );

  it(
    'audit - two processes appending at once keep a valid chain',
    async () => {
      const startAt = Date.now() + CHILD_START_DELAY_MS;
      const children = [appendFromChild(store, startAt), appendFromChild(store, startAt)];
      await delay(startAt - Date.now());
      const own = Array.from({ length: CHILD_APPENDS }, () =>
        log.append({ kind: 'execStarted', actor: ENGINEER }),
      );

      await Promise.all([...children, ...own]);

      expect(await log.verify()).toEqual({ ok: true, checked: 3 * CHILD_APPENDS });
    },
    CHILD_TIMEOUT_MS,
  );

  it('audit - verify passes an empty log and reports progress page by page', async () => {
    expect(await log.verify()).toEqual({ ok: true, checked: 0 });

    await Promise.all(
      Array.from({ length: 1_001 }, () => log.append({ kind: 'execFinished', actor: ENGINEER })),
    );
    const progress: number[] = [];
    expect(await log.verify((checked) => progress.push(checked))).toEqual({
      ok: true,
      checked: 1_001,
    });
    expect(progress).toEqual([1_000, 1_001]);
  });

  const update = (seq: number, set: { params?: string; actor_id?: string }) => (s: TestStore) =>
    s.db.updateTable('audit_events').set(set).where('seq', '=', seq).execute();
  const remove = (from: number, to: number) => (s: TestStore) =>
    s.db.deleteFrom('audit_events').where('seq', '>=', from).where('seq', '<=', to).execute();
  const idOf = (seq: number) => (events: AuditEventView[]) => events[seq - 1].id;

  const tampering: Array<{
    name: string;
    tamper: (store: TestStore, events: AuditEventView[]) => Promise<unknown>;
    firstBad: { seq: number; reason: string };
    id: (events: AuditEventView[]) => string;
    checked: number;
  }> = [
    {
      name: 'an edited event',
      tamper: update(3, { params: '{"i":99}' }),
      firstBad: { seq: 3, reason: 'edited' },
      id: idOf(3),
      checked: 2,
    },
    {
      name: 'an edited actor',
      tamper: update(2, { actor_id: 'u-someone' }),
      firstBad: { seq: 2, reason: 'edited' },
      id: idOf(2),
      checked: 1,
    },
    {
      name: 'a deleted middle event',
      tamper: remove(3, 3),
      firstBad: { seq: 4, reason: 'broken link' },
      id: idOf(4),
      checked: 2,
    },
    {
      name: 'a deleted last event',
      tamper: remove(5, 5),
      firstBad: { seq: 5, reason: 'head mismatch' },
      id: idOf(5),
      checked: 4,
    },
    {
      // Only the head's own id is remembered, so the first missing event has none to name.
      name: 'the last two events deleted',
      tamper: remove(4, 5),
      firstBad: { seq: 4, reason: 'head mismatch' },
      id: () => '',
      checked: 3,
    },
    {
      name: 'two swapped events',
      tamper: (s, events) => swapContents(s, events[1], events[2]),
      firstBad: { seq: 2, reason: 'broken link' },
      id: idOf(3),
      checked: 1,
    },
    {
      name: 'an event inserted after the head',
      tamper: (s, events) =>
        s.db
          .insertInto('audit_events')
          .values({ ...toRow(events[4]), seq: 6, id: 'forged', prev_hash: events[4].hash })
          .execute(),
      firstBad: { seq: 6, reason: 'head mismatch' },
      id: () => 'forged',
      checked: 5,
    },
  ];

  it.each(named(tampering))('audit - verify names the first bad seq after %s', async (_, row) => {
    const events: AuditEventView[] = [];
    for (let i = 1; i <= 5; i += 1) {
      events.push(await log.append({ kind: 'execFinished', actor: ENGINEER, params: { i } }));
    }

    await row.tamper(store, events);
    const outcome = await log.verify();

    expect(outcome).toEqual({
      ok: false,
      checked: row.checked,
      firstBad: { ...row.firstBad, id: row.id(events) },
    });
  });

  it('audit - an append after the last event was deleted leaves the gap for verify', async () => {
    for (let i = 0; i < 3; i += 1) await log.append({ kind: 'execFinished', actor: ENGINEER });
    await store.db.deleteFrom('audit_events').where('seq', '=', 3).execute();

    const next = await log.append({ kind: 'execFinished', actor: ENGINEER });

    expect(next.seq).toBe(4);
    expect(await log.verify()).toMatchObject({
      ok: false,
      firstBad: { seq: 4, reason: 'broken link' },
    });
  });
});

/** `[name, row]` pairs, so that `%s` prints each row's name as it is written. */
function named<T extends { name: string }>(rows: T[]): Array<[string, T]> {
  return rows.map((row) => [row.name, row]);
}

function person(
  userId: string,
  role: Role,
  accountId: string | null,
  reportIds: string[] = [],
): Principal {
  return { userId, username: userId.slice(2), role, accountId, reportIds };
}

function toRow(view: AuditEventView) {
  return {
    seq: view.seq,
    id: view.id,
    time: view.time,
    code: view.code,
    event: view.event,
    actor_id: view.actorId,
    actor_name: view.actorName,
    actor_role: view.actorRole,
    account_id: view.accountId,
    agent_id: view.agentId,
    ticket_id: view.ticketId,
    session_id: view.sessionId,
    params: JSON.stringify(view.params),
    result: JSON.stringify(view.result),
    prev_hash: view.prevHash,
    hash: view.hash,
  };
}

/** Swaps every column but `seq`, as someone reordering history by hand would. */
async function swapContents(s: TestStore, a: AuditEventView, b: AuditEventView): Promise<void> {
  const { seq: _a, ...aFields } = toRow(a);
  const { seq: _b, ...bFields } = toRow(b);
  // ids are unique, so park one first.
  await s.db.updateTable('audit_events').set({ id: 'parked' }).where('seq', '=', a.seq).execute();
  await s.db.updateTable('audit_events').set(aFields).where('seq', '=', b.seq).execute();
  await s.db.updateTable('audit_events').set(bFields).where('seq', '=', a.seq).execute();
}

/** A separate node process with its own Store on the same database, appending concurrently. */
async function appendFromChild(store: TestStore, startAt: number): Promise<void> {
  const script = `
    import { pino } from 'pino';
    import { AuditLog } from ${JSON.stringify(AUDIT_LOG_MODULE)};
    import { openStore } from ${JSON.stringify(STORE_MODULE)};
    const store = await openStore(JSON.parse(process.env.TETHER_TEST_STORE));
    const bus = { publish() {}, subscribe: () => () => {}, flush: async () => {},
      close: async () => {} };
    const log = new AuditLog({ store, bus, logger: pino({ level: 'silent' }) });
    const actor = { id: 'u-child', name: 'child', role: 'engineer' };
    const wait = Number(process.env.TETHER_TEST_START_AT) - Date.now();
    await new Promise((go) => setTimeout(go, wait));
    await Promise.all(Array.from({ length: ${CHILD_APPENDS} },
      () => log.append({ kind: 'execStarted', actor })));
    await store.close();
  `;
  await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    cwd: ENDPOINT_DIR,
    env: {
      ...process.env,
      TETHER_TEST_STORE: JSON.stringify(store.options),
      TETHER_TEST_START_AT: String(startAt),
    },
    timeout: CHILD_TIMEOUT_MS,
  });
}
