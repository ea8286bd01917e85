/**
 * One file session's live view in this process: the folder the editor is in, the open file as a
 * Y.Doc (so late joiners get its state), the cursors (awareness), and the sockets watching.
 * Other processes holding sockets of the same session keep a replica, fed over the bus by
 * `FileLiveRelay`; the process with the editor's socket is the one that applies its frames.
 */
import type WebSocket from 'ws';
import * as Y from 'yjs';
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import * as syncProtocol from 'y-protocols/sync';
import * as awarenessProtocol from 'y-protocols/awareness';
import {
  FILE_LIVE_AWARENESS,
  FILE_LIVE_SYNC,
  FILE_LIVE_TEXT,
  TetherError,
  type FileLiveRole,
  type FileLiveServerMessage,
} from '@tether/protocol';
import type { Principal } from '../auth/principal.ts';
import { sendJson } from '../http/ws-json.ts';

/**
 * A shared document stops taking edits past this many bytes of updates: files over the text
 * limit (2 MiB) never become shared documents, so this leaves room for a long session's edits
 * and their history while bounding what one session can make this process hold.
 */
export const SHARED_DOC_MAX_BYTES = 16 * 1024 * 1024;
/** Close code for a socket replaced by the same editor's newer one (4000 + HTTP 409). */
export const CLOSE_REPLACED = 4409;

export interface Member {
  ws: WebSocket;
  principal: Principal;
  role: FileLiveRole;
  /** An observer's dropped frames are audited once per socket, so a busy client cannot flood. */
  dropAudited: boolean;
  /** The awareness client ids this socket's frames announced, cleared when it leaves. */
  awarenessIds: Set<number>;
}

/** The open file's facts, as the `open` message gives them. */
export type FileMeta = Omit<Extract<FileLiveServerMessage, { type: 'open' }>, 'type'>;
export type ListingMessage = Extract<FileLiveServerMessage, { type: 'listing' }>;

interface OpenFile {
  meta: FileMeta;
  /** Null when the file is not shared (over the text limit, or binary). */
  doc: Y.Doc | null;
  awareness: awarenessProtocol.Awareness | null;
  bytes: number;
}

/** What the relay sends to other processes; the room calls it after each local change. */
export interface RoomOutbox {
  control(message: FileLiveServerMessage): void;
  frame(frame: Uint8Array): void;
  presence(people: Person[]): void;
}

export type Person = Extract<FileLiveServerMessage, { type: 'watchers' }>['people'][number];

export class FileRoom {
  readonly members = new Set<Member>();
  editor: Member | null = null;
  cwd: string | null = null;
  /** The editor's last listing of `cwd`, for observers who join later. */
  listing: ListingMessage | null = null;
  private file: OpenFile | null = null;
  /** Who is on this session's socket in other processes, by process. */
  private readonly remotePeople = new Map<string, Person[]>();

  constructor(
    readonly id: string,
    private readonly outbox: RoomOutbox,
  ) {}

  get openFile(): FileMeta | null {
    return this.file?.meta ?? null;
  }

  get empty(): boolean {
    return this.members.size === 0;
  }

  /** Adds a socket and gives it what is there now: folder, file, document, cursors. */
  join(member: Member): void {
    this.members.add(member);
    if (member.role === 'editor') {
      const previous = this.editor;
      this.editor = member;
      if (previous && previous !== member) previous.ws.close(CLOSE_REPLACED, 'replaced');
    }
    send(member.ws, {
      type: 'hello',
      session: this.id,
      role: member.role,
      readOnly: member.role !== 'editor',
    });
    this.sendState(member.ws);
    this.peopleChanged();
  }

  leave(member: Member): void {
    if (!this.members.delete(member)) return;
    if (this.editor === member) this.editor = null;
    this.peopleChanged();
    const awareness = this.file?.awareness;
    const gone = [...member.awarenessIds].filter((id) => awareness?.states.has(id));
    if (awareness && gone.length > 0) {
      // Their cursor leaves with them, for everyone watching here and elsewhere.
      awarenessProtocol.removeAwarenessStates(awareness, gone, member);
      this.broadcast(
        kindFrame(FILE_LIVE_AWARENESS, awarenessProtocol.encodeAwarenessUpdate(awareness, gone)),
        member,
        true,
      );
    }
  }

  /** The current folder, open file, document and cursors, in the order a client needs them. */
  sendState(ws: WebSocket): void {
    if (this.cwd !== null) send(ws, { type: 'cwd', path: this.cwd });
    if (this.listing && this.listing.path === this.cwd) send(ws, this.listing);
    if (!this.file) return;
    send(ws, { type: 'open', ...this.file.meta });
    for (const frame of this.stateFrames()) sendBinary(ws, frame);
  }

  /** Binary frames that bring a fresh client's document and cursors up to date. */
  stateFrames(): Uint8Array[] {
    const { doc, awareness } = this.file ?? {};
    if (!doc) return [];
    const frames = [syncFrame(Y.encodeStateAsUpdate(doc))];
    const ids = [...(awareness?.getStates().keys() ?? [])];
    if (awareness && ids.length > 0)
      frames.push(
        kindFrame(FILE_LIVE_AWARENESS, awarenessProtocol.encodeAwarenessUpdate(awareness, ids)),
      );
    return frames;
  }

  setCwd(path: string, relay: boolean): void {
    if (path !== this.cwd) this.listing = null;
    this.cwd = path;
    this.broadcastControl({ type: 'cwd', path }, relay);
  }

  /** The editor listed a folder: observers see the same entries (the editor has its own). */
  setListing(listing: ListingMessage, relay: boolean): void {
    this.listing = listing;
    for (const member of this.members) if (member.role !== 'editor') send(member.ws, listing);
    if (relay) this.outbox.control(listing);
  }

  /** A new open file: a fresh document holding `content` when it is shared. */
  open(meta: FileMeta, content: string | null, relay: boolean): void {
    this.dropFile();
    const doc = meta.shared ? new Y.Doc() : null;
    if (doc && content !== null && content.length > 0)
      doc.getText(FILE_LIVE_TEXT).insert(0, content);
    const awareness = doc ? new awarenessProtocol.Awareness(doc) : null;
    // The endpoint has no cursor of its own.
    awareness?.setLocalState(null);
    this.file = { meta, doc, awareness, bytes: content?.length ?? 0 };
    this.broadcastControl({ type: 'open', ...meta }, relay);
    for (const frame of this.stateFrames()) this.broadcast(frame, null, relay);
  }

  close(relay: boolean): void {
    const path = this.file?.meta.path;
    this.dropFile();
    if (path !== undefined) this.broadcastControl({ type: 'closed', path }, relay);
  }

  /** A save landed: the open file's base hash moves on. Every process learns it itself. */
  saved(path: string, hash: string): void {
    if (this.file?.meta.path === path) this.file.meta = { ...this.file.meta, hash };
    this.broadcastControl({ type: 'saved', path, hash }, false);
  }

  /**
   * The editor's sync message (kind byte stripped). A state vector is answered with what the
   * editor lacks; an update is checked, applied and relayed to every observer. Throws a
   * TetherError for bytes that are not a y-protocols message for a shared document.
   */
  editorSync(member: Member, message: Uint8Array): void {
    const file = this.sharedFile();
    const decoder = decoding.createDecoder(message);
    const type = readOrRefuse(() => decoding.readVarUint(decoder));
    if (type === syncProtocol.messageYjsSyncStep1) {
      const vector = readOrRefuse(() => decoding.readVarUint8Array(decoder));
      const missing = readOrRefuse(() => Y.encodeStateAsUpdate(file.doc, vector));
      const encoder = encoding.createEncoder();
      encoding.writeVarUint(encoder, FILE_LIVE_SYNC);
      encoding.writeVarUint(encoder, syncProtocol.messageYjsSyncStep2);
      encoding.writeVarUint8Array(encoder, missing);
      sendBinary(member.ws, encoding.toUint8Array(encoder));
      return;
    }
    if (type !== syncProtocol.messageYjsSyncStep2 && type !== syncProtocol.messageYjsUpdate)
      throw new TetherError('invalid_request', `unknown sync message type ${type}`);
    const update = readOrRefuse(() => decoding.readVarUint8Array(decoder));
    this.applyUpdate(update, member, true);
  }

  /** An update from the editor (here) or relayed from the editor's process (elsewhere). */
  applyUpdate(update: Uint8Array, origin: Member | null, relay: boolean): void {
    const file = this.sharedFile();
    // Decoding first refuses garbage before it can touch the document.
    readOrRefuse(() => Y.decodeUpdate(update));
    if (file.bytes + update.length > SHARED_DOC_MAX_BYTES)
      throw new TetherError(
        'payload_too_large',
        'this document has taken all the live edits it can; save it and open it again',
      );
    file.bytes += update.length;
    Y.applyUpdate(file.doc, update, origin);
    this.broadcast(syncFrame(update), origin, relay);
  }

  /** Cursor and selection: applied to the room's awareness (for late joiners) and relayed. */
  applyAwareness(update: Uint8Array, origin: Member | null, relay: boolean): void {
    const { awareness } = this.sharedFile();
    const before = new Set(awareness.getStates().keys());
    readOrRefuse(() => awarenessProtocol.applyAwarenessUpdate(awareness, update, origin));
    if (origin)
      for (const id of awareness.getStates().keys())
        if (!before.has(id)) origin.awarenessIds.add(id);
    this.broadcast(kindFrame(FILE_LIVE_AWARENESS, update), origin, relay);
  }

  /** Everyone here, except `skip`; `relay` also hands it to the other processes. */
  broadcast(frame: Uint8Array, skip: Member | null, relay: boolean): void {
    for (const member of this.members) if (member !== skip) sendBinary(member.ws, frame);
    if (relay) this.outbox.frame(frame);
  }

  broadcastControl(message: FileLiveServerMessage, relay: boolean): void {
    for (const member of this.members) send(member.ws, message);
    if (relay) this.outbox.control(message);
  }

  /** Who is here, for the other processes' `watchers` lists. */
  localPeople(): Person[] {
    return [...this.members].map((m) => ({ username: m.principal.username, role: m.role }));
  }

  setRemotePeople(node: string, people: Person[]): void {
    if (people.length === 0) this.remotePeople.delete(node);
    else this.remotePeople.set(node, people);
    this.sendWatchers();
  }

  private peopleChanged(): void {
    this.outbox.presence(this.localPeople());
    this.sendWatchers();
  }

  private sendWatchers(): void {
    const people = [...this.localPeople(), ...[...this.remotePeople.values()].flat()];
    this.broadcastControl({ type: 'watchers', people }, false);
  }

  /** Frees the document and its awareness timer; the room is done. */
  destroy(): void {
    this.dropFile();
  }

  private sharedFile(): OpenFile & { doc: Y.Doc; awareness: awarenessProtocol.Awareness } {
    const file = this.file;
    if (!file?.doc || !file.awareness)
      throw new TetherError('conflict', 'no shared document is open: open a text file first');
    return file as OpenFile & { doc: Y.Doc; awareness: awarenessProtocol.Awareness };
  }

  private dropFile(): void {
    // Destroying the doc also stops its awareness's outdated-state timer.
    this.file?.awareness?.destroy();
    this.file?.doc?.destroy();
    this.file = null;
  }
}

/** `[kind][message]`: the binary frame layout of the contract. */
export function kindFrame(kind: number, message: Uint8Array): Uint8Array {
  const frame = new Uint8Array(message.length + 1);
  frame[0] = kind;
  frame.set(message, 1);
  return frame;
}

/** A y-protocols update message for `update`, framed as kind 0. */
export function syncFrame(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, FILE_LIVE_SYNC);
  syncProtocol.writeUpdate(encoder, update);
  return encoding.toUint8Array(encoder);
}

export function send(ws: WebSocket, message: FileLiveServerMessage): void {
  sendJson(ws, message);
}

function sendBinary(ws: WebSocket, frame: Uint8Array): void {
  if (ws.readyState === ws.OPEN) ws.send(frame, { binary: true });
}

/** Runs a decoder step; whatever it throws on bad bytes becomes a clear `invalid_request`. */
function readOrRefuse<T>(read: () => T): T {
  try {
    return read();
  } catch (cause) {
    throw new TetherError('invalid_request', 'not a valid Yjs message', { cause });
  }
}
