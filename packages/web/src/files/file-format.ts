/** How the Files pages write sizes, modes and hex: small pure functions, tested beside. */
import type { EntryType } from './files-api.ts';

const TYPE_CHAR: Record<EntryType, string> = { file: '-', dir: 'd', symlink: 'l', other: '?' };
const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `1536` → `1.5 KiB`; bytes stay whole. */
export function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0
    ? `${bytes} B`
    : `${value < 10 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`;
}

/** `0o40755` (or `0o755`) and `dir` → `drwxr-xr-x`, with setuid, setgid and sticky as ls shows them. */
export function formatMode(mode: number, type: EntryType): string {
  const bits = mode & 0o7777;
  let out = TYPE_CHAR[type];
  for (const [shift, special, specialChar] of [
    [6, 0o4000, 's'],
    [3, 0o2000, 's'],
    [0, 0o1000, 't'],
  ] as const) {
    const triple = (bits >> shift) & 7;
    const exec = (triple & 1) === 1;
    const isSpecial = (bits & special) !== 0;
    out += triple & 4 ? 'r' : '-';
    out += triple & 2 ? 'w' : '-';
    out += isSpecial ? (exec ? specialChar : specialChar.toUpperCase()) : exec ? 'x' : '-';
  }
  return out;
}

/** The permission bits as four octal digits: `0755`. */
export function octalMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** `755` or `0755` → 0o755; anything else (`9`, `rwx`, `77777`) → null. */
export function parseOctalMode(text: string): number | null {
  const trimmed = text.trim();
  if (!/^[0-7]{3,4}$/.test(trimmed)) return null;
  return parseInt(trimmed, 8);
}

/** One hex dump line per 16 bytes: offset, bytes, and the printable ASCII beside them. */
export function hexLines(bytes: Uint8Array, start = 0): string[] {
  const lines: string[] = [];
  for (let at = 0; at < bytes.length; at += 16) {
    const row = bytes.subarray(at, at + 16);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0'));
    const left = hex.slice(0, 8).join(' ');
    const right = hex.slice(8).join(' ');
    const ascii = [...row]
      .map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.'))
      .join('');
    const offset = (start + at).toString(16).padStart(8, '0');
    lines.push(`${offset}  ${left.padEnd(23)}  ${right.padEnd(23)}  |${ascii}|`);
  }
  return lines;
}

/** Whether `ls` would hide it. */
export function isHidden(name: string): boolean {
  return name.startsWith('.');
}
