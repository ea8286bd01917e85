import { describe, expect, it } from 'vitest';
import { decodeFile, formatSize, readmeOf, sortEntries } from './file-content.ts';

const utf8 = (text: string) => new TextEncoder().encode(text);

describe('file content', () => {
  it('file content - UTF-8 text is text, HTML included, as written', () => {
    expect(decodeFile(utf8('<script>alert(1)</script> ünï'), false)).toEqual({
      kind: 'text',
      text: '<script>alert(1)</script> ünï',
    });
  });

  it('file content - a NUL byte or bytes that are not UTF-8 make a file binary', () => {
    expect(decodeFile(Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0, 1), false).kind).toBe('binary');
    expect(decodeFile(Uint8Array.of(0x61, 0xff, 0x62), false).kind).toBe('binary');
  });

  it('file content - a character cut by truncation is dropped, not taken for binary', () => {
    const cut = utf8('abc é').subarray(0, 5);
    expect(decodeFile(cut, true)).toEqual({ kind: 'text', text: 'abc ' });
    expect(decodeFile(cut, false).kind).toBe('binary');
  });

  it.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1536, '1.5 KiB'],
    [600 * 1024, '600 KiB'],
    [3 * 1024 * 1024, '3.0 MiB'],
  ])('file content - %i bytes read as %s', (bytes, text) => {
    expect(formatSize(bytes)).toBe(text);
  });

  it('file content - the README is README.md before other spellings, and never a folder', () => {
    const entry = (name: string, type = 'blob') => ({ name, type });
    expect(readmeOf([entry('readme.txt'), entry('README.md'), entry('a.js')])?.name).toBe(
      'README.md',
    );
    expect(readmeOf([entry('README', 'tree'), entry('main.js')])).toBeUndefined();
  });

  it('file content - folders come first, names sort with numbers in order', () => {
    const entries = [
      { name: 'b10.js', type: 'blob' },
      { name: 'lib', type: 'tree' },
      { name: 'b2.js', type: 'blob' },
    ];
    expect(sortEntries(entries).map((e) => e.name)).toEqual(['lib', 'b2.js', 'b10.js']);
  });
});
