/** A release's whole graph, checked before it may exist: every object there, each of its type. */
import { TetherError } from '@tether/protocol';
import { FILE_CONCURRENCY, mapLimit } from './concurrency.ts';
import { canonicalManifest, MANIFEST_FILE, parseManifest, type Manifest } from './manifest.ts';
import { entryType, parseTree, type ObjectType } from './objects/git-object.ts';
import type { ObjectStore } from './objects/object-store.ts';
import type { PackedEntry } from './objects/pack-writer.ts';
import type { Upload } from './publish.ts';
import { parseReleaseTag, type ReleaseTag } from './release.ts';

/** One release holds at most this many objects and bytes: a script, not a disk image. */
export const MAX_RELEASE_OBJECTS = 50_000;
export const MAX_RELEASE_BYTES = 512 * 1024 * 1024;

export interface Graph {
  release: ReleaseTag;
  manifest: Manifest;
  hashes: string[];
  /** Every object, tag first and parents before children: the release's pack, in order. */
  objects: PackedEntry[];
  bytes: number;
}

/** Walks tag → tree → everything, from the repository or the staging area, checking types. */
export async function checkReleaseGraph(store: ObjectStore, upload: Upload): Promise<Graph> {
  const tagObject = await store.readEither(upload.tag, upload.staged);
  if (!tagObject) throw incomplete(1);
  if (tagObject.type !== 'tag') throw new TetherError('invalid_request', 'the upload is not a tag');
  const release = parseReleaseTag(tagObject.content);

  const hashes = [upload.tag];
  const packed: PackedEntry[] = [{ hash: upload.tag, ...tagObject }];
  let bytes = tagObject.content.length;
  let missing = 0;
  let manifestBlob: string | null = null;
  let level: Array<{ hash: string; type: ObjectType }> = [{ hash: release.tree, type: 'tree' }];
  const seen = new Set<string>([upload.tag]);
  while (level.length > 0) {
    level = level.filter((item) => !seen.has(item.hash) && seen.add(item.hash));
    hashes.push(...level.map((item) => item.hash));
    if (hashes.length > MAX_RELEASE_OBJECTS) {
      throw new TetherError(
        'payload_too_large',
        `a release holds at most ${MAX_RELEASE_OBJECTS} objects`,
      );
    }
    const objects = await mapLimit(level, FILE_CONCURRENCY, (item) =>
      store.readEither(item.hash, upload.staged),
    );
    const next: typeof level = [];
    for (const [i, { hash, type }] of level.entries()) {
      const object = objects[i];
      if (!object) {
        missing += 1;
        continue;
      }
      packed.push({ hash, ...object });
      if (object.type !== type) {
        throw new TetherError(
          'invalid_request',
          `object ${hash} is a ${object.type}, not a ${type}`,
        );
      }
      bytes += object.content.length;
      if (bytes > MAX_RELEASE_BYTES) {
        throw new TetherError(
          'payload_too_large',
          `a release holds at most ${MAX_RELEASE_BYTES} bytes`,
        );
      }
      if (type !== 'tree') continue;
      for (const entry of parseTree(object.content)) {
        if (hash === release.tree && entry.name === MANIFEST_FILE) {
          if (entryType(entry) !== 'blob') throw noManifest();
          manifestBlob = entry.hash;
        }
        next.push({ hash: entry.hash, type: entryType(entry) });
      }
    }
    level = next;
  }
  if (missing > 0) throw incomplete(missing);
  if (manifestBlob === null) throw noManifest();

  const manifestObject = await store.readEither(manifestBlob, upload.staged);
  const manifest = parseManifest(manifestObject!.content);
  if (canonicalManifest(manifest) !== release.manifestText) {
    throw new TetherError(
      'invalid_request',
      `the release tag's manifest differs from the tree's ${MANIFEST_FILE}`,
    );
  }
  return { release, manifest, hashes, objects: packed, bytes };
}

function incomplete(missing: number): TetherError {
  return new TetherError(
    'conflict',
    `the upload is incomplete: ${missing} object${missing === 1 ? '' : 's'} of the release have not arrived`,
    { details: { missing } },
  );
}

function noManifest(): TetherError {
  return new TetherError('invalid_request', `the package has no ${MANIFEST_FILE} at its root`);
}
