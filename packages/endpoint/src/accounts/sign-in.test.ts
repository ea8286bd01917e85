/** Sign-in: password to cookie, cookie to caller, and what a browser session may not do. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHarness, type Harness } from '../testing/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  await h.account('Acme');
  await h.api('POST', '/api/v1/users', {
    username: 'dana',
    role: 'customer',
    account: 'Acme',
    password: 'correct horse battery',
  });
});
afterAll(() => h.close());

const login = (username: string, password: string) =>
  fetch(`${h.url}/api/v1/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });

it('sign-in - a right password sets an HttpOnly SameSite cookie that identifies the user', async () => {
  const response = await login('dana', 'correct horse battery');
  expect(response.status).toBe(200);
  const cookie = response.headers.get('set-cookie') ?? '';
  expect(cookie).toMatch(/^tether_session=tss_/);
  expect(cookie).toContain('HttpOnly');
  expect(cookie).toContain('SameSite=Lax');
  const me = await fetch(`${h.url}/api/v1/me`, { headers: { cookie: cookie.split(';')[0] } });
  expect((await me.json()).user).toMatchObject({ username: 'dana', role: 'customer' });
});

it('sign-in - a wrong password and an unknown user get the same 401, and both are audited', async () => {
  const wrong = await login('dana', 'nope');
  const unknown = await login('nobody', 'nope');
  expect(wrong.status).toBe(401);
  expect(await wrong.json()).toEqual(await unknown.json());
  const failed = (await h.api('GET', '/api/v1/audit?code=T1000E')).body.events;
  expect(failed.map((e: any) => e.params.username).sort()).toEqual(['dana', 'nobody']);
  expect(JSON.stringify(failed)).not.toContain('nope');
});

it('sign-in - logout ends the session', async () => {
  const cookie = (await login('dana', 'correct horse battery')).headers
    .get('set-cookie')!
    .split(';')[0];
  const out = await fetch(`${h.url}/api/v1/logout`, { method: 'POST', headers: { cookie } });
  expect(out.status).toBe(200);
  const after = await fetch(`${h.url}/api/v1/me`, { headers: { cookie } });
  expect(after.status).toBe(401);
});

it('sign-in - passwords are stored as argon2id hashes and never logged in the audit', async () => {
  const row = await h.endpoint.services.db
    .selectFrom('users')
    .select('password_hash')
    .where('username', '=', 'dana')
    .executeTakeFirstOrThrow();
  expect(row.password_hash).toMatch(/^\$argon2id\$/);
  const created = (await h.api('GET', '/api/v1/audit?code=T1002I')).body.events.find(
    (e: any) => e.params.username === 'dana',
  );
  expect(created.params.password).toBe('[redacted]');
});

it('sign-in - an API token made from a session works as a bearer token', async () => {
  const cookie = (await login('dana', 'correct horse battery')).headers
    .get('set-cookie')!
    .split(';')[0];
  const made = await fetch(`${h.url}/api/v1/api-tokens`, {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'cli' }),
  });
  const { token } = await made.json();
  expect((await h.api('GET', '/api/v1/me', undefined, token)).body.user.username).toBe('dana');
});

it('sign-in - a customer may not create accounts or users, and the attempt is audited', async () => {
  const customer = await h.user('customer', { account: 'Acme' });
  const answer = await h.api('POST', '/api/v1/accounts', { name: 'Mine now' }, customer.token);
  expect(answer.status).toBe(403);
  const denied = (await h.api('GET', `/api/v1/audit?code=T9000E&actor=${customer.id}`)).body.events;
  expect(denied[0].params.action).toBe('account.create');
});

it('tokens - a token can be listed and revoked, and a short token cannot mint a lasting one', async () => {
  const user = await h.user('engineer');
  const short = await h.api(
    'POST',
    '/api/v1/api-tokens',
    { name: 'short', ttlSeconds: 60 },
    user.token,
  );
  const child = await h.api('POST', '/api/v1/api-tokens', { name: 'forever' }, short.body.token);
  expect(child.body.expiresAt).toBe(short.body.expiresAt);

  const mine = (await h.api('GET', '/api/v1/api-tokens', undefined, user.token)).body.apiTokens;
  expect(mine.map((t: any) => t.name).sort()).toEqual(['forever', 'short', 'test']);
  expect(JSON.stringify(mine)).not.toContain('tth_');
  expect(
    (await h.api('DELETE', `/api/v1/api-tokens/${short.body.id}`, undefined, user.token)).status,
  ).toBe(200);
  expect((await h.api('GET', '/api/v1/me', undefined, short.body.token)).status).toBe(401);

  const other = await h.user('engineer');
  const foreign = await h.api(
    'DELETE',
    `/api/v1/api-tokens/${child.body.id}`,
    undefined,
    other.token,
  );
  expect(foreign.status).toBe(404);
});

it('users - a disabled user is signed out everywhere and refused', async () => {
  const user = await h.user('engineer');
  const disabled = await h.api('POST', `/api/v1/users/${user.id}/disable`);
  expect(disabled.status).toBe(200);
  expect((await h.api('GET', '/api/v1/me', undefined, user.token)).status).toBe(401);
  const event = (await h.api('GET', '/api/v1/audit?code=T1006I')).body.events[0];
  expect(event.params.userId).toBe(user.id);
});
