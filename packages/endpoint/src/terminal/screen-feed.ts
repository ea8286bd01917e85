/**
 * Feeds one session's output to its headless screen in order, with resizes and snapshot
 * requests queued among the bytes, so a snapshot shows exactly the bytes sent before it was
 * asked for. When the screen falls behind (a flood), plain text that cannot change the final
 * screen is dropped unparsed (see plain-text.ts): xterm parses base64 at about 35 MB/s and
 * `yes` at about 9 MB/s on this machine, slower than a pty can write.
 */
import { skippablePrefix } from './plain-text.ts';
import { SCROLLBACK_LINES, Screen } from './screen.ts';

/** Past this backlog, look for plain text to skip (about 30 ms of parsing). */
export const SKIP_AFTER_BYTES = 1024 * 1024;
/** Bytes handed to xterm at once: large enough to amortise its per-write cost (measured: 4 KiB
 * writes parse 20% slower than 256 KiB ones), small enough that snapshots are not held up. */
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
  private busy = false;
  private disposed = false;
  /** After a look that found nothing to skip, this many bytes are parsed before the next. */
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
    this.queue.push({ kind: 'resize', cols, rows });
    this.pump();
  }

  /** The screen after every byte written before this call; without scrollback when asked. */
  snapshot(scrollback = true): Promise<ScreenImage> {
    return new Promise((done) => {
      this.queue.push({ kind: 'snapshot', scrollback, done });
      this.pump();
    });
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.queue.length = 0;
    this.screen.dispose();
  }

  private pump(): void {
    while (!this.busy && !this.disposed && this.queue.length > 0) {
      const head = this.queue[0];
      if (head.kind === 'resize') {
        this.queue.shift();
        this.screen.resize(head.cols, head.rows);
        continue;
      }
      this.busy = true;
      if (head.kind === 'snapshot') {
        this.queue.shift();
        void this.screen.snapshot({ scrollback: head.scrollback }).then((screen) => {
          this.busy = false;
          head.done({ screen, cols: this.screen.cols, rows: this.screen.rows });
          this.pump();
        });
        return;
      }
      if (this.queuedBytes >= SKIP_AFTER_BYTES && this.skipHold <= 0) this.skip();
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
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }

  /** Drops the plain text at the head that cannot change the final screen, if any. */
  private skip(): void {
    this.skipHold = SKIP_AFTER_BYTES;
    if (!this.screen.canSkipPlainText()) return;
    const chunks: Uint8Array[] = [];
    for (const item of this.queue) {
      if (item.kind !== 'bytes') break;
      chunks.push(item.bytes);
    }
    // Enough LFs after the sync point to bring the cursor to the bottom row, then to push
    // every line that existed there (screen and scrollback) out of the buffer.
    const keepLines = 2 * this.screen.rows + SCROLLBACK_LINES + 1;
    let cut = skippablePrefix(chunks, keepLines);
    if (cut === 0) return;
    this.skipHold = 0;
    this.queuedBytes -= cut;
    this.skipped += cut;
    this.consumed(cut);
    while (cut > 0) {
      const head = this.queue[0] as { kind: 'bytes'; bytes: Uint8Array };
      if (head.bytes.length <= cut) {
        cut -= head.bytes.length;
        this.queue.shift();
      } else {
        head.bytes = head.bytes.subarray(cut);
        cut = 0;
      }
    }
  }
}
