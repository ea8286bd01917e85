/** Tests for duration parsing. */
import { describe, expect, it } from 'vitest';
import { parseDuration } from './duration.ts';
import { UsageError } from './errors.ts';

describe('cli - duration', () => {
  const good = [
    { name: 'milliseconds', text: '500ms', ms: 500 },
    { name: 'seconds', text: '30s', ms: 30_000 },
    { name: 'minutes', text: '2m', ms: 120_000 },
    { name: 'hours', text: '1h', ms: 3_600_000 },
    { name: 'days', text: '7d', ms: 604_800_000 },
    { name: 'a fraction', text: '1.5s', ms: 1_500 },
    { name: 'a compound', text: '1h30m', ms: 5_400_000 },
    { name: 'surrounding spaces', text: ' 10s ', ms: 10_000 },
  ];
  it.each(good)('duration - parses $name ($text)', ({ text, ms }) => {
    expect(parseDuration(text)).toBe(ms);
  });

  const bad = ['', '30', 's', '1x', '1 h', '-5s', '1h 30m', '1.s', 'ten seconds'];
  it.each(bad)('duration - refuses %j with a message naming the input', (text) => {
    expect(() => parseDuration(text)).toThrow(UsageError);
    expect(() => parseDuration(text)).toThrow(`"${text}"`);
  });

  it('duration - refuses zero, which would mean no time at all', () => {
    expect(() => parseDuration('0s')).toThrow('must be more than zero');
  });
});
