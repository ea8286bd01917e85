/**
 * Writes objects as one git pack (version 2, whole objects, no deltas) with its version 2
 * index, so a fetch lands as two files instead of one file per object, and git reads both.
 * Formats: git's Documentation/gitformat-pack.txt.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import type { GitObject, ObjectType } from './git-object.ts';

const PACK_TYPE: Record<ObjectType, number> = { tree: 2, blob: 3, tag: 4 };
const IDX_MAGIC = Buffer.from([0xff, 0x74, 0x4f, 0x63]);
const VERSION = 2;
/** Version 2 indexes hold 31-bit offsets directly; past that they need a second table. */
const MAX_SMALL_OFFSET = 0x7fff_ffff;
const DEFLATE_LEVEL = 1;

export interface PackedEntry extends GitObject {
  hash: string;
}

/** Writes `pack-<sha>.pack` then `.idx` into `packDir`; returns the pack's SHA-1. */
export async function writePack(packDir: string, objects: readonly PackedEntry[]): Promise<string> {
  const { pack, entries } = buildPack(objects);
  return writePackFiles(packDir, pack, entries);
}

export interface IndexEntry {
  hash: string;
  offset: number;
  crc: number;
}

/** A pack's bytes (header, entries, SHA-1 trailer) and where each object starts. */
export function buildPack(objects: readonly PackedEntry[]): {
  pack: Buffer;
  entries: IndexEntry[];
} {
  const header = Buffer.alloc(12);
  header.write('PACK', 0, 'latin1');
  header.writeUInt32BE(VERSION, 4);
  header.writeUInt32BE(objects.length, 8);
  const parts: Buffer[] = [header];
  const entries: IndexEntry[] = [];
  let offset = header.length;
  for (const object of objects) {
    const entry = Buffer.concat([
      entryHeader(PACK_TYPE[object.type], object.content.length),
      deflateSync(object.content, { level: DEFLATE_LEVEL }),
    ]);
    if (offset > MAX_SMALL_OFFSET) throw new Error('pack too large for a small index');
    entries.push({ hash: object.hash, offset, crc: crc32(entry) });
    parts.push(entry);
    offset += entry.length;
  }
  const body = Buffer.concat(parts);
  return { pack: Buffer.concat([body, createHash('sha1').update(body).digest()]), entries };
}

/** Writes a verified pack and the index of `entries` where git looks for them. */
export async function writePackFiles(
  packDir: string,
  pack: Buffer,
  entries: readonly IndexEntry[],
): Promise<string> {
  const packHash = pack.subarray(pack.length - 20);
  const index = buildIndex(entries, packHash);
  await mkdir(packDir, { recursive: true });
  const name = `pack-${packHash.toString('hex')}`;
  // The index last: git takes a pack as present once its .idx exists.
  await writeAtomically(join(packDir, `${name}.pack`), pack);
  await writeAtomically(join(packDir, `${name}.idx`), index);
  return packHash.toString('hex');
}

/** Type in bits 4–6 of the first byte with the size's low 4 bits, then 7 bits a byte. */
function entryHeader(type: number, size: number): Buffer {
  const bytes: number[] = [];
  let byte = (type << 4) | (size & 0x0f);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    bytes.push(byte | 0x80);
    byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  bytes.push(byte);
  return Buffer.from(bytes);
}

function buildIndex(entries: readonly IndexEntry[], packHash: Buffer): Buffer {
  const sorted = [...entries].sort((a, b) => (a.hash < b.hash ? -1 : 1));
  const fanout = Buffer.alloc(256 * 4);
  const counts = new Array<number>(256).fill(0);
  for (const entry of sorted) counts[parseInt(entry.hash.slice(0, 2), 16)] += 1;
  let total = 0;
  for (let i = 0; i < 256; i++) {
    total += counts[i];
    fanout.writeUInt32BE(total, i * 4);
  }
  const names = Buffer.concat(sorted.map((entry) => Buffer.from(entry.hash, 'hex')));
  const crcTable = Buffer.alloc(sorted.length * 4);
  const offsetTable = Buffer.alloc(sorted.length * 4);
  sorted.forEach((entry, at) => {
    crcTable.writeUInt32BE(entry.crc, at * 4);
    offsetTable.writeUInt32BE(entry.offset, at * 4);
  });
  const version = Buffer.alloc(4);
  version.writeUInt32BE(VERSION);
  const body = Buffer.concat([IDX_MAGIC, version, fanout, names, crcTable, offsetTable, packHash]);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

async function writeAtomically(path: string, data: Buffer): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(temp, data, { mode: 0o444 });
  await rename(temp, path);
}
