/**
 * The live file socket as the page uses it. Text frames are control messages and only ever
 * change page state; binary frames are Yjs bytes and only ever reach the open document. A new
 * Y.Doc starts with every `open`. Only the editor sends: its document's updates and its
 * cursor; an observer's connection sends nothing at all, whatever its document does.
 */
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import type { FileLiveEntry, FileLiveRole, FileLiveServerMessage } from '@tether/protocol';
import {
  FILE_LIVE_AWARENESS,
  FILE_LIVE_LISTING_MAX,
  FILE_LIVE_SYNC,
} from '@tether/protocol/file-live-frames';
import type { Entry } from './files-api.ts';

export type { FileLiveServerMessage };
export type OpenMeta = Omit<Extract<FileLiveServerMessage, { type: 'open' }>, 'type'>;

/** The file everyone looks at; `doc` and `awareness` exist when it is shared (a text file). */
export interface LiveFile {
  meta: OpenMeta;
  doc: Y.Doc | null;
  awareness: awarenessProtocol.Awareness | null;
  /** True once the endpoint's state for this document has arrived (the file as opened). */
  synced: boolean;
}

const REMOTE = 'remote';
const CONTROL_TYPES = new Set([
  'hello',
  'cwd',
  'listing',
  'open',
  'closed',
  'saved',
  'watchers',
  'ended',
  'error',
]);
/** A listing frame stays under the endpoint's 512 KiB for it, with room to spare. */
const LISTING_MAX_BYTES = 480 * 1024;
/** Reconnects wait 1 s, then 2, 4, … up to this. */
const MAX_BACKOFF_MS = 15_000;
/** Closes after which trying again cannot help: no such session, ended, replaced, refused. */
const FINAL_CLOSES = new Set([1000, 4401, 4403, 4404, 4409, 4410]);

export type LiveStatus = 'connecting' | 'live' | 'reconnecting' | 'closed';

export interface FileLiveHandlers {
  onControl(message: FileLiveServerMessage): void;
  /** A new open file (or none): rebind the editor to this document. */
  onFile(file: LiveFile | null): void;
  /** The open document holds the file's content now: what "unsaved changes" compare with. */
  onSynced?(file: LiveFile): void;
  onStatus(status: LiveStatus, close?: { code: number; reason: string }): void;
}

export interface FileLiveOptions extends FileLiveHandlers {
  url: string;
  /** Who this person is in cursors others see. */
  user: { name: string; color: number };
  createSocket?: (url: string) => WebSocket;
}

export class FileLiveConnection {
  #socket: WebSocket | null = null;
  #role: FileLiveRole | null = null;
  #file: LiveFile | null = null;
  #stopped = false;
  #attempt = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;
  readonly #options: FileLiveOptions;

  constructor(options: FileLiveOptions) {
    this.#options = options;
    this.#connect();
  }

  /** Null until `hello`; the endpoint's word decides, never the page's wish. */
  get role(): FileLiveRole | null {
    return this.#role;
  }

  get file(): LiveFile | null {
    return this.#file;
  }

  /** The editor's moves; false (and nothing sent) for observers and while disconnected. */
  cwd(path: string): boolean {
    return this.#control({ type: 'cwd', path });
  }

  open(path: string): boolean {
    // Edits typed from here on belong to the next document, which the endpoint sends back.
    this.#setFile(null);
    return this.#control({ type: 'open', path });
  }

  /**
   * The folder as the editor's page listed it, for observers (who cannot list themselves). A
   * long folder is cut to what fits, and says so.
   */
  listing(path: string, entries: readonly Entry[]): boolean {
    let shared = entries.slice(0, FILE_LIVE_LISTING_MAX).map(listedEntry);
    let truncated = shared.length < entries.length;
    let text = JSON.stringify({ type: 'listing', path, entries: shared, truncated });
    while (text.length > LISTING_MAX_BYTES && shared.length > 0) {
      shared = shared.slice(0, Math.floor(shared.length * 0.8));
      truncated = true;
      text = JSON.stringify({ type: 'listing', path, entries: shared, truncated });
    }
    if (this.#role !== 'editor' || this.#socket?.readyState !== 1) return false;
    this.#socket.send(text);
    return true;
  }

  closeFile(): boolean {
    this.#setFile(null);
    return this.#control({ type: 'close' });
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#setFile(null);
    const socket = this.#socket;
    if (socket) {
      socket.onmessage = null;
      socket.onclose = null;
      socket.close(1000, 'page closed');
    }
  }

  #connect(): void {
    const socket = (this.#options.createSocket ?? ((u) => new WebSocket(u)))(this.#options.url);
    socket.binaryType = 'arraybuffer';
    this.#socket = socket;
    this.#options.onStatus(this.#attempt === 0 ? 'connecting' : 'reconnecting');
    socket.onopen = () => {
      this.#attempt = 0;
      this.#options.onStatus('live');
    };
    socket.onmessage = (event) => this.#receive(event.data);
    socket.onclose = (event) => this.#closed(event.code, event.reason);
  }

  #closed(code: number, reason: string): void {
    this.#socket = null;
    this.#role = null;
    if (this.#stopped || FINAL_CLOSES.has(code)) {
      this.#options.onStatus('closed', { code, reason });
      return;
    }
    const delay = Math.min(MAX_BACKOFF_MS, 1000 * 2 ** this.#attempt);
    this.#attempt += 1;
    this.#options.onStatus('reconnecting', { code, reason });
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #receive(data: unknown): void {
    if (typeof data === 'string') return this.#text(data);
    if (data instanceof ArrayBuffer) this.#binary(new Uint8Array(data));
  }

  #text(text: string): void {
    let message: FileLiveServerMessage;
    try {
      message = JSON.parse(text) as FileLiveServerMessage;
    } catch {
      // Not JSON: nothing the endpoint sends; ignored rather than shown.
      return;
    }
    if (!message || typeof message !== 'object' || !CONTROL_TYPES.has(message.type)) return;
    if (message.type === 'hello') this.#role = message.role;
    if (message.type === 'open') this.#setFile(this.#fresh(message));
    if (message.type === 'closed') this.#setFile(null);
    this.#options.onControl(message);
  }

  #binary(frame: Uint8Array): void {
    const file = this.#file;
    if (!file?.doc || !file.awareness || frame.length === 0) return;
    const body = frame.subarray(1);
    try {
      if (frame[0] === FILE_LIVE_AWARENESS)
        return awarenessProtocol.applyAwarenessUpdate(file.awareness, body, REMOTE);
      if (frame[0] !== FILE_LIVE_SYNC) return;
      syncProtocol.readSyncMessage(
        decoding.createDecoder(body),
        encoding.createEncoder(),
        file.doc,
        REMOTE,
      );
      if (!file.synced) {
        file.synced = true;
        this.#options.onSynced?.(file);
      }
    } catch {
      // A frame this document cannot read (it raced a new `open`): the next state fixes it.
    }
  }

  /** A new document for `open`; the editor's own edits and cursor go out as they happen. */
  #fresh(message: Extract<FileLiveServerMessage, { type: 'open' }>): LiveFile {
    const { type: _type, ...meta } = message;
    if (!meta.shared) return { meta, doc: null, awareness: null, synced: true };
    const doc = new Y.Doc();
    const awareness = new awarenessProtocol.Awareness(doc);
    awareness.setLocalStateField('user', this.#options.user);
    doc.on('update', (update: Uint8Array, origin: unknown) => {
      if (origin === REMOTE || this.#file?.doc !== doc) return;
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, FILE_LIVE_SYNC);
      syncProtocol.writeUpdate(encoder, update);
      this.#binaryOut(encoding.toUint8Array(encoder));
    });
    awareness.on(
      'update',
      (changes: { added: number[]; updated: number[]; removed: number[] }, origin: unknown) => {
        if (origin === REMOTE || this.#file?.awareness !== awareness) return;
        const mine = [...changes.added, ...changes.updated, ...changes.removed].filter(
          (id) => id === doc.clientID,
        );
        if (mine.length === 0) return;
        const update = awarenessProtocol.encodeAwarenessUpdate(awareness, mine);
        const frame = new Uint8Array(update.length + 1);
        frame[0] = FILE_LIVE_AWARENESS;
        frame.set(update, 1);
        this.#binaryOut(frame);
      },
    );
    return { meta, doc, awareness, synced: false };
  }

  #setFile(file: LiveFile | null): void {
    const previous = this.#file;
    this.#file = file;
    if (previous !== file) {
      previous?.awareness?.destroy();
      previous?.doc?.destroy();
      this.#options.onFile(file);
    }
  }

  #binaryOut(frame: Uint8Array): void {
    if (this.#role !== 'editor' || this.#socket?.readyState !== 1) return;
    this.#socket.send(frame);
  }

  #control(message: object): boolean {
    if (this.#role !== 'editor' || this.#socket?.readyState !== 1) return false;
    this.#socket.send(JSON.stringify(message));
    return true;
  }
}

/** Only the fields the socket carries; names that are not UTF-8 go as their lossy text. */
function listedEntry(e: Entry): FileLiveEntry {
  const entry: FileLiveEntry = {
    name: e.name.slice(0, 1024),
    type: e.type,
    size: e.size,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    mtime: e.mtime,
  };
  if (e.owner !== undefined) entry.owner = e.owner.slice(0, 1024);
  if (e.group !== undefined) entry.group = e.group.slice(0, 1024);
  if (e.target !== undefined) entry.target = e.target.slice(0, 4096);
  if (e.targetType !== undefined) entry.targetType = e.targetType;
  return entry;
}

/** `ws:` or `wss:` to this site for the session's socket. */
export function fileSocketUrl(location: { protocol: string; host: string }, session: string) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/api/v1/file-sessions/${encodeURIComponent(session)}/socket`;
}
