/** Turns a package folder into git objects: blobs, trees, and the signed release tag. */
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { TetherError } from '@tether/protocol';
import { parseManifest, MANIFEST_FILE, type Manifest } from './manifest.ts';
import {
  encodeTree,
  hashObject,
  isSafeName,
  MODE_EXECUTABLE,
  MODE_FILE,
  MODE_TREE,
  type ObjectType,
  type TreeEntry,
} from './objects/git-object.ts';
import { MAX_OBJECT_BYTES } from './objects/object-store.ts';
import { signedTag } from './release.ts';
import { FILE_CONCURRENCY, mapLimit } from './concurrency.ts';

/** Folders that are never part of a package. */
const SKIPPED = new Set(['.git', 'node_modules']);

export interface PackedObject {
  type: ObjectType;
  content: Buffer;
}

export interface Pack {
  manifest: Manifest;
  tree: string;
  /** Every object of the tree, by hash (the tag is added by `signPack`). */
  objects: Map<string, PackedObject>;
  files: number;
}

export interface SignedPack extends Pack {
  tag: string;
}

export async function packFolder(dir: string): Promise<Pack> {
  const objects = new Map<string, PackedObject>();
  let files = 0;
  const add = (type: ObjectType, content: Buffer): string => {
    const hash = hashObject(type, content);
    objects.set(hash, { type, content });
    return hash;
  };

  // First the folders (stat only), then every file read at once, then the trees bottom up.
  const reads: Array<{ entries: TreeEntry[]; mode: string; name: string; path: string }> = [];
  const folders: Array<{ entries: TreeEntry[]; parent: TreeEntry[] | null; name: string }> = [];
  const walk = async (folder: string, relative: string): Promise<TreeEntry[]> => {
    const entries: TreeEntry[] = [];
    for (const name of (await readdir(folder)).sort()) {
      if (SKIPPED.has(name)) continue;
      const where = relative ? `${relative}/${name}` : name;
      if (!isSafeName(name)) throw new TetherError('invalid_request', `cannot publish "${where}"`);
      const path = join(folder, name);
      const info = await lstat(path);
      if (info.isDirectory()) {
        folders.push({ entries: await walk(path, where), parent: entries, name });
      } else if (info.isFile()) {
        if (info.size > MAX_OBJECT_BYTES) {
          throw new TetherError('payload_too_large', `${where} is larger than the 8 MiB limit`);
        }
        const mode = info.mode & 0o111 ? MODE_EXECUTABLE : MODE_FILE;
        reads.push({ entries, mode, name, path });
        files += 1;
      } else {
        throw new TetherError(
          'invalid_request',
          `${where} is not a file or folder (links are not published)`,
        );
      }
    }
    return entries;
  };

  let manifestText: Buffer;
  try {
    manifestText = await readFile(join(dir, MANIFEST_FILE));
  } catch (error) {
    throw new TetherError('invalid_request', `${dir} has no ${MANIFEST_FILE}`, { cause: error });
  }
  const manifest = parseManifest(manifestText);
  const rootEntries = await walk(dir, '');
  const contents = await mapLimit(reads, FILE_CONCURRENCY, (r) => readFile(r.path));
  reads.forEach((r, i) =>
    r.entries.push({ mode: r.mode, name: r.name, hash: add('blob', contents[i]) }),
  );
  // Each folder was listed after its subfolders, so in that order a child's tree exists first.
  for (const folder of folders) {
    if (folder.entries.length === 0) continue;
    const hash = add('tree', encodeTree(folder.entries));
    folder.parent!.push({ mode: MODE_TREE, name: folder.name, hash });
  }
  const tree = add('tree', encodeTree(rootEntries));
  return { manifest, tree, objects, files };
}

/** Adds the signed release tag to a pack. */
export function signPack(
  pack: Pack,
  signer: { username: string; key: KeyObject; keyId: string; time?: Date },
): SignedPack {
  const content = signedTag({
    manifest: pack.manifest,
    tree: pack.tree,
    publisher: signer.username,
    key: signer.key,
    keyId: signer.keyId,
    time: signer.time,
  });
  const tag = hashObject('tag', content);
  const objects = new Map(pack.objects);
  objects.set(tag, { type: 'tag', content });
  return { ...pack, objects, tag };
}
