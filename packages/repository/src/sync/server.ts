/** The sync WebSocket: fetch by roots in one stream, resolve, and resumable uploads. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type WebSocket from 'ws';
import { TetherError } from '@tether/protocol';
import type { Authenticate } from '../http/routes.ts';
import { decodeLoose, MAX_OBJECT_BYTES } from '../objects/object-store.ts';
import { WritePool } from '../concurrency.ts';
import type { Upload } from '../publish.ts';
import type { Repository } from '../repository.ts';
import { ANONYMOUS, type Caller } from '../visibility.ts';
import { walkObjects } from './walk.ts';
import {
  broken,
  ChunkAssembler,
  ClientMessage,
  CLOSE_PROTOCOL,
  FRAME_HAVE,
  FRAME_OBJECT,
  FRAME_UPLOAD,
  objectFrames,
  packFrames,
  parseHaveFrame,
  parseObjectFrame,
  SYNC_PATH,
  SYNC_PROTOCOL,
  type ServerMessage,
} from './protocol.ts';

/** Past this many unsent bytes a fetch waits for the socket: memory stays bounded per client. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;
/** zlib can make incompressible data slightly larger; this bounds one object's upload. */
const MAX_DEFLATED_BYTES = MAX_OBJECT_BYTES + 1024 * 1024;
/** `have` sets are per request; this bounds what one client can make the server hold. */
const MAX_HAVES = 5_000_000;

const callers = new WeakMap<FastifyRequest, Caller>();

export function registerSync(
  app: FastifyInstance,
  repo: Repository,
  authenticate: Authenticate,
  log: Logger,
): void {
  const gate = async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = request.headers.origin;
    // A page on another site must not ride a browser's cookie into this socket.
    if (origin !== undefined && !sameOrigin(origin, request.headers.host)) {
      return reply.code(403).send({ error: { code: 'forbidden', message: 'cross-origin socket' } });
    }
    callers.set(request, (await authenticate(request)) ?? ANONYMOUS);
  };
  app.get(SYNC_PATH, { websocket: true, preValidation: gate }, (socket, request) => {
    const caller = callers.get(request) ?? ANONYMOUS;
    if (socket.protocol !== SYNC_PROTOCOL) {
      socket.close(CLOSE_PROTOCOL, `speak ${SYNC_PROTOCOL}`);
      return;
    }
    new SyncSession(socket, repo, caller, log.child({ conn: request.id, user: caller.username }));
  });
}

class SyncSession {
  readonly #haves = new Map<number, Set<string>>();
  readonly #uploads = new Map<number, Upload>();
  /** Each upload's staging writes run while the next frames are read. */
  readonly #writes = new Map<number, WritePool>();
  readonly #assembler = new ChunkAssembler(MAX_DEFLATED_BYTES);
  #queue: Promise<void> = Promise.resolve();
  #unsent = 0;
  #drained: Array<() => void> = [];
  #haveCount = 0;

  constructor(
    private readonly ws: WebSocket,
    private readonly repo: Repository,
    private readonly caller: Caller,
    private readonly log: Logger,
  ) {
    ws.on('message', (data, isBinary) => {
      const frame = data as Buffer;
      // In order, one at a time: an upload's objects land before its commit is read.
      this.#queue = this.#queue.then(() => this.#onFrame(frame, isBinary));
    });
    ws.on('error', (error) => this.log.debug({ err: error }, 'sync socket error'));
  }

  /**
   * Frames that arrived are handled even when the socket closed behind them: the objects of a
   * publish cut off half way stay staged, so the retry sends only the rest.
   */
  async #onFrame(frame: Buffer, isBinary: boolean): Promise<void> {
    let id: number | null = null;
    try {
      if (!isBinary) {
        const message = parseMessage(frame.toString('utf8'));
        id = message.id;
        await this.#onMessage(message);
        return;
      }
      if (frame.length < 5) throw broken('binary frame too short');
      id = frame.readUInt32BE(1);
      if (frame[0] === FRAME_HAVE) return this.#onHave(frame);
      if (frame[0] === FRAME_UPLOAD) return await this.#onUploadChunk(frame);
      throw broken(`unknown frame kind ${frame[0]}`);
    } catch (error) {
      if (error instanceof TetherError && error.message.startsWith('sync protocol:')) {
        this.log.debug({ err: error }, 'peer broke the sync protocol');
        this.ws.close(CLOSE_PROTOCOL, error.message.slice(0, 120));
        return;
      }
      if (!(error instanceof TetherError))
        this.log.error({ err: error, id }, 'sync request failed');
      this.#send({ type: 'error', id, error: TetherError.wireOf(error, 'sync request failed') });
    }
  }

  async #onMessage(message: ClientMessage): Promise<void> {
    switch (message.type) {
      case 'fetch': {
        const have = this.#haves.get(message.id) ?? new Set<string>();
        this.#haves.delete(message.id);
        this.#haveCount -= have.size;
        const sent = await this.#fetch(message.id, message.roots, have);
        this.#send({ type: 'fetch.done', id: message.id, ...sent });
        return;
      }
      case 'resolve': {
        const resolved = await this.repo.catalog.resolve(this.caller, message.name, message.range);
        this.#send({ type: 'resolved', id: message.id, resolved });
        return;
      }
      case 'upload.begin': {
        const upload = await this.repo.publisher.begin(this.caller, message.tag, message.release);
        this.#uploads.set(message.id, upload);
        this.#writes.set(message.id, new WritePool());
        this.#send({ type: 'upload.ready', id: message.id, upload: upload.id });
        return;
      }
      case 'upload.offer': {
        const upload = this.#upload(message.id);
        await this.#writes.get(message.id)?.drain();
        const hashes = await this.repo.publisher.missing(this.caller, upload, message.hashes);
        this.#send({ type: 'upload.missing', id: message.id, hashes });
        return;
      }
      case 'upload.commit': {
        await this.#writes.get(message.id)?.drain();
        const published = await this.repo.publisher.commit(this.caller, this.#upload(message.id));
        this.#uploads.delete(message.id);
        this.#writes.delete(message.id);
        this.#send({ type: 'published', id: message.id, published });
        return;
      }
    }
  }

  #onHave(frame: Buffer): void {
    const { id, hashes } = parseHaveFrame(frame);
    this.#haveCount += hashes.length;
    if (this.#haveCount > MAX_HAVES) throw broken(`more than ${MAX_HAVES} haves pending`);
    const set = this.#haves.get(id) ?? new Set<string>();
    hashes.forEach((h) => set.add(h));
    this.#haves.set(id, set);
  }

  async #onUploadChunk(frame: Buffer): Promise<void> {
    const chunk = parseObjectFrame(frame);
    const upload = this.#upload(chunk.id);
    const deflated = this.#assembler.add(chunk);
    if (!deflated) return;
    // Checked here, so a bad object is answered at once; only the file write runs behind.
    decodeLoose(chunk.hash, deflated);
    await this.#writes
      .get(chunk.id)!
      .add(() => this.repo.publisher.stageVerified(upload, chunk.hash, deflated));
  }

  #upload(id: number): Upload {
    const upload = this.#uploads.get(id);
    if (!upload) throw new TetherError('invalid_request', `no upload ${id} on this connection`);
    return upload;
  }

  /** Every root must be visible; everything under a visible root is reachable from it. */
  async #fetch(id: number, roots: string[], have: Set<string>) {
    for (const root of roots) await this.repo.catalog.object(this.caller, root);
    const pack =
      roots.length === 1 && have.size === 0
        ? await this.repo.store.readReleasePack(roots[0])
        : null;
    if (pack) {
      for (const frame of packFrames(id, pack)) await this.#sendBinary(frame);
      this.log.debug({ id, root: roots[0], bytes: pack.length }, 'release pack served');
      return { objects: pack.readUInt32BE(8), bytes: pack.length };
    }
    let objects = 0;
    let bytes = 0;
    await walkObjects(this.repo.store, roots, async (hash, deflated) => {
      if (have.has(hash)) return;
      for (const frame of objectFrames(FRAME_OBJECT, id, hash, deflated))
        await this.#sendBinary(frame);
      objects += 1;
      bytes += deflated.length;
    });
    this.log.debug({ id, roots: roots.length, have: have.size, objects, bytes }, 'fetch served');
    return { objects, bytes };
  }

  async #sendBinary(frame: Buffer): Promise<void> {
    if (this.ws.readyState !== this.ws.OPEN) throw new TetherError('unavailable', 'socket closed');
    this.#unsent += frame.length;
    this.ws.send(frame, () => {
      this.#unsent -= frame.length;
      if (this.#unsent <= HIGH_WATER_BYTES) this.#drained.splice(0).forEach((wake) => wake());
    });
    if (this.#unsent > HIGH_WATER_BYTES) {
      await new Promise<void>((wake) => this.#drained.push(wake));
    }
  }

  #send(message: ServerMessage): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(JSON.stringify(message));
  }
}

function parseMessage(text: string): ClientMessage {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw broken('text frames are JSON');
  }
  const parsed = ClientMessage.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new TetherError(
      'invalid_request',
      `${issue.path.join('.') || 'message'}: ${issue.message}`,
    );
  }
  return parsed.data;
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
