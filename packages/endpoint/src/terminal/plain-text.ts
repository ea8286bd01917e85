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
const LOWEST_SAFE_NEXT: Record<number, number> = { 0xc2: 0xa0, 0xe0: 0xa0, 0xf0: 0x90 };

const LF = 0x0a;
const CR = 0x0d;

/**
 * How many bytes at the start of `chunks` (read in order as one stream) can be dropped, given
 * that `keepLines` LFs must follow the CR the kept part starts syncing from. The cut always
 * falls just after an LF; 0 means nothing can be dropped.
 */
export function skippablePrefix(chunks: readonly Uint8Array[], keepLines: number): number {
  const { end, lineFeeds } = plainRun(chunks);
  if (lineFeeds <= keepLines) return 0;

  // The last CR that still has keepLines LFs after it, and the last LF before that CR.
  const crBefore = lineFeeds - keepLines;
  let seen = 0;
  let lastLf = -1;
  let cut = 0;
  let at = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length && at < end; i++, at++) {
      const byte = chunk[i];
      if (byte === LF) {
        seen += 1;
        if (seen > crBefore) return cut;
        lastLf = at;
      } else if (byte === CR && lastLf >= 0) cut = lastLf + 1;
    }
  }
  return cut;
}

/** Where the plain run at the head ends (exclusive), and how many LFs it holds. */
function plainRun(chunks: readonly Uint8Array[]): { end: number; lineFeeds: number } {
  let at = 0;
  let lineFeeds = 0;
  let lead = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++, at++) {
      const byte = chunk[i];
      if (lead !== 0) {
        if (byte < LOWEST_SAFE_NEXT[lead]) return { end: at - 1, lineFeeds };
        lead = 0;
      }
      const kind = CLASS[byte];
      if (kind === 0) return { end: at, lineFeeds };
      if (kind === 2) lead = byte;
      else if (byte === LF) lineFeeds += 1;
    }
  }
  // A lead byte at the very end waits for its next byte: the run stops before it.
  return { end: lead !== 0 ? at - 1 : at, lineFeeds };
}
