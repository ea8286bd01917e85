/** Every route answers malformed input with a clear `{"error":{"code","message"}}` and the right status. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHarness, type Harness } from '../testing/harness.ts';
import { START_TIMEOUT_MS } from '../exec/exec-routes.ts';

let h: Harness;
let agentId: string;

beforeAll(async () => {
  h = await startHarness();
  await h.account('Acme');
  agentId = (await h.agent('Acme', 'web')).agentId;
});
afterAll(() => h.close());

/** Routes with a JSON body, each with one valid body to mutate. */
const bodyRoutes = () => [
  { name: 'login', path: '/api/v1/login', valid: { username: 'x', password: 'y' } },
  {
    name: 'enroll',
    path: '/api/v1/enroll',
    valid: { token: 't', publicKey: 'k', name: 'n', os: 'o', arch: 'a', version: 'v' },
  },
  { name: 'join token', path: '/api/v1/join-tokens', valid: { account: 'Acme' } },
  { name: 'account', path: '/api/v1/accounts', valid: { name: 'New' } },
  { name: 'user', path: '/api/v1/users', valid: { username: 'u', role: 'engineer' } },
  { name: 'api token', path: '/api/v1/api-tokens', valid: { name: 'cli' } },
  { name: 'exec', path: `/api/v1/agents/${agentId}/exec`, valid: { argv: ['true'] } },
  {
    name: 'fan-out',
    path: '/api/v1/exec',
    valid: { agents: [agentId], request: { argv: ['true'] } },
  },
];

async function raw(path: string, body: string, contentType = 'application/json') {
  const response = await fetch(`${h.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${h.adminToken}`, 'content-type': contentType },
    body,
  });
  return { status: response.status, body: (await response.json()) as any };
}

describe('bad input', () => {
  it('bad input - malformed JSON is a 400 on every route', async () => {
    for (const route of bodyRoutes()) {
      const answer = await raw(route.path, '{"oops": ');
      expect(answer, route.name).toMatchObject({
        status: 400,
        body: { error: { code: 'invalid_request' } },
      });
      expect(answer.body.error.message, route.name).toContain('not valid JSON');
    }
  });

  it('bad input - an unknown field is a 400 naming the field on every route', async () => {
    for (const route of bodyRoutes()) {
      const answer = await raw(route.path, JSON.stringify({ ...route.valid, surprise: 1 }));
      expect(answer.status, route.name).toBe(400);
      expect(answer.body.error.message, route.name).toContain('surprise');
    }
  });

  it('bad input - wrong types are a 400 naming the field on every route', async () => {
    for (const route of bodyRoutes()) {
      const [field] = Object.keys(route.valid);
      const answer = await raw(
        route.path,
        JSON.stringify({ ...route.valid, [field]: { nested: true } }),
      );
      expect(answer.status, route.name).toBe(400);
      expect(answer.body.error.message, route.name).toContain(field);
    }
  });

  it('bad input - an oversized body is a 413 on every route', async () => {
    const huge = JSON.stringify({ padding: 'x'.repeat(3 * 1024 * 1024) });
    for (const route of bodyRoutes()) {
      const answer = await raw(route.path, huge);
      expect(answer, route.name).toMatchObject({
        status: 413,
        body: { error: { code: 'payload_too_large' } },
      });
    }
  });

  it('bad input - a body that is not JSON at all is refused', async () => {
    const answer = await raw('/api/v1/accounts', 'name=x', 'application/x-www-form-urlencoded');
    expect(answer.status).toBe(415);
    expect(answer.body.error.code).toBe('invalid_request');
  });

  it('bad input - a bad query parameter is a 400', async () => {
    const answer = await h.api('GET', '/api/v1/audit?limit=-5');
    expect(answer.status).toBe(400);
    expect(answer.body.error.message).toContain('limit');
    expect((await h.api('GET', '/api/v1/audit?since=yesterday')).status).toBe(400);
    expect((await h.api('GET', '/api/v1/audit?bogus=1')).body.error.message).toContain('bogus');
  });

  it('bad input - no token is a 401, a wrong token too, an unknown route a 404', async () => {
    expect((await h.api('GET', '/api/v1/agents', undefined, '')).status).toBe(401);
    expect((await h.api('GET', '/api/v1/agents', undefined, 'tth_wrong')).body.error.code).toBe(
      'unauthorized',
    );
    expect((await h.api('GET', '/api/v1/nothing-here')).body.error.code).toBe('not_found');
  });

  it('bad input - a malformed URL or cookie is a 400 or 401 in the one error shape, never a 500', async () => {
    const url = await fetch(`${h.url}/api/v1/agents/%E0%A4%A`, {
      headers: { authorization: `Bearer ${h.adminToken}` },
    });
    expect(url.status).toBe(400);
    expect((await url.json()).error.code).toBe('invalid_request');
    const cookie = await fetch(`${h.url}/api/v1/me`, {
      headers: { cookie: 'tether_session=%E0%A4%A' },
    });
    expect(cookie.status).toBe(401);
    expect((await cookie.json()).error.code).toBe('unauthorized');
  });

  it('bad input - exec needs exactly one of argv or command', async () => {
    const both = await h.api('POST', `/api/v1/agents/${agentId}/exec`, {
      argv: ['true'],
      command: 'true',
    });
    expect(both.status).toBe(400);
    expect(both.body.error.message).toContain('exactly one of argv or command');
    const neither = await h.api('POST', `/api/v1/agents/${agentId}/exec`, {});
    expect(neither.status).toBe(400);
  });

  it('bad input - exec refuses NUL bytes, an empty program and a command too big for one request', async () => {
    const cases = [
      [{ argv: ['echo', 'a\u0000b'] }, 'NUL'],
      [{ command: 'echo a\u0000b' }, 'NUL'],
      [{ argv: ['true'], env: { X: 'a\u0000' } }, 'NUL'],
      [{ argv: [''] }, 'must not be empty'],
      [{ command: `echo ${'x'.repeat(40_000)}` }, 'pass large input on stdin'],
      [{ argv: ['true'], timeoutMs: 1e300 }, 'timeoutMs'],
    ] as const;
    for (const [body, words] of cases) {
      const answer = await h.api('POST', `/api/v1/agents/${agentId}/exec`, body);
      expect(answer.status, JSON.stringify(body).slice(0, 60)).toBe(400);
      expect(answer.body.error.message).toContain(words);
    }
  });

  it('bad input - an exec request the endpoint would refuse, sent straight to the agent, ends only that command', async () => {
    const hub = h.endpoint.services.hub;
    const before = (await h.api('GET', `/api/v1/agents/${agentId}`)).body.agent.connectedAt;
    for (const argv of [['echo', 'a\u0000b'], ['']]) {
      const stream = await hub.exec(agentId, { argv, timeoutMs: 5000 }, null);
      const stderr: string[] = [];
      stream.onData((id, chunk) => id === 2 && stderr.push(chunk.toString()));
      expect(await stream.done).toMatchObject({ exitCode: 126 });
      expect(stderr.join('')).toContain('cannot run');
    }
    const after = (await h.api('GET', `/api/v1/agents/${agentId}`)).body.agent;
    expect(after).toMatchObject({ online: true, connectedAt: before });
  });

  it('bad input - a WebSocket message over the size limit closes the socket with 1009', async () => {
    const ws = new WebSocket(`${h.url.replace('http', 'ws')}/api/v1/live`, {
      headers: { authorization: `Bearer ${h.adminToken}` },
    });
    await new Promise((resolve) => ws.on('open', resolve));
    const code = await new Promise<number>((resolve) => {
      ws.on('close', (c) => resolve(c));
      ws.send('x'.repeat(2 * 1024 * 1024));
    });
    expect(code).toBe(1009);
  });

  it('bad input - the exec socket refuses a first message that is not start', async () => {
    const ws = new WebSocket(
      `${h.url.replace('http', 'ws')}/api/v1/agents/${agentId}/exec/stream`,
      { headers: { authorization: `Bearer ${h.adminToken}` } },
    );
    const messages: string[] = [];
    ws.on('message', (m) => messages.push(m.toString()));
    await new Promise((resolve) => ws.on('open', resolve));
    ws.send('{"type":"hello"}');
    await new Promise((resolve) => ws.on('close', resolve));
    expect(JSON.parse(messages[0])).toMatchObject({
      type: 'error',
      error: { code: 'invalid_request' },
    });
  });

  it('bad input - an exec socket that never says what to run is closed after 10 s', async () => {
    const ws = new WebSocket(
      `${h.url.replace('http', 'ws')}/api/v1/agents/${agentId}/exec/stream`,
      {
        headers: { authorization: `Bearer ${h.adminToken}` },
      },
    );
    const messages: string[] = [];
    ws.on('message', (m) => messages.push(m.toString()));
    const opened = await new Promise<number>((resolve) => ws.on('open', () => resolve(Date.now())));
    await new Promise((resolve) => ws.on('close', resolve));
    expect(Date.now() - opened).toBeGreaterThanOrEqual(START_TIMEOUT_MS - 100);
    expect(JSON.parse(messages[0]).error.message).toContain('no start message');
  }, 20_000);

  it('bad input - a socket from another origin is refused before the upgrade', async () => {
    const ws = new WebSocket(`${h.url.replace('http', 'ws')}/api/v1/live`, {
      headers: { authorization: `Bearer ${h.adminToken}`, origin: 'https://evil.example' },
    });
    const status = await new Promise<number>((resolve) =>
      ws.on('unexpected-response', (_q, res) => resolve(res.statusCode ?? 0)),
    );
    expect(status).toBe(403);
  });

  it('bad input - the OpenAPI document lists every route', async () => {
    const doc = (await h.api('GET', '/api/v1/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/api/v1/agents/{id}/exec', '/api/v1/audit', '/api/v1/enroll']),
    );
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        '/api/v1/live',
        '/api/v1/agents/{id}/exec/stream',
        '/install.sh',
        '/healthz',
      ]),
    );
    expect(doc.paths['/api/v1/agents/{id}/exec'].post.requestBody).toBeDefined();
  });
});
