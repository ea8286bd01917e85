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

export interface TicketsTable {
  id: string;
  account_id: string;
  agent_id: string;
  title: string;
  question: string;
  status: 'open' | 'taken' | 'closed';
  created_by: string;
  assignee_id: string | null;
  created_at: string;
  taken_at: string | null;
  closed_at: string | null;
  closed_by: string | null;
  /** JSON written at close: what was done (sessions, commands, durations, links). */
  summary: string | null;
}

/** Every server has one chat room; a message may also name the ticket it was written in. */
export interface ChatMessagesTable {
  id: string;
  agent_id: string;
  account_id: string;
  ticket_id: string | null;
  author_id: string;
  author_name: string;
  author_role: string;
  body: string;
  created_at: string;
}

/** Per account: which actions need the customer's live approval, and for how long to wait. */
export interface ConsentPoliciesTable {
  account_id: string;
  /** 'always_ask' (default) or 'preapprove_assignee': the ticket's engineer needs no prompt. */
  terminal_mode: string;
  timeout_seconds: number;
  /** 1: keystrokes are recorded with the output (default); 0: output only. */
  record_input: number;
  /** ActionMode of file reads, file writes and port forwards (see protocol ConsentPolicy). */
  file_read_mode: string;
  file_write_mode: string;
  forward_mode: string;
  /** JSON arrays of strings: allowed and denied folders, allowed forward targets. */
  path_allow: string;
  path_deny: string;
  forward_targets: string;
  /** 1: the account's customers may use files and forwards themselves. */
  self_service: number;
  updated_at: string;
  updated_by: string | null;
}

export interface ApprovalRequestsTable {
  id: string;
  account_id: string;
  agent_id: string;
  ticket_id: string | null;
  requester_id: string;
  /** 'terminal' now; file reads, writes, commands and scripts later. */
  action: string;
  status: 'pending' | 'approved' | 'denied' | 'expired' | 'used' | 'cancelled';
  decided_by: string | null;
  decided_at: string | null;
  created_at: string;
  expires_at: string;
  /** The terminal session this approval opened; set once, so it cannot be replayed. */
  session_id: string | null;
}

export interface TerminalSessionsTable {
  id: string;
  agent_id: string;
  account_id: string;
  ticket_id: string | null;
  approval_id: string | null;
  engineer_id: string;
  node_id: string;
  status: 'live' | 'ended' | 'interrupted';
  started_at: string;
  ended_at: string | null;
  ended_by: string | null;
  end_reason: string | null;
  cols: number;
  rows: number;
  /** Path of the asciicast v2 file, relative to the data folder's recordings/. */
  recording: string;
  bytes_out: number;
  bytes_in: number;
}

/** A port forward: one person's right to open connections to one target from one server. */
export interface ForwardsTable {
  id: string;
  agent_id: string;
  account_id: string;
  ticket_id: string | null;
  /** The approval it was opened with; null for customers' own (self-service) forwards. */
  approval_id: string | null;
  user_id: string;
  username: string;
  /** As parsed: lower-case host (IPv6 without brackets), port, and the two as one string. */
  host: string;
  port: number;
  target: string;
  /** 1: the account's target list named it, so the agent may reach link-local addresses. */
  listed: number;
  /** `opening` is the moment between claiming a pending forward and spending its approval. */
  status: 'pending' | 'opening' | 'live' | 'ended' | 'refused';
  created_at: string;
  ended_at: string | null;
  ended_by: string | null;
  end_reason: string | null;
  /** Renewed while a client holds the forward's socket; past it, any process ends the forward. */
  lease_until: string;
}

/** One TCP connection through a forward, written when it opens (or fails) and when it ends. */
export interface ForwardConnectionsTable {
  id: string;
  forward_id: string;
  node_id: string;
  status: 'open' | 'closed' | 'failed' | 'interrupted';
  started_at: string;
  ended_at: string | null;
  bytes_up: number;
  bytes_down: number;
  duration_ms: number | null;
  error_code: string | null;
  error_message: string | null;
}

/** A file session: one person browsing and editing one server's files (issue 4). */
export interface FileSessionsTable {
  id: string;
  agent_id: string;
  account_id: string;
  ticket_id: string | null;
  /** Who opened it: the engineer, or a customer using self-service. Only they operate it. */
  user_id: string;
  username: string;
  read_approval_id: string | null;
  write_approval_id: string | null;
  can_write: number;
  status: 'live' | 'ended';
  started_at: string;
  ended_at: string | null;
  ended_by: string | null;
  end_reason: string | null;
  /** JSON array of the allowed folders when it opened, for the site to start in. */
  roots: string;
  /** Live state for late joiners: the folder shown and the file open (base64 of raw bytes). */
  cwd_b64: string | null;
  open_b64: string | null;
  open_hash: string | null;
}

/** History of file work: what was listed, viewed, saved, uploaded, downloaded, changed. */
export interface FileEventsTable {
  /** Time-ordered (timeOrderedId), so (created_at, id) pages in write order. */
  id: string;
  created_at: string;
  agent_id: string;
  account_id: string;
  ticket_id: string | null;
  session_id: string;
  user_id: string;
  username: string;
  code: string;
  kind: string;
  /** Base64 of the raw path bytes; names need not be UTF-8. */
  path_b64: string;
  to_path_b64: string | null;
  before_hash: string | null;
  after_hash: string | null;
  bytes: number | null;
  /** Saves: the unified diff from before to after. */
  diff: string | null;
  /** JSON of kind-specific facts. */
  detail: string | null;
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
  tickets: TicketsTable;
  chat_messages: ChatMessagesTable;
  consent_policies: ConsentPoliciesTable;
  approval_requests: ApprovalRequestsTable;
  terminal_sessions: TerminalSessionsTable;
  forwards: ForwardsTable;
  forward_connections: ForwardConnectionsTable;
  file_sessions: FileSessionsTable;
  file_events: FileEventsTable;
}

/** Rows as inserted: `seq` is assigned by the database. */
export type NewAuditEvent = Omit<AuditEventsTable, 'seq'> & { seq?: Generated<number> };
