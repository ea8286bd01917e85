/** Loose git objects on disk (`objects/xx/yyyy…`, zlib), verified on every write. */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import {
  access,
  link,
  mkdir,
  readFile,
  readdir,
  rename,
  rm,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync, inflateSync } from 'node:zlib';
import { TetherError } from '@tether/protocol';
import {
  assertHash,
  frame,
  hashFramed,
  unframe,
  type GitObject,
  type ObjectType,
} from './git-object.ts';
import { FILE_CONCURRENCY, mapLimit } from '../concurrency.ts';
import { buildPack, type PackedEntry } from './pack-writer.ts';

/**
 * The largest object, inflated, that the repository takes. Scripts are text; 8 MiB leaves room
 * for a bundled library or a data file while keeping one object's inflation cheap to bound.
 */
export const MAX_OBJECT_BYTES = 8 * 1024 * 1024;
/**
 * The repository keeps this much of recently read objects in memory: many agents fetch the
 * same few releases, and a read from memory spares a file open per object.
 */
const HOT_OBJECT_BYTES = 64 * 1024 * 1024;
/** Speed over size: objects are small, and level 1 deflates several times faster than 6. */
const DEFLATE_LEVEL = 1;

/** One folder of loose objects: the repository's own, or one upload's staging area. */
export class LooseObjects {
  /** Fan-out folders known to exist, so each write skips its mkdir. */
  readonly #dirs = new Set<string>();
  /** Recently read objects' zlib bytes, most recent last; objects never change under a hash. */
  readonly #hot = new Map<string, Buffer>();
  #hotBytes = 0;

  /** `hotBytes` keeps that much of what was read in memory (the repository's own objects). */
  constructor(
    readonly dir: string,
    private readonly hotLimit = 0,
  ) {}

  pathOf(hash: string): string {
    assertHash(hash);
    return join(this.dir, hash.slice(0, 2), hash.slice(2));
  }

  async has(hash: string): Promise<boolean> {
    const path = this.pathOf(hash);
    try {
      await access(path, fsConstants.F_OK);
      return true;
    } catch {
      // Absent (ENOENT) is the expected answer; anything else surfaces on the read that follows.
      return false;
    }
  }

  /** The stored zlib bytes, as git keeps them; null when absent. */
  async readDeflated(hash: string): Promise<Buffer | null> {
    const hot = this.#hot.get(hash);
    if (hot) {
      this.#hot.delete(hash);
      this.#hot.set(hash, hot);
      return hot;
    }
    let deflated: Buffer;
    try {
      deflated = await readFile(this.pathOf(hash));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    this.#remember(hash, deflated);
    return deflated;
  }

  /** Drops a hash from memory (its file was removed on purpose). */
  evict(hash: string): void {
    const held = this.#hot.get(hash);
    if (held) this.#hotBytes -= held.length;
    this.#hot.delete(hash);
  }

  #remember(hash: string, deflated: Buffer): void {
    if (this.hotLimit === 0 || deflated.length > this.hotLimit / 16) return;
    this.#hot.set(hash, deflated);
    this.#hotBytes += deflated.length;
    for (const [oldest, bytes] of this.#hot) {
      if (this.#hotBytes <= this.hotLimit) break;
      this.#hot.delete(oldest);
      this.#hotBytes -= bytes.length;
    }
  }

  async read(hash: string): Promise<GitObject | null> {
    const deflated = await this.readDeflated(hash);
    return deflated === null ? null : decodeLoose(hash, deflated);
  }

  /** Frames, hashes, deflates and stores `content`; returns its hash. */
  async put(type: ObjectType, content: Buffer): Promise<string> {
    if (content.length > MAX_OBJECT_BYTES) throw tooLarge(content.length);
    const framed = frame(type, content);
    const hash = hashFramed(framed);
    if (!(await this.has(hash)))
      await this.#write(hash, deflateSync(framed, { level: DEFLATE_LEVEL }));
    return hash;
  }

  /**
   * Stores zlib bytes received from someone else after checking that they inflate within the
   * limit, to exactly one object, whose hash is `hash`. Returns the decoded object.
   */
  async putDeflated(hash: string, deflated: Buffer): Promise<GitObject> {
    const object = decodeLoose(hash, deflated);
    await this.#write(hash, deflated);
    return object;
  }

  /** Stores zlib bytes the caller has already decoded and checked with `decodeLoose`. */
  async putVerified(hash: string, deflated: Buffer): Promise<void> {
    await this.#write(hash, deflated);
  }

  async *hashes(): AsyncGenerator<string> {
    for (const prefix of await readdirOrEmpty(this.dir)) {
      if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
      for (const rest of await readdirOrEmpty(join(this.dir, prefix))) {
        if (/^[0-9a-f]{38}$/.test(rest)) yield prefix + rest;
      }
    }
  }

  /**
   * Write then rename: a reader never sees half an object, a crash leaves only a temp file.
   * Renaming over an object already there replaces it with the same bytes.
   */
  async #write(hash: string, deflated: Buffer): Promise<void> {
    const path = this.pathOf(hash);
    const fanout = hash.slice(0, 2);
    if (!this.#dirs.has(fanout)) {
      await mkdir(join(this.dir, fanout), { recursive: true });
      this.#dirs.add(fanout);
    }
    const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temp, deflated, { mode: 0o444 });
    await rename(temp, path);
  }
}

/** The repository's objects plus the staging areas of uploads in progress. */
export class ObjectStore {
  readonly objects: LooseObjects;
  readonly #stagingRoot: string;

  /** `root` is `<data>/repository`; objects live in `root/objects` as in a bare git repo. */
  constructor(readonly root: string) {
    this.objects = new LooseObjects(join(root, 'objects'), HOT_OBJECT_BYTES);
    this.#stagingRoot = join(root, 'staging');
  }

  /** Makes the folder a bare git repository too, so `git --git-dir=ROOT cat-file` reads it. */
  async init(): Promise<void> {
    await mkdir(join(this.root, 'objects'), { recursive: true, mode: 0o700 });
    await mkdir(join(this.root, 'refs'), { recursive: true });
    await mkdir(this.#stagingRoot, { recursive: true });
    await writeIfAbsent(join(this.root, 'HEAD'), 'ref: refs/heads/main\n');
    await writeIfAbsent(
      join(this.root, 'config'),
      '[core]\n\trepositoryformatversion = 0\n\tbare = true\n',
    );
  }

  /**
   * Keeps a release's objects also as one pack, named by its tag, outside git's objects folder.
   * A fetch of the whole release streams it as it is: one file read, no per-object work.
   */
  async writeReleasePack(tag: string, objects: readonly PackedEntry[]): Promise<void> {
    const path = this.releasePackPath(tag);
    if (await exists(path)) return;
    const { pack } = buildPack(objects);
    await mkdir(join(this.root, 'releases'), { recursive: true });
    const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    await writeFile(temp, pack, { mode: 0o444 });
    await rename(temp, path);
  }

  releasePackPath(tag: string): string {
    return join(this.root, 'releases', `${assertHash(tag)}.pack`);
  }

  /** The release pack's bytes, or null for a release published before packs were kept. */
  async readReleasePack(tag: string): Promise<Buffer | null> {
    try {
      return await readFile(this.releasePackPath(tag));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
  }

  staging(uploadId: string): LooseObjects {
    if (!/^[0-9a-f]{16,64}$/.test(uploadId))
      throw new TetherError('invalid_request', 'bad upload id');
    return new LooseObjects(join(this.#stagingRoot, uploadId));
  }

  /** Reads from a staging area first (a new release's objects are mostly there), then ours. */
  async readEither(hash: string, staged?: LooseObjects): Promise<GitObject | null> {
    return (staged ? await staged.read(hash) : null) ?? (await this.objects.read(hash));
  }

  /**
   * Moves staged objects into the repository. A hard link then unlink keeps an object that
   * another upload already promoted; either way each file appears whole.
   */
  async promote(staged: LooseObjects, hashes: readonly string[]): Promise<void> {
    const fanouts = [...new Set(hashes.map((h) => h.slice(0, 2)))];
    await mapLimit(fanouts, FILE_CONCURRENCY, (f) =>
      mkdir(join(this.objects.dir, f), { recursive: true }),
    );
    await mapLimit(hashes, FILE_CONCURRENCY, async (hash) => {
      try {
        await link(staged.pathOf(hash), this.objects.pathOf(hash));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // EEXIST: already in the repository (another release has it, or a retry promoted it);
        // ENOENT: not staged because the repository already held it.
        if (code !== 'EEXIST' && code !== 'ENOENT') throw error;
      }
    });
  }

  async discard(staged: LooseObjects): Promise<void> {
    await rm(staged.dir, { recursive: true, force: true });
  }

  /** Removes a file that may be absent; used by tests that damage objects on purpose. */
  async forget(hash: string): Promise<void> {
    this.objects.evict(hash);
    await unlink(this.objects.pathOf(hash)).catch(() => undefined);
  }
}

/** Inflates at most MAX_OBJECT_BYTES (a zip bomb stops there), then checks framing and hash. */
export function decodeLoose(hash: string, deflated: Buffer): GitObject {
  assertHash(hash);
  let inflated: { buffer: Buffer; engine: { bytesWritten: number } };
  try {
    inflated = inflateSync(deflated, {
      maxOutputLength: MAX_OBJECT_BYTES + 64,
      info: true,
    }) as unknown as typeof inflated;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      throw tooLarge(MAX_OBJECT_BYTES + 64, { cause: error });
    }
    throw new TetherError('invalid_request', `object ${hash} is not valid zlib data`, {
      cause: error,
    });
  }
  if (inflated.engine.bytesWritten !== deflated.length) {
    throw new TetherError('invalid_request', `object ${hash} has data after its zlib stream`);
  }
  const framed = inflated.buffer;
  if (hashFramed(framed) !== hash) {
    throw new TetherError('invalid_request', `object bytes do not match their hash ${hash}`);
  }
  const object = unframe(framed);
  if (object.content.length > MAX_OBJECT_BYTES) throw tooLarge(object.content.length);
  return object;
}

export function deflateObject(type: ObjectType, content: Buffer): Buffer {
  return deflateSync(frame(type, content), { level: DEFLATE_LEVEL });
}

function tooLarge(bytes: number, options?: { cause?: unknown }): TetherError {
  return new TetherError(
    'payload_too_large',
    `object inflates past the ${MAX_OBJECT_BYTES / 1024 / 1024} MiB limit (${bytes} bytes or more)`,
    options,
  );
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    // A folder not made yet holds nothing.
    return [];
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, fsConstants.F_OK);
    return true;
  } catch {
    // Absent is the answer; a real fault shows on the write that follows.
    return false;
  }
}

async function writeIfAbsent(path: string, text: string): Promise<void> {
  await writeFile(path, text, { flag: 'wx' }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EEXIST') throw error;
  });
}
