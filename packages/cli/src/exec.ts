/** `tether exec`: one agent over the streaming socket, or many through the batch API. */
import { constants } from 'node:os';
import type { Writable } from 'node:stream';
import { Command, Option, type ParseOptionsResult } from 'commander';
import { EXEC_DEFAULT_TIMEOUT_MS } from '@tether/protocol';
import type WebSocket from 'ws';
import { isRevoked, listAgents, resolveAgent, type AgentView } from './agent-list.ts';
import { clientFor, countArg, durationArg, withConnection } from './context.ts';
import { ApiError, UsageError } from './errors.ts';
import { runBatch } from './exec-batch.ts';
import { buildRequest, envArg, readStdin, type ExecRequestBody } from './exec-request.ts';
import { streamExec, type ExecExit, type ExecOutcome } from './exec-stream.ts';
import { formatDuration } from './output.ts';

/** Exit statuses of our own, chosen to match coreutils `timeout` and shells. */
export const EXIT_ERROR = 1;
export const EXIT_AGENT_OFFLINE = 2;
export const EXIT_TIMED_OUT = 124;
export const EXIT_INTERRUPTED = 130;
const EXIT_BROKEN_PIPE = 128 + constants.signals.SIGPIPE;

/** Error codes that mean the agent can run nothing now (exit 2), and how to say so. */
const UNREACHABLE = { agent_offline: 'is offline', agent_revoked: 'was revoked' } as const;
type Unreachable = keyof typeof UNREACHABLE;

const TIMEOUT = formatDuration(EXEC_DEFAULT_TIMEOUT_MS);
const USAGE = `AGENT [options] -- CMD [ARG...]
       tether exec --agents A,B | --account NAME [options] -- CMD [ARG...]`;

const HELP = `
The command goes after --, so its own options are not read as tether's.

Exit status: the remote command's own status; 128+N when a signal N ended it; 124 when it
ran past --timeout; 130 after Ctrl-C (which cancels it remotely); 2 when the agent is offline
or revoked; 1 for any other tether error. With --agents or --account: 0 only when every agent
ran it and it exited 0, else 1.

Examples:
  tether exec web-01 -- uptime
  tether exec web-01 --timeout 5m --cwd /var/log -- tail -n 100 syslog
  tether exec web-01 --env LANG=C -- sh -c 'df -h | sort'
  pg_dump mydb | tether exec db-02 --stdin -- sh -c 'cat > /tmp/dump.sql'
  tether exec --agents web-01,web-02 --concurrency 2 -- systemctl is-active nginx
  tether exec --account acme --json -- uname -r`;

export function execCommand(): Command {
  return withConnection(new ExecCommand('exec'), { json: true })
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
    .action(async (_agent, _command, options, command: ExecCommand) => {
      if (options.agents && options.account) {
        throw new UsageError('give --agents or --account, not both');
      }
      const batchFlag = options.agents ? '--agents' : options.account ? '--account' : undefined;
      const { agent, argv } = execWords(command.args, command.literal, batchFlag);
      if (agent === undefined) {
        process.exitCode = await runBatch(argv, options);
        return;
      }

      if (options.json) throw new UsageError('--json goes with --agents or --account');
      const stdin = options.stdin ? await readStdin() : undefined;
      process.exitCode = await runOne(agent, buildRequest(argv, options, stdin), options);
    });
}

/** Commander drops the `--` it stops at; this remembers what followed it. */
class ExecCommand extends Command {
  literal: string[] | undefined;

  override parseOptions(args: string[]): ParseOptionsResult {
    this.literal = afterDoubleDash(args, this.options);
    return super.parseOptions(args);
  }
}

/**
 * The args after the first `--` that is not an option's value, as commander reads them; or
 * undefined when there is no `--`.
 */
export function afterDoubleDash(
  args: readonly string[],
  options: readonly Option[],
): string[] | undefined {
  for (let at = 0; at < args.length; at++) {
    if (args[at] === '--') return args.slice(at + 1);
    const option = options.find((known) => known.long === args[at] || known.short === args[at]);
    if (option?.required || option?.optional) at++;
  }
  return undefined;
}

/**
 * Splits the operands into AGENT and command. Only words before `--` (`literal` is what came
 * after it) can name the agent; without `--` the first word does, as it always has.
 * With --agents or --account, `agent` is undefined and every word is the command.
 */
export function execWords(
  operands: readonly string[],
  literal: readonly string[] | undefined,
  batchFlag?: '--agents' | '--account',
): { agent?: string; argv: string[] } {
  const before = literal ? operands.slice(0, operands.length - literal.length) : operands;
  const after = literal ?? [];
  if (batchFlag) {
    if (literal && before.length > 0) {
      throw new UsageError(`give an AGENT or ${batchFlag}, not both (got AGENT "${before[0]}")`);
    }
    return { argv: [...before, ...after] };
  }

  if (before.length === 0) {
    throw new UsageError('give an AGENT (name or id), or --agents/--account');
  }
  return { agent: before[0], argv: [...before.slice(1), ...after] };
}

async function runOne(ref: string, request: ExecRequestBody, flags: object): Promise<number> {
  const client = await clientFor(flags);
  const agent = resolveAgent(await listAgents(client), ref);
  if (isRevoked(agent)) return unreachable('agent_revoked', agent);

  const doing = `running the command on ${agent.name}`;
  const path = `/api/v1/agents/${encodeURIComponent(agent.id)}/exec/stream`;
  let ws: WebSocket;
  try {
    ws = await client.socket(path, { doing });
  } catch (error) {
    // An endpoint that knows the agent is gone may say so before the upgrade, as HTTP.
    if (!(error instanceof ApiError) || !isUnreachable(error.code)) throw error;
    return unreachable(error.code, agent);
  }
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
    const ended = outcome as ExecOutcome;
    if (ended.type === 'exit') return report(ended.result, request);
    if (isUnreachable(ended.error.code)) return unreachable(ended.error.code, agent);
    throw client.streamError(ended.error, doing);
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

function isUnreachable(code: string): code is Unreachable {
  return Object.hasOwn(UNREACHABLE, code);
}

function unreachable(code: Unreachable, agent: AgentView): number {
  process.stderr.write(`tether: agent ${agent.name} ${UNREACHABLE[code]}\n`);
  return EXIT_AGENT_OFFLINE;
}

function report(result: ExecExit, request: ExecRequestBody): number {
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
