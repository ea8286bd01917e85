import { describe, expect, it } from 'vitest';
import { formatMode, formatSize, hexLines, octalMode, parseOctalMode } from './file-format.ts';

describe('file format', () => {
  const modes = [
    { name: 'a folder', mode: 0o40755, type: 'dir', text: 'drwxr-xr-x' },
    { name: 'a private file', mode: 0o100600, type: 'file', text: '-rw-------' },
    { name: 'setuid with exec', mode: 0o4755, type: 'file', text: '-rwsr-xr-x' },
    { name: 'setgid without exec', mode: 0o2640, type: 'file', text: '-rw-r-S---' },
    { name: 'sticky /tmp', mode: 0o41777, type: 'dir', text: 'drwxrwxrwt' },
    { name: 'a symlink', mode: 0o120777, type: 'symlink', text: 'lrwxrwxrwx' },
  ] as const;
  for (const m of modes)
    it(`file format - mode of ${m.name} reads as ls shows it`, () => {
      expect(formatMode(m.mode, m.type)).toBe(m.text);
    });

  it('file format - octal modes go both ways, and nonsense is refused', () => {
    expect(octalMode(0o100644)).toBe('0644');
    expect(parseOctalMode('755')).toBe(0o755);
    expect(parseOctalMode(' 0640 ')).toBe(0o640);
    for (const bad of ['', '9', '75', '77777', 'rwx', '0o755', '-1'])
      expect(parseOctalMode(bad)).toBeNull();
  });

  it('file format - sizes use binary units', () => {
    expect(formatSize(0)).toBe('0 B');
    expect(formatSize(1023)).toBe('1023 B');
    expect(formatSize(1536)).toBe('1.5 KiB');
    expect(formatSize(3 * 1024 * 1024)).toBe('3.0 MiB');
    expect(formatSize(200 * 1024 * 1024)).toBe('200 MiB');
  });

  it('file format - hex lines show offset, bytes and printable text, never control characters', () => {
    const bytes = new TextEncoder().encode('ELF\u0000\u001b[31mhi<b>');
    const [line] = hexLines(bytes, 0x100);
    expect(line).toBe(
      '00000100  45 4c 46 00 1b 5b 33 31  6d 68 69 3c 62 3e        |ELF..[31mhi<b>|',
    );
  });
});
