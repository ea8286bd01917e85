/** The live socket delivers each audit event as it is written, only to those who may see it. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHarness, waitFor, type Harness } from '../testing/harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(() => h.close());

function subscribe(token: string): Promise<{ events: any[]; ws: WebSocket }> {
  const ws = new WebSocket(`${h.url.replace('http', 'ws')}/api/v1/live`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const events: any[] = [];
  return new Promise((resolve, reject) => {
    ws.on('message', (data) => {
      const message = JSON.parse(data.toString());
      if (message.type === 'subscribed') resolve({ events, ws });
      if (message.type === 'audit') events.push(message.event);
    });
    ws.on('open', () => ws.send(JSON.stringify({ type: 'subscribe', topics: ['audit'] })));
    ws.on('error', reject);
  });
}

it('live - each role gets the events it may see and nothing else', async () => {
  await h.account('Mine');
  await h.account('Theirs');
  const mine = await h.user('customer', { account: 'Mine' });
  const theirs = await h.user('customer', { account: 'Theirs' });
  const manager = await h.user('manager');
  const engineer = await h.user('engineer', { manager: manager.username });
  const outsider = await h.user('engineer');
  const agent = await h.agent('Mine', 'box');

  const feeds = {
    admin: await subscribe(h.adminToken),
    mine: await subscribe(mine.token),
    theirs: await subscribe(theirs.token),
    manager: await subscribe(manager.token),
    outsider: await subscribe(outsider.token),
  };
  const ran = await h.api(
    'POST',
    `/api/v1/agents/${agent.agentId}/exec`,
    { argv: ['echo', 'hi'] },
    engineer.token,
  );
  const execId = ran.body.execId;
  const sawExec = (feed: { events: any[] }) =>
    feed.events.some((e) => e.code === 'T3000I' && e.params.execId === execId);

  await waitFor(
    () => sawExec(feeds.admin) && sawExec(feeds.mine) && sawExec(feeds.manager),
    5000,
    'exec event',
  );
  await h.api('GET', '/api/v1/agents', undefined, theirs.token);
  await waitFor(() => feeds.theirs.events.length > 0, 5000, 'own event');
  expect(sawExec(feeds.theirs)).toBe(false);
  expect(sawExec(feeds.outsider)).toBe(false);
  expect(
    feeds.theirs.events.every(
      (e) => e.accountId === null || e.accountId !== agent.identity.accountId,
    ),
  ).toBe(true);
  for (const feed of Object.values(feeds)) feed.ws.close();
});

it('live - an unknown message gets an error, not a disconnect', async () => {
  const { ws } = await subscribe(h.adminToken);
  const reply = new Promise<any>((resolve) =>
    ws.once('message', (d) => resolve(JSON.parse(d.toString()))),
  );
  ws.send('{"type":"subscribe","topics":["everything"]}');
  expect(await reply).toMatchObject({ type: 'error', error: { code: 'invalid_request' } });
  ws.close();
});
