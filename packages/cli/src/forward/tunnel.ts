/**
 * One local TCP connection carried over its own WebSocket to the endpoint: bytes as binary
 * frames with backpressure both ways, TCP half-close as `eof` frames, and a reset (with the
 * reason printed) when the target could not be reached or the link was lost.
 */
import type { Socket } from 'node:net';
import type WebSocket from 'ws';
import type { ForwardConnectServerMessage } from '@tether/protocol';
import type { Client } from '../client.ts';
import { describeError } from '../errors.ts';
import { printable } from '../output.ts';

/** Stop reading the local socket while this much waits to go out; go on below the low mark. */
const WS_HIGH_WATER_BYTES = 2 * 1024 * 1024;
const WS_LOW_WATER_BYTES = 512 * 1024;

export interface TunnelResult {
  ok: boolean;
  bytesUp: number;
  bytesDown: number;
  durationMs: number;
  /** Why it failed or was cut off; null for an ordinary close. */
  reason: string | null;
}

/**
 * Opens the connection's socket and moves bytes until either side closes. The local socket
 * must be paused (pauseOnConnect): nothing is read from it before the target has answered.
 * `answered` is called once, when the target answered (true) or the connection failed.
 */
export async function tunnel(
  client: Client,
  forwardId: string,
  socket: Socket,
  answered: (opened: boolean) => void,
): Promise<TunnelResult> {
  const started = Date.now();
  const frames: Array<[Buffer, boolean]> = [];
  let handle = (data: Buffer, isBinary: boolean): void => void frames.push([data, isBinary]);
  let ws: WebSocket;
  try {
    ws = await client.socket(`/api/v1/forwards/${encodeURIComponent(forwardId)}/connect`, {
      prepare: (socket) => socket.on('message', (d: Buffer, b: boolean) => handle(d, b)),
    });
  } catch (error) {
    answered(false);
    socket.resetAndDestroy();
    return { ok: false, bytesUp: 0, bytesDown: 0, durationMs: 0, reason: reasonOf(error) };
  }
  if (socket.destroyed) {
    // The local program gave up during the handshake: nothing to carry.
    answered(false);
    ws.close(1000, 'closed');
    return { ok: false, bytesUp: 0, bytesDown: 0, durationMs: 0, reason: 'the client left' };
  }

  let bytesUp = 0;
  let bytesDown = 0;
  let opened = false;
  let reason: string | null = null;
  let waiting = false;
  const sent = (): void => {
    if (waiting && ws.bufferedAmount < WS_LOW_WATER_BYTES) {
      waiting = false;
      socket.resume();
    }
  };

  handle = (data: Buffer, isBinary: boolean): void => {
    if (isBinary) {
      bytesDown += data.length;
      if (!socket.write(data)) {
        ws.pause();
        socket.once('drain', () => ws.resume());
      }
      return;
    }
    const message = JSON.parse(data.toString('utf8')) as ForwardConnectServerMessage;
    if (message.type === 'open') {
      opened = true;
      answered(true);
      socket.resume();
    } else if (message.type === 'eof') socket.end();
    else if (message.type === 'error') {
      reason = printable(message.error.message);
      if (!opened) answered(false);
    }
  };
  for (const [data, isBinary] of frames.splice(0)) handle(data, isBinary);
  socket.on('data', (chunk: Buffer) => {
    bytesUp += chunk.length;
    ws.send(chunk, { binary: true }, sent);
    if (ws.bufferedAmount >= WS_HIGH_WATER_BYTES) {
      waiting = true;
      socket.pause();
    }
  });
  socket.on('end', () => {
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: 'eof' }));
  });
  socket.on('error', () => {
    // A reset from the local program: 'close' follows and closes the socket to the endpoint.
  });
  socket.on('close', () => {
    if (ws.readyState === ws.OPEN) ws.close(1000, 'closed');
  });

  const code = await new Promise<number>((resolve) => ws.once('close', resolve));
  if (!opened && reason === null) answered(false);
  // A clean close after both sides ended leaves the local socket to finish; anything else is
  // a failure the local program must notice, so it gets a reset rather than a quiet FIN.
  if (code === 1000 && reason === null) socket.end();
  else {
    reason ??= `the endpoint closed the connection (${code})`;
    socket.resetAndDestroy();
  }
  return {
    ok: opened && reason === null,
    bytesUp,
    bytesDown,
    durationMs: Date.now() - started,
    reason,
  };
}

function reasonOf(error: unknown): string {
  return describeError(error) ?? (error instanceof Error ? error.message : String(error));
}
