/**
 * Paths as the files API takes and gives them: raw bytes inside, text for people outside,
 * with base64 alongside whenever the bytes are not UTF-8. Bad paths are refused here with a
 * clear message, before anything reaches an agent (which checks again).
 */
import { posix } from 'node:path';
import { FILE_PATH_MAX_BYTES, TetherError } from '@tether/protocol';

const SLASH = 0x2f;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lossyUtf8 = new TextDecoder('utf-8');

/** The raw path a request names with `path` or `pathB64`, normalized and checked. */
export function pathFrom(text: string | undefined, b64: string | undefined, what = 'path'): Buffer {
  if ((text === undefined) === (b64 === undefined))
    throw new TetherError('invalid_request', `give ${what} or ${what}B64`);
  const raw = text !== undefined ? Buffer.from(text, 'utf8') : decodeBase64(b64!, what);
  return checkPath(raw, what);
}

export function checkPath(raw: Buffer, what = 'path'): Buffer {
  if (raw.length === 0 || raw[0] !== SLASH)
    throw new TetherError('invalid_request', `${what} must be absolute (start with /)`);
  if (raw.includes(0)) throw new TetherError('invalid_request', `${what} must not hold NUL bytes`);
  if (raw.length > FILE_PATH_MAX_BYTES)
    throw new TetherError('invalid_request', `${what} is longer than ${FILE_PATH_MAX_BYTES} bytes`);
  const text = raw.toString('latin1');
  if (text.split('/').includes('..'))
    throw new TetherError('invalid_request', `${what} must not hold .. segments`);
  // latin1 maps each byte to one character and back, so posix path rules apply to raw bytes.
  return Buffer.from(posix.normalize(text).replace(/(.)\/+$/, '$1'), 'latin1');
}

/** `{path}` for UTF-8 bytes, `{path, pathB64}` otherwise (`path` then shows U+FFFD). */
export function shown(raw: Buffer): { path: string; pathB64?: string } {
  const text = utf8(raw);
  return text === null
    ? { path: lossyUtf8.decode(raw), pathB64: raw.toString('base64') }
    : { path: text };
}

export function shownName(raw: Buffer): { name: string; nameB64?: string } {
  const text = utf8(raw);
  return text === null
    ? { name: lossyUtf8.decode(raw), nameB64: raw.toString('base64') }
    : { name: text };
}

/** Text for logs, audit params and messages: lossy, never used to find a file again. */
export function display(raw: Buffer): string {
  return lossyUtf8.decode(raw);
}

export function utf8(raw: Buffer): string | null {
  try {
    return strictUtf8.decode(raw);
  } catch {
    return null;
  }
}

export function parentOf(path: Buffer): Buffer {
  const slash = path.lastIndexOf(SLASH);
  return slash <= 0 ? Buffer.from('/') : path.subarray(0, slash);
}

export function baseName(path: Buffer): Buffer {
  return path.subarray(path.lastIndexOf(SLASH) + 1);
}

export function joinPath(parent: Buffer, name: Buffer): Buffer {
  if (parent.length === 1 && parent[0] === SLASH) return Buffer.concat([parent, name]);
  return Buffer.concat([parent, Buffer.from('/'), name]);
}

function decodeBase64(b64: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64) || b64.length % 4 !== 0)
    throw new TetherError('invalid_request', `${what}B64 is not base64`);
  return Buffer.from(b64, 'base64');
}
