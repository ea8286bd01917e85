/** `tether exec --agents …|--account …`: one buffered run per agent through POST /api/v1/exec. */
import { EXEC_DEFAULT_TIMEOUT_MS } from '@tether/protocol';
import { listAgents, resolveAgents, type AgentView } from './agent-list.ts';
import { clientFor } from './context.ts';
import { UsageError } from './errors.ts';
import { buildRequest, readStdin } from './exec-request.ts';
import { formatDuration, formatJson, formatTable, truncate } from './output.ts';

/** Time we allow on top of the commands' own deadlines for the endpoint to answer. */
const RESPONSE_SLACK_MS = 30_000;
const OUTPUT_COLUMN_CHARS = 60;

export interface BatchItem {
  agentId: string;
  agentName?: string;
  ok: boolean;
  result?: {
    exitCode: number | null;
    signal: string | null;
    timedOut: boolean;
    stdout: string;
    stderr: string;
    truncated: boolean;
    durationMs: number;
  };
  error?: { code: string; message: string };
}

export interface BatchFlags {
  url?: string;
  token?: string;
  agents?: string;
  account?: string;
  concurrency?: number;
  timeout?: number;
  cwd?: string;
  env?: Record<string, string>;
  stdin?: boolean;
  json?: boolean;
}

/** Runs the batch, prints it, and answers the exit status: 0 only if every agent exited 0. */
export async function runBatch(argv: string[], flags: BatchFlags): Promise<number> {
  const stdin = flags.stdin ? await readStdin() : undefined;
  const request = buildRequest(argv, flags, stdin);
  const client = await clientFor(flags);

  const body: Record<string, unknown> = { request };
  let targets: AgentView[];
  if (flags.agents) {
    const refs = flags.agents
      .split(',')
      .map((ref) => ref.trim())
      .filter(Boolean);
    if (refs.length === 0) throw new UsageError('--agents needs at least one name or id');
    targets = resolveAgents(await listAgents(client), refs);
    body.agents = targets.map((agent) => agent.id);
  } else {
    targets = await listAgents(client, flags.account);
    body.account = flags.account;
  }
  if (flags.concurrency) body.concurrency = flags.concurrency;

  // The endpoint answers when the last agent is done; assume the worst, one agent at a time.
  // Node's fetch gives up on its own after 300 s without response headers, whatever we set.
  const rounds = Math.ceil(Math.max(1, targets.length) / (flags.concurrency ?? 1));
  const timeoutMs = (flags.timeout ?? EXEC_DEFAULT_TIMEOUT_MS) * rounds + RESPONSE_SLACK_MS;
  const { results } = await client.post<{ results: BatchItem[] }>('/api/v1/exec', body, {
    timeoutMs,
    doing: `running the command on ${describeTargets(flags, targets.length)}`,
  });

  const names = new Map(targets.map((agent) => [agent.id, agent.name]));
  process.stdout.write(flags.json ? formatJson({ results }) : batchTable(results, names));
  return results.every((item) => item.ok && item.result?.exitCode === 0) ? 0 : 1;
}

/** One row per agent; failed rows carry no name from the endpoint, so `names` supplies it. */
export function batchTable(
  results: readonly BatchItem[],
  names: ReadonlyMap<string, string> = new Map(),
): string {
  const rows = results.map((item) => [
    item.agentName ?? names.get(item.agentId) ?? item.agentId,
    exitLabel(item),
    item.result ? formatDuration(item.result.durationMs) : '-',
    truncate(outputLine(item), OUTPUT_COLUMN_CHARS),
  ]);
  return formatTable(['AGENT', 'EXIT', 'DURATION', 'OUTPUT'], rows);
}

function describeTargets(flags: BatchFlags, count: number): string {
  if (flags.account) return `account ${flags.account}`;
  return count === 1 ? '1 agent' : `${count} agents`;
}

function exitLabel(item: BatchItem): string {
  if (!item.result) return item.error?.code ?? 'error';
  if (item.result.timedOut) return 'timeout';
  if (item.result.signal) return item.result.signal;
  return String(item.result.exitCode ?? '?');
}

/** The first non-blank line of stdout, else of stderr, else the error message. */
function outputLine(item: BatchItem): string {
  if (!item.result) return item.error?.message ?? '';
  const first = (text: string) =>
    text
      .split('\n')
      .find((line) => line.trim() !== '')
      ?.trim();
  return first(item.result.stdout) ?? first(item.result.stderr) ?? '';
}
