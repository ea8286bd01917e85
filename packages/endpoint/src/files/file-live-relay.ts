/**
 * Carries a file session's live view between endpoint processes. Every process holding a socket
 * of the session keeps a room and subscribes to `files.live.<session>.>`; the process with the
 * editor's socket publishes what the editor does, and answers a newcomer's request for the
 * current state. Yjs updates are idempotent, so a replica that gets the same edit twice (in the
 * state and as a frame) ends up the same.
 */
import type { Logger } from 'pino';
import * as decoding from 'lib0/decoding';
import * as syncProtocol from 'y-protocols/sync';
import { FILE_LIVE_AWARENESS, FILE_LIVE_SYNC, type FileLiveServerMessage } from '@tether/protocol';
import type { Bus, BusPayload } from '../bus/bus.ts';
import {
  CLOSE_REPLACED,
  type FileMeta,
  type FileRoom,
  type ListingMessage,
  type Person,
  type RoomOutbox,
} from './file-live-room.ts';

const PREFIX = 'files.live';

/** What a process answers a newcomer with: the room as the editor's process sees it. */
interface StateMessage {
  [key: string]: unknown;
  to: string;
  cwd: string | null;
  listing: ListingMessage | null;
  file: FileMeta | null;
  /** Base64 frames (`[kind][message]`) that bring a fresh document up to date. */
  frames: string[];
}

export class FileLiveRelay {
  constructor(
    private readonly bus: Bus,
    private readonly nodeId: string,
    private readonly log: Logger,
  ) {}

  /** What the room hands to other processes. */
  outbox(sessionId: string): RoomOutbox {
    return {
      control: (message) => this.publish(sessionId, 'control', { message }),
      frame: (frame) => this.publish(sessionId, 'frame', frame),
      presence: (people) => this.publish(sessionId, 'presence', { people }),
    };
  }

  /** Starts hearing the other processes and asks them for the current state. */
  attach(room: FileRoom): () => void {
    const unsubscribe = this.bus.subscribe(`${PREFIX}.${room.id}.>`, (payload, subject) => {
      const [, , , node, what] = subject.split('.');
      if (node === undefined || what === undefined || node === this.nodeId) return;
      try {
        this.receive(room, node, what, payload);
      } catch (error) {
        // A frame for a document this replica has not got yet: the state answer brings it.
        this.log.debug({ err: error, sessionId: room.id, from: node, what }, 'relay frame skipped');
      }
    });
    this.publish(room.id, 'want', {});
    return () => {
      unsubscribe();
      this.publish(room.id, 'presence', { people: [] });
    };
  }

  /** Tells the editors of this session in other processes that a newer one took over. */
  takeover(sessionId: string): void {
    this.publish(sessionId, 'takeover', {});
  }

  private receive(room: FileRoom, node: string, what: string, payload: BusPayload): void {
    if (what === 'frame' && payload instanceof Uint8Array) return applyFrame(room, payload);
    if (payload instanceof Uint8Array) return;
    switch (what) {
      case 'control':
        return applyControl(room, payload.message as FileLiveServerMessage);
      case 'presence':
        return room.setRemotePeople(node, (payload.people as Person[]) ?? []);
      case 'takeover':
        return room.editor?.ws.close(CLOSE_REPLACED, 'replaced');
      case 'want':
        this.publish(room.id, 'presence', { people: room.localPeople() });
        // Only the editor's process holds the state everyone else follows.
        if (room.editor) this.publish(room.id, 'state', stateOf(room, node));
        return;
      case 'state':
        if (payload.to === this.nodeId) applyState(room, payload as StateMessage);
        return;
    }
  }

  private publish(sessionId: string, what: string, payload: BusPayload): void {
    try {
      this.bus.publish(`${PREFIX}.${sessionId}.${this.nodeId}.${what}`, payload);
    } catch (error) {
      // A closed bus (shutting down) or an oversized frame: this process's sockets still work.
      this.log.warn({ err: error, sessionId, what }, 'file live relay publish failed');
    }
  }
}

function stateOf(room: FileRoom, to: string): StateMessage {
  const frames = room.stateFrames().map((frame) => Buffer.from(frame).toString('base64'));
  return { to, cwd: room.cwd, listing: room.listing, file: room.openFile, frames };
}

function applyState(room: FileRoom, state: StateMessage): void {
  if (state.cwd !== null) room.setCwd(state.cwd, false);
  if (state.listing) room.setListing(state.listing, false);
  if (!state.file) return;
  room.open(state.file, null, false);
  for (const frame of state.frames) applyFrame(room, Buffer.from(frame, 'base64'));
}

function applyControl(room: FileRoom, message: FileLiveServerMessage): void {
  if (message.type === 'cwd') room.setCwd(message.path, false);
  if (message.type === 'listing') room.setListing(message, false);
  if (message.type === 'open') {
    const { type: _type, ...meta } = message;
    room.open(meta, null, false);
  }
  if (message.type === 'closed') room.close(false);
}

function applyFrame(room: FileRoom, frame: Uint8Array): void {
  const body = frame.subarray(1);
  if (frame[0] === FILE_LIVE_AWARENESS) return room.applyAwareness(body, null, false);
  if (frame[0] !== FILE_LIVE_SYNC) return;
  const decoder = decoding.createDecoder(body);
  const type = decoding.readVarUint(decoder);
  if (type === syncProtocol.messageYjsUpdate || type === syncProtocol.messageYjsSyncStep2)
    room.applyUpdate(decoding.readVarUint8Array(decoder), null, false);
}
