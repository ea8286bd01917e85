/** How audit events read in a table or a tail: one row each, with a one-line summary. */
import { shellQuote, type AuditEventView } from '@tether/protocol';
import { formatDuration, formatTable, truncate } from './output.ts';

const SUMMARY_CHARS = 72;
/** Enough of a UUID to tell agents apart by eye when their name is not known. */
const SHORT_ID_CHARS = 8;

export const AUDIT_HEADERS = ['TIME', 'CODE', 'EVENT', 'ACTOR', 'AGENT', 'SUMMARY'];

/** One row per event; agents read by name from `agentNames`, else by a short id. */
export function auditTable(
  events: readonly AuditEventView[],
  agentNames: ReadonlyMap<string, string> = new Map(),
): string {
  const rows = events.map((event) => auditRow(event, agentLabel(event.agentId, agentNames)));
  return formatTable(AUDIT_HEADERS, rows);
}

/** `agent` is how the event's agent reads; the tail, knowing no names, shows the full id. */
export function auditRow(event: AuditEventView, agent = event.agentId ?? '-'): string[] {
  return [
    event.time.replace(/\.\d+Z$/, 'Z'),
    event.code,
    event.event,
    event.actorName ?? '-',
    agent,
    truncate(summarize(event), SUMMARY_CHARS),
  ];
}

/** The command and its outcome for exec events; otherwise the scalar parameters and error. */
export function summarize(event: AuditEventView): string {
  const params = event.params ?? {};
  const result = event.result ?? {};
  const parts: string[] = [];

  if (Array.isArray(params.argv)) parts.push(params.argv.map(quoteWord).join(' '));
  else if (typeof params.command === 'string') parts.push(params.command);
  else parts.push(...scalars(params));

  if (result.timedOut === true) parts.push('→ timed out');
  else if (typeof result.signal === 'string') parts.push(`→ ${result.signal}`);
  else if (typeof result.exitCode === 'number') parts.push(`→ exit ${result.exitCode}`);
  if (typeof result.durationMs === 'number') parts.push(`in ${formatDuration(result.durationMs)}`);

  const error = result.error as { message?: unknown } | string | undefined;
  if (typeof error === 'string') parts.push(`error: ${error}`);
  else if (typeof error?.message === 'string') parts.push(`error: ${error.message}`);
  return parts.join(' ');
}

/** A NUL cannot be in an argument that ran, but a record is shown whatever it holds. */
function quoteWord(word: unknown): string {
  return shellQuote(String(word).replaceAll('\0', '?'));
}

function agentLabel(id: string | null, names: ReadonlyMap<string, string>): string {
  if (!id) return '-';
  return names.get(id) ?? id.slice(0, SHORT_ID_CHARS);
}

function scalars(params: Record<string, unknown>): string[] {
  return Object.entries(params)
    .filter(([, value]) => ['string', 'number', 'boolean'].includes(typeof value))
    .map(([key, value]) => `${key}=${String(value)}`);
}
