/** One running command as the endpoint sees it, whether its agent is linked here or elsewhere. */
import type { Readable } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import {
  EXEC_TIMEOUT_DESCRIPTION,
  STREAM_STDERR,
  STREAM_STDOUT,
  TetherError,
} from '@tether/protocol';

export type StreamId = typeof STREAM_STDOUT | typeof STREAM_STDERR;

export interface ExecOutcome {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Ended by cancel(): the agent killed the command's process group. */
  cancelled: boolean;
}

export interface ExecStream {
  /** Output in order per stream. Stop the flow with pause(); nothing is dropped. */
  onData(handler: (stream: StreamId, chunk: Buffer) => void): void;
  /** Settles once the command has ended; rejects with a TetherError if the link failed. */
  readonly done: Promise<ExecOutcome>;
  pause(): void;
  resume(): void;
  /** Ends the command: the agent kills its process group. */
  cancel(): void;
}

/**
 * Wraps an SSH exec channel; pausing it stops window updates, which stops the agent.
 * Call it in the exec callback itself: exit and close may arrive in the same read as the
 * channel's opening, before any awaited continuation would run. Output waits in the
 * channel (paused) until onData attaches.
 */
export function channelStream(channel: ClientChannel, stdin: Buffer | null): ExecStream {
  let outcome: ExecOutcome | null = null;
  let cancelled = false;

  channel.on(
    'exit',
    (code: number | null, signal?: string, _dumped?: boolean, description?: string) => {
      const timedOut = description === EXEC_TIMEOUT_DESCRIPTION;
      if (typeof code === 'number')
        outcome = { exitCode: code, signal: null, timedOut: false, cancelled };
      else outcome = { exitCode: null, signal: signalName(signal), timedOut, cancelled };
    },
  );
  channel.end(stdin ?? undefined);

  // The command is done once the agent closed the channel and its output has been read out,
  // so a paused consumer never sees the end before the last bytes.
  const drained = Promise.all([ended(channel), ended(channel.stderr)]);
  const done = new Promise<ExecOutcome>((resolve, reject) => {
    channel.on('close', () => {
      // Closing the channel is how cancel works, so no exit status follows; that is no failure.
      const result =
        outcome ??
        (cancelled ? { exitCode: null, signal: null, timedOut: false, cancelled } : null);
      if (result) void drained.then(() => resolve(result));
      else
        reject(new TetherError('agent_offline', 'agent disconnected before the command finished'));
    });
  });
  // A rejection nobody awaited yet must not crash the process; callers still see it.
  done.catch(() => {});

  return {
    onData: (handler) => {
      channel.on('data', (chunk: Buffer) => handler(STREAM_STDOUT, chunk));
      channel.stderr.on('data', (chunk: Buffer) => handler(STREAM_STDERR, chunk));
    },
    done,
    pause: () => {
      channel.pause();
      channel.stderr.pause();
    },
    resume: () => {
      channel.resume();
      channel.stderr.resume();
    },
    cancel: () => {
      cancelled = true;
      channel.close();
    },
  };
}

function ended(stream: Readable): Promise<void> {
  if (stream.readableEnded) return Promise.resolve();
  return new Promise((resolve) => stream.once('end', () => resolve()));
}

/** ssh2 reports `SIGKILL` or `KILL` depending on the path; the API always says `SIGKILL`. */
function signalName(signal: string | undefined): string | null {
  if (!signal) return null;
  return signal.startsWith('SIG') ? signal : `SIG${signal}`;
}
