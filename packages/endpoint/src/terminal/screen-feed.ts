/**
 * Feeds one session's output to its headless screen in order, with resizes and snapshot
 * requests queued among the bytes, so a snapshot shows exactly the bytes sent before it was
 * asked for. Nobody looks at the screen between snapshots, so output is gathered before it is
 * parsed, and plain text that cannot change the final screen is dropped unparsed (see
 * plain-text.ts): xterm parses base64 at about 35 MB/s and `yes` at about 9 MB/s here, slower
 * than a pty writes, and in a flood nearly all of it scrolls away anyway.
 */
import { skippablePrefix } from './plain-text.ts';
import { SCROLLBACK_LINES, Screen } from './screen.ts';

/**
 * Output waits up to GATHER_MS, or until GATHER_BYTES are queued, before it is parsed: a flood
 * then comes in runs of thousands of lines, most of which are skipped (the last 1,049 lines of
 * each run are parsed: measured, 74% of a 4 MB/s flood skipped with 50 ms, and the share grows
 * with the run). A snapshot or a resize behind the bytes has them parsed at once.
 */
const GATHER_MS = 200;
export const GATHER_BYTES = 1024 * 1024;
/** Runs shorter than this are parsed whole: too few lines to skip any. */
const MIN_SKIP_BYTES = 64 * 1024;
/** After a look that found nothing to skip, this much is parsed before the next look. */
const SKIP_RETRY_BYTES = 256 * 1024;
/**
 * Bytes handed to xterm at once: large enough to amortise its per-write cost (measured: 4 KiB
 * writes parse 20% slower than 256 KiB ones), small enough that snapshots are not held up.
 */
const FEED_BYTES = 256 * 1024;

export interface ScreenImage {
  screen: string;
  cols: number;
  rows: number;
}

type Item =
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'resize'; cols: number; rows: number }
  | { kind: 'snapshot'; scrollback: boolean; done: (image: ScreenImage) => void };

export class ScreenFeed {
  private readonly screen: Screen;
  private readonly queue: Item[] = [];
  private queuedBytes = 0;
  /** Resizes and snapshots in the queue: while there is one, the bytes before it are due. */
  private waiting = 0;
  /** The oldest queued bytes waited GATHER_MS: everything queued is due. */
  private overdue = false;
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private disposed = false;
  private skipHold = 0;
  /** Bytes dropped unparsed so far. */
  skipped = 0;

  /** `consumed` hears of bytes parsed or skipped: the caller's measure of the backlog. */
  constructor(
    cols: number,
    rows: number,
    private readonly consumed: (bytes: number) => void,
  ) {
    this.screen = new Screen(cols, rows);
  }

  /** Bytes waiting to be parsed (or skipped), not counting a write xterm is parsing now. */
  get backlog(): number {
    return this.queuedBytes;
  }

  write(bytes: Uint8Array): void {
    if (this.disposed || bytes.length === 0) return;
    this.queue.push({ kind: 'bytes', bytes });
    this.queuedBytes += bytes.length;
    this.pump();
  }

  resize(cols: number, rows: number): void {
    if (this.disposed) return;
    this.queue.push({ kind: 'resize', cols, rows });
    this.waiting += 1;
    this.pump();
  }

  /** The screen after every byte written before this call; without scrollback when asked. */
  snapshot(scrollback = true): Promise<ScreenImage> {
    return new Promise((done) => {
      if (this.disposed) return;
      this.queue.push({ kind: 'snapshot', scrollback, done });
      this.waiting += 1;
      this.pump();
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.queue.length = 0;
    this.screen.dispose();
  }

  private pump(): void {
    while (!this.busy && !this.disposed && this.queue.length > 0) {
      const head = this.queue[0];
      if (head.kind === 'resize') {
        this.queue.shift();
        this.waiting -= 1;
        this.screen.resize(head.cols, head.rows);
        continue;
      }
      if (head.kind === 'snapshot') {
        this.queue.shift();
        this.waiting -= 1;
        this.busy = true;
        void this.screen.snapshot({ scrollback: head.scrollback }).then((screen) => {
          this.busy = false;
          head.done({ screen, cols: this.screen.cols, rows: this.screen.rows });
          this.pump();
        });
        return;
      }
      if (this.waiting === 0 && !this.overdue && this.queuedBytes < GATHER_BYTES) {
        this.timer ??= setTimeout(() => {
          this.timer = null;
          this.overdue = true;
          this.pump();
        }, GATHER_MS);
        return;
      }
      if (this.queuedBytes >= MIN_SKIP_BYTES && this.skipHold <= 0) this.skip();
      this.busy = true;
      const batch = this.take();
      this.screen.write(batch, () => {
        this.busy = false;
        if (this.disposed) return;
        this.consumed(batch.length);
        this.pump();
      });
    }
  }

  /** Up to FEED_BYTES of the bytes at the head of the queue, as one array. */
  private take(): Uint8Array {
    const parts: Uint8Array[] = [];
    let size = 0;
    while (this.queue[0]?.kind === 'bytes' && size < FEED_BYTES) {
      const head = this.queue[0];
      const room = FEED_BYTES - size;
      if (head.bytes.length <= room) {
        parts.push(head.bytes);
        this.queue.shift();
      } else {
        parts.push(head.bytes.subarray(0, room));
        head.bytes = head.bytes.subarray(room);
      }
      size += parts[parts.length - 1].length;
    }
    this.queuedBytes -= size;
    this.skipHold -= size;
    if (this.queuedBytes === 0) {
      this.overdue = false;
      if (this.timer) clearTimeout(this.timer);
      this.timer = null;
    }
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /** Drops the plain text at the head that cannot change the final screen, if any. */
  private skip(): void {
    this.skipHold = SKIP_RETRY_BYTES;
    if (!this.screen.canSkipPlainText()) return;
    let run = 0;
    while (this.queue[run]?.kind === 'bytes') run += 1;
    const parts = this.queue.slice(0, run) as Array<{ kind: 'bytes'; bytes: Uint8Array }>;
    const data = run === 1 ? parts[0].bytes : Buffer.concat(parts.map((part) => part.bytes));
    // Enough LFs after the sync point to bring the cursor to the bottom row, then to push
    // every line that existed there (screen and scrollback) out of the buffer.
    const keepLines = 2 * this.screen.rows + SCROLLBACK_LINES + 1;
    const cut = skippablePrefix(data, keepLines);
    this.queue.splice(0, run, { kind: 'bytes', bytes: data.subarray(cut) });
    if (cut === 0) return;
    this.skipHold = 0;
    this.queuedBytes -= cut;
    this.skipped += cut;
    this.consumed(cut);
  }
}
