/**
 * The sync protocol on one WebSocket, subprotocol `tether-repo.v1`. Text frames are JSON
 * control messages with request ids; binary frames start with a kind byte and a request id:
 *
 *   [1 object][u32 id][20-byte hash][u8 last][zlib chunk]  server → client, answers a fetch
 *   [2 upload][u32 id][20-byte hash][u8 last][zlib chunk]  client → server, inside an upload
 *   [3 have]  [u32 id][20-byte hash]…                       client → server, before its fetch
 *   [4 pack]  [u32 id][u8 last][pack chunk]                 server → client, answers a fetch
 *
 * A fetch of a whole release (its tag as the one root, nothing in `have`) is answered with the
 * release's pack (git's pack format, whole objects) instead of object frames; the client checks
 * every entry the same way.
 * An object's zlib bytes (as stored on disk) may span frames; `last` is 1 on its final chunk.
 * A fetch is one request, "everything under these roots except what I have", answered as one
 * stream and a `fetch.done`: no round trip per tree level, and any number of `have` frames.
 */
import { z } from 'zod';
import { TetherError, type WireError } from '@tether/protocol';

export const SYNC_PATH = '/api/v1/repository/sync';
export const SYNC_PROTOCOL = 'tether-repo.v1';

export const FRAME_OBJECT = 1;
export const FRAME_UPLOAD = 2;
export const FRAME_HAVE = 3;
export const FRAME_PACK = 4;
const HEADER_BYTES = 1 + 4;
const HASH_BYTES = 20;
/** Endpoint sockets take 1 MiB messages; 256 KiB chunks stay well inside with headers. */
export const CHUNK_BYTES = 256 * 1024;
/** 20,000 hashes make a 400 KB `have` frame. */
export const HAVES_PER_FRAME = 20_000;
/** An offer's JSON holds 42 bytes a hash: 10,000 stay under half a MiB. */
export const OFFER_BATCH = 10_000;
/** The close code for a peer that broke the protocol (a bad frame, an unexpected object). */
export const CLOSE_PROTOCOL = 4400;

const hash = z.string().regex(/^[0-9a-f]{40}$/, 'hashes are 40 lowercase hex digits');
const id = z.number().int().min(0).max(0xffff_ffff);

export const ClientMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('fetch'), id, roots: z.array(hash).min(1).max(10_000) }),
  z.strictObject({
    type: z.literal('resolve'),
    id,
    name: z.string().max(214),
    range: z.string().max(256),
  }),
  z.strictObject({
    type: z.literal('upload.begin'),
    id,
    tag: hash,
    release: z.string().min(1).max(300),
  }),
  z.strictObject({ type: z.literal('upload.offer'), id, hashes: z.array(hash).max(OFFER_BATCH) }),
  z.strictObject({ type: z.literal('upload.commit'), id }),
]);
export type ClientMessage = z.infer<typeof ClientMessage>;

export type ServerMessage =
  | { type: 'fetch.done'; id: number; objects: number; bytes: number }
  | { type: 'resolved'; id: number; resolved: unknown }
  | { type: 'upload.ready'; id: number; upload: string }
  | { type: 'upload.missing'; id: number; hashes: string[] }
  | { type: 'published'; id: number; published: unknown }
  | { type: 'error'; id: number | null; error: WireError };

export interface ObjectChunk {
  kind: number;
  id: number;
  hash: string;
  last: boolean;
  chunk: Buffer;
}

/** Splits one object's zlib bytes into frames of at most CHUNK_BYTES. */
export function objectFrames(
  kind: number,
  requestId: number,
  objectHash: string,
  deflated: Buffer,
) {
  const frames: Buffer[] = [];
  const raw = Buffer.from(objectHash, 'hex');
  for (let at = 0; at === 0 || at < deflated.length; at += CHUNK_BYTES) {
    const chunk = deflated.subarray(at, at + CHUNK_BYTES);
    const last = at + CHUNK_BYTES >= deflated.length;
    const frame = Buffer.allocUnsafe(HEADER_BYTES + HASH_BYTES + 1 + chunk.length);
    frame[0] = kind;
    frame.writeUInt32BE(requestId, 1);
    raw.copy(frame, HEADER_BYTES);
    frame[HEADER_BYTES + HASH_BYTES] = last ? 1 : 0;
    chunk.copy(frame, HEADER_BYTES + HASH_BYTES + 1);
    frames.push(frame);
  }
  return frames;
}

export function packFrames(requestId: number, pack: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at < pack.length; at += CHUNK_BYTES) {
    const chunk = pack.subarray(at, at + CHUNK_BYTES);
    const frame = Buffer.allocUnsafe(HEADER_BYTES + 1 + chunk.length);
    frame[0] = FRAME_PACK;
    frame.writeUInt32BE(requestId, 1);
    frame[HEADER_BYTES] = at + CHUNK_BYTES >= pack.length ? 1 : 0;
    chunk.copy(frame, HEADER_BYTES + 1);
    frames.push(frame);
  }
  return frames;
}

export function parsePackFrame(frame: Buffer): { id: number; last: boolean; chunk: Buffer } {
  if (frame.length < HEADER_BYTES + 1 || frame[HEADER_BYTES] > 1) throw broken('bad pack frame');
  return {
    id: frame.readUInt32BE(1),
    last: frame[HEADER_BYTES] === 1,
    chunk: frame.subarray(HEADER_BYTES + 1),
  };
}

export function haveFrames(requestId: number, hashes: readonly string[]): Buffer[] {
  const frames: Buffer[] = [];
  for (let at = 0; at < hashes.length; at += HAVES_PER_FRAME) {
    const batch = hashes.slice(at, at + HAVES_PER_FRAME);
    const frame = Buffer.allocUnsafe(HEADER_BYTES + batch.length * HASH_BYTES);
    frame[0] = FRAME_HAVE;
    frame.writeUInt32BE(requestId, 1);
    batch.forEach((h, i) => frame.write(h, HEADER_BYTES + i * HASH_BYTES, 'hex'));
    frames.push(frame);
  }
  return frames;
}

export function parseObjectFrame(frame: Buffer): ObjectChunk {
  if (frame.length < HEADER_BYTES + HASH_BYTES + 1) throw broken('object frame too short');
  const last = frame[HEADER_BYTES + HASH_BYTES];
  if (last > 1) throw broken('object frame flag must be 0 or 1');
  return {
    kind: frame[0],
    id: frame.readUInt32BE(1),
    hash: frame.subarray(HEADER_BYTES, HEADER_BYTES + HASH_BYTES).toString('hex'),
    last: last === 1,
    chunk: frame.subarray(HEADER_BYTES + HASH_BYTES + 1),
  };
}

export function parseHaveFrame(frame: Buffer): { id: number; hashes: string[] } {
  const body = frame.length - HEADER_BYTES;
  if (body < 0 || body % HASH_BYTES !== 0) throw broken('have frame is not whole hashes');
  const hashes: string[] = [];
  for (let at = HEADER_BYTES; at < frame.length; at += HASH_BYTES) {
    hashes.push(frame.subarray(at, at + HASH_BYTES).toString('hex'));
  }
  return { id: frame.readUInt32BE(1), hashes };
}

export function broken(message: string): TetherError {
  return new TetherError('invalid_request', `sync protocol: ${message}`);
}

/** Collects an object's chunks; refuses one that grows past `limit` bytes of zlib data. */
export class ChunkAssembler {
  readonly #parts = new Map<string, Buffer[]>();
  readonly #sizes = new Map<string, number>();

  constructor(private readonly limit: number) {}

  /** Returns the whole zlib bytes when `chunk` was the last one, else null. */
  add(chunk: ObjectChunk): Buffer | null {
    const key = `${chunk.id}:${chunk.hash}`;
    const size = (this.#sizes.get(key) ?? 0) + chunk.chunk.length;
    if (size > this.limit) {
      throw new TetherError('payload_too_large', `object ${chunk.hash} is larger than allowed`);
    }
    const parts = this.#parts.get(key) ?? [];
    parts.push(chunk.chunk);
    if (!chunk.last) {
      this.#parts.set(key, parts);
      this.#sizes.set(key, size);
      return null;
    }
    this.#parts.delete(key);
    this.#sizes.delete(key);
    return parts.length === 1 ? parts[0] : Buffer.concat(parts);
  }
}
