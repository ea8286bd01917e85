/** The sync protocol's client: for the CLI, the endpoint's proxy, mirrors and (later) agents. */
import WebSocket from 'ws';
import { TetherError, type WireError } from '@tether/protocol';
import {
  entryType,
  parseTag,
  parseTree,
  type GitObject,
  type ObjectType,
} from '../objects/git-object.ts';
import { decodeLoose, deflateObject, MAX_OBJECT_BYTES } from '../objects/object-store.ts';
import type { SignedPack } from '../pack.ts';
import { WritePool } from '../concurrency.ts';
import { readPack } from '../objects/pack-reader.ts';
import type { IndexEntry } from '../objects/pack-writer.ts';
import { MAX_RELEASE_BYTES } from '../release-graph.ts';
import type { Published } from '../publish.ts';
import type { Resolved } from '../catalog.ts';
import {
  ChunkAssembler,
  FRAME_OBJECT,
  FRAME_PACK,
  FRAME_UPLOAD,
  haveFrames,
  objectFrames,
  OFFER_BATCH,
  parseObjectFrame,
  parsePackFrame,
  SYNC_PATH,
  SYNC_PROTOCOL,
  type ServerMessage,
} from './protocol.ts';

const HANDSHAKE_TIMEOUT_MS = 30_000;
/** Sending waits past this many unsent bytes, so a large publish does not sit in memory. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;

export interface FetchResult {
  /** Objects received (those the server sent; `have` ones were not). */
  objects: number;
  bytes: number;
}

/** Where a fetch puts what it receives: loose objects, or a PackSink. */
export interface ObjectSink {
  /** Called once per object, after its bytes were checked against its hash. */
  putVerified(hash: string, deflated: Buffer, object: GitObject): Promise<void>;
  /** Objects named in `have` are read from here, to know what they reach. */
  read(hash: string): Promise<GitObject | null>;
  /** Takes a whole checked pack at once, if the sink can keep it as it is. */
  putPack?(pack: Buffer, entries: readonly IndexEntry[]): Promise<void>;
  /** Called when every object has arrived. */
  finish?(): Promise<void>;
}

export interface FetchOptions {
  /** Where received objects go, verified; `have` objects are read from here to walk them. */
  into: ObjectSink;
  /** Objects the client already holds in `into`; any number. Defaults to none. */
  have?: Iterable<string>;
  onObject?: (received: number) => void;
}

type Waiter = { resolve(message: ServerMessage): void; reject(error: Error): void };

interface Request {
  inbox: ServerMessage[];
  waiters: Waiter[];
  error?: Error;
  onChunk?: (frame: Buffer) => void;
}

export class SyncClient {
  readonly #ws: WebSocket;
  readonly #requests = new Map<number, Request>();
  #nextId = 1;
  #closed: Error | null = null;
  #unsent = 0;
  #drained: Array<() => void> = [];

  private constructor(ws: WebSocket) {
    this.#ws = ws;
    ws.on('message', (data, isBinary) => this.#onFrame(data as Buffer, isBinary));
    ws.on('close', (code, reason) => {
      const error = new TetherError(
        'unavailable',
        `the repository closed the sync connection (${code}${reason.length ? ` ${reason}` : ''})`,
      );
      this.#closed = error;
      for (const request of this.#requests.values()) this.#fail(request, error);
      this.#drained.splice(0).forEach((wake) => wake());
    });
    ws.on('error', () => {
      // The close event follows and fails every request with one message.
    });
  }

  /** Opens `<baseUrl>/api/v1/repository/sync`; `headers` carry the caller's credentials. */
  static connect(baseUrl: string, headers: Record<string, string> = {}): Promise<SyncClient> {
    const url = `${baseUrl.replace(/^http/, 'ws').replace(/\/$/, '')}${SYNC_PATH}`;
    const ws = new WebSocket(url, SYNC_PROTOCOL, {
      headers,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      perMessageDeflate: false,
      maxPayload: 2 * 1024 * 1024,
    });
    return new Promise((resolve, reject) => {
      ws.once('open', () => {
        ws.removeAllListeners('error');
        ws.removeAllListeners('unexpected-response');
        resolve(new SyncClient(ws));
      });
      ws.once('unexpected-response', (_req, response) => {
        let body = '';
        response.on('data', (d: Buffer) => (body += d.toString('utf8').slice(0, 4096)));
        response.on('end', () => {
          ws.on('error', () => undefined);
          ws.terminate();
          reject(refusal(response.statusCode ?? 0, body));
        });
      });
      ws.once('error', (error) =>
        reject(
          new TetherError('unavailable', `cannot reach ${url}: ${error.message}`, { cause: error }),
        ),
      );
    });
  }

  /** `name@range` to an exact version with its tree, tag and lock. */
  async resolve(name: string, range: string): Promise<Resolved> {
    const id = this.#open();
    this.#sendJson({ type: 'resolve', id, name, range });
    try {
      return ((await this.#next(id, 'resolved')) as { resolved: Resolved }).resolved;
    } finally {
      this.#requests.delete(id);
    }
  }

  /**
   * Everything under `roots` that `have` lacks, in one request and one stream. Each object is
   * checked against its hash and against what the graph so far says may come, then stored.
   */
  async fetch(roots: readonly string[], options: FetchOptions): Promise<FetchResult> {
    const have = new Set(options.have ?? []);
    const expected = new Map<string, ObjectType | null>(roots.map((r) => [r, null]));
    const assembler = new ChunkAssembler(MAX_OBJECT_BYTES + 1024 * 1024);
    let received = 0;
    const got = new Set<string>();
    const writes = new WritePool();
    let chain: Promise<void> = Promise.resolve();
    let failure: Error | null = null;

    const expand = async (hash: string, type: ObjectType, content: Buffer): Promise<void> => {
      const children =
        type === 'tree'
          ? parseTree(content).map((e) => ({ hash: e.hash, type: entryType(e) }))
          : type === 'tag'
            ? [{ hash: parseTag(content).object, type: parseTag(content).type as ObjectType }]
            : [];
      for (const child of children) {
        if (expected.has(child.hash)) continue;
        expected.set(child.hash, child.type);
        if (have.has(child.hash) && child.type !== 'blob') await expandLocal(child.hash);
      }
    };
    const expandLocal = async (hash: string): Promise<void> => {
      const object = await options.into.read(hash);
      if (!object) throw new TetherError('invalid_request', `"have" names ${hash}, not held`);
      await expand(hash, object.type, object.content);
    };
    for (const root of roots) if (have.has(root)) await expandLocal(root);

    /** One object, checked against its hash and against what the graph so far says may come. */
    const accept = async (hash: string, object: GitObject): Promise<void> => {
      if (!expected.has(hash)) {
        throw new TetherError('invalid_request', 'the repository sent an object nobody asked for');
      }
      const type = expected.get(hash);
      if (type && type !== object.type) {
        throw new TetherError('invalid_request', `object ${hash} is not a ${type}`);
      }
      received += 1;
      got.add(hash);
      options.onObject?.(received);
      if (object.type !== 'blob') await expand(hash, object.type, object.content);
    };
    const packChunks: Buffer[] = [];
    let packBytes = 0;

    const id = this.#open((frame) => {
      if (frame[0] === FRAME_PACK) {
        const part = parsePackFrame(frame);
        packBytes += part.chunk.length;
        if (packBytes > MAX_RELEASE_BYTES)
          failure ??= new TetherError('payload_too_large', 'pack too large');
        else packChunks.push(part.chunk);
        return;
      }
      const chunk = parseObjectFrame(frame);
      const deflated = assembler.add(chunk);
      if (!deflated) return;
      chain = chain.then(async () => {
        if (failure) return;
        try {
          const object = decodeLoose(chunk.hash, deflated);
          await accept(chunk.hash, object);
          await writes.add(() => options.into.putVerified(chunk.hash, deflated, object));
        } catch (error) {
          failure = error as Error;
        }
      });
    });
    const takePack = async (): Promise<void> => {
      const pack = Buffer.concat(packChunks);
      const entries = readPack(pack);
      for (const entry of entries) await accept(entry.hash, entry);
      if (options.into.putPack) return options.into.putPack(pack, entries);
      for (const entry of entries) {
        const deflated = deflateObject(entry.type, entry.content);
        await writes.add(() => options.into.putVerified(entry.hash, deflated, entry));
      }
    };
    try {
      for (const frame of haveFrames(id, [...have])) await this.#sendBinary(frame);
      this.#sendJson({ type: 'fetch', id, roots: [...roots] });
      const done = (await this.#next(id, 'fetch.done')) as { objects: number; bytes: number };
      await chain;
      if (failure) throw failure;
      if (packChunks.length > 0) await takePack();
      await writes.drain();
      await options.into.finish?.();
      const absent = [...expected.keys()].filter((h) => !have.has(h) && !got.has(h));
      if (absent.length > 0) {
        throw new TetherError('internal', `the fetch ended without ${absent.length} objects`);
      }
      return { objects: received, bytes: done.bytes };
    } finally {
      this.#requests.delete(id);
    }
  }

  /** Uploads what the repository lacks, then commits; a retry resumes the same upload. */
  async publish(
    pack: SignedPack,
    onProgress?: (sent: number, total: number) => void,
  ): Promise<Published> {
    const id = this.#open();
    try {
      const release = `${pack.manifest.name}@${pack.manifest.version}`;
      this.#sendJson({ type: 'upload.begin', id, tag: pack.tag, release });
      await this.#next(id, 'upload.ready');
      const all = [...pack.objects.keys()];
      const missing: string[] = [];
      for (let at = 0; at < all.length; at += OFFER_BATCH) {
        this.#sendJson({ type: 'upload.offer', id, hashes: all.slice(at, at + OFFER_BATCH) });
        missing.push(...((await this.#next(id, 'upload.missing')) as { hashes: string[] }).hashes);
      }
      onProgress?.(0, missing.length);
      for (const [i, hash] of missing.entries()) {
        const object = pack.objects.get(hash);
        if (!object) throw new TetherError('internal', `the repository asked for ${hash}`);
        const deflated = deflateObject(object.type, object.content);
        for (const frame of objectFrames(FRAME_UPLOAD, id, hash, deflated)) {
          await this.#sendBinary(frame);
        }
        onProgress?.(i + 1, missing.length);
        this.#throwIfFailed(id);
      }
      this.#sendJson({ type: 'upload.commit', id });
      return ((await this.#next(id, 'published')) as { published: Published }).published;
    } finally {
      this.#requests.delete(id);
    }
  }

  async close(): Promise<void> {
    if (this.#ws.readyState === WebSocket.CLOSED) return;
    const closed = new Promise<void>((resolve) => this.#ws.once('close', () => resolve()));
    this.#ws.close(1000);
    await closed;
  }

  #open(onChunk?: (frame: Buffer) => void): number {
    if (this.#closed) throw this.#closed;
    const id = this.#nextId++;
    this.#requests.set(id, { inbox: [], waiters: [], onChunk });
    return id;
  }

  #next(id: number, type: ServerMessage['type']): Promise<ServerMessage> {
    const request = this.#requests.get(id)!;
    if (request.error) return Promise.reject(request.error);
    const queued = request.inbox.shift();
    if (queued) return Promise.resolve(check(queued, type));
    return new Promise((resolve, reject) => {
      request.waiters.push({ resolve: (m) => resolve(check(m, type)), reject });
    });
  }

  #throwIfFailed(id: number): void {
    const request = this.#requests.get(id);
    if (request?.error) throw request.error;
  }

  #onFrame(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      const known = data[0] === FRAME_OBJECT || data[0] === FRAME_PACK;
      if (data.length < 5 || !known) return this.#ws.close(4400, 'bad frame');
      this.#requests.get(data.readUInt32BE(1))?.onChunk?.(data);
      return;
    }
    let message: ServerMessage;
    try {
      message = JSON.parse(data.toString('utf8')) as ServerMessage;
    } catch {
      return this.#ws.close(4400, 'text frames are JSON');
    }
    const request = message.id === null ? undefined : this.#requests.get(message.id);
    if (!request) return;
    if (message.type === 'error') {
      this.#fail(request, TetherError.fromWire(message.error as WireError));
      return;
    }
    const waiter = request.waiters.shift();
    if (waiter) waiter.resolve(message);
    else request.inbox.push(message);
  }

  #fail(request: Request, error: Error): void {
    request.error ??= error;
    request.waiters.splice(0).forEach((w) => w.reject(error));
  }

  #sendJson(message: object): void {
    if (this.#closed) throw this.#closed;
    this.#ws.send(JSON.stringify(message));
  }

  async #sendBinary(frame: Buffer): Promise<void> {
    if (this.#closed) throw this.#closed;
    this.#unsent += frame.length;
    this.#ws.send(frame, () => {
      this.#unsent -= frame.length;
      if (this.#unsent <= HIGH_WATER_BYTES) this.#drained.splice(0).forEach((wake) => wake());
    });
    if (this.#unsent > HIGH_WATER_BYTES) await new Promise<void>((w) => this.#drained.push(w));
  }
}

function check(message: ServerMessage, type: ServerMessage['type']): ServerMessage {
  if (message.type !== type) {
    throw new TetherError('internal', `expected ${type} from the repository, got ${message.type}`);
  }
  return message;
}

function refusal(status: number, body: string): TetherError {
  try {
    const parsed = JSON.parse(body) as { error?: WireError };
    if (parsed.error?.code) return TetherError.fromWire(parsed.error);
  } catch {
    // Not our error shape: the status says enough.
  }
  return new TetherError('unavailable', `the repository refused the sync connection (${status})`);
}
