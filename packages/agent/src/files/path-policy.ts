/**
 * Which paths one file session may reach: allowed folders, denied folders, read-only. Paths
 * are raw bytes; every check is on a path with its symlinks already resolved.
 */
import { realpath } from 'node:fs/promises';
import { posix } from 'node:path';
import type { SftpPolicy } from '@tether/protocol/sftp';

/** The longest path Linux accepts (PATH_MAX, including the final NUL). */
export const PATH_MAX_BYTES = 4095;
/** A policy names at most this many folders in each list (the endpoint allows 100). */
const MAX_LIST = 200;
const SLASH = 0x2f;

export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

export class PathPolicy {
  private constructor(
    private readonly allow: Buffer[],
    private readonly deny: Buffer[],
    readonly readOnly: boolean,
    readonly sessionId: string,
  ) {}

  /**
   * Reads the policy the endpoint sent. Each listed folder counts both as written and as it
   * resolves now, so a listed symlink covers the folder it points to and the link itself.
   */
  static async parse(json: string): Promise<PathPolicy> {
    let wire: SftpPolicy;
    try {
      wire = JSON.parse(json) as SftpPolicy;
    } catch {
      throw new PolicyError('policy is not JSON');
    }
    const list = async (value: unknown): Promise<Buffer[]> => {
      if (!Array.isArray(value) || value.length > MAX_LIST)
        throw new PolicyError('policy lists must be arrays of at most 200 paths');
      const paths: Buffer[] = [];
      for (const item of value) {
        if (typeof item !== 'string') throw new PolicyError('policy paths must be base64');
        const path = normalize(Buffer.from(item, 'base64'));
        if (!path) throw new PolicyError('policy paths must be absolute, without NUL or ..');
        paths.push(path);
        const resolved = await realpath(path, { encoding: 'buffer' }).catch(() => null);
        if (resolved && !resolved.equals(path)) paths.push(resolved);
      }
      return paths;
    };
    if (typeof wire !== 'object' || wire === null) throw new PolicyError('policy is not an object');
    const sessionId = typeof wire.sessionId === 'string' ? wire.sessionId.slice(0, 64) : '';
    return new PathPolicy(
      await list(wire.allow),
      await list(wire.deny),
      wire.readOnly !== false,
      sessionId,
    );
  }

  /** Whether a resolved path is inside an allowed folder (or no list) and outside every denied one. */
  allows(real: Buffer): boolean {
    if (this.deny.some((root) => isUnder(real, root))) return false;
    return this.allow.length === 0 || this.allow.some((root) => isUnder(real, root));
  }

  /** The first allowed folder, where a relative path starts; `/` without a list. */
  get home(): Buffer {
    return this.allow[0] ?? Buffer.from('/');
  }
}

/** `path` equals `root` or lies below it. */
export function isUnder(path: Buffer, root: Buffer): boolean {
  if (root.length === 1 && root[0] === SLASH) return true;
  if (path.length < root.length) return false;
  if (path.compare(root, 0, root.length, 0, root.length) !== 0) return false;
  return path.length === root.length || path[root.length] === SLASH;
}

/**
 * An absolute path with `.` segments and repeated slashes removed, or null when it is not
 * absolute, holds a NUL byte or a `..` segment, or is longer than Linux allows. Bytes are
 * carried as latin1, which maps each byte to one character and back unchanged.
 */
export function normalize(path: Buffer): Buffer | null {
  if (path.length === 0 || path.length > PATH_MAX_BYTES || path[0] !== SLASH) return null;
  if (path.includes(0)) return null;
  const text = path.toString('latin1');
  if (text.split('/').includes('..')) return null;
  return Buffer.from(posix.normalize(text).replace(/\/+$/, '') || '/', 'latin1');
}

/** Folder and last name of a normalized path; the root has no parent. */
export function splitPath(path: Buffer): { parent: Buffer; name: Buffer } | null {
  const slash = path.lastIndexOf(SLASH);
  if (path.length === 1) return null;
  return {
    parent: slash === 0 ? Buffer.from('/') : path.subarray(0, slash),
    name: path.subarray(slash + 1),
  };
}

export function joinPath(parent: Buffer, name: Buffer): Buffer {
  if (parent.length === 1 && parent[0] === SLASH) return Buffer.concat([parent, name]);
  return Buffer.concat([parent, Buffer.from('/'), name]);
}
