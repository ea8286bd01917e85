/** The browser's live connection: `/api/v1/live`, subscribed to topics, reconnecting with backoff. */
import type { AuditEvent } from '../api/types.ts';

/** First retry after about a second, doubling to at most half a minute (full jitter). */
const RETRY_BASE_MS = 1000;
const RETRY_MAX_MS = 30_000;
/** A ping this often; a socket that stays silent for a ping's worth of wait is dead. */
const PING_INTERVAL_MS = 20_000;
const PONG_TIMEOUT_MS = 10_000;

export type LiveStatus =
  | { state: 'connecting' }
  | { state: 'open' }
  | { state: 'waiting'; attempt: number; retryAt: number };

export interface LiveSocketOptions {
  url: string;
  topics: string[];
  onAudit: (event: AuditEvent) => void;
  /** Events of the other topics (tickets, approvals, terminals), by topic name. */
  onEvent?: (topic: string, event: unknown) => void;
  onStatus: (status: LiveStatus) => void;
  /** Injected for tests; the browser's WebSocket otherwise. */
  createSocket?: (url: string) => WebSocket;
  random?: () => number;
}

/** The delay before reconnect attempt `attempt` (1-based): exponential, capped, full jitter. */
export function retryDelayMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, attempt - 1));
  return Math.max(250, Math.round(ceiling * random()));
}

export class LiveSocket {
  #options: LiveSocketOptions;
  #socket: WebSocket | null = null;
  #attempt = 0;
  #retry: ReturnType<typeof setTimeout> | null = null;
  #ping: ReturnType<typeof setInterval> | null = null;
  #pongDeadline: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;

  constructor(options: LiveSocketOptions) {
    this.#options = options;
  }

  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    this.#clearTimers();
    this.#socket?.close(1000, 'page closed');
    this.#socket = null;
  }

  /** Skips the wait: the user pressed "Reconnect now". */
  retryNow(): void {
    if (this.#stopped || this.#socket) return;
    this.#clearTimers();
    this.#connect();
  }

  #connect(): void {
    const { url, topics, onStatus } = this.#options;
    onStatus({ state: 'connecting' });
    const socket = (this.#options.createSocket ?? ((u) => new WebSocket(u)))(url);
    this.#socket = socket;

    socket.onopen = () => {
      this.#attempt = 0;
      socket.send(JSON.stringify({ type: 'subscribe', topics }));
      this.#ping = setInterval(() => this.#sendPing(socket), PING_INTERVAL_MS);
      onStatus({ state: 'open' });
    };
    socket.onmessage = (message) => {
      this.#heard();
      this.#receive(message.data);
    };
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#clearTimers();
      if (!this.#stopped) this.#scheduleRetry();
    };
    // An error is always followed by close, which does the retrying.
    socket.onerror = () => undefined;
  }

  #receive(data: unknown): void {
    if (typeof data !== 'string') return;
    let message: { type?: unknown; topic?: unknown; event?: unknown };
    try {
      message = JSON.parse(data) as typeof message;
    } catch {
      // The endpoint only sends JSON text frames; anything else is not ours to act on.
      return;
    }
    if (message.type === 'audit' && message.event && typeof message.event === 'object') {
      this.#options.onAudit(message.event as AuditEvent);
    } else if (message.type === 'event' && typeof message.topic === 'string') {
      this.#options.onEvent?.(message.topic, message.event);
    }
  }

  #sendPing(socket: WebSocket): void {
    socket.send(JSON.stringify({ type: 'ping' }));
    this.#pongDeadline ??= setTimeout(
      () => socket.close(4000, 'no answer to ping'),
      PONG_TIMEOUT_MS,
    );
  }

  #heard(): void {
    if (this.#pongDeadline) clearTimeout(this.#pongDeadline);
    this.#pongDeadline = null;
  }

  #scheduleRetry(): void {
    this.#attempt += 1;
    const delay = retryDelayMs(this.#attempt, this.#options.random);
    this.#options.onStatus({
      state: 'waiting',
      attempt: this.#attempt,
      retryAt: Date.now() + delay,
    });
    this.#retry = setTimeout(() => this.#connect(), delay);
  }

  #clearTimers(): void {
    if (this.#retry) clearTimeout(this.#retry);
    if (this.#ping) clearInterval(this.#ping);
    this.#heard();
    this.#retry = null;
    this.#ping = null;
  }
}

/** `ws://host/api/v1/live` for a page at `http://host/...` (wss for https). */
export function liveUrl(location: { protocol: string; host: string }): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api/v1/live`;
}
