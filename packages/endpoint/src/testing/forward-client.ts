/** Test helper: a forward's two sockets as a client uses them, and TCP targets on loopback. */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import WebSocket from 'ws';
import type { ForwardConnectServerMessage, ForwardControlServerMessage } from '@tether/protocol';
import { waitFor } from './harness.ts';

export interface Closed {
  code: number;
  reason: string;
}

export interface ForwardConnection {
  ws: WebSocket;
  /** The first text frame: `open`, or the `error` that refused the connection. */
  first: Promise<ForwardConnectServerMessage>;
  messages: ForwardConnectServerMessage[];
  received(): Buffer;
  closed: Promise<Closed>;
  send(bytes: Buffer | string): void;
  eof(): void;
}

export function connectForward(url: string, token: string, forwardId: string): ForwardConnection {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/forwards/${forwardId}/connect`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const messages: ForwardConnectServerMessage[] = [];
  const chunks: Buffer[] = [];
  let resolveFirst!: (m: ForwardConnectServerMessage) => void;
  const first = new Promise<ForwardConnectServerMessage>((r) => (resolveFirst = r));
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) return void chunks.push(Buffer.from(data));
    const message = JSON.parse(data.toString('utf8')) as ForwardConnectServerMessage;
    messages.push(message);
    if (messages.length === 1) resolveFirst(message);
  });
  const closed = new Promise<Closed>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on('error', () => {
    // A refused upgrade: `closed` reports it.
  });
  const whenOpen = new Promise<void>((resolve) => ws.once('open', () => resolve()));
  return {
    ws,
    first,
    messages,
    received: () => Buffer.concat(chunks),
    closed,
    send: (bytes) => void whenOpen.then(() => ws.send(Buffer.from(bytes), { binary: true })),
    eof: () => void whenOpen.then(() => ws.send(JSON.stringify({ type: 'eof' }))),
  };
}

export interface ForwardHolder {
  ws: WebSocket;
  messages: ForwardControlServerMessage[];
  closed: Promise<Closed>;
  /** Waits until a message matching `match` has come. */
  seen(match: (m: ForwardControlServerMessage) => boolean, what?: string): Promise<void>;
  close(): void;
}

export function holdForward(url: string, token: string, forwardId: string): ForwardHolder {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/forwards/${forwardId}/socket`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const messages: ForwardControlServerMessage[] = [];
  ws.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString('utf8'))));
  ws.on('error', () => {
    // A refused upgrade: `closed` reports it.
  });
  const closed = new Promise<Closed>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return {
    ws,
    messages,
    closed,
    seen: (match, what = 'a message') => waitFor(() => messages.some(match), 15_000, what),
    close: () => ws.close(),
  };
}

/** A TCP server on 127.0.0.1 that echoes every byte, and how many connections it has seen. */
export async function echoServer(): Promise<{
  port: number;
  accepted(): number;
  close(): Promise<void>;
}> {
  let accepted = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (socket) => {
    accepted += 1;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    accepted: () => accepted,
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
