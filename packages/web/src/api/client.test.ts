import { describe, expect, it } from 'vitest';
import { ApiError, BAD_RESPONSE, createApiClient, NETWORK_ERROR } from './client.ts';

type Call = { url: string; init: RequestInit };

function fakeFetch(respond: () => Response | Promise<Response>) {
  const calls: Call[] = [];
  const impl = (async (url: string, init: RequestInit) => {
    calls.push({ url, init });
    return respond();
  }) as unknown as typeof fetch;
  return { calls, client: createApiClient(impl) };
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

describe('api client', () => {
  it('api client - sends JSON with the same-origin cookie and unwraps the answer', async () => {
    const user = { id: 'u1', username: 'ann', role: 'customer' };
    const { calls, client } = fakeFetch(() => json(200, { user }));

    await expect(client.login('ann', 'secret')).resolves.toEqual(user);
    expect(calls[0].url).toBe('/api/v1/login');
    expect(calls[0].init.method).toBe('POST');
    expect(calls[0].init.credentials).toBe('same-origin');
    expect(JSON.parse(String(calls[0].init.body))).toEqual({ username: 'ann', password: 'secret' });
  });

  const cases = [
    {
      name: 'the endpoint error shape keeps its code, message and status',
      respond: () =>
        json(401, { error: { code: 'unauthorized', message: 'wrong username or password' } }),
      code: 'unauthorized',
      message: 'wrong username or password',
      status: 401,
    },
    {
      name: 'a non-JSON error page becomes an http_ code',
      respond: () =>
        new Response('<html>bad gateway</html>', { status: 502, statusText: 'Bad Gateway' }),
      code: 'http_502',
      message: 'the server answered 502 Bad Gateway',
      status: 502,
    },
    {
      name: 'JSON without the error shape becomes an http_ code',
      respond: () => json(500, { oops: true }),
      code: 'http_500',
      message: 'the server answered 500',
      status: 500,
    },
    {
      name: 'a 200 that is not JSON is a bad response',
      respond: () => new Response('not json', { status: 200 }),
      code: BAD_RESPONSE,
      message: 'the server sent an unreadable answer',
      status: 0,
    },
    {
      name: 'a failed fetch is a network error',
      respond: () => Promise.reject(new TypeError('fetch failed')),
      code: NETWORK_ERROR,
      message: 'cannot reach the Tether server',
      status: 0,
    },
  ];
  for (const c of cases) {
    it(`api client - ${c.name}`, async () => {
      const { client } = fakeFetch(c.respond);
      const error = await client.agents().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ApiError);
      expect(error).toMatchObject({ code: c.code, message: c.message, status: c.status });
    });
  }

  it('api client - audit queries put only the given filters in the URL', async () => {
    const { calls, client } = fakeFetch(() => json(200, { events: [], nextCursor: null }));
    await client.audit({ agent: 'a b', limit: 50, cursor: undefined });
    expect(calls[0].url).toBe('/api/v1/audit?agent=a+b&limit=50');
  });

  it('api client - ids are escaped into the path', async () => {
    const { calls, client } = fakeFetch(() => json(200, { agent: {} }));
    await client.agent('../me');
    expect(calls[0].url).toBe('/api/v1/agents/..%2Fme');
  });
});
