/** Breadth-first over a graph of stored objects, reading many files at once, sending in order. */
import { TetherError } from '@tether/protocol';
import { decodeLoose, type ObjectStore } from '../objects/object-store.ts';
import { entryType, parseTag, parseTree } from '../objects/git-object.ts';

/** Files read at once: enough to hide disk latency, few enough to bound memory. */
const READ_AHEAD = 64;

/**
 * Calls `visit` once per object reachable from `roots`, parents before children. Blobs are
 * passed as stored, never inflated; trees and tags are inflated to find what they name.
 */
export async function walkObjects(
  store: ObjectStore,
  roots: readonly string[],
  visit: (hash: string, deflated: Buffer) => Promise<void>,
): Promise<number> {
  const seen = new Set<string>();
  let queue: Array<{ hash: string; blob: boolean }> = roots.map((hash) => ({ hash, blob: false }));
  let count = 0;
  while (queue.length > 0) {
    const batch = queue.filter((item) => !seen.has(item.hash) && seen.add(item.hash));
    queue = [];
    for (let at = 0; at < batch.length; at += READ_AHEAD) {
      const slice = batch.slice(at, at + READ_AHEAD);
      const read = await Promise.all(slice.map((item) => store.objects.readDeflated(item.hash)));
      for (const [i, item] of slice.entries()) {
        const deflated = read[i];
        if (deflated === null) {
          throw new TetherError('internal', `the repository lacks object ${item.hash}`);
        }
        await visit(item.hash, deflated);
        count += 1;
        if (item.blob) continue;
        const object = decodeLoose(item.hash, deflated);
        if (object.type === 'tree') {
          for (const entry of parseTree(object.content)) {
            queue.push({ hash: entry.hash, blob: entryType(entry) === 'blob' });
          }
        } else if (object.type === 'tag') {
          const tag = parseTag(object.content);
          queue.push({ hash: tag.object, blob: tag.type === 'blob' });
        }
      }
    }
  }
  return count;
}
