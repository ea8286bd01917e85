import { describe, expect, it } from 'vitest';
import { relativeTime } from './relative-time.ts';

const NOW = Date.parse('2026-12-04T12:00:00.000Z');
const ago = (ms: number) => new Date(NOW - ms).toISOString();

describe('relative time', () => {
  const cases = [
    { name: 'a few seconds ago is just now', iso: ago(4_000), text: 'just now' },
    { name: 'a few seconds ahead (clock skew) is just now', iso: ago(-3_000), text: 'just now' },
    { name: 'seconds', iso: ago(42_000), text: '42 seconds ago' },
    { name: 'one minute', iso: ago(61_000), text: '1 minute ago' },
    { name: 'minutes round down', iso: ago(5 * 60_000 + 59_000), text: '5 minutes ago' },
    { name: 'hours', iso: ago(3 * 3600_000), text: '3 hours ago' },
    { name: 'one day is yesterday', iso: ago(25 * 3600_000), text: 'yesterday' },
    { name: 'weeks', iso: ago(15 * 24 * 3600_000), text: '2 weeks ago' },
    { name: 'the future', iso: ago(-2 * 3600_000), text: 'in 2 hours' },
    { name: 'no time is never', iso: null, text: 'never' },
    { name: 'garbage is unknown', iso: 'not a time', text: 'unknown' },
  ];
  for (const c of cases) {
    it(`relative time - ${c.name}`, () => {
      expect(relativeTime(c.iso, NOW)).toBe(c.text);
    });
  }
});
