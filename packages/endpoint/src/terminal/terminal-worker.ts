/**
 * The body of a terminal worker thread: for each session the pool gives it, the recording
 * (UTF-8 decoding, JSON escaping, file writes, keyframes) and the headless screen. The main
 * thread only relays bytes; everything here is paid once per session, off its event loop.
 */
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { Recorder } from './recorder.ts';
import { ScreenFeed } from './screen-feed.ts';
import type { FromWorker, OpenSession, ToWorker } from './terminal-workers.ts';

/** Parsed bytes are acknowledged in batches of this much, and whenever the screen caught up. */
const ACK_BYTES = 64 * 1024;
/**
 * This thread yields the CPU to the event loop, which relays every keystroke's echo: on a busy
 * machine a session's screen may lag (the pty then waits for it), never another one's typing.
 * Linux counts niceness per thread; 10 gives this thread about a tenth of a contended core.
 */
const WORKER_NICENESS = 10;

try {
  setPriority(WORKER_NICENESS);
} catch {
  // Where threads have no priority of their own (or it cannot be lowered) it stays as it is.
}

const port = parentPort!;
const encoder = new TextEncoder();
const sessions = new Map<string, WorkerSession>();

const post = (message: FromWorker, transfer: ArrayBuffer[] = []): void =>
  port.postMessage(message, transfer);

class WorkerSession {
  private readonly recorder: Recorder;
  private readonly feed: ScreenFeed;
  private keyframing = false;
  private unacked = 0;

  constructor(
    private readonly id: string,
    open: OpenSession,
  ) {
    this.recorder = new Recorder({
      ...open,
      sessionId: id,
      onWriteError: (error) =>
        post({ type: 'problem', id, message: 'recording write failed', error: describe(error) }),
    });
    this.feed = new ScreenFeed(open.cols, open.rows, (bytes) => this.parsed(bytes));
  }

  output(bytes: Uint8Array, at: number): void {
    this.recorder.output(bytes, at);
    this.feed.write(bytes);
    if (this.recorder.wantsKeyframe()) this.keyframe();
  }

  input(bytes: Uint8Array, at: number): void {
    this.recorder.input(bytes, at);
  }

  resize(cols: number, rows: number, at: number): void {
    this.recorder.resize(cols, rows, at);
    this.feed.resize(cols, rows);
  }

  marker(label: string, at: number): void {
    this.recorder.marker(label, at);
  }

  snapshot(request: number): void {
    void this.feed.snapshot().then(({ screen, cols, rows }) => {
      const bytes = encoder.encode(screen);
      post({ type: 'snapshot', id: this.id, request, screen: bytes, cols, rows }, [bytes.buffer]);
    });
  }

  close(label: string, at: number): void {
    this.recorder.marker(label, at);
    this.recorder.close();
    this.feed.dispose();
  }

  /** Keyframes are for seeking in the player, which shows no scrollback: the screen only. */
  private keyframe(): void {
    if (this.keyframing) return;
    this.keyframing = true;
    const at = this.recorder.position();
    void this.feed.snapshot(false).then(({ screen, cols, rows }) => {
      this.keyframing = false;
      this.recorder.keyframe(at, cols, rows, screen);
    });
  }

  private parsed(bytes: number): void {
    this.unacked += bytes;
    if (this.unacked < ACK_BYTES && this.feed.backlog > 0) return;
    post({ type: 'parsed', id: this.id, bytes: this.unacked });
    this.unacked = 0;
  }
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'open') {
    try {
      sessions.set(message.id, new WorkerSession(message.id, message.session));
      post({ type: 'opened', id: message.id, error: null });
    } catch (error) {
      post({ type: 'opened', id: message.id, error: describe(error) });
    }
    return;
  }
  const session = sessions.get(message.id);
  if (!session) return;
  switch (message.type) {
    case 'output':
      return session.output(message.bytes, message.at);
    case 'input':
      return session.input(message.bytes, message.at);
    case 'resize':
      return session.resize(message.cols, message.rows, message.at);
    case 'marker':
      return session.marker(message.label, message.at);
    case 'snapshot':
      return session.snapshot(message.request);
    case 'close':
      session.close(message.label, message.at);
      sessions.delete(message.id);
      return post({ type: 'closed', id: message.id });
  }
});

/** Errors cross the thread as plain data: the main thread logs them with the session's ids. */
function describe(error: unknown): { message: string; code?: string; stack?: string } {
  const known = error as NodeJS.ErrnoException;
  return { message: String(known?.message ?? error), code: known?.code, stack: known?.stack };
}
