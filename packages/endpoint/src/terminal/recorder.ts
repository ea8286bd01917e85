/**
 * Writes a session's asciicast v2 recording as the bytes pass, plus keyframes for seeking.
 * Lines are buffered and flushed at least every FLUSH_INTERVAL_MS, so a killed endpoint leaves
 * a file that plays up to the last flush. Output is decoded as UTF-8 with replacement
 * characters (a stream decoder, so a character split across chunks survives), and
 * JSON.stringify escapes every control byte: no output can break a line of the file.
 */
import { appendFileSync, mkdirSync, openSync, closeSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';

/** The issue asks for "at least once a second"; 250 ms keeps a crash's loss small. */
const FLUSH_INTERVAL_MS = 250;
/** Past this much buffered, flush at once rather than wait for the timer. */
const FLUSH_BYTES = 256 * 1024;
/** A keyframe every 10 s or 2 MiB of output: seeking replays at most that much. */
export const KEYFRAME_INTERVAL_MS = 10_000;
export const KEYFRAME_BYTES = 2 * 1024 * 1024;

export type CastEvent = 'o' | 'i' | 'r' | 'm';

export interface RecorderOptions {
  dir: string;
  sessionId: string;
  cols: number;
  rows: number;
  title: string;
  recordInput: boolean;
  log: Logger;
}

export interface Keyframe {
  /** Seconds since the start, as in the cast file. */
  t: number;
  /** Byte offset in the cast file of the first event after this screen. */
  offset: number;
  cols: number;
  rows: number;
  screen: string;
}

export class Recorder {
  readonly castFile: string;
  readonly keyframeFile: string;
  private readonly fd: number;
  private readonly started = Date.now();
  private readonly outDecoder = new TextDecoder('utf-8');
  private readonly inDecoder = new TextDecoder('utf-8');
  private pending: string[] = [];
  private pendingBytes = 0;
  private written = 0;
  private sinceKeyframe = 0;
  private lastKeyframe = Date.now();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: RecorderOptions) {
    mkdirSync(options.dir, { recursive: true, mode: 0o700 });
    this.castFile = join(options.dir, `${options.sessionId}.cast`);
    this.keyframeFile = join(options.dir, `${options.sessionId}.keyframes.jsonl`);
    this.fd = openSync(this.castFile, 'a', 0o600);
    const header = {
      version: 2,
      width: options.cols,
      height: options.rows,
      timestamp: Math.floor(this.started / 1000),
      env: { TERM: 'xterm-256color', SHELL: '/bin/sh' },
      title: options.title,
    };
    this.line(JSON.stringify(header));
    this.flush();
    this.timer = setInterval(() => this.flush(), FLUSH_INTERVAL_MS);
    this.timer.unref();
  }

  output(bytes: Buffer): void {
    this.sinceKeyframe += bytes.length;
    const text = this.outDecoder.decode(bytes, { stream: true });
    if (text) this.event('o', text);
  }

  input(bytes: Buffer): void {
    if (!this.options.recordInput) return;
    const text = this.inDecoder.decode(bytes, { stream: true });
    if (text) this.event('i', text);
  }

  resize(cols: number, rows: number): void {
    this.event('r', `${cols}x${rows}`);
  }

  marker(label: string): void {
    this.event('m', label);
  }

  /** Whether enough time or output passed since the last keyframe to take another. */
  wantsKeyframe(): boolean {
    return (
      this.sinceKeyframe >= KEYFRAME_BYTES ||
      (this.sinceKeyframe > 0 && Date.now() - this.lastKeyframe >= KEYFRAME_INTERVAL_MS)
    );
  }

  /** Where the next event will start: keyframes name it, taken before the screen is read. */
  position(): { t: number; offset: number } {
    return { t: this.elapsed(), offset: this.written + this.pendingBytes };
  }

  keyframe(at: { t: number; offset: number }, cols: number, rows: number, screen: string): void {
    this.sinceKeyframe = 0;
    this.lastKeyframe = Date.now();
    if (this.closed) return;
    const frame: Keyframe = { ...at, cols, rows, screen };
    appendFileSync(this.keyframeFile, `${JSON.stringify(frame)}\n`, { mode: 0o600 });
  }

  close(): void {
    if (this.closed) return;
    const tail = this.outDecoder.decode();
    if (tail) this.event('o', tail);
    clearInterval(this.timer);
    this.flush();
    this.closed = true;
    closeSync(this.fd);
  }

  private event(kind: CastEvent, data: string): void {
    if (this.closed) return;
    this.line(JSON.stringify([this.elapsed(), kind, data]));
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
  }

  private elapsed(): number {
    return Math.round(Date.now() - this.started) / 1000;
  }

  private line(text: string): void {
    const line = `${text}\n`;
    this.pending.push(line);
    this.pendingBytes += Buffer.byteLength(line);
  }

  private flush(): void {
    if (this.pending.length === 0 || this.closed) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    try {
      // One write per flush: a crash leaves whole lines, up to the last flush.
      this.written += writeSync(this.fd, chunk);
    } catch (error) {
      this.options.log.error(
        { err: error, sessionId: this.options.sessionId },
        'recording write failed',
      );
    }
  }
}
