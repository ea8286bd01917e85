/** Test helper: a terminal WebSocket that collects control messages and output as they come. */
import WebSocket from 'ws';
import { waitFor } from './harness.ts';

/**
 * Output kept for `text()`: the latest 4 MB. The endpoint sends a flood in frames of up to a
 * few MB, and `waitText` joins and decodes all of it every 50 ms.
 */
const KEPT_BYTES = 4 * 1024 * 1024;

export interface TerminalClient {
  ws: WebSocket;
  messages: any[];
  /** The binary frames so far (the latest 4 MB of them), as text, snapshots included. */
  text(): string;
  bytes(): number;
  type(text: string | Buffer): void;
  control(message: object): void;
  waitText(pattern: RegExp | string, timeoutMs?: number): Promise<void>;
  waitMessage(type: string, timeoutMs?: number): Promise<any>;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

export function terminalClient(url: string, path: string, token: string): TerminalClient {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${path}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const messages: any[] = [];
  const chunks: Buffer[] = [];
  let kept = 0;
  let total = 0;
  ws.on('message', (data: Buffer, isBinary) => {
    if (isBinary) {
      chunks.push(data);
      kept += data.length;
      total += data.length;
      while (kept - chunks[0].length >= KEPT_BYTES) kept -= chunks.shift()!.length;
    } else messages.push(JSON.parse(data.toString()));
  });
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const text = (): string => Buffer.concat(chunks).toString('utf8');
  const sendWhenOpen = (data: string | Buffer, binary: boolean): void => {
    if (ws.readyState === ws.OPEN) ws.send(data, { binary });
    else ws.once('open', () => ws.send(data, { binary }));
  };
  return {
    ws,
    messages,
    text,
    bytes: () => total,
    type: (input) => sendWhenOpen(Buffer.from(input), true),
    control: (message) => sendWhenOpen(JSON.stringify(message), false),
    waitText: (pattern, timeoutMs = 10_000) =>
      waitFor(
        () => (typeof pattern === 'string' ? text().includes(pattern) : pattern.test(text())),
        timeoutMs,
        `output ${pattern}`,
      ),
    async waitMessage(type, timeoutMs = 10_000) {
      await waitFor(() => messages.some((m) => m.type === type), timeoutMs, `message ${type}`);
      return messages.find((m) => m.type === type);
    },
    closed,
    close: () => ws.close(),
  };
}
