import { afterEach, describe, expect, it, vi } from 'vitest';
import type { AuditEvent } from '../api/types.ts';
import { LiveSocket, liveUrl, retryDelayMs, type LiveStatus } from './live-socket.ts';

/** A hand-made WebSocket: the test opens, feeds and closes it. */
class FakeSocket {
  sent: string[] = [];
  closed = false;
  onopen: (() => void) | null = null;
  onmessage: ((m: { data: unknown }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  send(data: string) {
    this.sent.push(data);
  }
  close() {
    this.closed = true;
    this.onclose?.();
  }
}

afterEach(() => {
  vi.useRealTimers();
});

describe('live socket', () => {
  it('live socket - retry delays grow, cap at 30 s, and are jittered', () => {
    expect(retryDelayMs(1, () => 1)).toBe(1000);
    expect(retryDelayMs(3, () => 1)).toBe(4000);
    expect(retryDelayMs(20, () => 1)).toBe(30_000);
    expect(retryDelayMs(20, () => 0.5)).toBe(15_000);
    expect(retryDelayMs(1, () => 0)).toBe(250);
  });

  it('live socket - subscribes on open, delivers audit events, reconnects after a drop', () => {
    vi.useFakeTimers();
    const sockets: FakeSocket[] = [];
    const statuses: LiveStatus['state'][] = [];
    const events: AuditEvent[] = [];
    const live = new LiveSocket({
      url: 'ws://x/api/v1/live',
      topics: ['audit'],
      onAudit: (e) => events.push(e),
      onStatus: (s) => statuses.push(s.state),
      createSocket: () => {
        const socket = new FakeSocket();
        sockets.push(socket);
        return socket as unknown as WebSocket;
      },
      random: () => 1,
    });

    live.start();
    sockets[0].onopen!();
    expect(JSON.parse(sockets[0].sent[0])).toEqual({ type: 'subscribe', topics: ['audit'] });
    sockets[0].onmessage!({ data: JSON.stringify({ type: 'audit', event: { seq: 7 } }) });
    sockets[0].onmessage!({ data: 'not json' });
    expect(events).toEqual([{ seq: 7 }]);

    sockets[0].close();
    expect(statuses).toEqual(['connecting', 'open', 'waiting']);
    vi.advanceTimersByTime(999);
    expect(sockets).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(sockets).toHaveLength(2);

    live.stop();
    expect(sockets[1].closed).toBe(true);
    vi.advanceTimersByTime(60_000);
    expect(sockets).toHaveLength(2);
  });

  it('live socket - a socket that stops answering pings is closed and replaced', () => {
    vi.useFakeTimers();
    const sockets: FakeSocket[] = [];
    const live = new LiveSocket({
      url: 'ws://x/api/v1/live',
      topics: ['audit'],
      onAudit: () => undefined,
      onStatus: () => undefined,
      createSocket: () => {
        const socket = new FakeSocket();
        sockets.push(socket);
        return socket as unknown as WebSocket;
      },
      random: () => 0,
    });
    live.start();
    sockets[0].onopen!();
    vi.advanceTimersByTime(20_000);
    expect(sockets[0].sent.map((s) => JSON.parse(s).type)).toEqual(['subscribe', 'ping']);
    vi.advanceTimersByTime(10_000);
    expect(sockets[0].closed).toBe(true);
    vi.advanceTimersByTime(250);
    expect(sockets).toHaveLength(2);
    live.stop();
  });

  it('live socket - the URL follows the page: ws for http, wss for https', () => {
    expect(liveUrl({ protocol: 'http:', host: '127.0.0.1:8080' })).toBe(
      'ws://127.0.0.1:8080/api/v1/live',
    );
    expect(liveUrl({ protocol: 'https:', host: 'support.example' })).toBe(
      'wss://support.example/api/v1/live',
    );
  });
});
