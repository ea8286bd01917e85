/**
 * Test helper: a live file socket as the site uses it. It keeps the open file's Y.Doc and
 * awareness, follows `open` and `closed`, and sends its own edits and cursor as Yjs frames.
 */
import WebSocket from 'ws';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import { FILE_LIVE_AWARENESS, FILE_LIVE_SYNC, FILE_LIVE_TEXT } from '@tether/protocol';
import { waitFor } from './harness.ts';

export class FileLiveClient {
  readonly ws: WebSocket;
  readonly messages: any[] = [];
  doc = new Y.Doc();
  awareness = new awarenessProtocol.Awareness(this.doc);
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(url: string, path: string, token: string, origin?: string) {
    this.ws = new WebSocket(`${url.replace(/^http/, 'ws')}${path}`, {
      headers: { authorization: `Bearer ${token}`, ...(origin ? { origin } : {}) },
    });
    this.ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) return this.binary(new Uint8Array(data));
      const message = JSON.parse(data.toString('utf8'));
      this.messages.push(message);
      if (message.type === 'open' || message.type === 'closed') this.fresh();
    });
    this.ws.on('error', () => {});
    this.closed = new Promise((resolve) =>
      this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  get text(): string {
    return this.doc.getText(FILE_LIVE_TEXT).toString();
  }

  opened(): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.ws.readyState === this.ws.OPEN) return resolve();
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  control(message: object): void {
    this.ws.send(JSON.stringify(message));
  }

  raw(data: string | Uint8Array, binary: boolean): void {
    this.ws.send(data, { binary });
  }

  /** Types `text` at `index` and sends the resulting Yjs update, as the editor's page does. */
  insert(index: number, text: string): void {
    const update = captureUpdate(this.doc, () =>
      this.doc.getText(FILE_LIVE_TEXT).insert(index, text),
    );
    const encoder = encoding.createEncoder();
    encoding.writeVarUint(encoder, FILE_LIVE_SYNC);
    syncProtocol.writeUpdate(encoder, update);
    this.raw(encoding.toUint8Array(encoder), true);
  }

  /** Sets this client's cursor state and sends it as an awareness frame. */
  cursor(state: Record<string, unknown>): void {
    this.awareness.setLocalState(state);
    const update = awarenessProtocol.encodeAwarenessUpdate(this.awareness, [this.doc.clientID]);
    this.raw(Buffer.concat([Buffer.from([FILE_LIVE_AWARENESS]), update]), true);
  }

  /** Every awareness state from others, by client id. */
  peers(): Record<string, unknown>[] {
    return [...this.awareness.getStates()]
      .filter(([id]) => id !== this.doc.clientID)
      .map(([, state]) => state);
  }

  async waitMessage(type: string, predicate: (m: any) => boolean = () => true): Promise<any> {
    await waitFor(
      () => this.messages.some((m) => m.type === type && predicate(m)),
      10_000,
      `message ${type}`,
    );
    return this.messages.find((m) => m.type === type && predicate(m));
  }

  waitText(expected: string): Promise<void> {
    return waitFor(
      () => this.text === expected,
      10_000,
      `document text ${JSON.stringify(expected)}`,
    );
  }

  close(): void {
    this.ws.close();
  }

  private fresh(): void {
    this.awareness.destroy();
    this.doc.destroy();
    this.doc = new Y.Doc();
    this.awareness = new awarenessProtocol.Awareness(this.doc);
  }

  private binary(frame: Uint8Array): void {
    const body = frame.subarray(1);
    if (frame[0] === FILE_LIVE_AWARENESS)
      return awarenessProtocol.applyAwarenessUpdate(this.awareness, body, 'remote');
    const decoder = decoding.createDecoder(body);
    // A reply the server asks for (its state vector) is not needed: it already has ours.
    syncProtocol.readSyncMessage(decoder, encoding.createEncoder(), this.doc, 'remote');
  }
}

function captureUpdate(doc: Y.Doc, change: () => void): Uint8Array {
  let update: Uint8Array | null = null;
  const listener = (u: Uint8Array) => (update = u);
  doc.on('update', listener);
  change();
  doc.off('update', listener);
  if (!update) throw new Error('the change made no update');
  return update;
}
