/** Paging cursors and the time-ordered ids that keep same-millisecond rows in order. */
import { describe, expect, it } from 'vitest';
import { decodeCursor, encodeCursor, timeOrderedId } from './page-cursor.ts';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('page cursor', () => {
  it('page cursor - ids made in one millisecond sort in the order they were made', () => {
    const now = Date.now() + 60_000;
    const ids = Array.from({ length: 5000 }, () => timeOrderedId(now));
    expect(ids.every((id) => UUID_V7.test(id))).toBe(true);
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('page cursor - an id made later in time sorts after, whatever came before', () => {
    const first = timeOrderedId(Date.now() + 120_000);
    expect(timeOrderedId(Date.now() + 120_001) > first).toBe(true);
  });

  it('page cursor - a cursor round-trips and anything else is refused', () => {
    const row = { created_at: '2025-01-01T00:00:00.000Z', id: 'abc' };
    expect(decodeCursor(encodeCursor(row))).toEqual({ createdAt: row.created_at, id: 'abc' });
    for (const bad of [
      '',
      'nonsense',
      Buffer.from('{"t":1}').toString('base64url'),
      'x'.repeat(300),
    ])
      expect(() => decodeCursor(bad)).toThrow('invalid cursor');
  });
});
