/** Routes anyone can call are rate limited: guessing passwords, scanning tokens, flooding the log. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { AGENT_CONNECT_PATH, AGENT_ID_HEADER } from '@tether/protocol';
import { startHarness, type Harness } from '../testing/harness.ts';
import { RateLimiter } from './rate-limit.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  await h.api('POST', '/api/v1/users', {
    username: 'ana',
    role: 'engineer',
    password: 'right password here',
  });
});
afterAll(() => h.close());

const login = (password: string) =>
  h.api('POST', '/api/v1/login', { username: 'ana', password }, '');

it('rate limit - after ten wrong passwords even the right one waits, and the log is not flooded', async () => {
  for (let i = 0; i < 10; i++) expect((await login('wrong')).status).toBe(401);
  const blocked = await login('right password here');
  expect(blocked.status).toBe(429);
  expect(blocked.body.error).toMatchObject({ code: 'rate_limited' });
  expect(blocked.body.error.message).toMatch(/try again in \d+ s/);
  for (let i = 0; i < 20; i++) await login('wrong');
  const failures = (await h.api('GET', '/api/v1/audit?code=T1000E&limit=1000')).body.events;
  expect(failures).toHaveLength(10);
});

it('rate limit - a flood of enrollments from one address is cut off', async () => {
  const statuses: number[] = [];
  const body = { token: 'tjt_x', publicKey: 'k', name: 'n', os: 'o', arch: 'a', version: 'v' };
  for (let i = 0; i < 40; i++)
    statuses.push((await h.api('POST', '/api/v1/enroll', body, '')).status);
  expect(statuses.slice(0, 30).every((s) => s === 400)).toBe(true);
  expect(statuses.slice(30).every((s) => s === 429)).toBe(true);
});

it('rate limit - refused agent connections stop being audited one by one', async () => {
  const before = (await h.api('GET', '/api/v1/audit?code=T2001E&limit=1000')).body.events.length;
  const statuses: number[] = [];
  for (let i = 0; i < 40; i++) {
    const ws = new WebSocket(`${h.url.replace('http', 'ws')}${AGENT_CONNECT_PATH}`, {
      headers: { [AGENT_ID_HEADER]: '00000000-0000-0000-0000-000000000000' },
    });
    statuses.push(
      await new Promise<number>((r) =>
        ws.on('unexpected-response', (_q, res) => r(res.statusCode ?? 0)),
      ),
    );
  }
  expect(statuses.filter((s) => s === 403)).toHaveLength(30);
  expect(statuses.slice(30).every((s) => s === 429)).toBe(true);
  const after = (await h.api('GET', '/api/v1/audit?code=T2001E&limit=1000')).body.events.length;
  expect(after - before).toBe(30);
});

it('rate limit - a window ends and the count starts again; memory stays bounded', () => {
  const limiter = new RateLimiter(2, 1000, 'tries');
  limiter.hit('a', 0);
  limiter.hit('a', 10);
  expect(() => limiter.hit('a', 20)).toThrow('too many tries; try again in 1 s');
  expect(() => limiter.hit('a', 1000)).not.toThrow();
  for (let i = 0; i < 20_000; i++) limiter.count(`k${i}`, 2000);
  expect(
    (limiter as unknown as { windows: Map<string, unknown> }).windows.size,
  ).toBeLessThanOrEqual(10_001);
});
