/**
 * The live file socket, `GET /api/v1/file-sessions/:id/socket`: the session's engineer edits
 * (folder, open file, Yjs edits and cursor), everyone else who may see the server follows
 * read-only. Text frames are JSON control messages, binary frames Yjs bytes; an observer's
 * frames are dropped and audited, oversized frames close the socket that sent them.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import {
  FILE_LIVE_AWARENESS,
  FILE_LIVE_SYNC,
  FileLiveClientMessage,
  TetherError,
  type FileLiveRole,
} from '@tether/protocol';
import { actorOf } from '../agents/guard.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Principal } from '../auth/principal.ts';
import type { Bus } from '../bus/bus.ts';
import { parseJson } from '../http/ws-json.ts';
import { FileRoom, send, type Member } from './file-live-room.ts';
import { FileLiveRelay } from './file-live-relay.ts';

/** Control frames carry a path at most (4096 bytes, JSON-escaped); anything larger is not ours. */
export const MAX_CONTROL_BYTES = 32 * 1024;
/**
 * A listing is the one larger text frame: up to 2,000 entries of the editor's folder. 512 KiB
 * holds that many with long names and stays well inside the bus's 1 MiB message for other
 * processes.
 */
export const MAX_LISTING_BYTES = 512 * 1024;
/**
 * One Yjs frame from the editor: a keystroke is tens of bytes, a large paste some hundred KiB.
 * Past this the socket closes with 1009 (RFC 6455 §7.4.1, "message too big"), which stops one
 * runaway client without touching the document or anyone else's socket.
 */
export const MAX_BINARY_BYTES = 512 * 1024;
export const CLOSE_TOO_BIG = 1009;
/** Close codes in the private range (RFC 6455 §7.4.2): 4000 + the HTTP status they mirror. */
const closeCode = (status: number): number => 4000 + status;

/** Who the caller is on the session, as the files backend decides it. */
export interface FileLiveAccess {
  role: FileLiveRole;
  agentId: string;
  accountId: string;
  ticketId: string | null;
  /** False once the session has ended. */
  live: boolean;
}

/** A file read for the editor's `open`: the text API's answer for the whole file (or page 1). */
export interface FileLiveRead {
  path: string;
  size: number;
  /** Null for files over the text limit: they open read-only, a page at a time. */
  hash: string | null;
  content: string;
  binary: boolean;
}

/** A change the files backend recorded that every socket of the session should hear about. */
export type FileLiveNotice =
  | { type: 'saved'; sessionId: string; path: string; hash: string }
  | { type: 'ended'; sessionId: string; by: string | null; reason: string };

/** What the socket needs from the files backend (packages/endpoint/src/files). */
export interface FileLiveBackend {
  /** The caller's role on a session they may see; `not_found` (audited) otherwise. */
  authorize(p: Principal, sessionId: string): Promise<FileLiveAccess>;
  /** Reads a file for the editor through the session (policy and audit included). */
  read(p: Principal, sessionId: string, path: string): Promise<FileLiveRead>;
  /** Saves and the session's end, wherever they happen; returns the unsubscribe. */
  notices(sessionId: string, handler: (notice: FileLiveNotice) => void): () => void;
}

export interface FileLiveDeps {
  bus: Bus;
  audit: Pick<AuditLog, 'append'>;
  log: Logger;
  nodeId: string;
  /** The sockets' preValidation: authentication and the Origin check (`wsGate`). */
  gate: (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  /** The caller the gate let in (`wsPrincipal`). */
  principal: (request: FastifyRequest) => Promise<Principal>;
  backend: FileLiveBackend;
}

interface RoomEntry {
  room: FileRoom;
  detach: () => void;
  /** The editor's `open`s run one at a time, in the order sent. */
  opening: Promise<void>;
  busyOpening: boolean;
}

export class FileLive {
  private readonly rooms = new Map<string, RoomEntry>();
  private readonly relay: FileLiveRelay;

  constructor(private readonly deps: FileLiveDeps) {
    this.relay = new FileLiveRelay(deps.bus, deps.nodeId, deps.log);
  }

  /** Sessions with a socket in this process. */
  get openRooms(): number {
    return this.rooms.size;
  }

  register(app: FastifyInstance): void {
    app.get(
      '/api/v1/file-sessions/:id/socket',
      { websocket: true, preValidation: this.deps.gate },
      (socket, request) => {
        const ws = socket as unknown as WebSocket;
        const id = String((request.params as { id?: string }).id ?? '');
        void this.connect(ws, request, id).catch((error: unknown) => {
          this.deps.log.error({ err: error, sessionId: id }, 'file socket failed');
          refuse(ws, error);
        });
      },
    );
  }

  /** Closes every socket (the process is stopping) and lets go of the bus. */
  stop(): void {
    for (const { room } of this.rooms.values())
      for (const member of room.members) member.ws.close(1001, 'endpoint stopping');
  }

  private async connect(ws: WebSocket, request: FastifyRequest, id: string): Promise<void> {
    // Frames that race the authorization wait here, in order.
    const early: [Buffer, boolean][] = [];
    const hold = (data: Buffer, isBinary: boolean) => early.push([data, isBinary]);
    ws.on('message', hold);
    const principal = await this.deps.principal(request);
    let access: FileLiveAccess;
    try {
      access = await this.deps.backend.authorize(principal, id);
    } catch (error) {
      return refuse(ws, error);
    }
    if (!access.live) return refuse(ws, new TetherError('gone', 'the file session has ended'));
    if (ws.readyState !== ws.OPEN) return;

    const entry = this.roomFor(id);
    const member: Member = {
      ws,
      principal,
      role: access.role,
      dropAudited: false,
      awarenessIds: new Set(),
    };
    const log = this.deps.log.child({ sessionId: id, user: principal.username, role: member.role });
    ws.off('message', hold);
    ws.on('message', (data: Buffer, isBinary: boolean) =>
      this.receive(entry, member, access, data, isBinary, log),
    );
    ws.on('close', () => this.leave(entry, member));
    if (member.role === 'editor') this.relay.takeover(id);
    entry.room.join(member);
    log.debug('joined the live file view');
    for (const [data, isBinary] of early) this.receive(entry, member, access, data, isBinary, log);

    if (member.role === 'observer')
      await this.deps.audit.append({
        kind: 'fileLiveJoined',
        actor: actorOf(principal),
        accountId: access.accountId,
        agentId: access.agentId,
        ticketId: access.ticketId,
        sessionId: id,
        params: { role: member.role },
      });
  }

  private receive(
    entry: RoomEntry,
    member: Member,
    access: FileLiveAccess,
    data: Buffer,
    isBinary: boolean,
    log: Logger,
  ): void {
    const limit = isBinary ? MAX_BINARY_BYTES : MAX_LISTING_BYTES;
    if (data.length > limit) return tooBig(member, data.length, limit, log);
    if (member.role !== 'editor') return this.dropped(entry, member, access, data, isBinary);
    try {
      if (isBinary) this.editorFrame(entry, member, data);
      else this.editorControl(entry, member, data, log);
    } catch (error) {
      if (error instanceof TetherError) {
        log.debug({ err: error }, 'editor frame refused');
        return sendError(member.ws, error);
      }
      // A bug, not bad input: this socket goes, the room and everyone else stay.
      log.error({ err: error }, 'editor frame failed');
      refuse(member.ws, error, 1011);
    }
  }

  private editorFrame(entry: RoomEntry, member: Member, data: Buffer): void {
    // Frames sent for the previous file before the editor asked for another one.
    if (entry.busyOpening) return;
    const body = new Uint8Array(data.subarray(1));
    if (data[0] === FILE_LIVE_SYNC) return entry.room.editorSync(member, body);
    if (data[0] === FILE_LIVE_AWARENESS) return entry.room.applyAwareness(body, member, true);
    throw new TetherError(
      'invalid_request',
      `binary frames start with ${FILE_LIVE_SYNC} (sync) or ${FILE_LIVE_AWARENESS} (awareness)`,
    );
  }

  private editorControl(entry: RoomEntry, member: Member, data: Buffer, log: Logger): void {
    const json = parseJson(data.toString('utf8'));
    // Only a listing may be larger than a control frame.
    if ((json as { type?: unknown } | null)?.type !== 'listing' && data.length > MAX_CONTROL_BYTES)
      return tooBig(member, data.length, MAX_CONTROL_BYTES, log);
    const parsed = FileLiveClientMessage.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue?.path.join('.') || 'message';
      throw new TetherError(
        'invalid_request',
        `${where}: ${issue?.message.toLowerCase() ?? 'invalid'} (send {"type":"cwd"|"open","path"} or {"type":"close"})`,
      );
    }
    const message = parsed.data;
    const { room } = entry;
    if (message.type === 'listing') {
      if (message.path !== room.cwd)
        throw new TetherError('conflict', 'a listing is for the folder you are in: send cwd first');
      return room.setListing(message, true);
    }
    if (message.type === 'cwd') return room.setCwd(message.path, true);
    if (message.type === 'close') return room.close(true);
    entry.busyOpening = true;
    entry.opening = entry.opening.then(async () => {
      try {
        const read = await this.deps.backend.read(member.principal, room.id, message.path);
        const shared = read.hash !== null && !read.binary;
        const meta = {
          path: read.path,
          hash: read.hash,
          size: read.size,
          shared,
          binary: read.binary,
        };
        room.open(meta, shared ? read.content : null, true);
        log.debug({ path: read.path, shared }, 'file opened');
      } catch (error) {
        sendError(member.ws, error);
      } finally {
        entry.busyOpening = false;
      }
    });
  }

  private dropped(
    entry: RoomEntry,
    member: Member,
    access: FileLiveAccess,
    data: Buffer,
    isBinary: boolean,
  ): void {
    if (member.dropAudited) return;
    member.dropAudited = true;
    sendError(
      member.ws,
      new TetherError('forbidden', 'this view is read-only: what you send is dropped'),
    );
    void this.deps.audit
      .append({
        kind: 'fileLiveInputDropped',
        actor: actorOf(member.principal),
        accountId: access.accountId,
        agentId: access.agentId,
        ticketId: access.ticketId,
        sessionId: entry.room.id,
        params: { bytes: data.length, binary: isBinary, role: member.role },
        result: { allowed: false, reason: 'read-only observer' },
      })
      .catch((err: unknown) =>
        this.deps.log.error({ err, sessionId: entry.room.id }, 'cannot audit dropped frames'),
      );
  }

  private notice(notice: FileLiveNotice): void {
    const entry = this.rooms.get(notice.sessionId);
    if (!entry) return;
    if (notice.type === 'saved') return entry.room.saved(notice.path, notice.hash);
    entry.room.broadcastControl({ type: 'ended', by: notice.by, reason: notice.reason }, false);
    for (const member of entry.room.members) member.ws.close(1000, 'session ended');
  }

  private roomFor(id: string): RoomEntry {
    const existing = this.rooms.get(id);
    if (existing) return existing;
    const room = new FileRoom(id, this.relay.outbox(id));
    const entry: RoomEntry = {
      room,
      detach: () => {},
      opening: Promise.resolve(),
      busyOpening: false,
    };
    this.rooms.set(id, entry);
    const detachRelay = this.relay.attach(room);
    // Saves and the end reach every process holding a room of the session, each on its own.
    const stopNotices = this.deps.backend.notices(id, (notice) => this.notice(notice));
    entry.detach = () => {
      detachRelay();
      stopNotices();
    };
    return entry;
  }

  private leave(entry: RoomEntry, member: Member): void {
    entry.room.leave(member);
    if (!entry.room.empty || this.rooms.get(entry.room.id) !== entry) return;
    this.rooms.delete(entry.room.id);
    entry.detach();
    entry.room.destroy();
  }
}

function tooBig(member: Member, bytes: number, limit: number, log: Logger): void {
  log.warn({ bytes }, 'oversized frame: closing the socket');
  member.ws.close(CLOSE_TOO_BIG, `frame over ${limit / 1024} KiB`);
}

function sendError(ws: WebSocket, cause: unknown): void {
  const known =
    cause instanceof TetherError ? cause : new TetherError('internal', 'internal error');
  send(ws, { type: 'error', error: { code: known.code, message: known.message } });
}

function refuse(ws: WebSocket, cause: unknown, code?: number): void {
  const known =
    cause instanceof TetherError ? cause : new TetherError('internal', 'internal error');
  sendError(ws, known);
  ws.close(code ?? closeCode(known.status), known.code);
}
