/** `tether exec`: one agent over the streaming socket, or many through the batch API. */
import { constants } from 'node:os';
import type { Writable } from 'node:stream';
import { Command, Option } from 'commander';
import { EXEC_DEFAULT_TIMEOUT_MS } from '@tether/protocol';
import { listAgents, resolveAgent, type AgentView } from './agent-list.ts';
import { clientFor, countArg, durationArg, withConnection } from './context.ts';
import { NOT_SIGNED_IN, UsageError } from './errors.ts';
import { runBatch } from './exec-batch.ts';
import { buildRequest, envArg, readStdin, type ExecRequestBody } from './exec-request.ts';
import { streamExec, type ExecOutcome } from './exec-stream.ts';
import { formatDuration } from './output.ts';

/** Exit statuses of our own, chosen to match coreutils `timeout` and shells. */
export const EXIT_ERROR = 1;
export const EXIT_AGENT_OFFLINE = 2;
export const EXIT_TIMED_OUT = 124;
export const EXIT_INTERRUPTED = 130;
const EXIT_BROKEN_PIPE = 128 + constants.signals.SIGPIPE;

const TIMEOUT = formatDuration(EXEC_DEFAULT_TIMEOUT_MS);
const USAGE = `AGENT [options] -- CMD [ARG...]
       tether exec --agents A,B | --account NAME [options] -- CMD [ARG...]`;

const HELP = `
The command goes after --, so its own options are not read as tether's.

Exit status: the remote command's own status; 128+N when a signal N ended it; 124 when it
ran past --timeout; 130 after Ctrl-C (which cancels it remotely); 2 when the agent is offline;
1 for any other tether error. With --agents or --account: 0 only when every agent ran it and
it exited 0, else 1.

Examples:
  tether exec web-01 -- uptime
  tether exec web-01 --timeout 5m --cwd /var/log -- tail -n 100 syslog
  tether exec web-01 --env LANG=C -- sh -c 'df -h | sort'
  pg_dump mydb | tether exec db-02 --stdin -- sh -c 'cat > /tmp/dump.sql'
  tether exec --agents web-01,web-02 --concurrency 2 -- systemctl is-active nginx
  tether exec --account acme --json -- uname -r`;

export function execCommand(): Command {
  return withConnection(new Command('exec'), { json: true })
    .description('run a command on an agent, streaming its output; or on many agents')
    .usage(USAGE)
    .argument('[agent]', 'agent name or id')
    .argument('[command...]', 'command and arguments, after --')
    .option('--agents <list>', 'comma-separated agent names or ids; prints one row each')
    .option('--account <name>', 'every agent of this account; prints one row each')
    .addOption(new Option('--concurrency <n>', 'agents at a time (batch)').argParser(countArg))
    .addOption(
      new Option(
        '--timeout <duration>',
        `stop the command after this long (default: ${TIMEOUT})`,
      ).argParser(durationArg),
    )
    .option('--cwd <dir>', 'working directory on the agent')
    .option('--env <NAME=value>', 'set an environment variable (repeatable)', envArg)
    .option('--stdin', 'send this stdin (a pipe or file, up to 1 MiB) to the command')
    .addHelpText('after', HELP)
    .action(async (agent: string | undefined, rest: string[], options) => {
      const words = agent === undefined ? rest : [agent, ...rest];
      if (options.agents && options.account) {
        throw new UsageError('give --agents or --account, not both');
      }
      if (options.agents || options.account) {
        process.exitCode = await runBatch(words, options);
        return;
      }

      if (agent === undefined) {
        throw new UsageError('which agent? tether exec AGENT -- CMD [ARG...]');
      }
      if (options.json) throw new UsageError('--json goes with --agents or --account');
      const stdin = options.stdin ? await readStdin() : undefined;
      process.exitCode = await runOne(agent, buildRequest(rest, options, stdin), options);
    });
}

async function runOne(ref: string, request: ExecRequestBody, flags: object): Promise<number> {
  const client = await clientFor(flags);
  const agent = resolveAgent(await listAgents(client), ref);
  const ws = await client.socket(`/api/v1/agents/${encodeURIComponent(agent.id)}/exec/stream`);
  const running = streamExec(ws, request, { stdout: process.stdout, stderr: process.stderr });

  let interrupted = false;
  const onInterrupt = (): void => {
    if (interrupted) {
      ws.terminate();
      return;
    }
    interrupted = true;
    process.stderr.write('\ntether: cancelling the command (Ctrl-C again to stop waiting)\n');
    running.cancel();
  };
  process.on('SIGINT', onInterrupt);

  try {
    // Once we cancelled, how the endpoint ends the stream no longer matters.
    const outcome = await running.done.catch((error: unknown) => {
      if (interrupted || running.outputClosed) return undefined;
      throw error;
    });
    await flush(process.stdout);
    await flush(process.stderr);
    if (interrupted) return EXIT_INTERRUPTED;
    if (running.outputClosed) return EXIT_BROKEN_PIPE;
    return report(outcome as ExecOutcome, agent, request);
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

function report(outcome: ExecOutcome, agent: AgentView, request: ExecRequestBody): number {
  if (outcome.type === 'error') {
    if (outcome.error.code === 'agent_offline') {
      process.stderr.write(`tether: agent ${agent.name} is offline\n`);
      return EXIT_AGENT_OFFLINE;
    }
    const { code, message } = outcome.error;
    process.stderr.write(`tether: ${code === 'unauthorized' ? NOT_SIGNED_IN : message}\n`);
    return EXIT_ERROR;
  }

  const { result } = outcome;
  if (result.timedOut) {
    const limit = formatDuration(request.timeoutMs ?? EXEC_DEFAULT_TIMEOUT_MS);
    process.stderr.write(`tether: command timed out after ${limit}\n`);
    return EXIT_TIMED_OUT;
  }
  if (result.signal) return 128 + signalNumber(result.signal);
  if (result.exitCode === null) {
    process.stderr.write('tether: the command ended without an exit status\n');
    return EXIT_ERROR;
  }
  return result.exitCode;
}

/** `KILL` or `SIGKILL` → 9; an unknown name counts as SIGTERM's 15, as shells report kills. */
export function signalNumber(name: string): number {
  const key = (name.startsWith('SIG') ? name : `SIG${name}`) as keyof typeof constants.signals;
  return constants.signals[key] ?? constants.signals.SIGTERM;
}

function flush(stream: Writable): Promise<void> {
  if (stream.destroyed || stream.writableEnded) return Promise.resolve();
  return new Promise((resolve) => stream.write('', () => resolve()));
}
