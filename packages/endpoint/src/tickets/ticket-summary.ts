/** What was done for a ticket, computed once when it closes: terminal sessions and commands. */
import type { Kysely } from 'kysely';
import { AUDIT, shellQuote } from '@tether/protocol';
import type { Database, TicketsTable } from '../store/schema.ts';

/** Bounds the stored summary; the audit link lists everything when a ticket ran more. */
const MAX_SESSIONS = 100;
const MAX_COMMANDS = 500;
/** A command line is shown up to this many characters; the audit record holds all of it. */
const COMMAND_PREVIEW_CHARS = 1000;
const COMMAND_CODES = [AUDIT.execFinished.code, AUDIT.execFailed.code];

export interface SessionEntry {
  id: string;
  engineer: { id: string; name: string | null };
  status: string;
  startedAt: string;
  endedAt: string | null;
  /** Null while the session is still live. */
  durationMs: number | null;
  /** Who ended it: a user (id and name), or what the terminal code recorded (name null). */
  endedBy: { id: string; name: string | null } | null;
  endReason: string | null;
  /** The session's record and its asciicast recording (the terminal routes). */
  links: { session: string; recording: string };
}

export interface CommandEntry {
  execId: string | null;
  /** The audit event (T3000I finished, T3000E failed) that holds the full request and output. */
  auditId: string;
  code: string;
  time: string;
  /** argv shell-quoted, or the shell command as given; cut at 1000 characters with '…'. */
  command: string;
  exitCode: number | null;
  signal: string | null;
  durationMs: number | null;
  ok: boolean;
}

export interface TicketSummary {
  takenAt: string | null;
  closedAt: string;
  /** From take to close; null when closed without being taken. */
  workedMs: number | null;
  sessions: SessionEntry[];
  commands: CommandEntry[];
  totals: { sessions: number; commands: number; failedCommands: number; terminalMs: number };
  /** True when a list holds only the first MAX entries; `totals` count them all. */
  truncated: boolean;
  links: {
    /** Everything the assignee did on the server while the ticket was theirs. */
    audit: string | null;
  };
}

/**
 * Sessions are the terminal sessions opened for this ticket. Commands are the ones the assignee
 * ran on the ticket's server between taking and closing it (audited T3000I/T3000E), whichever
 * way they came in (REST, stream, fan-out).
 */
export async function summarize(
  db: Kysely<Database>,
  ticket: TicketsTable,
  closedAt: string,
): Promise<TicketSummary> {
  const sessionRows = await db
    .selectFrom('terminal_sessions')
    .selectAll()
    .where('ticket_id', '=', ticket.id)
    .orderBy('started_at')
    .execute();

  const commandQuery = () =>
    db
      .selectFrom('audit_events')
      .where('agent_id', '=', ticket.agent_id)
      .where('actor_id', '=', ticket.assignee_id ?? '')
      .where('code', 'in', COMMAND_CODES)
      .where('time', '>=', ticket.taken_at ?? closedAt)
      .where('time', '<=', closedAt);
  const taken = ticket.assignee_id !== null && ticket.taken_at !== null;
  const commandRows = taken
    ? await commandQuery().selectAll().orderBy('seq').limit(MAX_COMMANDS).execute()
    : [];
  const counts = taken
    ? await commandQuery()
        .select((eb) => ['code', eb.fn.countAll().as('n')])
        .groupBy('code')
        .execute()
    : [];
  const countOf = (code: string) => Number(counts.find((c) => c.code === code)?.n ?? 0);
  const commandCount = COMMAND_CODES.reduce((sum, code) => sum + countOf(code), 0);

  const names = await namesOf(
    db,
    sessionRows.flatMap((s) => [s.engineer_id, s.ended_by ?? '']),
  );
  const allSessions = sessionRows.map((s) => sessionEntry(s, names));
  return {
    takenAt: ticket.taken_at,
    closedAt,
    workedMs: ticket.taken_at ? msBetween(ticket.taken_at, closedAt) : null,
    sessions: allSessions.slice(0, MAX_SESSIONS),
    commands: commandRows.map(commandEntry),
    totals: {
      sessions: allSessions.length,
      commands: commandCount,
      failedCommands: countOf(AUDIT.execFailed.code),
      terminalMs: allSessions.reduce((sum, s) => sum + (s.durationMs ?? 0), 0),
    },
    truncated: allSessions.length > MAX_SESSIONS || commandCount > commandRows.length,
    links: { audit: taken ? auditLink(ticket, closedAt) : null },
  };
}

function sessionEntry(s: Database['terminal_sessions'], names: Map<string, string>): SessionEntry {
  return {
    id: s.id,
    engineer: { id: s.engineer_id, name: names.get(s.engineer_id) ?? null },
    status: s.status,
    startedAt: s.started_at,
    endedAt: s.ended_at,
    durationMs: s.ended_at ? msBetween(s.started_at, s.ended_at) : null,
    endedBy: s.ended_by ? { id: s.ended_by, name: names.get(s.ended_by) ?? null } : null,
    endReason: s.end_reason,
    links: {
      session: `/api/v1/terminals/${s.id}`,
      recording: `/api/v1/terminals/${s.id}/recording`,
    },
  };
}

function commandEntry(row: Database['audit_events']): CommandEntry {
  const params = parse(row.params);
  const result = parse(row.result);
  const ok = row.code === AUDIT.execFinished.code;
  return {
    execId: typeof params.execId === 'string' ? params.execId : null,
    auditId: row.id,
    code: row.code,
    time: row.time,
    command: preview(params),
    exitCode: typeof result.exitCode === 'number' ? result.exitCode : null,
    signal: typeof result.signal === 'string' ? result.signal : null,
    durationMs: typeof result.durationMs === 'number' ? result.durationMs : null,
    ok,
  };
}

function preview(params: Record<string, unknown>): string {
  const argv = params.argv;
  const text = Array.isArray(argv)
    ? argv.map((word) => shellQuote(String(word).replaceAll('\0', ''))).join(' ')
    : String(params.command ?? '');
  return text.length > COMMAND_PREVIEW_CHARS ? `${text.slice(0, COMMAND_PREVIEW_CHARS)}…` : text;
}

/** `GET /api/v1/audit` filtered to the assignee on this server while the ticket was theirs. */
function auditLink(ticket: TicketsTable, closedAt: string): string {
  const query = new URLSearchParams({
    agent: ticket.agent_id,
    actor: ticket.assignee_id ?? '',
    since: ticket.taken_at ?? closedAt,
    // `until` is exclusive; the close itself is not part of the work.
    until: closedAt,
  });
  return `/api/v1/audit?${query}`;
}

async function namesOf(db: Kysely<Database>, ids: string[]): Promise<Map<string, string>> {
  const wanted = [...new Set(ids.filter((id) => id !== ''))];
  if (wanted.length === 0) return new Map();
  const rows = await db
    .selectFrom('users')
    .select(['id', 'display_name'])
    .where('id', 'in', wanted)
    .execute();
  return new Map(rows.map((r) => [r.id, r.display_name]));
}

function msBetween(from: string, to: string): number {
  return Math.max(0, Date.parse(to) - Date.parse(from));
}

function parse(json: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {};
  } catch {
    // An unreadable row still counts as a command; its details show as unknown.
    return {};
  }
}
