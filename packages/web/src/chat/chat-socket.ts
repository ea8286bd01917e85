/** A server's chat room socket: `/api/v1/agents/:id/chat/socket`, reconnecting after a drop. */
import type { ChatMessage } from '../api/types.ts';

const RETRY_MS = 2000;

export type ChatState = 'connecting' | 'open' | 'closed';

export interface ChatSocketOptions {
  url: string;
  onMessage: (message: ChatMessage) => void;
  /** `ready` after each (re)connect: the page re-reads history for what it missed. */
  onReady: () => void;
  onState: (state: ChatState) => void;
  onSendResult: (ref: string, error: string | null) => void;
  createSocket?: (url: string) => WebSocket;
}

export class ChatSocket {
  #options: ChatSocketOptions;
  #socket: WebSocket | null = null;
  #retry: ReturnType<typeof setTimeout> | null = null;
  #stopped = false;
  #ready = false;

  constructor(options: ChatSocketOptions) {
    this.#options = options;
  }

  start(): void {
    this.#stopped = false;
    this.#connect();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#socket?.close(1000, 'page closed');
    this.#socket = null;
  }

  /** Sends a message; false when the room is not connected (the caller keeps the draft). */
  send(body: string, ref: string, ticket?: string): boolean {
    if (!this.#socket || !this.#ready) return false;
    this.#socket.send(JSON.stringify({ type: 'send', body, ref, ...(ticket ? { ticket } : {}) }));
    return true;
  }

  #connect(): void {
    this.#options.onState('connecting');
    const socket = (this.#options.createSocket ?? ((u) => new WebSocket(u)))(this.#options.url);
    this.#socket = socket;
    this.#ready = false;
    socket.onmessage = (event) => this.#receive(event.data);
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      this.#socket = null;
      this.#ready = false;
      this.#options.onState('closed');
      if (!this.#stopped) this.#retry = setTimeout(() => this.#connect(), RETRY_MS);
    };
    socket.onerror = () => undefined;
  }

  #receive(data: unknown): void {
    if (typeof data !== 'string') return;
    let frame: { type?: unknown; message?: unknown; ref?: unknown; error?: unknown };
    try {
      frame = JSON.parse(data) as typeof frame;
    } catch {
      return;
    }
    if (frame.type === 'ready') {
      this.#ready = true;
      this.#options.onState('open');
      this.#options.onReady();
    } else if (frame.type === 'message' && frame.message && typeof frame.message === 'object') {
      this.#options.onMessage(frame.message as ChatMessage);
    } else if (frame.type === 'sent' && typeof frame.ref === 'string') {
      this.#options.onSendResult(frame.ref, null);
    } else if (frame.type === 'error') {
      const error = frame.error as { message?: unknown } | undefined;
      const text = typeof error?.message === 'string' ? error.message : 'not sent';
      if (typeof frame.ref === 'string') this.#options.onSendResult(frame.ref, text);
    }
  }
}

/** `ws://host/api/v1/agents/<id>/chat/socket` for a page at `http://host/...` (wss for https). */
export function chatUrl(location: { protocol: string; host: string }, agentId: string): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api/v1/agents/${encodeURIComponent(agentId)}/chat/socket`;
}

/** History and live messages together: each once (by id), oldest first. */
export function mergeMessages(current: ChatMessage[], incoming: ChatMessage[]): ChatMessage[] {
  const byId = new Map<string, ChatMessage>();
  for (const message of [...current, ...incoming]) byId.set(message.id, message);
  return [...byId.values()].sort(
    (a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id),
  );
}
