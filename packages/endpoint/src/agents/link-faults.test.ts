/** The link under attack and failure: a replayed handshake, a frozen agent. */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { AGENT_CONNECT_PATH, AGENT_ID_HEADER } from '@tether/protocol';
import { startAgent } from '@tether/agent';
import { quiet, startHarness, waitFor, type Harness } from '../testing/harness.ts';
import { spawnAgent, stopChild } from '../testing/processes.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
  await h.account('Acme');
});
afterAll(() => h.close());

const connects = async (agentId: string) =>
  (await h.api('GET', `/api/v1/audit?agent=${agentId}&code=T2001I`)).body.events.length as number;

it('link - a replayed handshake from a recorded session never brings the agent online', async () => {
  const agent = await h.agent('Acme', 'recorded');
  await agent.close();
  await waitFor(
    async () => !(await h.api('GET', `/api/v1/agents/${agent.agentId}`)).body.agent.online,
  );

  // A recording proxy between agent and endpoint keeps what the agent sent.
  const recorded: Buffer[] = [];
  const proxy = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  proxy.on('connection', (inbound, request) => {
    const outbound = new WebSocket(`${h.url.replace('http', 'ws')}${AGENT_CONNECT_PATH}`, {
      headers: { [AGENT_ID_HEADER]: String(request.headers[AGENT_ID_HEADER]) },
    });
    const queued: Buffer[] = [];
    outbound.on('open', () => queued.splice(0).forEach((m) => outbound.send(m)));
    inbound.on('message', (data) => {
      recorded.push(data as Buffer);
      if (outbound.readyState === WebSocket.OPEN) outbound.send(data);
      else queued.push(data as Buffer);
    });
    outbound.on('message', (data) => inbound.send(data));
    outbound.on('close', () => inbound.close());
    inbound.on('close', () => outbound.close());
  });
  await new Promise((resolve) => proxy.on('listening', resolve));
  const state = join(
    h.dir,
    readdirSync(h.dir).find((e) => e.endsWith('-recorded'))!,
  );
  const identityFile = join(state, 'identity.json');
  const identity = JSON.parse(readFileSync(identityFile, 'utf8'));
  writeFileSync(
    identityFile,
    JSON.stringify({
      ...identity,
      endpoint: `http://127.0.0.1:${(proxy.address() as { port: number }).port}`,
    }),
  );

  const viaProxy = await startAgent({ stateDir: state, logger: quiet });
  await waitFor(
    async () => (await h.api('GET', `/api/v1/agents/${agent.agentId}`)).body.agent.online,
    10_000,
    'online via proxy',
  );
  await viaProxy.close();
  await waitFor(
    async () => !(await h.api('GET', `/api/v1/agents/${agent.agentId}`)).body.agent.online,
  );
  proxy.close();
  const before = await connects(agent.agentId);

  const replay = new WebSocket(`${h.url.replace('http', 'ws')}${AGENT_CONNECT_PATH}`, {
    headers: { [AGENT_ID_HEADER]: agent.agentId },
  });
  await new Promise((resolve) => replay.on('open', resolve));
  for (const message of recorded) {
    if (replay.readyState !== WebSocket.OPEN) break;
    replay.send(message);
    await new Promise((r) => setTimeout(r, 20));
  }
  await new Promise((resolve) =>
    replay.readyState === WebSocket.CLOSED ? resolve(null) : replay.on('close', resolve),
  );
  expect(await connects(agent.agentId)).toBe(before);
  expect((await h.api('GET', `/api/v1/agents/${agent.agentId}`)).body.agent.online).toBe(false);
});

it('link - a frozen agent is found dead within 30 s and comes back when it thaws', async () => {
  const token = await h.joinToken('Acme');
  const child = spawnAgent(h.url, token, join(h.dir, 'frozen'), 'frozen');
  try {
    let agentId = '';
    await waitFor(
      async () => {
        const found = (await h.api('GET', '/api/v1/agents')).body.agents.find(
          (a: any) => a.name === 'frozen',
        );
        agentId = found?.id ?? '';
        return found?.online === true;
      },
      20_000,
      'frozen agent online',
    );
    const online = await connects(agentId);
    child.kill('SIGSTOP');
    const frozenAt = Date.now();
    await waitFor(
      async () => !(await h.api('GET', `/api/v1/agents/${agentId}`)).body.agent.online,
      35_000,
      'dead link found',
    );
    expect(Date.now() - frozenAt).toBeLessThan(30_000);
    const reason = (await h.api('GET', `/api/v1/audit?agent=${agentId}&code=T2002I`)).body.events[0]
      .result.reason;
    expect(reason).toBe('heartbeat missed');
    child.kill('SIGCONT');
    await waitFor(async () => (await connects(agentId)) > online, 30_000, 'reconnect after thaw');
  } finally {
    child.kill('SIGCONT');
    await stopChild(child);
  }
}, 90_000);
