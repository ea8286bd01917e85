/**
 * Finds how much of a plain-text flood a terminal may skip without changing its final screen.
 *
 * Plain text here is printable characters, CR, LF and TAB: bytes that only move the cursor and
 * write cells, never change a mode. On a terminal whose scroll region is the whole screen,
 * after a CR (the column is the same whichever bytes came before) and enough LFs to bring the
 * cursor to the bottom row and then push every line that existed at that point out of the
 * scrollback, the buffer holds nothing that depended on the bytes before. Those bytes can be
 * dropped unparsed. `skippablePrefix` finds the latest such point; the caller checks the
 * terminal's state (parser between sequences, full scroll region) before using it.
 */

/** 1 for bytes that are plain on their own; 2 for lead bytes whose next byte decides. */
const CLASS = new Uint8Array(256);
for (let b = 0x20; b < 0x7f; b++) CLASS[b] = 1;
for (const b of [0x09, 0x0a, 0x0d]) CLASS[b] = 1;
// UTF-8 continuation and lead bytes are plain, except what could decode to a C1 control
// (U+0080-U+009F, which the parser treats like ESC sequences): C2 80-9F, and the overlong forms
// behind C0, C1, E0 80-9F and F0 80-8F. Bytes that are never valid UTF-8 (F5-FF) stay out too.
for (let b = 0x80; b < 0xf5; b++) CLASS[b] = 1;
CLASS[0xc0] = 0;
CLASS[0xc1] = 0;
CLASS[0xc2] = 2;
CLASS[0xe0] = 2;
CLASS[0xf0] = 2;
/** For a class-2 lead byte, the lowest next byte that keeps it plain. */
const LOWEST_SAFE_NEXT = new Uint8Array(256);
LOWEST_SAFE_NEXT[0xc2] = 0xa0;
LOWEST_SAFE_NEXT[0xe0] = 0xa0;
LOWEST_SAFE_NEXT[0xf0] = 0x90;

const LF = 0x0a;
const CR = 0x0d;

/**
 * How many bytes at the start of `data` can be dropped, given that `keepLines` LFs must follow
 * the CR the kept part starts syncing from. The cut always falls just after an LF; 0 means
 * nothing can be dropped. One pass finds where the plain text ends; the LFs and the CR are
 * then found backwards from there with native searches.
 */
export function skippablePrefix(data: Uint8Array, keepLines: number): number {
  const end = plainEnd(data);
  const bytes = Buffer.from(data.buffer, data.byteOffset, end);
  let lastKept = end;
  for (let k = 0; k < keepLines; k++) {
    lastKept = lastKept > 0 ? bytes.lastIndexOf(LF, lastKept - 1) : -1;
    if (lastKept < 0) return 0;
  }
  const sync = lastKept > 0 ? bytes.lastIndexOf(CR, lastKept - 1) : -1;
  if (sync <= 0) return 0;
  return bytes.lastIndexOf(LF, sync - 1) + 1;
}

/** Where the plain text at the start of `data` ends (exclusive). */
function plainEnd(data: Uint8Array): number {
  const n = data.length;
  for (let i = 0; i < n; i++) {
    const kind = CLASS[data[i]];
    if (kind === 1) continue;
    // A lead byte at the very end waits for its next byte: the run stops before it.
    if (kind === 0 || i + 1 === n || data[i + 1] < LOWEST_SAFE_NEXT[data[i]]) return i;
  }
  return n;
}
