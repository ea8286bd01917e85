/**
 * Moves one forwarded connection's bytes between the client's WebSocket and the tunnel to the
 * agent, with backpressure both ways: a full tunnel pauses the socket, a slow client pauses the
 * tunnel (and so the SSH window, and so the target). Binary frames are bytes; text frames are
 * typed control messages; a text frame is never taken for bytes, nor bytes for control.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import { ForwardConnectClientMessage, TetherError } from '@tether/protocol';
import { parseJson, sendJson } from '../http/ws-json.ts';
import type { EarlyFrame } from './forward-connections.ts';

/** Pause the tunnel while this much waits for a slow client; resume below the low mark. */
const WS_HIGH_WATER_BYTES = 2 * 1024 * 1024;
const WS_LOW_WATER_BYTES = 512 * 1024;
/**
 * What the tunnel delivers within one turn of the event loop goes out as one frame, up to
 * this much: SSH hands over 32 KiB packets, and a frame (and a write) per packet cost the
 * endpoint more than the bytes themselves. A lone small chunk still leaves at once.
 */
const COALESCE_MAX_BYTES = 256 * 1024;
/** Control frames are a dozen bytes; anything far larger is not from a real client. */
const MAX_CONTROL_BYTES = 1024;
/** Close codes in the private range (RFC 6455 §7.4.2): 4000 + the HTTP status they mirror. */
export const closeCode = (status: number): number => 4000 + status;

export interface PumpOutcome {
  bytesUp: number;
  bytesDown: number;
  /** Who ended it: the target (or agent) closing, the client leaving, or the endpoint. */
  endedBy: 'target' | 'client' | 'endpoint';
  reason: string;
}

export interface Pump {
  done: Promise<PumpOutcome>;
  /** Ends the connection from the endpoint's side, telling the client why. */
  stop(error: TetherError): void;
}

/**
 * Starts moving bytes; `early` holds what the client sent before the tunnel opened. When the
 * tunnel closes, `cutOff` says whether that was a failure (the agent's link dropped) rather
 * than the target closing, so the client is told.
 */
export function pump(
  ws: WebSocket,
  tunnel: Duplex,
  early: EarlyFrame[],
  cutOff: () => TetherError | null,
  log: Logger,
): Pump {
  let bytesUp = 0;
  let bytesDown = 0;
  let clientEof = false;
  let paused = false;
  let settle!: (outcome: PumpOutcome) => void;
  const done = new Promise<PumpOutcome>((resolve) => (settle = resolve));
  let finished = false;

  const finish = (endedBy: PumpOutcome['endedBy'], reason: string): void => {
    if (finished) return;
    finished = true;
    ws.off('message', onMessage);
    tunnel.off('data', onData);
    // What the target sent before it closed still reaches the client, ahead of the close.
    if (ws.readyState === ws.OPEN) flush();
    else if (flushing) clearImmediate(flushing);
    if (!tunnel.destroyed) tunnel.destroy();
    // A socket paused for backpressure would never read the client's close frame.
    ws.resume();
    if (endedBy === 'target') ws.close(1000, 'closed');
    log.debug({ bytesUp, bytesDown, endedBy, reason }, 'forwarded connection ended');
    settle({ bytesUp, bytesDown, endedBy, reason });
  };
  const refuse = (error: TetherError): void => {
    sendJson(ws, { type: 'error', error: error.toWire() });
    ws.close(closeCode(error.status), error.code);
    finish('endpoint', error.message);
  };

  const toTunnel = (data: Buffer): void => {
    if (clientEof) return refuse(new TetherError('invalid_request', 'bytes after eof'));
    bytesUp += data.length;
    if (!tunnel.write(data)) {
      ws.pause();
      tunnel.once('drain', () => ws.resume());
    }
  };
  const onMessage = (data: Buffer, isBinary: boolean): void => {
    if (isBinary) return toTunnel(data);
    if (data.length > MAX_CONTROL_BYTES)
      return refuse(new TetherError('invalid_request', 'control frame too large'));
    const parsed = ForwardConnectClientMessage.safeParse(parseJson(data.toString('utf8')));
    if (!parsed.success)
      return refuse(
        new TetherError('invalid_request', 'unknown control message; send {"type":"eof"}'),
      );
    clientEof = true;
    tunnel.end();
    // Nothing but control frames may follow, and an ending stream never emits 'drain'.
    ws.resume();
  };
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let flushing: NodeJS.Immediate | null = null;
  const flush = (): void => {
    if (flushing) clearImmediate(flushing);
    flushing = null;
    if (pendingBytes === 0) return;
    const frame = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    ws.send(frame, { binary: true }, afterSend);
    if (ws.bufferedAmount >= WS_HIGH_WATER_BYTES) {
      paused = true;
      tunnel.pause();
    }
  };
  const onData = (chunk: Buffer): void => {
    bytesDown += chunk.length;
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (pendingBytes >= COALESCE_MAX_BYTES) flush();
    else flushing ??= setImmediate(flush);
  };
  const afterSend = (): void => {
    if (paused && ws.bufferedAmount < WS_LOW_WATER_BYTES) {
      paused = false;
      tunnel.resume();
    }
  };

  for (const [data, isBinary] of early) if (!finished) onMessage(data, isBinary);
  ws.on('message', onMessage);
  // The socket may have been paused while frames piled up before the tunnel opened.
  ws.resume();
  tunnel.on('data', onData);
  tunnel.on('end', () => {
    flush();
    sendJson(ws, { type: 'eof' });
  });
  tunnel.on('error', (error) => log.debug({ err: error }, 'tunnel error'));
  tunnel.once('close', () => {
    const failure = cutOff();
    if (failure) refuse(failure);
    else finish('target', 'the target closed the connection');
  });
  ws.once('close', () => finish('client', 'the client closed the connection'));

  return { done, stop: (error) => refuse(error) };
}
