/** The screen feed: skipping a flood's plain text must leave the very screen a full parse leaves. */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GATHER_BYTES, ScreenFeed } from './screen-feed.ts';
import { skippablePrefix } from './plain-text.ts';
import { Screen } from './screen.ts';

const COLS = 80;
const ROWS = 24;
const PROMPT = '\x1b[1;32muser@box\x1b[0m:\x1b[34m~\x1b[0m$ ';

/** A small deterministic generator, so a failing case can be replayed. */
function generator(seed: number): (n: number) => number {
  let state = seed >>> 0 || 1;
  return (n) => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) % n;
  };
}

function base64Lines(bytes: number, eol = '\r\n'): string {
  return randomBytes(bytes).toString('base64').replace(/.{76}/g, `$&${eol}`);
}

/** Cuts the bytes at random places, so sequences and characters are split across writes. */
function chunked(input: Buffer, seed: number): Buffer[] {
  const next = generator(seed);
  const chunks: Buffer[] = [];
  for (let at = 0; at < input.length;) {
    const size = 1 + next(9000);
    chunks.push(input.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

/**
 * The screen after parsing every byte, and after the feed (which may skip), side by side. A
 * buffer is cut at random places; a list of chunks is written as given, and at each 'parse'
 * the feed is made to parse everything so far before the next chunk comes.
 */
async function bothWays(
  input: Buffer | Array<Buffer | 'parse'>,
  seed = 1,
): Promise<{ full: string; fed: string; skipped: number }> {
  const steps = Array.isArray(input) ? input : chunked(input, seed);
  const chunks = steps.filter((step): step is Buffer => step !== 'parse');
  const length = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const reference = new Screen(COLS, ROWS);
  for (const chunk of chunks) reference.write(chunk);
  const full = await reference.snapshot();
  reference.dispose();

  let consumed = 0;
  const feed = new ScreenFeed(COLS, ROWS, (n) => (consumed += n));
  for (const step of steps) {
    if (step === 'parse') await feed.snapshot();
    else feed.write(step);
  }
  const { screen: fed } = await feed.snapshot();
  const skipped = feed.skipped;
  feed.dispose();
  expect(consumed).toBe(length);
  return { full, fed, skipped };
}

describe('screen feed', () => {
  it('screen feed - a base64 flood is mostly skipped and leaves the same screen', async () => {
    const input = Buffer.from(
      `${PROMPT}head -c 3M /dev/urandom | base64\r\n${base64Lines(3e6)}${PROMPT}`,
    );
    const { full, fed, skipped } = await bothWays(input);
    expect(fed).toBe(full);
    expect(skipped).toBeGreaterThan(input.length * 0.8);
  });

  it('screen feed - wrapped lines, tabs, wide and split UTF-8 characters survive a skip', async () => {
    const words = ['é', '日本語', '🙂', '\t', 'naïve', 'x'.repeat(150), 'tab\tstop', '—'];
    const next = generator(7);
    let text = `${PROMPT}cat notes.txt\r\n`;
    while (text.length < 2.5e6) {
      const line = Array.from({ length: 1 + next(12) }, () => words[next(words.length)]).join(' ');
      text += `${line}\r\n`;
    }
    const { full, fed, skipped } = await bothWays(Buffer.from(`${text}${PROMPT}`), 3);
    expect(fed).toBe(full);
    expect(skipped).toBeGreaterThan(0);
  });

  it('screen feed - bare LFs (no CR) keep every byte parsed until a CR syncs the column', async () => {
    const staircase = Array.from({ length: 40_000 }, (_, i) => `step ${i}${' '.repeat(i % 30)}\n`);
    const input = Buffer.from(`${staircase.join('')}${base64Lines(1e5, '\n')}\rlast line\n`);
    const { full, fed } = await bothWays(input, 5);
    expect(fed).toBe(full);
  });

  it('screen feed - a scroll region, a split escape or a C1 control stops the skip', async () => {
    const flood = () => base64Lines(8e5);
    const cases: Array<[string, Array<Buffer | 'parse'>]> = [
      // The cursor above or below a scroll region writes rows that plain text never scrolls.
      ['above the region', [Buffer.from(`\x1b[5;20r\x1b[1;1H${flood()}${flood()}`)]],
      ['below the region', [Buffer.from(`\x1b[3;10r\x1b[15;1H${flood()}${flood()}`)]],
      // The escape's last byte arrives with the flood: what follows it finishes the sequence.
      ['split escape', [Buffer.from('\x1b[?1049'), 'parse', Buffer.from(`h${flood()}${flood()}`)]],
      // U+009B is CSI: in UTF-8 it is C2 9B, and it switches to the alternate screen here.
      ['C1 control', [Buffer.from(`${flood()}\xc2\x9b?1049h${flood()}`, 'latin1')]],
      ['inside an OSC title', [Buffer.from(`\x1b]0;${flood()}\x07${PROMPT}`)]],
    ];
    for (const [name, chunks] of cases) {
      const { full, fed } = await bothWays(chunks);
      expect(fed, name).toBe(full);
    }
  });

  it('screen feed - random mixes of text and escape sequences give the same screen', async () => {
    const sequences = [
      '\x1b[31m',
      '\x1b[0m',
      '\x1b[5;10H',
      '\x1b[K',
      '\x1b[2J',
      '\x1b[4;18r',
      '\x1b[r',
      '\x1b[?1049h',
      '\x1b[?1049l',
      '\x1b[?7l',
      '\x1b[?7h',
      '\x1b[4h',
      '\x1b[4l',
      '\x1b(0',
      '\x1b(B',
      '\x1b[20h',
      '\x1b[20l',
      '\x1b[3',
      '\r',
      '\n',
      '\x08',
      '\x1bM',
      '\x1b[S',
    ];
    for (const seed of [11, 12, 13]) {
      const next = generator(seed);
      let text = '';
      while (text.length < 2e6) {
        if (next(4) === 0) text += sequences[next(sequences.length)];
        else text += base64Lines(300 + next(30_000), next(3) === 0 ? '\n' : '\r\n');
      }
      const { full, fed } = await bothWays(Buffer.from(text), seed);
      expect(fed, `seed ${seed}`).toBe(full);
    }
  });

  it('screen feed - a snapshot asked for mid-flood shows exactly the bytes before it', async () => {
    const first = Buffer.from(`${base64Lines(2e6)}marker-one`);
    const reference = new Screen(COLS, ROWS);
    reference.write(first);
    const expected = await reference.snapshot();
    reference.dispose();

    const feed = new ScreenFeed(COLS, ROWS, () => {});
    feed.write(first);
    const image = feed.snapshot();
    feed.write(Buffer.from(`\r\n${base64Lines(2e6)}after`));
    expect((await image).screen).toBe(expected);
    expect(feed.skipped).toBeGreaterThan(GATHER_BYTES);
    expect((await feed.snapshot()).screen).toContain('after');
    feed.dispose();
  });
});

describe('plain text', () => {
  it('plain text - the cut falls after the LF before the CR that still has enough LFs after it', () => {
    const lines = (n: number, from = 0) =>
      Array.from({ length: n }, (_, i) => `l${from + i}\r\n`).join('');
    const text = Buffer.from(lines(10) + lines(5, 10));
    expect(skippablePrefix(text, 5)).toBe(Buffer.from(lines(10)).length);
    expect(skippablePrefix(text, 15)).toBe(0);
    expect(skippablePrefix(Buffer.from(`a\x1b[31m${lines(20)}`), 5)).toBe(0);
    // Text after the first non-plain byte does not count: too few lines before it.
    expect(skippablePrefix(Buffer.from(`${lines(4)}\x1b[31m${lines(20)}`), 5)).toBe(0);
    // Without a CR nothing syncs the column.
    expect(skippablePrefix(Buffer.from('x\n'.repeat(50)), 5)).toBe(0);
  });
});
