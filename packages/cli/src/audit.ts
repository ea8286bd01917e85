/** `tether audit ls|tail|verify`: read the record, follow it live, check its hash chain. */
import { Command, Option } from 'commander';
import type { AuditEventView } from '@tether/protocol';
import { agentNames, listAgents, resolveAgent, type AgentView } from './agent-list.ts';
import { tailAudit } from './audit-tail.ts';
import { auditTable } from './audit-view.ts';
import type { Client } from './client.ts';
import { clientFor, countArg, withConnection } from './context.ts';
import { parseDuration } from './duration.ts';
import { UsageError } from './errors.ts';
import { formatJson } from './output.ts';

const DEFAULT_LIMIT = 100;
/** The most we ask for in one page; the endpoint may cap it lower and hand us a cursor. */
const PAGE_SIZE = 500;
/** Agent ids are UUIDs (the endpoint's randomUUID); a name is anything else. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const LS_HELP = `
--since and --until take an ISO time (2025-06-01T12:00:00Z) or a duration meaning "that long
ago" (30m, 2h, 7d).

Examples:
  tether audit ls --since 1h
  tether audit ls --agent web-01 --code T3000I --limit 20
  tether audit ls --actor alice --since 2025-06-01T00:00:00Z --json`;

const TAIL_HELP = `
Reconnects with backoff if the endpoint goes away, and says on stderr what may have been missed.

Examples:
  tether audit tail
  tether audit tail --json | jq -r .code`;

interface AuditPage {
  events: AuditEventView[];
  nextCursor: string | null;
}

interface VerifyResult {
  ok: boolean;
  checked: number;
  firstBad?: { seq: number; id: string; reason: string };
}

export function auditCommand(): Command {
  const audit = new Command('audit').description('read, follow and verify the audit log');

  withConnection(audit.command('ls'), { json: true })
    .alias('list')
    .description('list audit events you may see')
    .option('--since <time>', 'events at or after this time')
    .option('--until <time>', 'events before this time')
    .option('--agent <agent>', 'events about this agent (name or id)')
    .option('--actor <username>', 'events by this person')
    .option('--code <code>', 'events with this code, e.g. T3000I')
    .addOption(
      new Option('--limit <n>', 'at most this many').default(DEFAULT_LIMIT).argParser(countArg),
    )
    .addHelpText('after', LS_HELP)
    .action(async (options) => {
      const client = await clientFor(options);
      // Listing agents is itself audited, so it comes before the read only when --agent needs it.
      let agents = options.agent ? await listAgents(client) : undefined;
      const events = await readEvents(client, options, agents);
      if (options.json) return void process.stdout.write(formatJson(events));

      if (events.some((event) => event.agentId)) agents ??= await listAgents(client);
      process.stdout.write(auditTable(events, agentNames(agents ?? [])));
    });

  withConnection(audit.command('tail'), { json: true })
    .description('print audit events as they happen, until Ctrl-C')
    .addHelpText('after', TAIL_HELP)
    .action(async (options) => {
      const client = await clientFor(options);
      process.exitCode = await tailAudit(client, { json: Boolean(options.json) });
    });

  withConnection(audit.command('verify'), { json: true })
    .description('check the hash chain: detects any edited, deleted or reordered event')
    .action(async (options) => {
      const client = await clientFor(options);
      const doing = 'verifying the audit log';
      const verdict = await client.get<VerifyResult>('/api/v1/audit/verify', { doing });
      process.exitCode = verdict.ok ? 0 : 1;
      if (options.json) process.stdout.write(formatJson(verdict));
      else process.stdout.write(`${describeVerdict(verdict)}\n`);
    });

  return audit;
}

/**
 * Follows `nextCursor` page by page until `--limit` events are in hand or none are left.
 * `agents` are those the caller may see, to turn `--agent NAME` into an id.
 */
export async function readEvents(
  client: Pick<Client, 'get'>,
  options: Record<string, string>,
  agents: readonly AgentView[] = [],
): Promise<AuditEventView[]> {
  const limit = Number(options.limit);
  const query = {
    since: options.since && parseTime(options.since),
    until: options.until && parseTime(options.until),
    agent: options.agent && agentId(agents, options.agent),
    actor: options.actor,
    code: options.code,
  };

  const events: AuditEventView[] = [];
  let cursor: string | undefined;
  do {
    const size = Math.min(PAGE_SIZE, limit - events.length);
    const page = await client.get<AuditPage>('/api/v1/audit', {
      query: { ...query, limit: size, cursor },
      doing: 'reading the audit log',
    });
    events.push(...page.events.slice(0, limit - events.length));
    cursor = page.nextCursor ?? undefined;
  } while (cursor && events.length < limit);
  return events;
}

/** ISO time as given, or a duration counted back from `now`. */
export function parseTime(text: string, now = Date.now()): string {
  if (/^\d+(\.\d+)?(ms|s|m|h|d)/.test(text)) {
    return new Date(now - parseDuration(text)).toISOString();
  }
  const time = Date.parse(text);
  if (Number.isNaN(time)) {
    throw new UsageError(`invalid time "${text}": use an ISO time or a duration such as 1h`);
  }
  return new Date(time).toISOString();
}

/** A revoked agent may no longer be listed, so an id that matches none is still asked about. */
function agentId(agents: readonly AgentView[], ref: string): string {
  const known = agents.some((agent) => agent.id === ref || agent.name === ref);
  if (known) return resolveAgent(agents, ref).id;
  if (UUID.test(ref)) return ref;
  throw new UsageError(`no agent named ${ref}`);
}

export function describeVerdict(verdict: VerifyResult): string {
  if (verdict.ok) return `audit chain ok: ${verdict.checked} events`;
  const bad = verdict.firstBad;
  if (!bad) return `audit chain broken after ${verdict.checked} events`;
  return `audit chain broken at event #${bad.seq} (${bad.id}): ${bad.reason}`;
}
