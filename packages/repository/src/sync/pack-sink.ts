/**
 * A fetch target that writes what arrives as one git pack when the fetch ends, instead of a
 * file per object: for the CLI and mirrors that take a whole release at once. Objects are held
 * in memory until then, so it suits releases (at most MAX_RELEASE_BYTES), not whole mirrors.
 */
import { join } from 'node:path';
import type { GitObject } from '../objects/git-object.ts';
import type { ObjectStore } from '../objects/object-store.ts';
import {
  writePack,
  writePackFiles,
  type IndexEntry,
  type PackedEntry,
} from '../objects/pack-writer.ts';

export class PackSink {
  readonly #received = new Map<string, PackedEntry>();
  packHash: string | null = null;

  /** Reads of objects already held (for `have` trees) go to the store's loose objects. */
  constructor(private readonly store: ObjectStore) {}

  async putVerified(hash: string, _deflated: Buffer, object: GitObject): Promise<void> {
    this.#received.set(hash, { hash, type: object.type, content: object.content });
  }

  /** A checked pack is kept as it came, with an index made here. */
  async putPack(pack: Buffer, entries: readonly IndexEntry[]): Promise<void> {
    this.packHash = await writePackFiles(this.#packDir(), pack, entries);
  }

  async read(hash: string): Promise<GitObject | null> {
    return this.#received.get(hash) ?? this.store.objects.read(hash);
  }

  async finish(): Promise<void> {
    if (this.#received.size === 0) return;
    this.packHash = await writePack(this.#packDir(), [...this.#received.values()]);
    this.#received.clear();
  }

  #packDir(): string {
    return join(this.store.root, 'objects', 'pack');
  }
}
