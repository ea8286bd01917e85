/** Reads a whole pack received from someone else: checksum, then every entry inflated and hashed. */
import { createHash } from 'node:crypto';
import { crc32, inflateSync } from 'node:zlib';
import { TetherError } from '@tether/protocol';
import { hashObject, type ObjectType } from './git-object.ts';
import { MAX_OBJECT_BYTES } from './object-store.ts';
import type { IndexEntry } from './pack-writer.ts';

const TYPES: Record<number, ObjectType> = { 2: 'tree', 3: 'blob', 4: 'tag' };
const TRAILER_BYTES = 20;

export interface ReadEntry extends IndexEntry {
  type: ObjectType;
  content: Buffer;
}

/**
 * Every object of `pack`, in order, each checked: whole objects only (a delta or a commit is
 * refused), sizes as declared, inflation bounded by MAX_OBJECT_BYTES, nothing after the last.
 */
export function readPack(pack: Buffer): ReadEntry[] {
  if (pack.length < 12 + TRAILER_BYTES || pack.toString('latin1', 0, 4) !== 'PACK') {
    throw bad('not a pack');
  }
  if (pack.readUInt32BE(4) !== 2) throw bad('only pack version 2 is read');
  const body = pack.subarray(0, pack.length - TRAILER_BYTES);
  const trailer = pack.subarray(pack.length - TRAILER_BYTES);
  if (!createHash('sha1').update(body).digest().equals(trailer)) throw bad('checksum mismatch');

  const count = pack.readUInt32BE(8);
  const entries: ReadEntry[] = [];
  let at = 12;
  for (let n = 0; n < count; n++) {
    const offset = at;
    let byte = body[at++];
    const type = TYPES[(byte >> 4) & 0x07];
    if (!type) throw bad('holds a delta or a commit, which a release never does');
    let size = byte & 0x0f;
    let shift = 4;
    while (byte & 0x80) {
      if (at >= body.length || shift > 35) throw bad('entry header runs past the end');
      byte = body[at++];
      size += (byte & 0x7f) * 2 ** shift;
      shift += 7;
    }
    if (size > MAX_OBJECT_BYTES) {
      throw new TetherError('payload_too_large', `a packed object is larger than allowed`);
    }
    let inflated: { buffer: Buffer; engine: { bytesWritten: number } };
    try {
      inflated = inflateSync(body.subarray(at), {
        info: true,
        maxOutputLength: MAX_OBJECT_BYTES + 1,
      }) as unknown as typeof inflated;
    } catch (error) {
      throw bad('entry is not valid zlib data', error);
    }
    if (inflated.buffer.length !== size) throw bad('entry size does not match its header');
    at += inflated.engine.bytesWritten;
    const content = inflated.buffer;
    entries.push({
      hash: hashObject(type, content),
      type,
      content,
      offset,
      crc: crc32(body.subarray(offset, at)),
    });
  }
  if (at !== body.length) throw bad('has data after its last entry');
  return entries;
}

function bad(detail: string, cause?: unknown): TetherError {
  return new TetherError(
    'invalid_request',
    `pack ${detail}`,
    cause === undefined ? undefined : { cause },
  );
}
