/** The audit chain is keyed: whoever can write the database but not read the key cannot re-chain it. */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startEndpoint } from '../server.ts';
import { quiet, startHarness, type Harness } from '../testing/harness.ts';
import { canonicalJson, GENESIS_HASH } from './audit-log.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  await h.account('Acme');
  await h.account('Beta');
});
afterAll(() => h.close());

it('audit key - an edited log re-chained with plain SHA-256 fails verify', async () => {
  const db = h.endpoint.services.db;
  const rows = await db.selectFrom('audit_events').selectAll().orderBy('seq').execute();
  let prev = GENESIS_HASH;
  for (const row of rows) {
    const params = row.event === 'account.create' ? canonicalJson({ name: 'Forged' }) : row.params;
    const { hash: _old, ...fields } = { ...row, params, prev_hash: prev };
    const hash = createHash('sha256').update(canonicalJson(fields)).digest('hex');
    await db
      .updateTable('audit_events')
      .set({ params, prev_hash: prev, hash })
      .where('seq', '=', row.seq)
      .execute();
    prev = hash;
  }
  const last = rows.at(-1)!;
  await db
    .updateTable('settings')
    .set({ value: JSON.stringify({ seq: last.seq, id: last.id, hash: prev }) })
    .where('key', '=', 'audit_head')
    .execute();

  const verify = (await h.api('GET', '/api/v1/audit/verify')).body;
  expect(verify).toMatchObject({ ok: false, firstBad: { seq: rows[0].seq, reason: 'edited' } });
});

it('audit key - an endpoint with a different key refuses to start on the same database', async () => {
  await h.endpoint.close();
  rmSync(join(h.dir, 'endpoint', 'audit.key'));
  const restart = startEndpoint({
    dataDir: join(h.dir, 'endpoint'),
    listen: { host: '127.0.0.1', port: 0 },
    logger: quiet,
  });
  await expect(restart).rejects.toThrow('keyed with another key');
});
