/**
 * One live terminal session on the node that runs it: pty bytes go to the recording, the
 * headless screen and every viewer; only the engineer's keystrokes go back to the pty.
 * Backpressure: the engineer's socket and the headless screen may pause the pty; observers
 * never can (they fall behind and are resynced instead).
 */
import type { Logger } from 'pino';
import type { Principal } from '../auth/principal.ts';
import type { TerminalSessionsTable } from '../store/schema.ts';
import type { Recorder } from './recorder.ts';
import type { Screen } from './screen.ts';
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
  private keyframing = false;
  private ending: { by: Principal | null; reason: string } | null = null;
  private finished = false;
  /** Settles once the session has ended and everyone was told. */
  readonly ended: Promise<SessionEnd>;
  private resolveEnded!: (end: SessionEnd) => void;

  constructor(
    readonly row: TerminalSessionsTable,
    private readonly stream: TerminalStream,
    private readonly recorder: Recorder,
    private readonly screen: Screen,
    private readonly log: Logger,
  ) {
    this.cols = row.cols;
    this.rows = row.rows;
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
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
    this.bytesIn += bytes.length;
    this.recorder.input(bytes);
    this.stream.write(bytes);
  }

  resize(cols: number, rows: number): void {
    if (this.finished) return;
    this.cols = cols;
    this.rows = rows;
    this.stream.resize(cols, rows);
    this.screen.resize(cols, rows);
    this.recorder.resize(cols, rows);
    for (const viewer of this.viewers) viewer.control({ type: 'resize', cols, rows });
  }

  marker(label: string): void {
    this.recorder.marker(label);
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
    this.bytesOut += chunk.length;
    this.recorder.output(chunk);
    this.screenPending += chunk.length;
    this.screen.write(chunk, () => {
      this.screenPending -= chunk.length;
      if (this.pausedBy.has('screen') && this.screenPending < SCREEN_HIGH_WATER_BYTES / 2) {
        this.pausedBy.delete('screen');
        this.flow();
      }
    });
    let engineerFull = false;
    for (const viewer of this.viewers) {
      viewer.output(chunk);
      if (viewer.role === 'engineer' && viewer.ws.bufferedAmount > ENGINEER_HIGH_WATER_BYTES)
        engineerFull = true;
    }
    if (engineerFull) this.pausedBy.add('engineer');
    if (this.screenPending > SCREEN_HIGH_WATER_BYTES) this.pausedBy.add('screen');
    if (this.recorder.wantsKeyframe()) this.keyframe();
    this.flow();
  }

  /** Pauses the pty while anyone who may hold it back is full; polls until they drain. */
  private flow(): void {
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

  private sync(viewer: Viewer): void {
    viewer.syncing();
    void this.screen.snapshot().then((screen) => viewer.synced(screen, this.cols, this.rows));
  }

  private keyframe(): void {
    if (this.keyframing) return;
    this.keyframing = true;
    const at = this.recorder.position();
    const { cols, rows } = this;
    void this.screen.snapshot().then((screen) => {
      this.keyframing = false;
      this.recorder.keyframe(at, cols, rows, screen);
    });
  }

  private describe(outcome: TerminalOutcome): string {
    if (this.ending) return this.ending.reason;
    if (outcome.signal) return `the shell was killed by ${outcome.signal}`;
    return `the shell exited with status ${outcome.exitCode ?? 'unknown'}`;
  }

  private finish(status: 'ended' | 'interrupted', reason: string): void {
    if (this.finished) return;
    this.finished = true;
    if (this.poll) clearInterval(this.poll);
    const by = status === 'ended' ? (this.ending?.by ?? null) : null;
    this.recorder.marker(`${status}${by ? ` by ${by.username}` : ''}: ${reason}`);
    this.recorder.close();
    this.screen.dispose();
    this.log.info({ status, reason, bytesOut: this.bytesOut }, 'terminal session finished');
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
  }
}
