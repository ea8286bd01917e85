/** The audit log's HMAC key: a file beside the data, never in the database it protects. */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';

const KEY_BYTES = 32;
const FINGERPRINT_SETTING = 'audit_key_fingerprint';

/**
 * Loads `file` (default `<dataDir>/audit.key`, created on first start). The database keeps
 * the key's fingerprint, so an endpoint with another key (a second process sharing
 * PostgreSQL without a copy of the file) refuses to start rather than write a log that
 * cannot be verified.
 */
export async function loadAuditKey(
  db: Kysely<Database>,
  dataDir: string,
  file?: string,
): Promise<Buffer> {
  const path = file ?? join(dataDir, 'audit.key');
  if (!existsSync(path)) {
    if (file) throw new Error(`audit key file ${path} does not exist`);
    writeFileSync(path, `${randomBytes(KEY_BYTES).toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  }
  const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
  if (key.length < KEY_BYTES) throw new Error(`audit key in ${path} is shorter than 32 bytes`);

  const fingerprint = createHash('sha256').update(key).digest('hex').slice(0, 16);
  await db
    .insertInto('settings')
    .values({ key: FINGERPRINT_SETTING, value: fingerprint })
    .onConflict((oc) => oc.column('key').doNothing())
    .execute();
  const stored = await db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', FINGERPRINT_SETTING)
    .executeTakeFirstOrThrow();
  if (stored.value !== fingerprint) {
    throw new Error(
      `the audit log in this database is keyed with another key (${stored.value}); ` +
        `copy audit.key from the first endpoint's data folder, or pass --audit-key-file`,
    );
  }
  return key;
}
