import { afterEach, describe, expect, it, vi } from 'vitest';
import * as Y from 'yjs';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import { FILE_LIVE_SYNC, FILE_LIVE_TEXT, type FileLiveServerMessage } from '@tether/protocol';
import { FileLiveConnection, fileSocketUrl, type LiveFile } from './file-live-socket.ts';

class FakeSocket {
  binaryType = 'blob';
  readyState = 1;
  sent: unknown[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  send(data: unknown) {
    this.sent.push(data);
  }
  close() {
    this.readyState = 3;
  }
  text(message: FileLiveServerMessage | string) {
    this.onmessage?.({ data: typeof message === 'string' ? message : JSON.stringify(message) });
  }
  binary(bytes: Uint8Array) {
    this.onmessage?.({ data: bytes.slice().buffer });
  }
}

const OPEN: FileLiveServerMessage = {
  type: 'open',
  path: '/srv/a.yml',
  hash: 'h1',
  size: 5,
  shared: true,
  binary: false,
};

/** What the endpoint sends after `open`: the whole document as one update. */
function stateFrame(text: string): Uint8Array {
  const doc = new Y.Doc();
  doc.getText(FILE_LIVE_TEXT).insert(0, text);
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, FILE_LIVE_SYNC);
  syncProtocol.writeUpdate(encoder, Y.encodeStateAsUpdate(doc));
  return encoding.toUint8Array(encoder);
}

const connections: FileLiveConnection[] = [];
afterEach(() => connections.splice(0).forEach((c) => c.stop()));

function connect() {
  const sockets: FakeSocket[] = [];
  const controls: FileLiveServerMessage[] = [];
  const files: (LiveFile | null)[] = [];
  const statuses: string[] = [];
  const connection = new FileLiveConnection({
    url: 'ws://x/y',
    user: { name: 'erin', color: 1 },
    createSocket: () => {
      const socket = new FakeSocket();
      sockets.push(socket);
      return socket as unknown as WebSocket;
    },
    onControl: (m) => controls.push(m),
    onFile: (f) => files.push(f),
    onStatus: (s) => statuses.push(s),
  });
  connections.push(connection);
  return { socket: () => sockets.at(-1)!, sockets, controls, files, statuses, connection };
}

const textOf = (file: LiveFile | null | undefined) => file?.doc?.getText(FILE_LIVE_TEXT).toString();

describe('file live socket (site)', () => {
  it('file live socket - each open gets a fresh document filled by the binary state', () => {
    const { socket, files, connection } = connect();
    socket().text({ type: 'hello', session: 's', role: 'observer', readOnly: true });
    socket().text(OPEN);
    socket().binary(stateFrame('port: 1\n'));
    expect(textOf(connection.file)).toBe('port: 1\n');
    socket().text({ ...OPEN, path: '/srv/b.yml' });
    expect(textOf(connection.file)).toBe('');
    expect(files).toHaveLength(2);
    expect(files[0]!.doc).not.toBe(files[1]!.doc);
  });

  it('file live socket - an observer sends nothing, even when its document changes', () => {
    const { socket, connection } = connect();
    socket().text({ type: 'hello', session: 's', role: 'observer', readOnly: true });
    socket().text(OPEN);
    connection.file!.doc!.getText(FILE_LIVE_TEXT).insert(0, 'typed by the watcher');
    connection.file!.awareness!.setLocalStateField('cursor', { anchor: 1, head: 1 });
    expect(connection.cwd('/etc')).toBe(false);
    expect(connection.open('/etc/passwd')).toBe(false);
    expect(socket().sent).toEqual([]);
  });

  it('file live socket - the editor sends its edits and cursor as binary frames, controls as text', () => {
    const { socket, connection } = connect();
    socket().text({ type: 'hello', session: 's', role: 'editor', readOnly: false });
    expect(connection.cwd('/srv')).toBe(true);
    socket().text(OPEN);
    socket().binary(stateFrame('a'));
    const sentBefore = socket().sent.length;
    connection.file!.doc!.getText(FILE_LIVE_TEXT).insert(0, 'b');
    connection.file!.awareness!.setLocalStateField('cursor', { anchor: 1, head: 1 });
    const sent = socket().sent.slice(sentBefore) as Uint8Array[];
    expect(socket().sent[0]).toBe('{"type":"cwd","path":"/srv"}');
    expect(sent.map((f) => f[0])).toEqual([0, 1]);
    // The remote state itself is never echoed back.
    expect(sentBefore).toBe(1);
  });

  it('file live socket - a binary frame that looks like a control message is never one', () => {
    const { socket, controls, connection } = connect();
    socket().text({ type: 'hello', session: 's', role: 'observer', readOnly: true });
    socket().text(OPEN);
    socket().binary(new TextEncoder().encode('{"type":"ended","by":"x","reason":"y"}'));
    expect(controls.map((c) => c.type)).toEqual(['hello', 'open']);
    expect(textOf(connection.file)).toBe('');
  });

  it('file live socket - unknown or malformed text frames are ignored', () => {
    const { socket, controls } = connect();
    socket().text('not json');
    socket().text('{"type":"rm -rf"}');
    socket().text('null');
    expect(controls).toEqual([]);
  });

  it('file live socket - a dropped connection reconnects with backoff; a final close does not', () => {
    vi.useFakeTimers();
    try {
      const { sockets, statuses } = connect();
      sockets[0]!.onclose?.({ code: 1006, reason: '' });
      expect(statuses.at(-1)).toBe('reconnecting');
      vi.advanceTimersByTime(1000);
      expect(sockets).toHaveLength(2);
      sockets[1]!.onclose?.({ code: 4410, reason: 'gone' });
      expect(statuses.at(-1)).toBe('closed');
      vi.advanceTimersByTime(60_000);
      expect(sockets).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });

  it('file live socket - the URL follows the page’s scheme', () => {
    expect(fileSocketUrl({ protocol: 'https:', host: 'h:1' }, 'a/b')).toBe(
      'wss://h:1/api/v1/file-sessions/a%2Fb/socket',
    );
  });
});
