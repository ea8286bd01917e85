/** A package's ownership history, read from the owners each version's manifest named. */

export interface OwnedVersion {
  version: string;
  publishedAt: string;
  publisher: string;
  owners: string[];
}

export interface OwnershipChange {
  version: string;
  publishedAt: string;
  publisher: string;
  added: string[];
  removed: string[];
}

/**
 * The versions that changed the owners, oldest first; the first one names the first owners.
 * Versions are taken in publishing order, since owners change by publishing; usernames compare
 * without case, as the repository compares them.
 */
export function ownershipHistory(versions: OwnedVersion[]): OwnershipChange[] {
  const ordered = [...versions].sort((a, b) => a.publishedAt.localeCompare(b.publishedAt));
  const changes: OwnershipChange[] = [];
  let current = new Map<string, string>();
  for (const version of ordered) {
    const next = new Map(version.owners.map((owner) => [owner.toLowerCase(), owner]));
    const added = [...next].filter(([key]) => !current.has(key)).map(([, owner]) => owner);
    const removed = [...current].filter(([key]) => !next.has(key)).map(([, owner]) => owner);
    if (added.length > 0 || removed.length > 0) {
      const { publishedAt, publisher } = version;
      changes.push({ version: version.version, publishedAt, publisher, added, removed });
    }
    current = next;
  }
  return changes;
}
