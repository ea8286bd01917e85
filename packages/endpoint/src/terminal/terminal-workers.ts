/**
 * The pool of terminal worker threads, and each session's handle on its worker. Sessions'
 * recordings and headless screens live in the workers (terminal-worker.ts), so a flood in one
 * session costs the event loop only the relay of its bytes. Threads start with the first
 * session that needs one and end with their last session; a thread that dies takes its
 * sessions with it, each told so it can end cleanly instead of hanging.
 */
import { appendFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { TetherError } from '@tether/protocol';

/**
 * One core stays with the event loop, which relays every byte; the rest (at most 4) parse. On
 * the 2-core machine that is one worker: 30 to 40 MB of RSS for the thread, its tsx loader and
 * xterm, whatever the number of sessions.
 */
const POOL_SIZE = Math.max(1, Math.min(4, availableParallelism() - 1));
/** A worker that has not closed a session within this long is stuck: it is ended. */
const CLOSE_TIMEOUT_MS = 5_000;
const WORKER_ENTRY = new URL('./terminal-worker-boot.mjs', import.meta.url);

/** What a worker needs to open a session's recording and screen. */
export interface OpenSession {
  dir: string;
  cols: number;
  rows: number;
  title: string;
  recordInput: boolean;
  /** Epoch ms: the cast's time zero. */
  started: number;
}

interface WireProblem {
  message: string;
  code?: string;
  stack?: string;
}

export type ToWorker =
  | { type: 'open'; id: string; session: OpenSession }
  | { type: 'output'; id: string; at: number; bytes: Uint8Array }
  | { type: 'input'; id: string; at: number; bytes: Uint8Array }
  | { type: 'resize'; id: string; at: number; cols: number; rows: number }
  | { type: 'marker'; id: string; at: number; label: string }
  | { type: 'snapshot'; id: string; request: number }
  | { type: 'close'; id: string; at: number; label: string };

export type FromWorker =
  | { type: 'opened'; id: string; error: WireProblem | null }
  | { type: 'parsed'; id: string; bytes: number }
  | {
      type: 'snapshot';
      id: string;
      request: number;
      screen: Uint8Array;
      cols: number;
      rows: number;
    }
  | { type: 'closed'; id: string }
  | { type: 'problem'; id: string; message: string; error: WireProblem };

export interface ScreenSnapshot {
  screen: Buffer;
  cols: number;
  rows: number;
}

/** Thrown to a session whose worker thread died or stopped answering. */
export class TerminalWorkerError extends Error {
  override name = 'TerminalWorkerError';
}

class Thread {
  readonly worker = new Worker(WORKER_ENTRY, { name: 'tether-terminal' });
  readonly hosts = new Map<string, SessionHost>();
  /** Set once we end the thread ourselves: its exit is then no failure. */
  stopping = false;
  error: Error | null = null;
}

export class TerminalWorkers {
  private readonly threads = new Set<Thread>();

  constructor(
    private readonly log: Logger,
    private readonly size = POOL_SIZE,
  ) {}

  /** Threads running now: 0 once no session is open. */
  get running(): number {
    return this.threads.size;
  }

  /** The running threads themselves, for a look from outside (and tests that end one). */
  get handles(): Worker[] {
    return [...this.threads].map((thread) => thread.worker);
  }

  /** Opens a session's recording and screen on the least busy thread. */
  async open(id: string, session: OpenSession, log: Logger): Promise<SessionHost> {
    const thread = this.pick();
    const host = new SessionHost(id, session, thread, this, log);
    thread.hosts.set(id, host);
    try {
      await host.opened;
    } catch (error) {
      this.release(thread, id);
      throw error;
    }
    return host;
  }

  /** Ends every thread at once (their sessions are already closed when the endpoint stops). */
  async stop(): Promise<void> {
    const threads = [...this.threads];
    for (const thread of threads) thread.stopping = true;
    await Promise.all(threads.map((thread) => thread.worker.terminate()));
  }

  /** A session is done with its thread; the last one out ends it. */
  release(thread: Thread, id: string): void {
    thread.hosts.delete(id);
    if (thread.hosts.size > 0 || thread.stopping) return;
    thread.stopping = true;
    this.threads.delete(thread);
    void thread.worker.terminate();
  }

  /** Ends a thread that stopped answering; its exit handler fails its sessions. */
  abandon(thread: Thread, error: Error): void {
    thread.error ??= error;
    void thread.worker.terminate();
  }

  private pick(): Thread {
    const live = [...this.threads].filter((t) => !t.stopping && !t.error);
    if (live.length < this.size) return this.start();
    return live.reduce((a, b) => (b.hosts.size < a.hosts.size ? b : a));
  }

  private start(): Thread {
    const thread = new Thread();
    this.threads.add(thread);
    const { worker } = thread;
    worker.on('message', (message: FromWorker) => thread.hosts.get(message.id)?.receive(message));
    worker.on('error', (error) => (thread.error ??= error));
    worker.on('exit', (code) => {
      this.threads.delete(thread);
      if (thread.stopping && !thread.error) return;
      const error = new TerminalWorkerError(
        `terminal worker stopped (exit code ${code}): ${thread.error?.message ?? 'no error given'}`,
        { cause: thread.error ?? undefined },
      );
      const sessions = [...thread.hosts.keys()];
      this.log.error({ err: error, sessions, threadId: worker.threadId }, 'terminal worker died');
      for (const host of [...thread.hosts.values()]) host.fail(error);
      thread.hosts.clear();
    });
    this.log.debug({ threadId: worker.threadId }, 'terminal worker started');
    return thread;
  }
}

/**
 * A session's side of its worker: output, input, resizes and markers go over in order, and
 * snapshots come back. Output is copied once into a buffer of its own that is moved (not
 * copied again) to the thread; the caller's buffer may still be queued on viewers' sockets.
 */
export class SessionHost {
  readonly castFile: string;
  readonly opened: Promise<void>;
  /** Called as the worker's screen catches up with output, with how many bytes it took. */
  onParsed: (bytes: number) => void = () => {};
  /** Called once if the worker dies under the session. */
  onFailed: (error: Error) => void = () => {};
  private settleOpen!: { resolve(): void; reject(error: Error): void };
  private readonly snapshots = new Map<number, (result: ScreenSnapshot | Error) => void>();
  private nextRequest = 1;
  private closed: (() => void) | null = null;
  private failure: Error | null = null;

  constructor(
    readonly id: string,
    private readonly session: OpenSession,
    private readonly thread: Thread,
    private readonly pool: TerminalWorkers,
    private readonly log: Logger,
  ) {
    this.castFile = join(session.dir, `${id}.cast`);
    this.opened = new Promise((resolve, reject) => (this.settleOpen = { resolve, reject }));
    this.post({ type: 'open', id, session });
  }

  output(bytes: Uint8Array, at: number): void {
    const own = new Uint8Array(bytes.length);
    own.set(bytes);
    this.post({ type: 'output', id: this.id, at, bytes: own }, [own.buffer]);
  }

  input(bytes: Uint8Array, at: number): void {
    if (!this.session.recordInput) return;
    const own = new Uint8Array(bytes.length);
    own.set(bytes);
    this.post({ type: 'input', id: this.id, at, bytes: own }, [own.buffer]);
  }

  resize(cols: number, rows: number, at: number): void {
    this.post({ type: 'resize', id: this.id, at, cols, rows });
  }

  marker(label: string, at: number): void {
    this.post({ type: 'marker', id: this.id, at, label });
  }

  /** The screen after every byte passed to `output` before this call. */
  snapshot(): Promise<ScreenSnapshot> {
    if (this.failure) return Promise.reject(this.failure);
    const request = this.nextRequest++;
    return new Promise((resolve, reject) => {
      this.snapshots.set(request, (result) =>
        result instanceof Error ? reject(result) : resolve(result),
      );
      this.post({ type: 'snapshot', id: this.id, request });
    });
  }

  /**
   * Writes the last marker and closes the recording; settles once it is on disk. Without a
   * worker, the marker is appended here, after the lines the worker had flushed.
   */
  async close(label: string, at: number): Promise<void> {
    if (this.failure) return this.appendMarker(label, at);
    const done = new Promise<void>((resolve) => (this.closed = resolve));
    this.post({ type: 'close', id: this.id, at, label });
    const timer = setTimeout(
      () => this.pool.abandon(this.thread, new TerminalWorkerError('no answer to close in 5 s')),
      CLOSE_TIMEOUT_MS,
    );
    await done;
    clearTimeout(timer);
    if (this.failure) this.appendMarker(label, at);
  }

  /** A message from the worker for this session. */
  receive(message: FromWorker): void {
    switch (message.type) {
      case 'opened':
        if (message.error === null) return this.settleOpen.resolve();
        this.log.error({ err: message.error }, 'cannot open the recording');
        return this.settleOpen.reject(new TetherError('internal', 'cannot open the recording'));
      case 'parsed':
        return this.onParsed(message.bytes);
      case 'snapshot': {
        const answer = this.snapshots.get(message.request);
        this.snapshots.delete(message.request);
        const { buffer, byteOffset, byteLength } = message.screen;
        const screen = Buffer.from(buffer, byteOffset, byteLength);
        return answer?.({ screen, cols: message.cols, rows: message.rows });
      }
      case 'closed':
        this.pool.release(this.thread, this.id);
        return this.closed?.();
      case 'problem':
        return this.log.error({ err: message.error }, message.message);
    }
  }

  /** The worker died: everything waiting on it is answered, and the session is told. */
  fail(error: Error): void {
    if (this.failure) return;
    this.failure = error;
    this.settleOpen.reject(error);
    for (const answer of this.snapshots.values()) answer(error);
    this.snapshots.clear();
    if (this.closed) this.closed();
    else this.onFailed(error);
  }

  private post(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    if (this.failure) return;
    this.thread.worker.postMessage(message, transfer);
  }

  private appendMarker(label: string, at: number): void {
    const t = Math.round(at - this.session.started) / 1000;
    try {
      appendFileSync(this.castFile, `${JSON.stringify([t, 'm', label])}\n`);
    } catch (error) {
      this.log.error({ err: error }, 'cannot write the last marker of the recording');
    }
  }
}
