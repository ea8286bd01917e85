/** Interactive terminals on the agent: SSH `pty-req` + `shell` become a real pty running a shell. */
import type { ServerChannel, Session } from 'ssh2';
import type { Logger } from 'pino';
import type { IPty } from '@lydell/node-pty';
import { TERMINAL_MAX_COLS, TERMINAL_MAX_ROWS } from '@tether/protocol';
import { OutputBatch } from '@tether/protocol/output-batch';
import { loadPty } from './native-addons.ts';

/** A default PATH for agents started by systemd with an empty environment. */
const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const DEFAULT_TERM = 'xterm-256color';
/** SSH signal names (RFC 4254 §6.10) the endpoint may send; anything else is ignored. */
const SIGNALS = new Set(['INT', 'TERM', 'KILL', 'HUP', 'QUIT', 'USR1', 'USR2']);

interface PtyRequest {
  cols: number;
  rows: number;
  term: string;
}

/**
 * Serves pty sessions on one SSH session channel. `env` is filled by the session's `env`
 * requests, which arrive before `shell`.
 */
export function servePty(
  session: Session,
  env: Record<string, string>,
  live: Set<IPty>,
  agentLog: Logger,
): void {
  let wanted: PtyRequest | null = null;
  let pty: IPty | null = null;
  // `env` fills in before `shell`, so the session id is read when the shell starts.
  let log = agentLog;

  session.on('pty', (accept, _reject, info) => {
    wanted = {
      cols: clamp(info.cols, TERMINAL_MAX_COLS),
      rows: clamp(info.rows, TERMINAL_MAX_ROWS),
      term: info.term || DEFAULT_TERM,
    };
    accept?.();
  });
  session.on('window-change', (accept, _reject, info) => {
    accept?.();
    pty?.resize(clamp(info.cols, TERMINAL_MAX_COLS), clamp(info.rows, TERMINAL_MAX_ROWS));
  });
  session.on('signal', (accept, _reject, info) => {
    accept?.();
    if (pty && SIGNALS.has(info.name)) pty.kill(`SIG${info.name}`);
  });
  session.on('shell', (accept, reject) => {
    if (!wanted) return reject?.();
    const channel = accept();
    const size = wanted;
    log = agentLog.child({ sessionId: env.TETHER_SESSION ?? null });
    // Spawning blocks for a few ms; let the reply to the request leave first.
    setImmediate(() => {
      loadPty()
        .then((ptyModule) => {
          const started = startShell(ptyModule, channel, size, env, log);
          pty = started;
          live.add(started);
          started.onExit(() => live.delete(started));
        })
        .catch((error: unknown) => {
          log.error({ err: error }, 'cannot start a pty');
          channel.stderr.write(
            `tether-agent: cannot start a terminal: ${(error as Error).message}\r\n`,
          );
          channel.exit(126);
          channel.end();
        });
    });
  });
}

function startShell(
  ptyModule: Awaited<ReturnType<typeof loadPty>>,
  channel: ServerChannel,
  size: PtyRequest,
  sshEnv: Record<string, string>,
  log: Logger,
): IPty {
  const shell =
    process.env.SHELL && process.env.SHELL.startsWith('/') ? process.env.SHELL : '/bin/sh';
  const env = { PATH: FALLBACK_PATH, ...process.env, ...sshEnv, TERM: size.term } as Record<
    string,
    string
  >;
  const pty = ptyModule.spawn(shell, [], {
    name: size.term,
    cols: size.cols,
    rows: size.rows,
    cwd: process.env.HOME ?? '/',
    env,
    // Raw bytes: the endpoint records and relays them untouched, invalid UTF-8 included.
    encoding: null,
  });
  log.info({ pid: pty.pid, shell, cols: size.cols, rows: size.rows }, 'terminal started');

  // Reads are gathered into larger SSH packets (protocol's output-batch.ts). Backpressure:
  // while the channel's window is full, stop reading the pty, so a flood (`yes`) blocks in the
  // kernel and the engineer's Ctrl-C still gets through.
  const batch = new OutputBatch((piece) => {
    // Output after the endpoint hung up has nobody to go to.
    if (!channel.writable) return;
    if (!channel.write(piece)) {
      pty.pause();
      channel.once('drain', () => pty.resume());
    }
  });
  pty.onData((data) => batch.push(data as unknown as Buffer));
  channel.on('data', (chunk: Buffer) => pty.write(chunk as unknown as string));

  let exited = false;
  pty.onExit(({ exitCode, signal }) => {
    exited = true;
    batch.flush();
    log.info({ exitCode, signal }, 'terminal ended');
    if (signal) channel.exit(signalName(signal), false, '');
    else channel.exit(exitCode);
    channel.end();
  });
  channel.on('close', () => {
    // The endpoint ended the session or the link went away: nothing keeps running for it.
    if (!exited) pty.kill('SIGHUP');
  });
  return pty;
}

/** Hangs up every pty of a connection that went away (ssh2 may not close its channels). */
export function hangUpAll(live: Set<IPty>): void {
  for (const pty of live) {
    try {
      pty.kill('SIGHUP');
    } catch {
      // Already gone: exactly what hanging up wants.
    }
  }
  live.clear();
}

function clamp(value: number, max: number): number {
  return Math.min(max, Math.max(1, Math.floor(value) || 1));
}

const SIGNAL_NAMES: Record<number, string> = { 1: 'HUP', 2: 'INT', 9: 'KILL', 15: 'TERM' };

function signalName(signal: number): string {
  return SIGNAL_NAMES[signal] ?? 'KILL';
}
