/** Each account's consent policy: what needs the customer's approval and what is recorded. */
import type { Kysely } from 'kysely';
import {
  ActionMode,
  CONSENT_DEFAULT_TIMEOUT_SECONDS,
  type ApprovalAction,
  type ConsentPolicy,
} from '@tether/protocol';
import { nowIso } from '../auth/secrets.ts';
import type { Database } from '../store/schema.ts';

/** What an account that never set a policy gets: always ask, 5 minutes, keystrokes recorded. */
export const DEFAULT_POLICY: ConsentPolicy = {
  terminalMode: 'always_ask',
  timeoutSeconds: CONSENT_DEFAULT_TIMEOUT_SECONDS,
  recordInput: true,
  fileReadMode: 'always_ask',
  fileWriteMode: 'always_ask',
  pathAllow: [],
  pathDeny: [],
  forwardMode: 'always_ask',
  forwardTargets: [],
  selfService: false,
};

/** How the policy treats one kind of action (terminals know no `allow` or `off`). */
export function modeFor(policy: ConsentPolicy, action: ApprovalAction): ActionMode {
  switch (action) {
    case 'terminal':
      return policy.terminalMode;
    case 'files.read':
      return policy.fileReadMode;
    case 'files.write':
      return policy.fileWriteMode;
    case 'forward':
      return policy.forwardMode;
  }
}

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
    fileReadMode: mode(row.file_read_mode),
    fileWriteMode: mode(row.file_write_mode),
    pathAllow: list(row.path_allow),
    pathDeny: list(row.path_deny),
    forwardMode: mode(row.forward_mode),
    forwardTargets: list(row.forward_targets),
    selfService: row.self_service === 1,
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
    file_read_mode: policy.fileReadMode,
    file_write_mode: policy.fileWriteMode,
    forward_mode: policy.forwardMode,
    path_allow: JSON.stringify(policy.pathAllow),
    path_deny: JSON.stringify(policy.pathDeny),
    forward_targets: JSON.stringify(policy.forwardTargets),
    self_service: policy.selfService ? 1 : 0,
    updated_at: nowIso(),
    updated_by: by,
  };
  await db
    .insertInto('consent_policies')
    .values({ account_id: accountId, ...values })
    .onConflict((oc) => oc.column('account_id').doUpdateSet(values))
    .execute();
}

/** A stored mode this version does not know is read as the strictest that still works. */
function mode(value: string): ActionMode {
  const parsed = ActionMode.safeParse(value);
  return parsed.success ? parsed.data : 'always_ask';
}

function list(json: string): string[] {
  const parsed: unknown = JSON.parse(json);
  return Array.isArray(parsed) ? parsed.filter((item) => typeof item === 'string') : [];
}
