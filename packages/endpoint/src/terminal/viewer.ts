/**
 * One socket watching or driving a session, with its own bounded backlog. Output is sent while
 * the socket keeps up; an observer that falls more than VIEWER_BUFFER_BYTES behind stops getting
 * bytes and, once its socket has drained, is resynced from the session's headless screen.
 */
import type { TerminalServerMessage } from '@tether/protocol';
import type { Principal } from '../auth/principal.ts';

/** An observer may lag this far behind before its backlog is dropped (the 1 MiB). */
export const VIEWER_BUFFER_BYTES = 1024 * 1024;
/** A lagging observer is resynced once its socket holds less than this. */
export const VIEWER_RESYNC_BYTES = 64 * 1024;

export type ViewerRole = 'engineer' | 'observer';
type State = 'syncing' | 'live' | 'behind';

/**
 * What a viewer needs of its socket: a `ws` WebSocket, or a watcher on another endpoint
 * process reached over the bus (remote-watch.ts), where `bufferedAmount` counts the bytes that
 * process has not yet written to its own socket.
 */
export interface ViewerSocket {
  readonly readyState: number;
  readonly OPEN: number;
  readonly bufferedAmount: number;
  send(data: Buffer | string, options?: { binary?: boolean }): void;
  close(code?: number, reason?: string): void;
}

export class Viewer {
  private state: State = 'syncing';
  private queue: Buffer[] = [];
  private queued = 0;
  /** Dropped keystrokes are audited once per observer, so a stuck key cannot flood the log. */
  inputDropAudited = false;
  /** How many times this viewer fell behind and was resynced. */
  resyncs = 0;

  constructor(
    readonly ws: ViewerSocket,
    readonly principal: Principal,
    readonly role: ViewerRole,
  ) {}

  get behind(): boolean {
    return this.state === 'behind';
  }

  get open(): boolean {
    return this.ws.readyState === this.ws.OPEN;
  }

  control(message: TerminalServerMessage): void {
    if (this.open) this.ws.send(JSON.stringify(message));
  }

  /** Terminal bytes: sent, queued while a snapshot is being made, or dropped when behind. */
  output(chunk: Buffer): void {
    if (!this.open || this.state === 'behind') return;
    if (this.state === 'syncing') {
      this.queue.push(chunk);
      this.queued += chunk.length;
      if (this.queued > VIEWER_BUFFER_BYTES && this.role === 'observer') this.fallBehind();
      return;
    }
    if (this.role === 'observer' && this.ws.bufferedAmount > VIEWER_BUFFER_BYTES) {
      this.fallBehind();
      return;
    }
    this.ws.send(chunk, { binary: true });
  }

  /** Starts a (re)sync: output from now on waits until `synced` sends the screen. */
  syncing(): void {
    this.state = 'syncing';
    this.queue = [];
    this.queued = 0;
  }

  /** Sends the screen as it was when the snapshot began, then what came after it. */
  synced(screen: Buffer, cols: number, rows: number): void {
    if (this.state !== 'syncing' || !this.open) return;
    this.control({ type: 'snapshot', cols, rows });
    this.ws.send(screen, { binary: true });
    for (const chunk of this.queue) this.ws.send(chunk, { binary: true });
    this.queue = [];
    this.queued = 0;
    this.state = 'live';
  }

  /** Whether a lagging observer's socket has drained enough to be resynced. */
  readyToResync(): boolean {
    return this.state === 'behind' && this.open && this.ws.bufferedAmount < VIEWER_RESYNC_BYTES;
  }

  private fallBehind(): void {
    this.state = 'behind';
    this.queue = [];
    this.queued = 0;
    this.resyncs += 1;
  }
}
