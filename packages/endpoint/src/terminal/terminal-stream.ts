/** One live pty as the endpoint sees it, whether its agent is linked here or to another process. */
import type { ClientChannel } from 'ssh2';
import { TetherError } from '@tether/protocol';

export interface TerminalOutcome {
  /** The shell's exit status, or null when it was ended by a signal or by us. */
  exitCode: number | null;
  signal: string | null;
  /** Ended by close(): the endpoint hung up on purpose. */
  closed: boolean;
}

export interface TerminalStream {
  /** Output in order. Stop the flow with pause(); nothing is dropped. */
  onData(handler: (chunk: Buffer) => void): void;
  write(bytes: Buffer): void;
  resize(cols: number, rows: number): void;
  /** Settles when the shell is gone; rejects with `agent_offline` when the link dropped. */
  readonly done: Promise<TerminalOutcome>;
  pause(): void;
  resume(): void;
  /** Hangs up: the agent sends the shell SIGHUP. */
  close(): void;
}

/**
 * Wraps an SSH session channel that runs a shell on a pty. Pausing it stops window updates,
 * so the agent stops reading the pty. Output waits (paused) until onData attaches.
 */
export function channelTerminal(channel: ClientChannel): TerminalStream {
  let outcome: TerminalOutcome | null = null;
  let closed = false;
  channel.pause();
  channel.on('exit', (code: number | null, signal?: string) => {
    outcome = { exitCode: typeof code === 'number' ? code : null, signal: signal ?? null, closed };
  });
  const done = new Promise<TerminalOutcome>((resolve, reject) => {
    channel.on('close', () => {
      if (outcome) resolve(outcome);
      else if (closed) resolve({ exitCode: null, signal: null, closed });
      else reject(new TetherError('agent_offline', 'agent disconnected during the session'));
    });
  });
  // A rejection nobody awaited yet must not crash the process; callers still see it.
  done.catch(() => {});

  return {
    onData: (handler) => {
      channel.on('data', handler);
      // The agent writes to stderr only when it cannot start the shell; show that too.
      channel.stderr.on('data', handler);
      channel.resume();
    },
    write: (bytes) => {
      if (channel.writable) channel.write(bytes);
    },
    resize: (cols, rows) => {
      if (channel.writable) channel.setWindow(rows, cols, 0, 0);
    },
    done,
    pause: () => channel.pause(),
    resume: () => channel.resume(),
    close: () => {
      closed = true;
      channel.close();
    },
  };
}
