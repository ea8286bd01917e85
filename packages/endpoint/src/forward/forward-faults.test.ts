/** Forwards when things break: the agent drops and comes back, the endpoint restarts. */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '@tether/agent';
import { quiet, startHarness, waitFor, type Harness } from '../testing/harness.ts';
import { connectForward, echoServer, holdForward } from '../testing/forward-client.ts';

let h: Harness;
let agent: RunningAgent;
let accountId: string;
let engineer: { token: string };
let echo: Awaited<ReturnType<typeof echoServer>>;

beforeAll(async () => {
  h = await startHarness();
  accountId = await h.account('Acme');
  agent = await h.agent('Acme', 'flaky');
  engineer = await h.user('engineer');
  const customer = await h.user('customer', { account: 'Acme' });
  await h.api(
    'PUT',
    `/api/v1/accounts/${accountId}/consent`,
    { forwardMode: 'allow' },
    customer.token,
  );
  echo = await echoServer();
}, 60_000);
afterAll(async () => {
  await echo?.close();
  await agent?.close();
  await h?.close();
});

const online = async () =>
  (await h.api('GET', `/api/v1/agents/${agent.agentId}`)).body.agent.online as boolean;

it('forward - the agent drops and comes back: the forward stays, its holder hears both, connections work again', async () => {
  const created = await h.api(
    'POST',
    `/api/v1/agents/${agent.agentId}/forwards`,
    { target: `127.0.0.1:${echo.port}` },
    engineer.token,
  );
  const id = created.body.forward.id;
  const holder = holdForward(h.url, engineer.token, id);
  await holder.seen((m) => m.type === 'agent' && m.online, 'online at first');

  const inFlight = connectForward(h.url, engineer.token, id);
  expect(await inFlight.first).toMatchObject({ type: 'open' });

  await agent.close();
  await waitFor(async () => !(await online()), 15_000, 'agent offline');
  await holder.seen((m) => m.type === 'agent' && !m.online, 'offline');
  expect((await inFlight.closed).code).toBe(4409);
  expect(inFlight.messages.at(-1)).toEqual({
    type: 'error',
    error: { code: 'agent_offline', message: 'the agent disconnected' },
  });

  const whileAway = connectForward(h.url, engineer.token, id);
  expect(await whileAway.first).toEqual({
    type: 'error',
    error: {
      code: 'agent_offline',
      message: 'the agent is offline; connections work again once it reconnects',
    },
  });

  const stateDir = join(
    h.dir,
    readdirSync(h.dir).find((entry) => entry.endsWith('-flaky'))!,
  );
  agent = await startAgent({ stateDir, logger: quiet });
  await holder.seen((m) => m.type === 'agent' && m.online && holder.messages.length > 3, 'back');

  const after = connectForward(h.url, engineer.token, id);
  expect(await after.first).toMatchObject({ type: 'open' });
  after.send('still here');
  await waitFor(() => after.received().toString() === 'still here');
  after.ws.close();
  expect((await h.api('GET', `/api/v1/forwards/${id}`)).body.forward.status).toBe('live');
  holder.close();
});

/** A target on 127.0.0.1 that runs `serve` on each connection; closed after the test. */
async function target(serve: (socket: Socket) => void): Promise<{ port: number; close(): void }> {
  const server = createServer(serve);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

async function forwardTo(port: number): Promise<string> {
  const created = await h.api(
    'POST',
    `/api/v1/agents/${agent.agentId}/forwards`,
    { target: `127.0.0.1:${port}` },
    engineer.token,
  );
  return created.body.forward.id;
}

it('forward - what a target sent just before it closed reaches the client, then a clean close', async () => {
  const payload = randomBytes(3 * 1024 * 1024 + 17);
  const server = await target((socket) => socket.end(payload));
  const conn = connectForward(h.url, engineer.token, await forwardTo(server.port));
  expect(await conn.first).toMatchObject({ type: 'open' });
  conn.eof();
  expect((await conn.closed).code).toBe(1000);
  expect(conn.received().equals(payload)).toBe(true);
  server.close();
});

it('forward - a client that stops reading holds the target back; nothing piles up, nothing is lost', async () => {
  const total = 64 * 1024 * 1024;
  let written = 0;
  const server = await target((socket) => {
    const chunk = Buffer.alloc(64 * 1024, 7);
    const more = (): void => {
      while (written < total) {
        written += chunk.length;
        if (!socket.write(chunk)) return void socket.once('drain', more);
      }
      socket.end();
    };
    more();
  });
  const conn = connectForward(h.url, engineer.token, await forwardTo(server.port));
  expect(await conn.first).toMatchObject({ type: 'open' });
  conn.ws.pause();
  // Windows on the way (WebSocket, SSH channel, stream buffers, kernel sockets) add up to a
  // few MiB; without backpressure the target would have written all 64 MiB by now.
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  expect(written).toBeLessThan(24 * 1024 * 1024);
  conn.ws.resume();
  await waitFor(() => conn.received().length === total, 60_000, 'every byte');
  conn.eof();
  expect((await conn.closed).code).toBe(1000);
  server.close();
}, 90_000);
