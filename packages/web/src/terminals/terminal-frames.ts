/**
 * The terminal socket's frames. Binary frames are terminal bytes and only ever go to the screen;
 * text frames are JSON control messages and never reach the screen, so nothing a program prints
 * can pass for a control message (and no control message is drawn as output).
 */
import type { TerminalServerMessage } from '@tether/protocol';

export type { TerminalServerMessage };

const CONTROL_TYPES = new Set(['hello', 'snapshot', 'resize', 'ended', 'error']);

export type Frame =
  /** Bytes to write; `snapshot` means the screen was reset first and this is its serialized state. */
  | { kind: 'bytes'; data: Uint8Array; snapshot: boolean }
  | { kind: 'control'; message: TerminalServerMessage }
  /** A text frame that is not a known control message: shown nowhere, reported. */
  | { kind: 'ignored'; reason: string };

/** Sorts frames in order; remembers that a `snapshot` message announces the next binary frame. */
export class FrameReader {
  #snapshotNext = false;

  read(data: unknown): Frame {
    if (typeof data === 'string') return this.#text(data);
    const bytes = toBytes(data);
    if (!bytes) return { kind: 'ignored', reason: 'unknown frame type' };
    const snapshot = this.#snapshotNext;
    this.#snapshotNext = false;
    return { kind: 'bytes', data: bytes, snapshot };
  }

  #text(text: string): Frame {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { kind: 'ignored', reason: 'a text frame that is not JSON' };
    }
    const type = (parsed as { type?: unknown } | null)?.type;
    if (typeof type !== 'string' || !CONTROL_TYPES.has(type))
      return { kind: 'ignored', reason: `unknown control message ${String(type)}` };
    const message = parsed as TerminalServerMessage;
    if (message.type === 'snapshot') this.#snapshotNext = true;
    return { kind: 'control', message };
  }
}

function toBytes(data: unknown): Uint8Array | null {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data))
    return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

export interface TerminalConnectionOptions {
  url: string;
  /** Watchers are read-only from the start; the engineer's socket learns it from `hello`. */
  readOnly: boolean;
  onBytes: (data: Uint8Array, snapshot: boolean) => void;
  onControl: (message: TerminalServerMessage) => void;
  onClose: (code: number, reason: string) => void;
  onOpen?: () => void;
  createSocket?: (url: string) => WebSocket;
}

/** One terminal socket: dispatches frames, sends keystrokes, and resizes only when it drives. */
export class TerminalConnection {
  readonly #options: TerminalConnectionOptions;
  readonly #reader = new FrameReader();
  readonly #encoder = new TextEncoder();
  #socket: WebSocket;
  #readOnly: boolean;
  #ended = false;

  constructor(options: TerminalConnectionOptions) {
    this.#options = options;
    this.#readOnly = options.readOnly;
    this.#socket = (options.createSocket ?? ((u) => new WebSocket(u)))(options.url);
    this.#socket.binaryType = 'arraybuffer';
    this.#socket.onopen = () => options.onOpen?.();
    this.#socket.onmessage = (event) => this.#receive(event.data);
    this.#socket.onclose = (event) => options.onClose(event.code, event.reason);
  }

  get readOnly(): boolean {
    return this.#readOnly;
  }

  get ended(): boolean {
    return this.#ended;
  }

  #receive(data: unknown): void {
    const frame = this.#reader.read(data);
    if (frame.kind === 'bytes') return this.#options.onBytes(frame.data, frame.snapshot);
    if (frame.kind === 'ignored') return;
    const { message } = frame;
    // The endpoint's word decides; a watcher never becomes a driver, even if told otherwise.
    if (message.type === 'hello') this.#readOnly = this.#options.readOnly || message.readOnly;
    if (message.type === 'ended') this.#ended = true;
    this.#options.onControl(message);
  }

  /**
   * Keystrokes as UTF-8 in a binary frame, while the socket is open and the session on. A
   * read-only view sends them too: the endpoint alone decides who drives, drops a watcher's
   * keys before the shell and records that they tried.
   */
  input(text: string): boolean {
    if (this.#ended || this.#socket.readyState !== 1) return false;
    this.#socket.send(this.#encoder.encode(text));
    return true;
  }

  resize(cols: number, rows: number): boolean {
    if (this.#readOnly || this.#ended || this.#socket.readyState !== 1) return false;
    this.#socket.send(JSON.stringify({ type: 'resize', cols, rows }));
    return true;
  }

  close(): void {
    this.#socket.onmessage = null;
    this.#socket.onclose = null;
    this.#socket.close(1000, 'page closed');
  }
}

/** `ws:` or `wss:` to this site, at `path` (which starts with `/`). */
export function socketUrl(location: { protocol: string; host: string }, path: string): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${path}`;
}

export function engineerSocketPath(p: {
  approval: string;
  agent: string;
  ticket?: string | null;
  cols: number;
  rows: number;
}): string {
  const q = new URLSearchParams({ approval: p.approval, agent: p.agent });
  if (p.ticket) q.set('ticket', p.ticket);
  q.set('cols', String(p.cols));
  q.set('rows', String(p.rows));
  return `/api/v1/terminals/socket?${q.toString()}`;
}

export const watchSocketPath = (session: string): string =>
  `/api/v1/terminals/${encodeURIComponent(session)}/socket`;
