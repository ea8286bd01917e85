import { describe, expect, it, vi } from 'vitest';
import type { ChatMessage } from '../api/types.ts';
import { ChatSocket, chatUrl, mergeMessages } from './chat-socket.ts';

const message = (id: string, createdAt: string, body = id): ChatMessage => ({
  id,
  agentId: 'a1',
  ticketId: null,
  author: { id: 'u1', name: 'Ann', role: 'customer' },
  body,
  createdAt,
});

class FakeSocket {
  sent: string[] = [];
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: (() => void) | null = null;
  onerror: (() => void) | null = null;
  send(data: string) {
    this.sent.push(data);
  }
  close() {}
}

describe('chat socket', () => {
  it('builds the room URL', () => {
    expect(chatUrl({ protocol: 'https:', host: 'h:1' }, 'a/b')).toBe(
      'wss://h:1/api/v1/agents/a%2Fb/chat/socket',
    );
    expect(chatUrl({ protocol: 'http:', host: 'h' }, 'a')).toBe(
      'ws://h/api/v1/agents/a/chat/socket',
    );
  });

  it('merges history and live messages once each, oldest first', () => {
    const a = message('m1', '2026-01-01T00:00:01Z');
    const b = message('m2', '2026-01-01T00:00:02Z');
    const c = message('m3', '2026-01-01T00:00:03Z');
    expect(mergeMessages([c, a], [b, a]).map((m) => m.id)).toEqual(['m1', 'm2', 'm3']);
  });

  it('sends only after ready, and reports messages and send results', () => {
    const fake = new FakeSocket();
    const onMessage = vi.fn();
    const onReady = vi.fn();
    const onSendResult = vi.fn();
    const socket = new ChatSocket({
      url: 'ws://x',
      onMessage,
      onReady,
      onState: () => undefined,
      onSendResult,
      createSocket: () => fake as unknown as WebSocket,
    });
    socket.start();
    expect(socket.send('hi', 'r1')).toBe(false);
    fake.onmessage?.({ data: JSON.stringify({ type: 'ready', agentId: 'a1' }) });
    expect(onReady).toHaveBeenCalledOnce();
    expect(socket.send('<b>hi</b>', 'r2', 't1')).toBe(true);
    expect(JSON.parse(fake.sent[0]!)).toEqual({
      type: 'send',
      body: '<b>hi</b>',
      ref: 'r2',
      ticket: 't1',
    });
    const m = message('m1', '2026-01-01T00:00:01Z');
    fake.onmessage?.({ data: JSON.stringify({ type: 'message', message: m }) });
    expect(onMessage).toHaveBeenCalledWith(m);
    fake.onmessage?.({ data: JSON.stringify({ type: 'sent', ref: 'r2', messageId: 'm1' }) });
    fake.onmessage?.({
      data: JSON.stringify({ type: 'error', ref: 'r3', error: { code: 'x', message: 'too long' } }),
    });
    fake.onmessage?.({ data: 'not json' });
    expect(onSendResult.mock.calls).toEqual([
      ['r2', null],
      ['r3', 'too long'],
    ]);
    socket.stop();
  });
});
