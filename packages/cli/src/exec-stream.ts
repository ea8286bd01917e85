/**
 * Runs one command over `/api/v1/agents/:id/exec/stream`, copying its output to two writables
 * with backpressure: while a writable is full the socket is paused, so the endpoint's (and
 * through SSH's window, the agent's) sending stops and memory stays bounded.
 */
import type { Writable } from 'node:stream';
import { STREAM_STDERR, STREAM_STDOUT, type ExecServerMessage } from '@tether/protocol';
import type WebSocket from 'ws';
import { StreamClosedError } from './errors.ts';

/** How long the endpoint gets to answer our close frame before the socket is dropped. */
const CLOSE_GRACE_MS = 1_000;

export type ExecExit = Extract<ExecServerMessage, { type: 'exit' }>['result'];

export type ExecOutcome =
  { type: 'exit'; result: ExecExit } | { type: 'error'; error: { code: string; message: string } };

export interface ExecSinks {
  stdout: Writable;
  stderr: Writable;
}

export interface RunningExec {
  /** Settles once the endpoint reports the end; rejects if the socket ends first. */
  done: Promise<ExecOutcome>;
  /** Asks the endpoint to stop the command; the exit frame still follows. */
  cancel(): void;
  /** True once a sink failed (its reader went away) and the command was cancelled for it. */
  readonly outputClosed: boolean;
}

export function streamExec(ws: WebSocket, request: unknown, sinks: ExecSinks): RunningExec {
  const full = new Set<Writable>();
  const closed = new Set<Writable>();
  let cancelled = false;

  const cancel = (): void => {
    if (cancelled || ws.readyState !== ws.OPEN) return;
    cancelled = true;
    ws.send(JSON.stringify({ type: 'cancel' }));
  };

  const write = (sink: Writable, bytes: Buffer): void => {
    if (closed.has(sink) || bytes.length === 0) return;
    if (sink.write(bytes) || full.has(sink)) return;
    full.add(sink);
    ws.pause();
    sink.once('drain', () => release(sink));
  };

  const release = (sink: Writable): void => {
    full.delete(sink);
    if (full.size === 0) ws.resume();
  };

  // A reader that went away (`tether exec … | head`) stops the remote command, as SIGPIPE would.
  const onSinkError = (sink: Writable) => (): void => {
    closed.add(sink);
    release(sink);
    cancel();
  };
  const stdoutError = onSinkError(sinks.stdout);
  const stderrError = onSinkError(sinks.stderr);
  sinks.stdout.on('error', stdoutError);
  sinks.stderr.on('error', stderrError);

  const done = new Promise<ExecOutcome>((resolve, reject) => {
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (isBinary) {
        if (data[0] === STREAM_STDOUT) write(sinks.stdout, data.subarray(1));
        else if (data[0] === STREAM_STDERR) write(sinks.stderr, data.subarray(1));
        return;
      }

      const message = parseMessage(data);
      if (message?.type === 'exit') {
        resolve({ type: 'exit', result: message.result });
      } else if (message?.type === 'error') {
        resolve({ type: 'error', error: message.error });
      }
    });
    ws.once('close', (code: number) => reject(new StreamClosedError(`close code ${code}`)));
    ws.once('error', (error) => reject(new StreamClosedError(error.message, { cause: error })));
  });

  ws.send(JSON.stringify({ type: 'start', request }));
  const finished = done.finally(() => {
    sinks.stdout.off('error', stdoutError);
    sinks.stderr.off('error', stderrError);
    closeSoon(ws);
  });
  return {
    done: finished,
    cancel,
    get outputClosed() {
      return closed.size > 0;
    },
  };
}

/** Closes politely, but does not let an endpoint that never answers the close hold us up. */
function closeSoon(ws: WebSocket): void {
  if (ws.readyState === ws.CLOSED) return;
  ws.close(1000);
  const timer = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
  ws.once('close', () => clearTimeout(timer));
}

function parseMessage(data: Buffer): ExecServerMessage | undefined {
  try {
    return JSON.parse(data.toString('utf8')) as ExecServerMessage;
  } catch {
    // A text frame that is not JSON is a protocol slip by the endpoint; skipping it is safe.
    return undefined;
  }
}
