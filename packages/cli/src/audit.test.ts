/** Tests for audit time filters and the verify verdict. */
import { describe, expect, it } from 'vitest';
import type { AuditEventView } from '@tether/protocol';
import type { AgentView } from './agent-list.ts';
import { describeVerdict, parseTime, readEvents } from './audit.ts';
import type { Client } from './client.ts';
import { UsageError } from './errors.ts';

const NOW = Date.parse('2025-06-01T12:00:00Z');

describe('cli - audit', () => {
  it('audit - a duration means that long ago', () => {
    expect(parseTime('1h', NOW)).toBe('2025-06-01T11:00:00.000Z');
    expect(parseTime('90s', NOW)).toBe('2025-06-01T11:58:30.000Z');
  });

  it('audit - an ISO time is taken as given, in UTC', () => {
    expect(parseTime('2025-05-01T10:00:00+02:00', NOW)).toBe('2025-05-01T08:00:00.000Z');
  });

  it('audit - anything else is refused with the accepted forms', () => {
    expect(() => parseTime('yesterday', NOW)).toThrow('use an ISO time or a duration such as 1h');
    expect(() => parseTime('1x', NOW)).toThrow('invalid time "1x"');
  });

  it('audit - verdicts name the count, or the first bad event and why', () => {
    expect(describeVerdict({ ok: true, checked: 42 })).toBe('audit chain ok: 42 events');
    const firstBad = { seq: 7, id: 'ev7', reason: 'hash mismatch' };
    const broken = { ok: false, checked: 6, firstBad };
    expect(describeVerdict(broken)).toBe('audit chain broken at event #7 (ev7): hash mismatch');
  });
});

describe('cli - audit paging', () => {
  /** A fake endpoint holding events 1..total, newest first, `pageSize` at a time at most. */
  function fakeClient(total: number, pageSize: number) {
    const asked: Record<string, unknown>[] = [];
    const get = async (_path: string, options?: { query?: Record<string, unknown> }) => {
      const query = options?.query ?? {};
      asked.push(query);
      const from = query.cursor === undefined ? total : Number(query.cursor);
      const size = Math.min(pageSize, Number(query.limit));
      const events = [];
      for (let seq = from; seq > from - size && seq > 0; seq--) {
        events.push({ seq } as AuditEventView);
      }
      const last = events.at(-1)?.seq ?? 0;
      return { events, nextCursor: last > 1 ? String(last - 1) : null };
    };
    return { client: { get } as unknown as Pick<Client, 'get'>, asked };
  }

  it('audit - follows the cursor until the limit and asks only for what is left', async () => {
    const { client, asked } = fakeClient(10, 2);
    const events = await readEvents(client, { limit: '5', code: 'T3000I' });
    expect(events.map((event) => event.seq)).toEqual([10, 9, 8, 7, 6]);
    expect(asked.map((query) => [query.cursor, query.limit])).toEqual([
      [undefined, 5],
      ['8', 3],
      ['6', 1],
    ]);
    expect(asked.every((query) => query.code === 'T3000I')).toBe(true);
  });

  it('audit - stops when the endpoint has no more', async () => {
    const { client, asked } = fakeClient(3, 2);
    const events = await readEvents(client, { limit: '100' });
    expect(events).toHaveLength(3);
    expect(asked).toHaveLength(2);
  });
});

describe('cli - audit --agent', () => {
  const WEB_ID = '0b6c7f1e-3f7a-4c1e-9a43-5d2f0c8e7a11';
  const REVOKED_ID = '7d1e2f3a-4b5c-4d6e-8f90-a1b2c3d4e5f6';
  const agents = [{ id: WEB_ID, name: 'web-01' } as AgentView];

  /** Answers every page with no events and remembers the agent each query asked about. */
  function emptyLog() {
    const asked: unknown[] = [];
    const get = async (_path: string, options?: { query?: Record<string, unknown> }) => {
      asked.push(options?.query?.agent);
      return { events: [], nextCursor: null };
    };
    return { client: { get } as unknown as Pick<Client, 'get'>, asked };
  }

  it('audit - a name is asked about by its id', async () => {
    const { client, asked } = emptyLog();
    await readEvents(client, { limit: '10', agent: 'web-01' }, agents);
    expect(asked).toEqual([WEB_ID]);
  });

  it('audit - an unknown UUID passes through, as a revoked agent may be unlisted', async () => {
    const { client, asked } = emptyLog();
    await readEvents(client, { limit: '10', agent: REVOKED_ID }, agents);
    expect(asked).toEqual([REVOKED_ID]);
  });

  it('audit - a name no visible agent has is an error, not an empty list', async () => {
    const { client, asked } = emptyLog();
    const reading = readEvents(client, { limit: '10', agent: 'nosuch' }, agents);
    await expect(reading).rejects.toThrow(UsageError);
    await expect(reading).rejects.toThrow('no agent named nosuch');
    expect(asked).toEqual([]);
  });
});
