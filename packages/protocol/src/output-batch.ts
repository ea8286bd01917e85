/**
 * Gathers a terminal's output into fewer, larger pieces, on the agent (fewer SSH packets) and
 * on the endpoint (fewer WebSocket frames and writes per viewer, fewer messages to the
 * session's worker). Each piece costs the same whatever its size, and a pty under a flood
 * hands over reads of a few KB at most (median 156 B measured with `base64`). Output that
 * arrives within one turn of the event loop always goes together; while the terminal floods,
 * pieces also wait up to FLOOD_BATCH_MS for more. Interactive output never waits for a timer:
 * a keystroke's echo goes out in the turn it arrived. Node only (timers, Buffer): imported by
 * its own subpath, not from the package's index.
 */

/** Output above FLOOD_BYTES within FLOOD_WINDOW_MS (6.5 MB/s) is a flood; typing never is. */
const FLOOD_WINDOW_MS = 10;
const FLOOD_BYTES = 64 * 1024;
/**
 * How long a flood's output may wait to be relayed together: half a frame at 60 Hz, invisible
 * to a reader. Measured at the endpoint: each piece costs about 0.1 ms on the event loop
 * (a socket write per viewer, a message to the worker) whatever its size.
 */
const FLOOD_BATCH_MS = 8;
/** A piece this large goes at once: bounded memory and bounded frames for viewers. */
const MAX_PIECE_BYTES = 512 * 1024;

export class OutputBatch {
  private parts: Buffer[] = [];
  private size = 0;
  private immediate: NodeJS.Immediate | null = null;
  private timer: NodeJS.Timeout | null = null;
  private windowStart = 0;
  private windowBytes = 0;
  private previousBytes = 0;

  constructor(private readonly deliver: (piece: Buffer) => void) {}

  push(chunk: Buffer): void {
    this.parts.push(chunk);
    this.size += chunk.length;
    if (this.size >= MAX_PIECE_BYTES) return this.flush();
    if (this.immediate || this.timer) return;
    if (this.flooding()) this.timer = setTimeout(() => this.flush(), FLOOD_BATCH_MS);
    else this.immediate = setImmediate(() => this.flush());
  }

  /** Delivers what was gathered now (before a resize, a marker or the end, to keep order). */
  flush(): void {
    if (this.immediate) clearImmediate(this.immediate);
    if (this.timer) clearTimeout(this.timer);
    this.immediate = null;
    this.timer = null;
    if (this.size === 0) return;
    const piece = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.size);
    this.parts = [];
    this.size = 0;
    this.count(piece.length);
    this.deliver(piece);
  }

  private count(bytes: number): void {
    this.roll(performance.now());
    this.windowBytes += bytes;
  }

  /** Output in this window and the one before: a flood stays one for as long as it lasts. */
  private flooding(): boolean {
    this.roll(performance.now());
    return this.windowBytes + this.previousBytes >= FLOOD_BYTES;
  }

  private roll(now: number): void {
    const elapsed = now - this.windowStart;
    if (elapsed <= FLOOD_WINDOW_MS) return;
    this.previousBytes = elapsed <= 2 * FLOOD_WINDOW_MS ? this.windowBytes : 0;
    this.windowBytes = 0;
    this.windowStart = now;
  }
}
