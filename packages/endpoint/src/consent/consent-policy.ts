/** Each account's consent policy: how terminal requests are approved and what is recorded. */
import type { Kysely } from 'kysely';
import { CONSENT_DEFAULT_TIMEOUT_SECONDS, type ConsentPolicy } from '@tether/protocol';
import { nowIso } from '../auth/secrets.ts';
import type { Database } from '../store/schema.ts';

/** What an account that never set a policy gets: always ask, 5 minutes, keystrokes recorded. */
export const DEFAULT_POLICY: ConsentPolicy = {
  terminalMode: 'always_ask',
  timeoutSeconds: CONSENT_DEFAULT_TIMEOUT_SECONDS,
  recordInput: true,
};

export async function readPolicy(db: Kysely<Database>, accountId: string): Promise<ConsentPolicy> {
  const row = await db
    .selectFrom('consent_policies')
    .selectAll()
    .where('account_id', '=', accountId)
    .executeTakeFirst();
  if (!row) return { ...DEFAULT_POLICY };
  return {
    terminalMode:
      row.terminal_mode === 'preapprove_assignee' ? 'preapprove_assignee' : 'always_ask',
    timeoutSeconds: row.timeout_seconds,
    recordInput: row.record_input === 1,
  };
}

export async function writePolicy(
  db: Kysely<Database>,
  accountId: string,
  policy: ConsentPolicy,
  by: string,
): Promise<void> {
  const values = {
    terminal_mode: policy.terminalMode,
    timeout_seconds: policy.timeoutSeconds,
    record_input: policy.recordInput ? 1 : 0,
    updated_at: nowIso(),
    updated_by: by,
  };
  await db
    .insertInto('consent_policies')
    .values({ account_id: accountId, ...values })
    .onConflict((oc) => oc.column('account_id').doUpdateSet(values))
    .execute();
}
