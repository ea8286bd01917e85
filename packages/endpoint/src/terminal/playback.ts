/**
 * A recording cut at its keyframes, in asciinema-player's segmented format (version 1): an
 * index of segments, each starting from a keyframe's screen, so a seek replays at most one
 * keyframe interval (10 s or 2 MiB of output) rather than everything before it.
 *
 * Segment k runs from keyframe k's byte offset in the cast to the next usable keyframe's. The
 * recorder stamps a keyframe with the time of the output it follows, so every event before the
 * offset is at or before that time; the player wants every event of a segment strictly before
 * the next segment's start, so a segment starts one millisecond after its keyframe. A keyframe
 * whose next event falls in that same millisecond cannot be a boundary and is skipped: the
 * segment before it runs on to the next one. Times are kept as recorded, so the timeline and
 * the markers are the cast's own.
 *
 * Both files only grow. The index names the bytes it read of each (`view`), and its segment
 * URLs carry that view, so a live session's segments agree with the index that listed them.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { TetherError } from '@tether/protocol';

/** A cast header is a few hundred bytes; a first line longer than this is not a header. */
const HEADER_MAX_BYTES = 64 * 1024;
/** Holds any event's head, `[1234567.891,"o",`, and any keyframe's fields before its screen. */
const HEAD_BYTES = 128;
const READ_CHUNK_BYTES = 1024 * 1024;
/** A segment is sent in pieces of about this size rather than built whole in memory. */
const SEND_CHUNK_BYTES = 256 * 1024;
const NEWLINE = 0x0a;
const CLOSE_BRACKET = 0x5d;

const EVENT_HEAD = /^\[(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?),"([a-z])",/;
const KEYFRAME_HEAD =
  /^\{"t":(\d+(?:\.\d+)?(?:[eE][-+]?\d+)?),"offset":(\d+),"cols":(\d+),"rows":(\d+),/;
const VIEW = /^(\d{1,15})\.(\d{1,15})$/;

export interface RecordingFiles {
  cast: string;
  keyframes: string;
}

/** The bytes of each file a reader looked at; both end on a line's end. */
export interface View {
  castBytes: number;
  keyframeBytes: number;
}

/** What asciinema-player reads first when given `{url, format: 'segmented'}`. */
export interface PlaybackIndex {
  version: 1;
  /** Seconds, the time of the last event. */
  duration: number;
  term: { cols: number; rows: number };
  markers: [number, string][];
  segments: { start: number; url: string }[];
}

interface Segment {
  startMs: number;
  /** Byte offset in the cast of the segment's first event. */
  offset: number;
  cols: number;
  rows: number;
  /** Where the keyframe's line is in the keyframes file; null for the first segment. */
  keyframe: { start: number; length: number } | null;
}

interface Layout {
  cols: number;
  rows: number;
  view: View;
  headerEnd: number;
  durationMs: number;
  segments: Segment[];
}

export function viewToken(view: View): string {
  return `${view.castBytes}.${view.keyframeBytes}`;
}

export function parseView(token: string): View {
  const match = VIEW.exec(token);
  if (!match) throw new TetherError('invalid_request', 'view: expected BYTES.BYTES');
  return { castBytes: Number(match[1]), keyframeBytes: Number(match[2]) };
}

/** The index of the recording as it is now; `segmentUrl` names each segment's address. */
export async function playbackIndex(
  files: RecordingFiles,
  segmentUrl: (at: number, view: string) => string,
): Promise<PlaybackIndex> {
  const layout = await readLayout(files);
  const markers = await readMarkers(files.cast, layout);
  const view = viewToken(layout.view);
  return {
    version: 1,
    duration: layout.durationMs / 1000,
    term: { cols: layout.cols, rows: layout.rows },
    markers,
    segments: layout.segments.map((s) => ({
      start: s.startMs / 1000,
      url: segmentUrl(s.startMs / 1000, view),
    })),
  };
}

/**
 * The segment that holds second `at`: from the last usable keyframe at or before it, that
 * keyframe's screen, then every event up to the next segment. Streams JSON:
 * `{"snapshot":{"cols","rows","init"},"events":[[t,"o","…"],…]}`.
 */
export async function playbackSegment(
  files: RecordingFiles,
  at: number,
  view?: View,
): Promise<Readable> {
  const layout = await readLayout(files, view);
  const atMs = at * 1000;
  if (atMs > layout.durationMs)
    throw new TetherError(
      'invalid_request',
      `at: past the end of the recording (${layout.durationMs / 1000} s)`,
    );
  let index = 0;
  while (index + 1 < layout.segments.length && layout.segments[index + 1].startMs <= atMs)
    index += 1;
  const segment = layout.segments[index];
  const init = segment.keyframe ? await readScreen(files.keyframes, segment.keyframe) : '';
  return Readable.from(segmentJson(files.cast, layout, index, init));
}

async function* segmentJson(
  castFile: string,
  layout: Layout,
  index: number,
  init: string,
): AsyncGenerator<Buffer> {
  const segment = layout.segments[index];
  const next = layout.segments[index + 1];
  const endOffset = next ? next.offset : layout.view.castBytes;
  // Each event stays inside its segment, in order, even if the clock stepped back mid-session.
  const ceiling = next ? next.startMs - 1 : layout.durationMs;
  const out = new Pieces();
  const snapshot = { cols: segment.cols, rows: segment.rows, init };
  out.push(`{"snapshot":${JSON.stringify(snapshot)},"events":[`);
  let last = -1;
  // The player wants a later segment's first event at its start; an empty output is one.
  if (index > 0) last = out.noop(segment.startMs, '');

  const fd = await open(castFile, 'r');
  try {
    for await (const [, line] of fileLines(fd, segment.offset, endOffset)) {
      const head = eventHead(line);
      if (!head || line[line.length - 1] !== CLOSE_BRACKET) continue;
      const ms = Math.min(Math.max(head.ms, last, segment.startMs), ceiling);
      out.push(`${last < 0 ? '' : ','}[${ms / 1000},`);
      out.push(Buffer.from(line.subarray(head.prefix)));
      last = ms;
      if (out.bytes >= SEND_CHUNK_BYTES) yield out.take();
    }
  } finally {
    await fd.close();
  }

  // The last segment ends exactly at the duration; no segment is empty.
  if (!next && last < layout.durationMs) out.noop(layout.durationMs, last < 0 ? '' : ',');
  else if (last < 0) out.noop(segment.startMs, '');
  out.push(']}');
  yield out.take();
}

/** Output waiting to be sent, as whole pieces copied out of the read buffer. */
class Pieces {
  private parts: Buffer[] = [];
  bytes = 0;

  push(part: string | Buffer): void {
    const buffer = typeof part === 'string' ? Buffer.from(part) : part;
    this.parts.push(buffer);
    this.bytes += buffer.length;
  }

  noop(ms: number, separator: string): number {
    this.push(`${separator}[${ms / 1000},"o",""]`);
    return ms;
  }

  take(): Buffer {
    const all = Buffer.concat(this.parts);
    this.parts = [];
    this.bytes = 0;
    return all;
  }
}

async function readLayout(files: RecordingFiles, pinned?: View): Promise<Layout> {
  const cast = await open(files.cast, 'r');
  try {
    const header = await readHeader(cast);
    const castBytes = await completeBytes(cast, header.end);
    const keyframes = await open(files.keyframes, 'r').catch(() => null);
    try {
      const keyframeBytes = keyframes ? await completeBytes(keyframes, 0) : 0;
      const view = pinned ?? { castBytes, keyframeBytes };
      if (pinned)
        await checkView(pinned, { castBytes, keyframeBytes }, header.end, cast, keyframes);
      const durationMs = await lastEventMs(cast, header.end, view.castBytes);
      const first: Segment = {
        startMs: 0,
        offset: header.end,
        cols: header.cols,
        rows: header.rows,
        keyframe: null,
      };
      const segments = [first];
      if (keyframes)
        for await (const candidate of keyframeCandidates(keyframes, view.keyframeBytes)) {
          const previous = segments[segments.length - 1];
          if (candidate.offset <= previous.offset || candidate.offset >= view.castBytes) continue;
          const after = await eventAt(cast, candidate.offset);
          const startMs = candidate.tMs + 1;
          if (after === null || after < startMs) continue;
          if (startMs <= previous.startMs || startMs >= durationMs) continue;
          segments.push({ ...candidate, startMs });
        }
      return {
        cols: header.cols,
        rows: header.rows,
        view,
        headerEnd: header.end,
        durationMs,
        segments,
      };
    } finally {
      await keyframes?.close();
    }
  } finally {
    await cast.close();
  }
}

async function readHeader(fd: FileHandle): Promise<{ cols: number; rows: number; end: number }> {
  const buffer = Buffer.alloc(HEADER_MAX_BYTES);
  const { bytesRead } = await fd.read(buffer, 0, buffer.length, 0);
  const newline = buffer.subarray(0, bytesRead).indexOf(NEWLINE);
  if (newline < 0) throw new Error('the recording has no header line');
  const header = JSON.parse(buffer.toString('utf8', 0, newline)) as {
    width?: unknown;
    height?: unknown;
  };
  const cols = header.width;
  const rows = header.height;
  if (
    !Number.isInteger(cols) ||
    !Number.isInteger(rows) ||
    (cols as number) < 1 ||
    (rows as number) < 1
  )
    throw new Error('the recording header has no terminal size');
  return { cols: cols as number, rows: rows as number, end: newline + 1 };
}

/** The file's length up to the end of its last complete line (a crash may cut the last). */
async function completeBytes(fd: FileHandle, floor: number): Promise<number> {
  const { size } = await fd.stat();
  const newline = await lastNewlineBefore(fd, floor, size);
  return newline < 0 ? floor : newline + 1;
}

async function endsLine(fd: FileHandle, bytes: number): Promise<boolean> {
  const one = Buffer.alloc(1);
  await fd.read(one, 0, 1, bytes - 1);
  return one[0] === NEWLINE;
}

/** Position of the last newline in [floor, end), or -1. */
async function lastNewlineBefore(fd: FileHandle, floor: number, end: number): Promise<number> {
  const buffer = Buffer.alloc(64 * 1024);
  let to = end;
  while (to > floor) {
    const from = Math.max(floor, to - buffer.length);
    const { bytesRead } = await fd.read(buffer, 0, to - from, from);
    const found = buffer.subarray(0, bytesRead).lastIndexOf(NEWLINE);
    if (found >= 0) return from + found;
    to = from;
  }
  return -1;
}

/** The time of the last event in [floor, end), walking back over lines that are not events. */
async function lastEventMs(fd: FileHandle, floor: number, end: number): Promise<number> {
  let newline = end - 1;
  while (newline > floor) {
    const start = Math.max(floor, (await lastNewlineBefore(fd, floor, newline)) + 1);
    const head = await readHead(fd, start, newline);
    if (head?.complete) return head.ms;
    newline = start - 1;
  }
  return 0;
}

/** A view must be one an index gave: inside both files, each ending on a line's end. */
async function checkView(
  view: View,
  now: View,
  headerEnd: number,
  cast: FileHandle,
  keyframes: FileHandle | null,
): Promise<void> {
  if (view.castBytes > now.castBytes || view.keyframeBytes > now.keyframeBytes)
    throw new TetherError('invalid_request', 'view: past the end of the recording');
  const castOk =
    view.castBytes === headerEnd ||
    (view.castBytes > headerEnd && (await endsLine(cast, view.castBytes)));
  const keyframesOk =
    view.keyframeBytes === 0 ||
    (keyframes !== null && (await endsLine(keyframes, view.keyframeBytes)));
  if (!castOk || !keyframesOk)
    throw new TetherError('invalid_request', 'view: not a view of this recording');
}

/** The time of the event whose line starts at `offset`, or null if no event starts there. */
async function eventAt(fd: FileHandle, offset: number): Promise<number | null> {
  const buffer = Buffer.alloc(HEAD_BYTES + 1);
  const { bytesRead } = await fd.read(buffer, 0, buffer.length, offset - 1);
  if (bytesRead < 2 || buffer[0] !== NEWLINE) return null;
  return eventHead(buffer.subarray(1, bytesRead))?.ms ?? null;
}

/** The head of the event on [start, newline), and whether the line is whole (ends with `]`). */
async function readHead(fd: FileHandle, start: number, newline: number) {
  const buffer = Buffer.alloc(HEAD_BYTES);
  const length = Math.min(buffer.length, newline - start);
  if (length <= 0) return null;
  await fd.read(buffer, 0, length, start);
  const head = eventHead(buffer.subarray(0, length));
  if (!head) return null;
  const last = Buffer.alloc(1);
  await fd.read(last, 0, 1, newline - 1);
  return { ...head, complete: last[0] === CLOSE_BRACKET };
}

function eventHead(line: Buffer): { ms: number; kind: string; prefix: number } | null {
  const match = EVENT_HEAD.exec(line.toString('latin1', 0, Math.min(line.length, HEAD_BYTES)));
  if (!match) return null;
  const ms = Math.round(Number(match[1]) * 1000);
  if (!Number.isFinite(ms)) return null;
  return { ms, kind: match[2], prefix: match[1].length + 2 };
}

interface Candidate {
  tMs: number;
  offset: number;
  cols: number;
  rows: number;
  keyframe: { start: number; length: number };
}

/** Each keyframe's time, offset and size, read without parsing its screen. */
async function* keyframeCandidates(fd: FileHandle, bytes: number): AsyncGenerator<Candidate> {
  for await (const [start, line] of fileLines(fd, 0, bytes)) {
    const match = KEYFRAME_HEAD.exec(line.toString('latin1', 0, Math.min(line.length, HEAD_BYTES)));
    let fields: { t: number; offset: number; cols: number; rows: number } | null = null;
    if (match)
      fields = {
        t: Number(match[1]),
        offset: Number(match[2]),
        cols: Number(match[3]),
        rows: Number(match[4]),
      };
    else fields = parseKeyframe(line.toString('utf8'));
    if (!fields || line[line.length - 1] !== 0x7d) continue;
    const { t, offset, cols, rows } = fields;
    if (!Number.isFinite(t) || !Number.isSafeInteger(offset) || !(cols >= 1) || !(rows >= 1))
      continue;
    yield {
      tMs: Math.round(t * 1000),
      offset,
      cols,
      rows,
      keyframe: { start, length: line.length },
    };
  }
}

/** A keyframe written with its fields in another order; null when it is not one at all. */
function parseKeyframe(
  text: string,
): { t: number; offset: number; cols: number; rows: number } | null {
  try {
    const k = JSON.parse(text) as Record<string, unknown>;
    if (typeof k.t !== 'number' || typeof k.offset !== 'number') return null;
    if (typeof k.cols !== 'number' || typeof k.rows !== 'number') return null;
    if (typeof k.screen !== 'string') return null;
    return { t: k.t, offset: k.offset, cols: k.cols, rows: k.rows };
  } catch {
    return null;
  }
}

async function readScreen(file: string, at: { start: number; length: number }): Promise<string> {
  const fd = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(at.length);
    await fd.read(buffer, 0, at.length, at.start);
    return (JSON.parse(buffer.toString('utf8')) as { screen: string }).screen;
  } finally {
    await fd.close();
  }
}

/** The markers (`m` events) in the view, in order, as [seconds, label]. */
async function readMarkers(castFile: string, layout: Layout): Promise<[number, string][]> {
  const markers: [number, string][] = [];
  let previous = 0;
  const fd = await open(castFile, 'r');
  try {
    for await (const [, line] of fileLines(fd, layout.headerEnd, layout.view.castBytes)) {
      // Cheap test first: the kind follows the first comma, `[t,"m",…`.
      const comma = line.indexOf(0x2c);
      if (comma < 0 || line[comma + 1] !== 0x22 || line[comma + 2] !== 0x6d) continue;
      const head = eventHead(line);
      if (!head || head.kind !== 'm' || line[line.length - 1] !== CLOSE_BRACKET) continue;
      const label = (JSON.parse(line.toString('utf8')) as unknown[])[2];
      if (typeof label !== 'string') continue;
      previous = Math.min(Math.max(head.ms, previous), layout.durationMs);
      markers.push([previous / 1000, label]);
    }
  } finally {
    await fd.close();
  }
  return markers;
}

/**
 * The complete lines in [from, to) with their byte offsets. A yielded line is a view into a
 * reused buffer: copy what must outlive the next iteration.
 */
async function* fileLines(
  fd: FileHandle,
  from: number,
  to: number,
): AsyncGenerator<[offset: number, line: Buffer]> {
  const buffer = Buffer.allocUnsafe(READ_CHUNK_BYTES);
  let carry: Buffer | null = null;
  let carryStart = from;
  let position = from;
  while (position < to) {
    const { bytesRead } = await fd.read(
      buffer,
      0,
      Math.min(buffer.length, to - position),
      position,
    );
    if (bytesRead === 0) break;
    const chunk = buffer.subarray(0, bytesRead);
    const chunkStart = position;
    position += bytesRead;
    let start = 0;
    for (let nl = chunk.indexOf(NEWLINE); nl >= 0; nl = chunk.indexOf(NEWLINE, start)) {
      if (carry) {
        yield [carryStart, Buffer.concat([carry, chunk.subarray(0, nl)])];
        carry = null;
      } else yield [chunkStart + start, chunk.subarray(start, nl)];
      start = nl + 1;
    }
    if (start < chunk.length) {
      const rest = Buffer.from(chunk.subarray(start));
      if (carry) carry = Buffer.concat([carry, rest]);
      else {
        carry = rest;
        carryStart = chunkStart + start;
      }
    }
  }
}
