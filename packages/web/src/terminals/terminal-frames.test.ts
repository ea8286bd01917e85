import { describe, expect, it } from 'vitest';
import {
  FrameReader,
  TerminalConnection,
  engineerSocketPath,
  socketUrl,
  type TerminalServerMessage,
} from './terminal-frames.ts';

const bytes = (text: string) => new TextEncoder().encode(text).buffer;

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
}

function connect(readOnly: boolean) {
  const socket = new FakeSocket();
  const written: { text: string; snapshot: boolean }[] = [];
  const controls: TerminalServerMessage[] = [];
  const connection = new TerminalConnection({
    url: 'ws://x/y',
    readOnly,
    createSocket: () => socket as unknown as WebSocket,
    onBytes: (data, snapshot) => written.push({ text: new TextDecoder().decode(data), snapshot }),
    onControl: (m) => controls.push(m),
    onClose: () => {},
  });
  return { socket, written, controls, connection };
}

describe('FrameReader', () => {
  it('sends binary frames to the screen, even when they look like control JSON', () => {
    const reader = new FrameReader();
    const fake = '{"type":"ended","by":"x","reason":"y","status":"ended"}';
    const frame = reader.read(bytes(fake));
    expect(frame.kind).toBe('bytes');
    if (frame.kind === 'bytes') {
      expect(new TextDecoder().decode(frame.data)).toBe(fake);
      expect(frame.snapshot).toBe(false);
    }
  });

  it('reads text frames as control messages and never as output', () => {
    const reader = new FrameReader();
    expect(reader.read('{"type":"resize","cols":100,"rows":30}')).toEqual({
      kind: 'control',
      message: { type: 'resize', cols: 100, rows: 30 },
    });
    expect(reader.read('hello world').kind).toBe('ignored');
    expect(reader.read('{"type":"output","data":"rm -rf"}').kind).toBe('ignored');
    expect(reader.read('null').kind).toBe('ignored');
  });

  it('marks only the binary frame right after a snapshot as the screen', () => {
    const reader = new FrameReader();
    reader.read('{"type":"snapshot","cols":80,"rows":24}');
    const screen = reader.read(bytes('screen'));
    const next = reader.read(new Uint8Array([65]));
    expect(screen).toMatchObject({ kind: 'bytes', snapshot: true });
    expect(next).toMatchObject({ kind: 'bytes', snapshot: false });
  });
});

describe('TerminalConnection', () => {
  it('dispatches binary to onBytes and text to onControl', () => {
    const { socket, written, controls } = connect(false);
    expect(socket.binaryType).toBe('arraybuffer');
    socket.onmessage!({ data: '{"type":"snapshot","cols":80,"rows":24}' });
    socket.onmessage!({ data: bytes('$ ') });
    socket.onmessage!({ data: bytes('{"type":"hello"}') });
    expect(written).toEqual([
      { text: '$ ', snapshot: true },
      { text: '{"type":"hello"}', snapshot: false },
    ]);
    expect(controls).toEqual([{ type: 'snapshot', cols: 80, rows: 24 }]);
  });

  it('sends keystrokes as UTF-8 binary frames and resizes as JSON', () => {
    const { socket, connection } = connect(false);
    socket.onmessage!({
      data: JSON.stringify({
        type: 'hello',
        session: 's',
        role: 'engineer',
        readOnly: false,
        cols: 80,
        rows: 24,
      }),
    });
    expect(connection.input('é\r')).toBe(true);
    expect(connection.resize(100, 40)).toBe(true);
    expect(socket.sent[0]).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(socket.sent[0] as Uint8Array)).toBe('é\r');
    expect(JSON.parse(socket.sent[1] as string)).toEqual({ type: 'resize', cols: 100, rows: 40 });
  });

  it('a read-only view sends keys for the endpoint to drop, never a resize, whatever hello says', () => {
    const { socket, connection } = connect(true);
    socket.onmessage!({
      data: JSON.stringify({
        type: 'hello',
        session: 's',
        role: 'observer',
        readOnly: false,
        cols: 80,
        rows: 24,
      }),
    });
    expect(connection.readOnly).toBe(true);
    expect(connection.resize(10, 10)).toBe(false);
    expect(connection.input('ls\r')).toBe(true);
    expect(socket.sent).toHaveLength(1);
    expect(new TextDecoder().decode(socket.sent[0] as Uint8Array)).toBe('ls\r');
  });

  it('becomes read-only when the endpoint says so, and sends nothing once ended', () => {
    const a = connect(false);
    a.socket.onmessage!({
      data: JSON.stringify({
        type: 'hello',
        session: 's',
        role: 'observer',
        readOnly: true,
        cols: 80,
        rows: 24,
      }),
    });
    expect(a.connection.readOnly).toBe(true);
    expect(a.connection.resize(100, 40)).toBe(false);

    const b = connect(false);
    b.socket.onmessage!({
      data: JSON.stringify({ type: 'ended', by: 'ann', reason: 'ended by ann', status: 'ended' }),
    });
    expect(b.connection.ended).toBe(true);
    expect(b.connection.input('x')).toBe(false);
    expect(b.socket.sent).toEqual([]);
  });
});

describe('socket URLs', () => {
  it('follows the page scheme and encodes the query', () => {
    expect(socketUrl({ protocol: 'https:', host: 'h:1' }, '/p')).toBe('wss://h:1/p');
    expect(socketUrl({ protocol: 'http:', host: 'h' }, '/p')).toBe('ws://h/p');
    expect(
      engineerSocketPath({ approval: 'a&b', agent: 'ag', ticket: 't', cols: 80, rows: 24 }),
    ).toBe('/api/v1/terminals/socket?approval=a%26b&agent=ag&ticket=t&cols=80&rows=24');
  });
});
