import { describe, expect, it } from 'vitest';
import { visibleText } from './visible-text.ts';

describe('visible text', () => {
  it('visible text - escape sequences show as text instead of acting', () => {
    expect(visibleText('\u001b[31mred\u001b]0;title\u0007')).toBe('\\x1b[31mred\\x1b]0;title\\x07');
  });

  it('visible text - direction overrides cannot reorder what people read', () => {
    expect(visibleText('rm \u202e-rf')).toBe('rm \\u202e-rf');
  });

  it('visible text - tabs, newlines, HTML and other scripts pass through untouched', () => {
    const text = 'a\tb\n<b>bold</b> & ünïcødé 日本';
    expect(visibleText(text)).toBe(text);
  });
});
