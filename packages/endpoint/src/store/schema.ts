/** The tables every Store holds, as Kysely sees them. Times are ISO-8601 UTC text. */
import type { Generated } from 'kysely';

export interface AccountsTable {
  id: string;
  name: string;
  created_at: string;
}

export interface UsersTable {
  id: string;
  username: string;
  display_name: string;
  role: string;
  /** Set for customers: the account they belong to. */
  account_id: string | null;
  /** Set for engineers and managers who report to a manager. */
  manager_id: string | null;
  password_hash: string | null;
  created_at: string;
  disabled_at: string | null;
}

export interface ApiTokensTable {
  id: string;
  user_id: string;
  /** SHA-256 of the token; the token itself is shown once and never stored. */
  token_hash: string;
  name: string;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

export interface WebSessionsTable {
  /** SHA-256 of the cookie value. */
  id: string;
  user_id: string;
  created_at: string;
  expires_at: string;
}

export interface JoinTokensTable {
  id: string;
  token_hash: string;
  account_id: string;
  created_by: string | null;
  created_at: string;
  expires_at: string;
  max_uses: number;
  uses: number;
  revoked_at: string | null;
}

export interface AgentsTable {
  id: string;
  name: string;
  account_id: string;
  /** The agent's SSH host key, OpenSSH `ssh-ed25519 AAAA…` form, pinned at enrollment. */
  public_key: string;
  os: string;
  arch: string;
  version: string;
  hostname: string | null;
  join_token_id: string | null;
  enrolled_at: string;
  revoked_at: string | null;
  last_seen_at: string | null;
  /** The endpoint process holding the agent's link, or null when offline. */
  connected_node: string | null;
  connection_id: string | null;
  connected_at: string | null;
  remote_addr: string | null;
}

export interface ExecsTable {
  id: string;
  agent_id: string;
  account_id: string;
  actor_id: string | null;
  /** The endpoint process that relays it; a restarted node marks its running rows interrupted. */
  node_id: string;
  request: string;
  status: 'running' | 'completed' | 'failed' | 'interrupted';
  exit_code: number | null;
  signal: string | null;
  timed_out: number;
  stdout_bytes: number;
  stderr_bytes: number;
  error: string | null;
  started_at: string;
  ended_at: string | null;
  duration_ms: number | null;
}

export interface AuditEventsTable {
  seq: number;
  id: string;
  time: string;
  code: string;
  event: string;
  actor_id: string | null;
  actor_name: string | null;
  actor_role: string | null;
  account_id: string | null;
  agent_id: string | null;
  ticket_id: string | null;
  session_id: string | null;
  /** JSON, secrets already redacted. */
  params: string;
  /** JSON. */
  result: string;
  prev_hash: string;
  hash: string;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface Database {
  accounts: AccountsTable;
  users: UsersTable;
  api_tokens: ApiTokensTable;
  web_sessions: WebSessionsTable;
  join_tokens: JoinTokensTable;
  agents: AgentsTable;
  execs: ExecsTable;
  audit_events: AuditEventsTable;
  settings: SettingsTable;
}

/** Rows as inserted: `seq` is assigned by the database. */
export type NewAuditEvent = Omit<AuditEventsTable, 'seq'> & { seq?: Generated<number> };
