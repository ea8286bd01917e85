/**
 * Playback cut at keyframes: every segment is one asciinema-player accepts, the segments
 * together are the recording, and a seek from a keyframe shows exactly the screen a replay
 * from the start shows. Synthetic recordings cover the edges; a real session covers the real
 * recorder's keyframes, and the routes' refusals.
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { castEvents, Replay, screenAt, type CastEvent } from '../testing/cast-replay.ts';
import { startHarness, waitFor, type Harness } from '../testing/harness.ts';
import { writeSyntheticRecording } from '../testing/synthetic-recording.ts';
import { terminalClient } from '../testing/terminal-client.ts';
import {
  parseView,
  playbackIndex,
  playbackSegment,
  type PlaybackIndex,
  type RecordingFiles,
} from './playback.ts';

/** No rc file of this machine's user decides whether the real-session test passes. */
process.env.SHELL = '/bin/sh';

interface SegmentBody {
  snapshot: { cols: number; rows: number; init: string };
  events: CastEvent[];
}

const ms = (seconds: number) => Math.round(seconds * 1000);

/** The rules asciinema-player 3.18 checks on a segmented recording, as it checks them. */
function expectPlayable(index: PlaybackIndex, segments: SegmentBody[]): void {
  expect(index.version).toBe(1);
  expect(index.segments[0].start).toBe(0);
  for (let i = 1; i < index.segments.length; i++) {
    expect(index.segments[i].start).toBeGreaterThan(index.segments[i - 1].start);
    expect(index.segments[i].start).toBeLessThan(index.duration);
  }
  for (let i = 1; i < index.markers.length; i++)
    expect(index.markers[i][0]).toBeGreaterThanOrEqual(index.markers[i - 1][0]);
  segments.forEach((segment, i) => {
    const start = index.segments[i].start * 1000;
    const end = (index.segments[i + 1]?.start ?? index.duration) * 1000;
    const final = i === segments.length - 1;
    expect(Number.isInteger(segment.snapshot.cols) && segment.snapshot.cols > 0).toBe(true);
    expect(typeof segment.snapshot.init).toBe('string');
    expect(segment.events.length).toBeGreaterThan(0);
    let previous = -1;
    for (const [time, kind, data] of segment.events) {
      const t = time * 1000;
      expect(t).toBeGreaterThanOrEqual(previous);
      expect(t).toBeGreaterThanOrEqual(start);
      if (final) expect(t).toBeLessThanOrEqual(end);
      else expect(t).toBeLessThan(end);
      expect(typeof kind).toBe('string');
      expect(typeof data).toBe('string');
      previous = t;
    }
    if (i > 0) expect(segment.events[0][0] * 1000).toBe(start);
    if (final) expect(previous).toBe(end);
  });
}

/** The segments' events end to end, without the empty outputs that open or close a segment. */
function joined(segments: SegmentBody[]): CastEvent[] {
  return segments.flatMap((s) => s.events.filter((e) => !(e[1] === 'o' && e[2] === '')));
}

/** Moments worth a seek: each boundary, just before it, its keyframe's own time, and between. */
function momentsToTry(index: PlaybackIndex): number[] {
  const moments = new Set<number>([0, ms(index.duration)]);
  index.segments.forEach((segment, i) => {
    const start = ms(segment.start);
    const next = ms(index.segments[i + 1]?.start ?? index.duration);
    for (const t of [start, start - 1, start - 2, Math.floor((start + next) / 2), next - 1])
      if (t >= 0 && t <= ms(index.duration)) moments.add(t);
  });
  return [...moments].sort((a, b) => a - b);
}

async function json<T>(stream: Readable): Promise<T> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString('utf8')) as T;
}

async function expectSeeksMatchReplay(
  cast: string,
  index: PlaybackIndex,
  segmentAt: (atMs: number) => Promise<SegmentBody>,
): Promise<number> {
  const whole = castEvents(cast);
  const fromStart = new Replay({ cols: whole.cols, rows: whole.rows, init: '' }, whole.events);
  let compared = 0;
  try {
    for (const t of momentsToTry(index)) {
      const segment = await segmentAt(t);
      const fromKeyframe = await screenAt(segment.snapshot, segment.events, t);
      expect(fromKeyframe, `the screen at ${t} ms`).toEqual(await fromStart.at(t));
      compared += 1;
    }
  } finally {
    fromStart.dispose();
  }
  return compared;
}

describe('playback segments', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'tether-playback-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const url = (at: number, view: string) => `seg?at=${at}&view=${view}`;
  const segmentOf = (files: RecordingFiles, index: PlaybackIndex) => (atMs: number) => {
    const { view } = Object.fromEntries(new URLSearchParams(index.segments[0].url.split('?')[1]));
    return playbackSegment(files, atMs / 1000, parseView(view)).then(json<SegmentBody>);
  };

  async function synthetic(name: string, options: { sameMillisecond: number; seed: number }) {
    const files = {
      cast: join(dir, `${name}.cast`),
      keyframes: join(dir, `${name}.keyframes.jsonl`),
    };
    const made = await writeSyntheticRecording({
      castFile: files.cast,
      keyframeFile: files.keyframes,
      durationS: 150,
      bytes: 1_500_000,
      cols: 100,
      rows: 30,
      keyframeBytes: 96 * 1024,
      ...options,
    });
    return { files, made };
  }

  it('playback - a seek from any keyframe shows what replaying from the start shows', async () => {
    const { files, made } = await synthetic('seek', { sameMillisecond: 0.5, seed: 7 });
    const index = await playbackIndex(files, url);
    // Half of all pieces share a millisecond with the next: some keyframes cannot be used.
    expect(made.keyframes).toBeGreaterThan(10);
    expect(index.segments.length).toBeGreaterThan(5);
    expect(index.segments.length).toBeLessThan(made.keyframes + 1);
    expect(index.duration * 1000).toBe(made.durationMs);
    expect(index.markers.map((m) => m[1])).toEqual([
      'approved by ann',
      'joined: ann',
      'ended by ann: ended by ann',
    ]);

    const segments = await Promise.all(
      index.segments.map((s) => playbackSegment(files, s.start, undefined).then(json<SegmentBody>)),
    );
    expectPlayable(index, segments);
    const cast = readFileSync(files.cast, 'utf8');
    expect(joined(segments)).toEqual(castEvents(cast).events);
    const compared = await expectSeeksMatchReplay(cast, index, segmentOf(files, index));
    expect(compared).toBeGreaterThan(30);
  }, 120_000);

  it('playback - without keyframes the recording is one segment, played from the start', async () => {
    const files = { cast: join(dir, 'plain.cast'), keyframes: join(dir, 'plain.keyframes.jsonl') };
    await writeSyntheticRecording({ castFile: files.cast, durationS: 60, bytes: 200_000, seed: 3 });
    const index = await playbackIndex(files, url);
    expect(index.segments).toHaveLength(1);
    const segment = await playbackSegment(files, index.duration / 2).then(json<SegmentBody>);
    expect(segment.snapshot).toEqual({ cols: 120, rows: 36, init: '' });
    expectPlayable(index, [segment]);
    expect(joined([segment])).toEqual(castEvents(readFileSync(files.cast, 'utf8')).events);
  });

  it('playback - broken keyframe lines and a cast cut mid-line (a crash) still play', async () => {
    const { files } = await synthetic('broken', { sameMillisecond: 0, seed: 11 });
    const before = await playbackIndex(files, url);
    // A keyframe pointing into the middle of a line, one past the end, and one cut short.
    const frame = (offset: number) =>
      JSON.stringify({ t: before.duration - 1, offset, cols: 100, rows: 30, screen: 'x' });
    const size = readFileSync(files.cast).length;
    appendFileSync(files.keyframes, `${frame(size - 3)}\n${frame(size + 100)}\n{"t":1,"offs`);
    appendFileSync(files.cast, '[999.5,"o","cut sho');
    const after = await playbackIndex(files, url);
    expect(after.segments.map((s) => s.start)).toEqual(before.segments.map((s) => s.start));
    expect(after.duration).toBe(before.duration);
    const last = await playbackSegment(files, after.duration).then(json<SegmentBody>);
    expect(last.events.at(-1)![0]).toBe(after.duration);
    expect(JSON.stringify(last)).not.toContain('cut sho');
  });

  it('playback - a live recording: segments of an index agree with it while the files grow', async () => {
    const { files } = await synthetic('live', { sameMillisecond: 0, seed: 5 });
    const index = await playbackIndex(files, url);
    const view = parseView(new URLSearchParams(index.segments[0].url.split('?')[1]).get('view')!);
    const lastStart = index.segments.at(-1)!.start;

    // More output and a keyframe arrive after the index was read.
    const offset = readFileSync(files.cast).length;
    appendFileSync(files.cast, `[${index.duration + 5},"o","later\\r\\n"]\n`);
    appendFileSync(files.cast, `[${index.duration + 9},"o","later still\\r\\n"]\n`);
    appendFileSync(
      files.keyframes,
      `${JSON.stringify({ t: index.duration + 5, offset: offset + 40, cols: 100, rows: 30, screen: '' })}\n`,
    );

    const pinned = await playbackSegment(files, lastStart, view).then(json<SegmentBody>);
    expect(pinned.events.at(-1)![0]).toBe(index.duration);
    expect(JSON.stringify(pinned)).not.toContain('later');
    const now = await playbackIndex(files, url);
    expect(now.duration).toBe(index.duration + 9);
  });

  it('playback - bad input: negative or past the end, a view that is not one', async () => {
    const { files } = await synthetic('bad', { sameMillisecond: 0, seed: 2 });
    const index = await playbackIndex(files, url);
    const size = readFileSync(files.cast).length;
    const keyframeSize = readFileSync(files.keyframes).length;
    await expect(playbackSegment(files, index.duration + 0.001)).rejects.toMatchObject({
      code: 'invalid_request',
      message: expect.stringContaining('past the end'),
    });
    expect(() => parseView('12')).toThrow('view: expected BYTES.BYTES');
    expect(() => parseView('-1.0')).toThrow('view: expected BYTES.BYTES');
    for (const view of [
      { castBytes: size + 1, keyframeBytes: keyframeSize },
      { castBytes: size, keyframeBytes: keyframeSize + 1 },
      { castBytes: size - 2, keyframeBytes: keyframeSize },
      { castBytes: size, keyframeBytes: keyframeSize - 2 },
      { castBytes: 3, keyframeBytes: 0 },
    ])
      await expect(playbackSegment(files, 0, view), JSON.stringify(view)).rejects.toMatchObject({
        code: 'invalid_request',
      });
    // The file is only read, never changed, by a refused request.
    expect(readFileSync(files.cast).length).toBe(size);
    truncateSync(files.keyframes, 0);
    expect((await playbackIndex(files, url)).segments).toHaveLength(1);
  });
});

describe('playback routes', () => {
  let h: Harness;
  let agentId: string;
  let engineer: { id: string; token: string; username: string };
  let customer: { id: string; token: string; username: string };
  let outsider: { id: string; token: string; username: string };
  let otherEngineer: { id: string; token: string; username: string };
  let session: string;

  beforeAll(async () => {
    h = await startHarness();
    await h.account('Acme');
    await h.account('Globex');
    agentId = (await h.agent('Acme', 'web-1')).agentId;
    engineer = await h.user('engineer');
    otherEngineer = await h.user('engineer');
    customer = await h.user('customer', { account: 'Acme' });
    outsider = await h.user('customer', { account: 'Globex' });

    const asked = await h.api(
      'POST',
      `/api/v1/agents/${agentId}/terminal-requests`,
      { cols: 80, rows: 24 },
      engineer.token,
    );
    await h.api('POST', `/api/v1/approvals/${asked.body.approval.id}/approve`, {}, customer.token);
    const client = terminalClient(
      h.url,
      `/api/v1/terminals/socket?approval=${asked.body.approval.id}&agent=${agentId}`,
      engineer.token,
    );
    session = (await client.waitMessage('hello')).session;
    await client.waitMessage('snapshot');
    // Output in small pieces a few milliseconds apart: each keyframe's next event comes later,
    // so the real recorder's keyframes are the boundaries. Colours, and a resize between.
    const paced = (lines: number, tag: string) =>
      `perl -e 'use IO::Handle; for $i (1..${lines}) { printf "\\e[3%dm${tag} %06d\\e[0m %s\\n",` +
      ` $i%8, $i, "=" x ($i%53); if ($i % 60 == 0) { STDOUT->flush; select(undef,undef,undef,0.002) } }'; echo ${tag}-done-$((40+2))\r`;
    client.type(paced(120_000, 'first'));
    await client.waitText('first-done-42', 60_000);
    client.control({ type: 'resize', cols: 100, rows: 30 });
    await client.waitMessage('resize');
    client.type(paced(80_000, 'second'));
    await client.waitText('second-done-42', 60_000);
    client.type('printf "\\033[1;31mbold red\\033[0m at the end\\n"\r');
    await client.waitText('at the end');
    client.control({ type: 'end' });
    await client.waitMessage('ended');
    await waitFor(
      async () =>
        (await h.api('GET', `/api/v1/terminals/${session}`)).body.session.status === 'ended',
    );
  }, 120_000);
  afterAll(() => h?.close());

  const get = (path: string, token: string) => h.api('GET', path, undefined, token);

  it('playback - the real recorder’s keyframes cut the recording, and seeks match a replay', async () => {
    const index = (await get(`/api/v1/terminals/${session}/playback`, customer.token))
      .body as PlaybackIndex;
    const keyframes = (await get(`/api/v1/terminals/${session}/keyframes`, customer.token)).body
      .keyframes as unknown[];
    expect(keyframes.length).toBeGreaterThanOrEqual(4);
    expect(index.segments.length).toBeGreaterThanOrEqual(2);
    expect(index.term).toEqual({ cols: 80, rows: 24 });
    expect(index.markers.map((m) => m[1])).toEqual([
      `approved by ${customer.username}`,
      `ended by ${engineer.username}: ended by ${engineer.username}`,
    ]);
    const segments: SegmentBody[] = [];
    for (const s of index.segments) {
      const answer = await get(s.url, customer.token);
      expect(answer.status).toBe(200);
      segments.push(answer.body);
    }
    expectPlayable(index, segments);
    const cast = (await get(`/api/v1/terminals/${session}/recording`, customer.token))
      .body as string;
    expect(joined(segments)).toEqual(castEvents(cast).events);
    expect(segments.some((s) => s.events.some((e) => e[1] === 'r' && e[2] === '100x30'))).toBe(
      true,
    );

    await expectSeeksMatchReplay(cast, index, async (t) => {
      const answer = await get(
        `/api/v1/terminals/${session}/playback/segment?at=${t / 1000}`,
        customer.token,
      );
      return answer.body as SegmentBody;
    });
    const played = await h.api('GET', `/api/v1/audit?code=T8106I&limit=100`);
    expect(played.body.events.some((e: any) => e.sessionId === session)).toBe(true);
  }, 120_000);

  it('playback - bad input is refused with a clear error, and another’s session is a 404', async () => {
    const segment = (query: string, token = customer.token) =>
      get(`/api/v1/terminals/${session}/playback/segment${query}`, token);
    const index = (await get(`/api/v1/terminals/${session}/playback`, customer.token)).body;
    const cases: [string, string][] = [
      ['?at=-1', 'at: seconds from the start, not negative'],
      ['?at=abc', 'at: expected seconds, a number'],
      ['?at=', 'at: expected seconds, a number'],
      ['', 'at: invalid input: expected string, received undefined'],
      [`?at=${index.duration + 1}`, 'past the end of the recording'],
      ['?at=1e3', 'at: expected seconds, a number'],
      ['?at=1&view=x', 'view: expected BYTES.BYTES'],
      ['?at=1&view=999999999.0', 'view: past the end of the recording'],
      ['?at=1&view=200.0', 'view: not a view of this recording'],
      ['?at=1&speed=2', 'unknown field speed in query'],
    ];
    for (const [query, message] of cases) {
      const answer = await segment(query);
      expect(answer.status, query).toBe(400);
      expect(answer.body.error.code, query).toBe('invalid_request');
      expect(answer.body.error.message.toLowerCase(), query).toContain(message.toLowerCase());
    }

    for (const token of [outsider.token, otherEngineer.token]) {
      expect((await segment('?at=0', token)).status).toBe(404);
      expect((await get(`/api/v1/terminals/${session}/playback`, token)).status).toBe(404);
    }
    expect((await get('/api/v1/terminals/no-such/playback', customer.token)).status).toBe(404);
    const denied = await h.api('GET', `/api/v1/audit?code=T9000E&limit=1000`);
    expect(
      denied.body.events.some(
        (e: any) => e.actorId === outsider.id && e.params?.action === 'recording.play',
      ),
    ).toBe(true);
  });
});
