/** Audit events as sentences people read: one phrase per stable code, never the wording. */
import type { AuditCode } from '@tether/protocol';
import type { AuditEvent } from '../api/types.ts';

/**
 * What the actor did, for every code in packages/protocol/src/audit-codes.ts. Typed as a full
 * record so a new code fails the typecheck until it has a phrase here.
 */
export const PHRASES: Record<AuditCode, string> = {
  T1000I: 'signed in',
  T1000E: 'failed to sign in',
  T1001I: 'signed out',
  T1002I: 'created a user',
  T1003I: 'created an API token',
  T1004I: 'listed users',
  T1005I: 'revoked an API token',
  T1006I: 'disabled a user',
  T1007I: 'listed API tokens',

  T2000I: 'was enrolled',
  T2000E: 'refused an enrollment',
  T2001I: 'connected',
  T2001E: 'was refused a connection',
  T2002I: 'disconnected',
  T2003I: 'reconnected, replacing its old link',
  T2004I: 'revoked the server',
  T2005I: 'listed servers',
  T2006I: 'viewed the server',

  T3000I: 'ran a command',
  T3000E: 'ran a command that failed',
  T3001I: 'started a command',
  T3002E: 'had a command cut off',
  T3003I: 'ran a command on several servers',

  T3500I: 'published a script',
  T3500E: 'was refused publishing a script',
  T3501I: 'yanked a script version',
  T3502I: 'deprecated a script',
  T3503I: 'added a publisher key',
  T3504I: 'removed a publisher key',
  T3505E: 'asked for a script hidden from them',
  T3506E: 'was refused changing a script they do not own',
  T3507I: 'fetched a script',
  T3507E: 'was refused a script',

  T4000I: 'created a join token',
  T4001I: 'revoked a join token',
  T4002I: 'listed join tokens',

  T5000I: 'created an account',
  T5001I: 'listed accounts',

  T6000I: 'read the audit log',

  T7000I: 'opened a support request',
  T7001I: 'took a support request',
  T7002I: 'closed a support request',
  T7003I: 'listed support requests',
  T7100I: 'sent a chat message',

  T8000I: 'changed the consent policy',
  T8001I: 'asked for access',
  T8002I: 'approved access',
  T8002E: 'denied access',
  T8003E: 'let an access request expire',
  T8004E: 'was refused an approval',
  T8100I: 'started a terminal session',
  T8101I: 'ended a terminal session',
  T8101E: 'had a terminal session cut off',
  T8102I: 'joined a terminal session',
  T8103E: 'was refused a terminal',
  T8104E: 'typed into a terminal they may only watch',
  T8105I: 'exported a recording',
  T8106I: 'played a recording',
  T8290E: 'tried to edit a file they may only watch',
  T8291I: 'started watching a file session',
  T8300I: 'opened a port forward',
  T8300E: 'was refused a port forward',
  T8301I: 'ended a port forward',
  T8310I: 'opened a connection through a port forward',
  T8310E: 'could not open a connection through a port forward',
  T8311I: 'closed a connection through a port forward',
  T8311E: 'had a connection through a port forward cut off',
  T8200I: 'opened a file session',
  T8200E: 'was refused a file session',
  T8201I: 'ended a file session',
  T8202I: 'got write access in a file session',
  T8202E: 'was refused write access to files',
  T8203E: 'edited a file they may only watch',
  T8210I: 'listed a folder',
  T8210E: 'was refused a folder listing',
  T8211I: 'looked up a file',
  T8211E: 'was refused a file lookup',
  T8212I: 'viewed a file',
  T8212E: 'was refused a file view',
  T8213I: 'downloaded',
  T8213E: 'failed to download',
  T8214I: 'compared a file with an edit',
  T8214E: 'failed to compare a file',
  T8215I: 'saved a file',
  T8215E: 'failed to save a file',
  T8216I: 'uploaded a file',
  T8216E: 'failed to upload a file',
  T8217I: 'deleted',
  T8217E: 'failed to delete',
  T8218I: 'made a folder',
  T8218E: 'failed to make a folder',
  T8219I: 'renamed',
  T8219E: 'failed to rename',
  T8220I: 'changed a mode',
  T8220E: 'failed to change a mode',
  T8221I: 'read a saved file from history',

  T9000E: 'was denied access',
};

/** Codes that only record someone looking; the activity feed hides them unless asked. */
export const VIEW_CODES: ReadonlySet<string> = new Set(['T2005I', 'T2006I', 'T6000I']);

/** Codes about a server's link, after which its details and the server list are stale. */
export const AGENT_STATE_CODES: ReadonlySet<string> = new Set([
  'T2000I',
  'T2001I',
  'T2002I',
  'T2003I',
  'T2004I',
]);

/** A command event's facts, read defensively: params and result are whatever the server sent. */
export interface CommandSummary {
  command: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  durationMs: number | null;
  error: string | null;
}

/** "alice ran a command": who did it (the server itself when no person did), then the phrase. */
export function describeEvent(event: AuditEvent, agentName?: string): string {
  const phrase = PHRASES[event.code as AuditCode] ?? `did ${event.event} (${event.code})`;
  const subject = event.actorName || (event.agentId ? agentName || 'The server' : 'Tether');
  return `${subject} ${phrase}`;
}

export function commandOf(event: AuditEvent): CommandSummary | null {
  if (!event.code.startsWith('T300')) return null;
  const { params, result } = event;
  const argv = Array.isArray(params.argv) ? params.argv.map(String) : null;
  const command = argv ? argv.map(quoteArg).join(' ') : stringOr(params.command, '');
  const error = result.error as { message?: unknown } | undefined;
  return {
    command,
    exitCode: typeof result.exitCode === 'number' ? result.exitCode : null,
    signal: typeof result.signal === 'string' ? result.signal : null,
    timedOut: result.timedOut === true,
    durationMs: typeof result.durationMs === 'number' ? result.durationMs : null,
    error: error && typeof error.message === 'string' ? error.message : null,
  };
}

/** "exit 0", "exit 2", "killed by SIGKILL", "timed out", or null while it runs. */
export function outcomeOf(summary: CommandSummary): { label: string; ok: boolean } | null {
  if (summary.timedOut) return { label: 'timed out', ok: false };
  if (summary.signal) return { label: `killed by ${summary.signal}`, ok: false };
  if (summary.exitCode !== null)
    return { label: `exit ${summary.exitCode}`, ok: summary.exitCode === 0 };
  if (summary.error) return { label: 'failed', ok: false };
  return null;
}

/** 850 ms, 4.2 s, 3 min 5 s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
  const minutes = Math.floor(ms / 60_000);
  const seconds = Math.round((ms % 60_000) / 1000);
  return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
}

function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

function stringOr(value: unknown, fallback: string): string {
  return typeof value === 'string' ? value : fallback;
}
