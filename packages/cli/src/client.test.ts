/** Tests for the API client against a tiny local HTTP server. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Client } from './client.ts';
import { ApiError, describeError, NetworkError, TokenRefusedError } from './errors.ts';

const TOKEN = 'tth_secret_value';
let server: Server;
let url: string;
const seen: { authorization?: string; path?: string } = {};

beforeAll(async () => {
  server = createServer((request, response) => {
    seen.authorization = request.headers.authorization;
    seen.path = request.url;
    if (request.url?.startsWith('/api/v1/ok')) {
      response.setHeader('content-type', 'application/json');
      return response.end(JSON.stringify({ hello: 'world' }));
    }
    if (request.url === '/api/v1/proxy-down') {
      response.statusCode = 502;
      return response.end('<html>bad gateway</html>');
    }
    if (request.url === '/api/v1/me') {
      response.statusCode = 401;
      response.setHeader('content-type', 'application/json');
      return response.end(JSON.stringify({ error: { code: 'unauthorized', message: 'no' } }));
    }
    response.statusCode = request.headers.authorization ? 409 : 401;
    response.setHeader('content-type', 'application/json');
    const code = request.headers.authorization ? 'agent_offline' : 'unauthorized';
    response.end(JSON.stringify({ error: { code, message: `${code} said the server` } }));
  });
  server.on('upgrade', (_request, socket) => {
    socket.end(
      'HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\n\r\n' +
        JSON.stringify({ error: { code: 'unauthorized', message: 'sign in' } }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

describe('cli - client', () => {
  it('client - sends the bearer token and query, and parses JSON', async () => {
    const query = { a: 'x y', b: undefined };
    const body = await new Client(url, TOKEN).get('/api/v1/ok', { query });
    expect(body).toEqual({ hello: 'world' });
    expect(seen.authorization).toBe(`Bearer ${TOKEN}`);
    expect(seen.path).toBe('/api/v1/ok?a=x+y');
  });

  it('client - an error body becomes an ApiError with its code and status', async () => {
    const error = await new Client(url, TOKEN).get('/api/v1/agents').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ code: 'agent_offline', status: 409 });
    expect((error as Error).message).toBe('agent_offline said the server');
  });

  it('client - a 401 reads as "not signed in", whatever the server said', async () => {
    const error = await new Client(url).get('/api/v1/agents').catch((e: unknown) => e);
    expect(describeError(error)).toBe('not signed in: set TETHER_TOKEN or run tether login');
  });

  const sources = [
    { source: '--token' as const },
    { source: 'TETHER_TOKEN' as const },
    { source: 'saved login' as const },
  ];
  it.each(sources)('client - a 401 to a token from $source names it', async ({ source }) => {
    const client = new Client(url, TOKEN, source);
    const error = await client.get('/api/v1/me').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenRefusedError);
    expect(error).toMatchObject({ status: 401, source });
    expect(describeError(error)).toBe(
      `the endpoint refused the token from ${source}: run tether login or set a valid TETHER_TOKEN`,
    );
  });

  it('client - a refused WebSocket upgrade names where the token came from', async () => {
    const client = new Client(url, TOKEN, 'TETHER_TOKEN');
    const error = await client.socket('/api/v1/live').catch((e: unknown) => e);
    expect(describeError(error)).toMatch(/^the endpoint refused the token from TETHER_TOKEN:/);
  });

  it("client - the endpoint's message is prefixed by what the CLI was doing", async () => {
    const client = new Client(url, TOKEN);
    const doing = 'listing agents';
    const error = await client.get('/api/v1/agents', { doing }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'agent_offline', doing });
    expect(describeError(error)).toBe('listing agents: agent_offline said the server');
  });

  it('client - an error sent inside a stream reads like one in a response', () => {
    const client = new Client(url, TOKEN, 'saved login');
    const tooBig = { code: 'invalid_request', message: 'Too big' };
    const error = client.streamError(tooBig, 'running the command on web-01');
    expect(error).toMatchObject({ code: 'invalid_request', status: 400 });
    expect(describeError(error)).toBe('running the command on web-01: Too big');
    const refused = client.streamError({ code: 'unauthorized', message: 'no' });
    expect(describeError(refused)).toMatch(/^the endpoint refused the token from saved login:/);
  });

  it('client - a status without an error body still becomes an ApiError', async () => {
    const error = await new Client(url, TOKEN).get('/api/v1/proxy-down').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'internal', status: 502 });
    expect((error as Error).message).toBe('endpoint answered 502 Bad Gateway');
  });

  it('client - an unreachable endpoint is a NetworkError naming it, never the token', async () => {
    const closed = await closedPort();
    const target = `http://127.0.0.1:${closed}`;
    const error = await new Client(target, TOKEN).get('/api/v1/ok').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    const reason = `connect ECONNREFUSED 127.0.0.1:${closed}`;
    expect((error as Error).message).toBe(`cannot reach ${target}: ${reason}`);
    expect((error as Error).message).not.toContain(TOKEN);
  });

  it('client - a port fetch refuses to dial is explained, not called a "bad port"', async () => {
    const client = new Client('http://127.0.0.1:6000');
    const error = await client.get('/api/v1/ok').catch((e: unknown) => e);
    expect((error as Error).message).toBe(
      'cannot reach http://127.0.0.1:6000: fetch refuses port 6000; serve the endpoint on another port',
    );
  });

  it('client - a refused WebSocket upgrade carries the endpoint error', async () => {
    const error = await new Client(url).socket('/api/v1/live').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'unauthorized', status: 401 });
  });

  it('client - an unreachable WebSocket is a NetworkError', async () => {
    const target = `http://127.0.0.1:${await closedPort()}`;
    const error = await new Client(target, TOKEN).socket('/api/v1/live').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).message).toMatch(/^cannot reach http:.*ECONNREFUSED/);
  });
});

/** A port that was just free: bound, read, and released. */
async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}
