/**
 * A made-up support session written as the recorder writes one: an asciicast v2 file and its
 * keyframes (the screen of a headless terminal every KEYFRAME_BYTES of output or
 * KEYFRAME_INTERVAL_MS), for tests and the playback benchmark. The session looks like work on
 * a server: prompts with the time in them, typed commands echoed a key at a time, log tails
 * in colour, listings, a progress bar redrawn with \r, a full-screen monitor, and now and then
 * a large dump that carries most of the bytes. A seeded generator makes it the same each time.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import xtermHeadless from '@xterm/headless';
import serializeAddon from '@xterm/addon-serialize';
import { KEYFRAME_BYTES, KEYFRAME_INTERVAL_MS } from '../terminal/recorder.ts';

const { Terminal } = xtermHeadless;
const { SerializeAddon } = serializeAddon;
/** As the endpoint's headless screen keeps (screen.ts). */
const SCROLLBACK_LINES = 1_000;
/** Output arrives from the pty in pieces of at most this much. */
const CHUNK_BYTES = 16 * 1024;

export interface SyntheticOptions {
  castFile: string;
  /** Omit to write no keyframes, as a recording made before keyframes existed. */
  keyframeFile?: string;
  durationS: number;
  /** Output bytes to aim for; the result lands within a few percent. */
  bytes: number;
  cols?: number;
  rows?: number;
  seed?: number;
  keyframeBytes?: number;
  keyframeIntervalMs?: number;
  /** How often a burst's next piece lands in the same millisecond as the one before. */
  sameMillisecond?: number;
  /** Extra markers, each written at the first quiet moment at or after its second. */
  markers?: [seconds: number, label: string][];
}

export interface SyntheticRecording {
  events: number;
  outputBytes: number;
  keyframes: number;
  durationMs: number;
}

export async function writeSyntheticRecording(o: SyntheticOptions): Promise<SyntheticRecording> {
  const cols = o.cols ?? 120;
  const rows = o.rows ?? 36;
  const random = seeded(o.seed ?? 1);
  const keyframeBytes = o.keyframeBytes ?? KEYFRAME_BYTES;
  const keyframeIntervalMs = o.keyframeIntervalMs ?? KEYFRAME_INTERVAL_MS;
  const sameMs = o.sameMillisecond ?? 0.2;
  const durationMs = o.durationS * 1000;

  const cast = new LineFile(o.castFile);
  const keyframes = o.keyframeFile ? new LineFile(o.keyframeFile) : null;
  const header = { version: 2, width: cols, height: rows, timestamp: 1_780_000_000 };
  cast.line(JSON.stringify({ ...header, env: { TERM: 'xterm-256color', SHELL: '/bin/sh' } }));
  const terminal = new Terminal({
    cols,
    rows,
    scrollback: SCROLLBACK_LINES,
    allowProposedApi: true,
  });
  const serializer = new SerializeAddon();
  terminal.loadAddon(serializer);

  let now = 0;
  let events = 0;
  let outputBytes = 0;
  let sinceKeyframe = 0;
  let lastKeyframe = 0;
  let keyframeCount = 0;
  const event = (kind: 'o' | 'm', data: string) => {
    cast.line(JSON.stringify([now / 1000, kind, data]));
    events += 1;
  };
  const output = async (text: string) => {
    const bytes = Buffer.byteLength(text);
    event('o', text);
    outputBytes += bytes;
    sinceKeyframe += bytes;
    terminal.write(text);
    if (!keyframes) return;
    if (sinceKeyframe >= keyframeBytes || now - lastKeyframe >= keyframeIntervalMs) {
      // xterm parses in slices: wait for everything written so far before reading the screen.
      await write(terminal, '');
      const screen = serializer.serialize();
      keyframes.line(JSON.stringify({ t: now / 1000, offset: cast.bytes, cols, rows, screen }));
      keyframeCount += 1;
      sinceKeyframe = 0;
      lastKeyframe = now;
    }
  };
  /** Writes a burst as pty-sized pieces, a few milliseconds apart. */
  const burst = async (text: string) => {
    for (let i = 0; i < text.length; i += CHUNK_BYTES) {
      await output(text.slice(i, i + CHUNK_BYTES));
      now += random() < sameMs ? 0 : 1 + Math.floor(random() * 6);
    }
  };

  event('m', 'approved by ann');
  let joined = false;
  const extra = [...(o.markers ?? [])].sort((a, b) => a[0] - b[0]);
  while (now < durationMs - 2000) {
    while (extra.length > 0 && extra[0][0] * 1000 <= now) event('m', extra.shift()![1]);
    const clock = formatClock(now);
    await output(`\r\n\x1b[32msupport@web-1\x1b[0m:\x1b[34m~\x1b[0m [${clock}]$ `);
    const kind = pick(random, ['logs', 'listing', 'progress', 'monitor', 'dump', 'logs']);
    const command = COMMANDS[kind];
    for (const key of command) {
      now += 60 + Math.floor(random() * 140);
      await output(key);
    }
    now += 5 + Math.floor(random() * 40);
    await output('\r\n');
    // Most bytes come in the dumps; their size keeps the whole on course for `bytes`.
    const left = Math.max(0, o.bytes - outputBytes);
    const timeLeft = Math.max(1, durationMs - now);
    const share = (left * 15_000) / timeLeft;
    if (kind === 'logs') await burst(logLines(random, clock, 40 + Math.floor(random() * 80)));
    if (kind === 'listing') await burst(listing(random, 30 + Math.floor(random() * 60)));
    if (kind === 'progress') {
      for (let p = 0; p <= 100; p += 5) {
        await output(`\r[${'#'.repeat(p / 5).padEnd(20, '.')}] ${p}%`);
        now += 80 + Math.floor(random() * 120);
      }
    }
    if (kind === 'monitor') await burst(monitor(random, clock, cols, rows));
    if (kind === 'dump') await burst(dump(random, Math.max(4096, share * 5)));
    if (!joined && now > durationMs / 6) {
      event('m', 'joined: ann');
      joined = true;
    }
    now += 1000 + Math.floor(random() * 14_000);
  }
  now = Math.max(now, durationMs);
  await output('\r\nlogout\r\n');
  event('m', 'ended by ann: ended by ann');
  await cast.close();
  await keyframes?.close();
  terminal.dispose();
  return { events, outputBytes, keyframes: keyframeCount, durationMs: now };
}

const COMMANDS: Record<string, string> = {
  logs: 'journalctl -u nginx -n 100',
  listing: 'ls -l /var/log',
  progress: 'apt-get upgrade -y',
  monitor: 'top -b -n 1',
  dump: 'base64 /var/backups/db.dump | head',
};

function logLines(random: () => number, clock: string, count: number): string {
  const levels = ['\x1b[32mINFO\x1b[0m', '\x1b[33mWARN\x1b[0m', '\x1b[31;1mERROR\x1b[0m'];
  let text = '';
  for (let i = 0; i < count; i++) {
    const level = levels[random() < 0.8 ? 0 : random() < 0.7 ? 1 : 2];
    const status = pick(random, ['200', '200', '304', '404', '502']);
    text += `${clock}.${String(i).padStart(3, '0')} ${level} GET /app/${Math.floor(random() * 1e6)} ${status}\r\n`;
  }
  return text;
}

function listing(random: () => number, count: number): string {
  let text = `total ${count * 8}\r\n`;
  for (let i = 0; i < count; i++) {
    const size = String(Math.floor(random() * 1e7)).padStart(9);
    text += `-rw-r----- 1 root adm ${size} Dec  4 10:${String(i % 60).padStart(2, '0')} \x1b[1;34msyslog.${i}\x1b[0m\r\n`;
  }
  return text;
}

function monitor(random: () => number, clock: string, cols: number, rows: number): string {
  let text = `\x1b[H\x1b[2Jtop - ${clock} up 41 days, load average: ${random().toFixed(2)}\r\n`;
  text += '\x1b[7m  PID USER      %CPU %MEM COMMAND'.padEnd(cols + 4) + '\x1b[0m\r\n';
  for (let i = 2; i < rows - 1; i++) {
    const cpu = (random() * 100).toFixed(1).padStart(5);
    text += `${String(1000 + i * 37).padStart(5)} www-data ${cpu}  1.${i % 10} php-fpm\r\n`;
  }
  return text;
}

function dump(random: () => number, bytes: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const line = Array.from({ length: 76 }, () => alphabet[Math.floor(random() * 64)]).join('');
  const count = Math.ceil(bytes / 78);
  let text = '';
  // Rotating one line keeps this fast and the screen still changes every line.
  for (let i = 0; i < count; i++) {
    const k = i % 76;
    text += `${line.slice(k)}${line.slice(0, k)}\r\n`;
  }
  return text;
}

function formatClock(ms: number): string {
  const s = Math.floor(ms / 1000);
  const hh = String(Math.floor(s / 3600)).padStart(2, '0');
  const mm = String(Math.floor(s / 60) % 60).padStart(2, '0');
  return `${hh}:${mm}:${String(s % 60).padStart(2, '0')}`;
}

function pick<T>(random: () => number, items: T[]): T {
  return items[Math.floor(random() * items.length)];
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function write(terminal: InstanceType<typeof Terminal>, text: string): Promise<void> {
  return new Promise((resolve) => terminal.write(text, resolve));
}

/** Appends lines through one buffered stream and counts the bytes, as keyframe offsets need. */
class LineFile {
  bytes = 0;
  private readonly stream: WriteStream;

  constructor(path: string) {
    this.stream = createWriteStream(path, { mode: 0o600 });
  }

  line(text: string): void {
    const line = `${text}\n`;
    this.bytes += Buffer.byteLength(line);
    this.stream.write(line);
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) =>
      this.stream.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
  }
}
