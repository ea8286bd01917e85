import { describe, expect, it } from 'vitest';
import { ownershipHistory } from './ownership.ts';

const at = (day: number) => `2026-01-${String(day).padStart(2, '0')}T00:00:00.000Z`;

describe('ownership history', () => {
  it('ownership - only versions that changed the owners are listed, in publishing order', () => {
    const history = ownershipHistory([
      { version: '2.0.0', publishedAt: at(4), publisher: 'bob', owners: ['bob'] },
      { version: '1.1.1', publishedAt: at(3), publisher: 'alice', owners: ['Alice', 'bob'] },
      { version: '1.1.0', publishedAt: at(2), publisher: 'alice', owners: ['alice', 'bob'] },
      { version: '1.0.0', publishedAt: at(1), publisher: 'alice', owners: ['alice'] },
    ]);
    expect(history).toEqual([
      { version: '1.0.0', publishedAt: at(1), publisher: 'alice', added: ['alice'], removed: [] },
      { version: '1.1.0', publishedAt: at(2), publisher: 'alice', added: ['bob'], removed: [] },
      { version: '2.0.0', publishedAt: at(4), publisher: 'bob', added: [], removed: ['Alice'] },
    ]);
  });

  it('ownership - a backported patch published later counts where it was published', () => {
    const history = ownershipHistory([
      { version: '2.0.0', publishedAt: at(1), publisher: 'bob', owners: ['bob'] },
      { version: '1.0.1', publishedAt: at(2), publisher: 'bob', owners: ['bob', 'carol'] },
    ]);
    expect(history.map((c) => [c.version, c.added])).toEqual([
      ['2.0.0', ['bob']],
      ['1.0.1', ['carol']],
    ]);
  });
});
