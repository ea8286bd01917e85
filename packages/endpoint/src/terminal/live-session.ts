/**
 * One live terminal session on the node that runs it: pty bytes go to every viewer and to the
 * session's worker thread (recording and headless screen, see terminal-workers.ts), gathered
 * into larger pieces first (protocol's output-batch.ts); only the engineer's keystrokes go back to the pty.
 * Backpressure: the engineer's socket and the headless screen may pause the pty; observers
 * never can (they fall behind and are resynced instead).
 */
import type { Logger } from 'pino';
import { OutputBatch } from '@tether/protocol/output-batch';
import type { Principal } from '../auth/principal.ts';
import type { TerminalSessionsTable } from '../store/schema.ts';
import type { SessionHost } from './terminal-workers.ts';
import type { TerminalOutcome, TerminalStream } from './terminal-stream.ts';
import type { Viewer } from './viewer.ts';

/** The engineer's socket may hold this much before the pty is paused (about 5 ms at 54 MB/s). */
const ENGINEER_HIGH_WATER_BYTES = 256 * 1024;
const ENGINEER_LOW_WATER_BYTES = 64 * 1024;
/** Bytes the headless screen may have queued unparsed before the pty is paused. */
const SCREEN_HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** How often paused flow and lagging observers are checked while either is waiting. */
const DRAIN_POLL_MS = 10;

export interface SessionEnd {
  status: 'ended' | 'interrupted';
  by: Principal | null;
  reason: string;
  bytesOut: number;
  bytesIn: number;
  cols: number;
  rows: number;
}

export class LiveSession {
  readonly viewers = new Set<Viewer>();
  cols: number;
  rows: number;
  bytesOut = 0;
  bytesIn = 0;
  private screenPending = 0;
  private pausedBy = new Set<'engineer' | 'screen'>();
  private poll: NodeJS.Timeout | null = null;
  private readonly batch = new OutputBatch((piece) => this.relay(piece));
  private ending: { by: Principal | null; reason: string } | null = null;
  private finished = false;
  /** Settles once the session has ended and everyone was told. */
  readonly ended: Promise<SessionEnd>;
  private resolveEnded!: (end: SessionEnd) => void;

  constructor(
    readonly row: TerminalSessionsTable,
    private readonly stream: TerminalStream,
    private readonly host: SessionHost,
    private readonly log: Logger,
  ) {
    this.cols = row.cols;
    this.rows = row.rows;
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
    host.onParsed = (bytes) => this.parsed(bytes);
    host.onFailed = (error) => this.workerFailed(error);
    stream.onData((chunk) => this.output(chunk));
    stream.done.then(
      (outcome) => this.finish('ended', this.describe(outcome)),
      () => this.finish('interrupted', 'the agent disconnected during the session'),
    );
  }

  get id(): string {
    return this.row.id;
  }

  get isEnded(): boolean {
    return this.finished;
  }

  /** Adds a viewer: hello, then the current screen, then live bytes. */
  join(viewer: Viewer): void {
    this.viewers.add(viewer);
    viewer.control({
      type: 'hello',
      session: this.id,
      role: viewer.role,
      readOnly: viewer.role !== 'engineer',
      cols: this.cols,
      rows: this.rows,
    });
    this.sync(viewer);
  }

  leave(viewer: Viewer): void {
    this.viewers.delete(viewer);
    if (viewer.role === 'engineer') this.pausedBy.delete('engineer');
    this.flow();
  }

  input(bytes: Buffer): void {
    if (this.finished) return;
    this.batch.flush();
    this.bytesIn += bytes.length;
    this.host.input(bytes, Date.now());
    this.stream.write(bytes);
  }

  resize(cols: number, rows: number): void {
    if (this.finished) return;
    this.batch.flush();
    this.cols = cols;
    this.rows = rows;
    this.stream.resize(cols, rows);
    this.host.resize(cols, rows, Date.now());
    for (const viewer of this.viewers) viewer.control({ type: 'resize', cols, rows });
  }

  marker(label: string): void {
    if (this.finished) return;
    this.batch.flush();
    this.host.marker(label, Date.now());
  }

  /** Hangs up the pty; `finish` runs once the agent confirms (or the link is found gone). */
  end(by: Principal | null, reason: string): void {
    if (this.finished || this.ending) return;
    this.ending = { by, reason };
    this.stream.close();
  }

  /** The node is stopping: the session is cut off, not ended by anyone. */
  interrupt(reason: string): void {
    this.stream.close();
    this.finish('interrupted', reason);
  }

  private output(chunk: Buffer): void {
    if (!this.finished) this.batch.push(chunk);
  }

  /** Sends a piece of output to the worker and the viewers. */
  private relay(chunk: Buffer): void {
    this.bytesOut += chunk.length;
    this.host.output(chunk, Date.now());
    this.screenPending += chunk.length;
    let engineerFull = false;
    for (const viewer of this.viewers) {
      viewer.output(chunk);
      if (viewer.role === 'engineer' && viewer.ws.bufferedAmount > ENGINEER_HIGH_WATER_BYTES)
        engineerFull = true;
    }
    if (engineerFull) this.pausedBy.add('engineer');
    if (this.screenPending > SCREEN_HIGH_WATER_BYTES) this.pausedBy.add('screen');
    this.flow();
  }

  /** The worker's screen took `bytes` more: once its backlog halves, the pty may run again. */
  private parsed(bytes: number): void {
    this.screenPending -= bytes;
    if (this.pausedBy.has('screen') && this.screenPending < SCREEN_HIGH_WATER_BYTES / 2) {
      this.pausedBy.delete('screen');
      this.flow();
    }
  }

  /** Pauses the pty while anyone who may hold it back is full; polls until they drain. */
  private flow(): void {
    if (this.finished) return;
    if (this.pausedBy.size > 0) this.stream.pause();
    else this.stream.resume();
    const lagging = [...this.viewers].some((v) => v.behind);
    if ((this.pausedBy.has('engineer') || lagging) && !this.poll && !this.finished)
      this.poll = setInterval(() => this.drainCheck(), DRAIN_POLL_MS);
  }

  private drainCheck(): void {
    const engineer = [...this.viewers].find((v) => v.role === 'engineer');
    if (!engineer || !engineer.open || engineer.ws.bufferedAmount < ENGINEER_LOW_WATER_BYTES)
      this.pausedBy.delete('engineer');
    for (const viewer of this.viewers) if (viewer.readyToResync()) this.sync(viewer);
    if (!this.pausedBy.has('engineer') && ![...this.viewers].some((v) => v.behind)) {
      clearInterval(this.poll!);
      this.poll = null;
    }
    this.flow();
  }

  /** Output relayed after this call queues on the viewer until the screen before it is sent. */
  private sync(viewer: Viewer): void {
    viewer.syncing();
    this.host.snapshot().then(
      ({ screen, cols, rows }) => viewer.synced(screen, cols, rows),
      () => {
        // The worker died: the session is ending, and this viewer is closed with it.
      },
    );
  }

  private workerFailed(error: Error): void {
    this.log.error({ err: error }, 'the terminal worker died under the session; ending it');
    this.stream.close();
    this.finish('interrupted', 'the endpoint’s terminal worker stopped');
  }

  private describe(outcome: TerminalOutcome): string {
    if (this.ending) return this.ending.reason;
    if (outcome.signal) return `the shell was killed by ${outcome.signal}`;
    return `the shell exited with status ${outcome.exitCode ?? 'unknown'}`;
  }

  /** Viewers hear of the end once the recording is closed on disk, last marker included. */
  private finish(status: 'ended' | 'interrupted', reason: string): void {
    if (this.finished) return;
    this.batch.flush();
    this.finished = true;
    if (this.poll) clearInterval(this.poll);
    const by = status === 'ended' ? (this.ending?.by ?? null) : null;
    const label = `${status}${by ? ` by ${by.username}` : ''}: ${reason}`;
    void this.host.close(label, Date.now()).then(() => {
      this.log.info(
        {
          status,
          reason,
          bytesOut: this.bytesOut,
        },
        'terminal session finished',
      );
      for (const viewer of this.viewers) {
        viewer.control({ type: 'ended', by: by?.username ?? null, reason, status });
        viewer.ws.close(1000, 'session ended');
      }
      this.resolveEnded({
        status,
        by,
        reason,
        bytesOut: this.bytesOut,
        bytesIn: this.bytesIn,
        cols: this.cols,
        rows: this.rows,
      });
    });
  }
}
