/** Tests for the exec socket client against a small hand-written WebSocket server. */
import type { AddressInfo } from 'node:net';
import { PassThrough, Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { StreamClosedError } from './errors.ts';
import { streamExec, type ExecExit } from './exec-stream.ts';

const EXIT: ExecExit = {
  execId: 'x1',
  exitCode: 3,
  signal: null,
  timedOut: false,
  cancelled: false,
  truncated: false,
  stdoutBytes: 3,
  stderrBytes: 3,
  durationMs: 5,
};

let server: WebSocketServer | undefined;

afterEach(async () => {
  for (const client of server?.clients ?? []) client.terminate();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

/** Starts a server whose every connection runs `script` after the client's start frame. */
async function connect(script: (ws: WebSocket, start: unknown) => void): Promise<WebSocket> {
  server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server!.once('listening', resolve));
  server.on('connection', (ws) => {
    ws.once('message', (data) => script(ws, JSON.parse(String(data))));
  });
  const { port } = server.address() as AddressInfo;
  const client = new WebSocket(`ws://127.0.0.1:${port}`);
  await new Promise((resolve, reject) => client.once('open', resolve).once('error', reject));
  return client;
}

function frame(stream: number, text: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from([stream]), Buffer.from(text)]);
}

function collect(): { sink: PassThrough; text: () => string } {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (chunk: Buffer) => chunks.push(chunk));
  return { sink, text: () => Buffer.concat(chunks).toString() };
}

describe('cli - exec stream', () => {
  it('exec stream - stdout and stderr reach their own sinks, then the exit result', async () => {
    let start: unknown;
    const ws = await connect((server, message) => {
      start = message;
      server.send(JSON.stringify({ type: 'started', execId: 'x1' }));
      server.send(frame(1, 'out'));
      server.send(frame(2, 'err'));
      server.send(frame(9, 'ignored'));
      server.send(JSON.stringify({ type: 'exit', result: EXIT }));
    });
    const out = collect();
    const err = collect();

    const sinks = { stdout: out.sink, stderr: err.sink };
    const outcome = await streamExec(ws, { argv: ['true'] }, sinks).done;

    expect(start).toEqual({ type: 'start', request: { argv: ['true'] } });
    expect(outcome).toEqual({ type: 'exit', result: EXIT });
    expect(out.text()).toBe('out');
    expect(err.text()).toBe('err');
  });

  it('exec stream - a slow reader pauses the socket so buffered output stays small', async () => {
    const CHUNK = 64 * 1024;
    const TOTAL = 32 * 1024 * 1024;
    const ws = await connect((server) => {
      const payload = frame(1, Buffer.alloc(CHUNK, 0x61));
      for (let sent = 0; sent < TOTAL; sent += CHUNK) server.send(payload);
      server.send(JSON.stringify({ type: 'exit', result: EXIT }));
    });
    let received = 0;
    let mostBuffered = 0;
    const slow = new Writable({
      highWaterMark: CHUNK,
      write(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        setTimeout(done, 0);
      },
    });
    const spy = slow.write.bind(slow);
    slow.write = ((chunk: Buffer) => {
      const ok = spy(chunk);
      mostBuffered = Math.max(mostBuffered, slow.writableLength);
      return ok;
    }) as typeof slow.write;

    const outcome = await streamExec(ws, {}, { stdout: slow, stderr: new PassThrough() }).done;
    await new Promise<void>((resolve) => slow.end(resolve));

    expect(outcome.type).toBe('exit');
    expect(received).toBe(TOTAL);
    // Without the pause this would approach 32 MiB; with it, a few socket reads' worth.
    expect(mostBuffered).toBeLessThan(2 * 1024 * 1024);
  }, 30_000);

  it('exec stream - an error frame is an outcome the caller reports', async () => {
    const ws = await connect((server) => {
      const error = { code: 'agent_offline', message: 'x' };
      server.send(JSON.stringify({ type: 'error', error }));
      server.close(1000);
    });
    const sinks = { stdout: new PassThrough(), stderr: new PassThrough() };
    const outcome = await streamExec(ws, {}, sinks).done;
    expect(outcome).toEqual({ type: 'error', error: { code: 'agent_offline', message: 'x' } });
  });

  it('exec stream - the socket closing before the exit frame is a StreamClosedError', async () => {
    const ws = await connect((server) => server.close(1011));
    const sinks = { stdout: new PassThrough(), stderr: new PassThrough() };
    await expect(streamExec(ws, {}, sinks).done).rejects.toBeInstanceOf(StreamClosedError);
  });

  it('exec stream - cancel sends a cancel frame and the exit frame still follows', async () => {
    const ws = await connect((server) => {
      server.send(JSON.stringify({ type: 'started', execId: 'x1' }));
      server.once('message', (data) => {
        expect(JSON.parse(String(data))).toEqual({ type: 'cancel' });
        server.send(JSON.stringify({ type: 'exit', result: { ...EXIT, signal: 'KILL' } }));
      });
    });
    const sinks = { stdout: new PassThrough(), stderr: new PassThrough() };
    const running = streamExec(ws, {}, sinks);
    ws.once('message', () => running.cancel());
    const outcome = await running.done;
    expect(outcome).toMatchObject({ type: 'exit', result: { signal: 'KILL' } });
  });

  it('exec stream - a reader that goes away cancels the command', async () => {
    const ws = await connect((server) => {
      server.send(frame(1, 'first'));
      server.once('message', () => {
        server.send(JSON.stringify({ type: 'exit', result: { ...EXIT, signal: 'KILL' } }));
      });
    });
    const gone = new Writable({
      write(_chunk, _encoding, done) {
        done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
      },
    });
    const running = streamExec(ws, {}, { stdout: gone, stderr: new PassThrough() });
    expect(await running.done).toMatchObject({ type: 'exit' });
    expect(running.outputClosed).toBe(true);
  });
});
