/** Git's object framing (`<type> <size>\0<content>`, SHA-1), trees and annotated tags. */
import { createHash } from 'node:crypto';
import { TetherError } from '@tether/protocol';

export type ObjectType = 'blob' | 'tree' | 'tag';

/** A SHA-1 in git's lowercase hex: nothing else is ever used as a file name or a key. */
const HASH_SHAPE = /^[0-9a-f]{40}$/;
const HASH_BYTES = 20;
/** Tree entry modes git writes; symlinks and submodules have no place in a script. */
export const MODE_FILE = '100644';
export const MODE_EXECUTABLE = '100755';
export const MODE_TREE = '40000';
const MODES = new Set([MODE_FILE, MODE_EXECUTABLE, MODE_TREE]);
/** A header is `tree 1234567890\0`: longer than this it is not a header at all. */
const MAX_HEADER_BYTES = 32;

export interface GitObject {
  type: ObjectType;
  content: Buffer;
}

export interface TreeEntry {
  mode: string;
  name: string;
  hash: string;
}

export interface TagFields {
  object: string;
  type: ObjectType | 'commit';
  tag: string;
  tagger: string;
  message: string;
}

export function isHash(value: unknown): value is string {
  return typeof value === 'string' && HASH_SHAPE.test(value);
}

/** Refuses anything that is not 40 lowercase hex digits, before it reaches a path or a query. */
export function assertHash(value: unknown, what = 'hash'): string {
  if (!isHash(value)) {
    throw new TetherError('invalid_request', `${what} must be 40 lowercase hex digits`);
  }
  return value;
}

/** The bytes git hashes and stores: header, NUL, content. */
export function frame(type: ObjectType, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${type} ${content.length}\0`, 'latin1'), content]);
}

export function hashFramed(framed: Buffer): string {
  return createHash('sha1').update(framed).digest('hex');
}

export function hashObject(type: ObjectType, content: Buffer): string {
  return hashFramed(frame(type, content));
}

/** Splits framed bytes into type and content, checking that the header tells the truth. */
export function unframe(framed: Buffer): GitObject {
  const nul = framed.indexOf(0, 0);
  if (nul < 0 || nul > MAX_HEADER_BYTES) throw malformed('no object header');
  const header = framed.subarray(0, nul).toString('latin1');
  const match = /^(blob|tree|tag) (0|[1-9][0-9]*)$/.exec(header);
  if (!match) throw malformed(`unknown object header "${header.slice(0, 20)}"`);
  const content = framed.subarray(nul + 1);
  if (Number(match[2]) !== content.length) throw malformed('object size does not match header');
  return { type: match[1] as ObjectType, content };
}

/** Git sorts tree entries by name, comparing a folder's name as if it ended in `/`. */
export function encodeTree(entries: readonly TreeEntry[]): Buffer {
  const sorted = [...entries].sort((a, b) => Buffer.compare(sortKey(a), sortKey(b)));
  const parts: Buffer[] = [];
  for (const entry of sorted) {
    assertEntry(entry);
    parts.push(Buffer.from(`${entry.mode} ${entry.name}\0`, 'utf8'));
    parts.push(Buffer.from(entry.hash, 'hex'));
  }
  return Buffer.concat(parts);
}

export function parseTree(content: Buffer): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let at = 0;
  while (at < content.length) {
    const space = content.indexOf(0x20, at);
    const nul = space < 0 ? -1 : content.indexOf(0, space);
    if (space < 0 || nul < 0 || nul + 1 + HASH_BYTES > content.length) {
      throw malformed('truncated tree entry');
    }
    const entry = {
      mode: content.subarray(at, space).toString('latin1'),
      name: content.subarray(space + 1, nul).toString('utf8'),
      hash: content.subarray(nul + 1, nul + 1 + HASH_BYTES).toString('hex'),
    };
    assertEntry(entry);
    const previous = entries.at(-1);
    if (previous && Buffer.compare(sortKey(previous), sortKey(entry)) >= 0) {
      throw malformed('tree entries out of order or repeated');
    }
    entries.push(entry);
    at = nul + 1 + HASH_BYTES;
  }
  return entries;
}

/** An annotated tag as git writes it; `message` ends with a newline. */
export function encodeTag(fields: TagFields): Buffer {
  for (const value of [fields.tag, fields.tagger]) {
    if (/[\n\0]/.test(value)) throw malformed('tag header fields are single lines');
  }
  const head =
    `object ${assertHash(fields.object, 'tagged object')}\n` +
    `type ${fields.type}\n` +
    `tag ${fields.tag}\n` +
    `tagger ${fields.tagger}\n\n`;
  return Buffer.from(head + fields.message, 'utf8');
}

export function parseTag(content: Buffer): TagFields {
  const text = content.toString('utf8');
  const blank = text.indexOf('\n\n');
  if (blank < 0) throw malformed('tag has no message');
  const headers = new Map<string, string>();
  for (const line of text.slice(0, blank).split('\n')) {
    const space = line.indexOf(' ');
    if (space < 0 || headers.has(line.slice(0, space))) throw malformed('bad tag header');
    headers.set(line.slice(0, space), line.slice(space + 1));
  }
  const type = headers.get('type');
  if (type !== 'tree' && type !== 'blob' && type !== 'tag' && type !== 'commit') {
    throw malformed('tag names an unknown object type');
  }
  const object = headers.get('object');
  if (!isHash(object)) throw malformed('tag names no object');
  return {
    object,
    type,
    tag: headers.get('tag') ?? '',
    tagger: headers.get('tagger') ?? '',
    message: text.slice(blank + 2),
  };
}

/** Where an entry points: a folder is a tree, anything else a blob. */
export function entryType(entry: TreeEntry): ObjectType {
  return entry.mode === MODE_TREE ? 'tree' : 'blob';
}

function assertEntry(entry: TreeEntry): void {
  if (!MODES.has(entry.mode)) throw malformed(`tree entry mode ${entry.mode} is not allowed`);
  if (!isHash(entry.hash)) throw malformed('tree entry hash is malformed');
  if (!isSafeName(entry.name)) throw malformed(`tree entry name "${entry.name}" is not allowed`);
}

/** One path segment: no separators, no `.`/`..`, no NUL or control characters. */
export function isSafeName(name: string): boolean {
  return (
    name.length > 0 &&
    name.length <= 255 &&
    name !== '.' &&
    name !== '..' &&
    name !== '.git' &&
    !/[/\\\u0000-\u001f\u007f]/.test(name)
  );
}

function sortKey(entry: TreeEntry): Buffer {
  return Buffer.from(entry.mode === MODE_TREE ? `${entry.name}/` : entry.name, 'utf8');
}

function malformed(detail: string): TetherError {
  return new TetherError('invalid_request', `malformed object: ${detail}`);
}
