import { describe, expect, it } from 'vitest';
import { languageLabel } from './language-names.ts';

describe('script languages', () => {
  it.each([
    ['main.js', 'JavaScript'],
    ['lib/Types.TS', 'TypeScript'],
    ['script.json', 'JSON'],
    ['README.md', 'Markdown'],
    ['.env', 'INI'],
    ['README', 'Plain text'],
    ['data.bin', 'Plain text'],
  ])('languages - %s is highlighted as %s', (name, label) => {
    expect(languageLabel(name)).toBe(label);
  });
});
