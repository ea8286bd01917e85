/** What a package file's bytes are to a reader: text to show, or binary to download. */

/** Files up to this size show whole; larger ones show their start, with a note and a download. */
export const MAX_SHOWN_BYTES = 512 * 1024;
/** Git's own test for binary content looks for a NUL in the first 8000 bytes (xdiff). */
const BINARY_SNIFF_BYTES = 8000;

export type FileText = { kind: 'text'; text: string } | { kind: 'binary' };

/**
 * Decodes `bytes` as UTF-8 text, or says it is binary: a NUL early on, or bytes that are not
 * UTF-8. A multi-byte character cut at the end of a truncated read is left out, not an error.
 */
export function decodeFile(bytes: Uint8Array, truncated: boolean): FileText {
  if (bytes.subarray(0, BINARY_SNIFF_BYTES).includes(0)) return { kind: 'binary' };
  try {
    const text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes, {
      stream: truncated,
    });
    return { kind: 'text', text };
  } catch {
    // Invalid UTF-8: not text we can show faithfully.
    return { kind: 'binary' };
  }
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 10 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** The README a folder shows by default: README.md first, then other spellings. */
export function readmeOf<T extends { name: string; type: string }>(entries: T[]): T | undefined {
  const candidates = entries.filter(
    (e) => e.type === 'blob' && /^readme(\.(md|markdown|txt|rst))?$/i.test(e.name),
  );
  const rank = (name: string) => (/\.(md|markdown)$/i.test(name) ? 0 : 1);
  return candidates.sort((a, b) => rank(a.name) - rank(b.name) || (a.name < b.name ? -1 : 1))[0];
}

/** Folders first, then files, each by name as people sort them. */
export function sortEntries<T extends { name: string; type: string }>(entries: T[]): T[] {
  return [...entries].sort(
    (a, b) =>
      Number(b.type === 'tree') - Number(a.type === 'tree') ||
      a.name.localeCompare(b.name, undefined, { numeric: true }),
  );
}
