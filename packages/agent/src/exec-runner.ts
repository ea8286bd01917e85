/** Runs one `exec` request from the endpoint on an SSH channel: spawn, stream, deadline. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import type { ServerChannel } from 'ssh2';
import type { Logger } from 'pino';
import { AgentExecCommand, EXEC_TIMEOUT_DESCRIPTION } from '@tether/protocol';

/** Exit statuses that mirror POSIX shells: 126 found but not runnable, 127 not found. */
const EXIT_NOT_RUNNABLE = 126;
const EXIT_NOT_FOUND = 127;
/** A default PATH for agents started by systemd with an empty environment. */
const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function runExec(
  channel: ServerChannel,
  rawCommand: string,
  sshEnv: Record<string, string>,
  agentLog: Logger,
): void {
  const parsed = parseCommand(rawCommand);
  if (!parsed.ok) return fail(channel, EXIT_NOT_RUNNABLE, `tether-agent: ${parsed.message}\n`);
  const command = parsed.command;
  const log = agentLog.child({ execId: command.execId });

  const cwd = command.cwd ?? process.env.HOME ?? '/';
  if (!existsSync(cwd) || !statSync(cwd).isDirectory()) {
    return fail(
      channel,
      EXIT_NOT_RUNNABLE,
      `tether-agent: working directory ${cwd} does not exist\n`,
    );
  }

  const env = { PATH: FALLBACK_PATH, ...process.env, ...sshEnv, ...command.env };
  const [file, args] = command.argv
    ? [command.argv[0], command.argv.slice(1)]
    : ['/bin/sh', ['-c', command.command as string]];
  // detached: the command leads its own process group, so a deadline can kill all of it.
  let child: ChildProcessWithoutNullStreams;
  try {
    child = spawn(file, args, { cwd, env, detached: true, stdio: 'pipe' });
  } catch (error) {
    // spawn throws (rather than emitting) for arguments no process can take, such as a NUL
    // byte; that ends this command only, never the agent's link.
    return fail(
      channel,
      EXIT_NOT_RUNNABLE,
      `tether-agent: cannot run ${JSON.stringify(file)}: ${(error as Error).message}\n`,
    );
  }
  log.debug({ pid: child.pid, file }, 'exec started');

  let timedOut = false;
  const deadline = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid);
  }, command.timeoutMs);

  child.stdout.pipe(channel, { end: false });
  child.stderr.pipe(channel.stderr, { end: false });
  channel.pipe(child.stdin).on('error', () => {
    // The command closed its stdin early (EPIPE): its choice, not a failure of the exec.
  });
  let exited = false;
  channel.on('close', () => {
    // The endpoint went away or cancelled: nothing may keep running on its behalf.
    if (!exited) killGroup(child.pid);
  });

  child.on('error', (error: NodeJS.ErrnoException) => {
    clearTimeout(deadline);
    const status = error.code === 'ENOENT' ? EXIT_NOT_FOUND : EXIT_NOT_RUNNABLE;
    const reason = error.code === 'ENOENT' ? 'program not found' : error.message;
    fail(channel, status, `tether-agent: cannot run ${JSON.stringify(file)}: ${reason}\n`);
  });

  child.on('close', (code, signal) => {
    exited = true;
    clearTimeout(deadline);
    log.debug({ pid: child.pid, code, signal, timedOut }, 'exec ended');
    if (timedOut) channel.exit('KILL', false, EXEC_TIMEOUT_DESCRIPTION);
    else if (signal) channel.exit(signal.replace(/^SIG/, ''), false, '');
    else channel.exit(code ?? 0);
    channel.end();
  });
}

type Parsed = { ok: true; command: AgentExecCommand } | { ok: false; message: string };

function parseCommand(raw: string): Parsed {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, message: 'exec request is not JSON' };
  }
  const result = AgentExecCommand.safeParse(json);
  if (!result.success) return { ok: false, message: 'exec request is malformed' };
  if (!result.data.argv === !result.data.command) {
    return { ok: false, message: 'exec request needs exactly one of argv or command' };
  }
  return { ok: true, command: result.data };
}

function fail(channel: ServerChannel, status: number, message: string): void {
  channel.stderr.write(message);
  channel.exit(status);
  channel.end();
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // ESRCH: the group is already gone, which is what we wanted.
  }
}
