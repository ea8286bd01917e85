/** Terminals relayed over the bus from the process holding the agent to the one running the session. */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../testing/harness.ts';
import { remoteTerminal } from './remote-terminal.ts';

/**
 * The agent's shell is $SHELL: plain sh here, so no rc file of this machine's user (pyenv's
 * rehash lock, slow prompts) decides whether a test passes.
 */
process.env.SHELL = '/bin/sh';

let h: Harness;
let agentId: string;

beforeAll(async () => {
  h = await startHarness();
  await h.account('Acme');
  agentId = (await h.agent('Acme', 'web-1')).agentId;
});
afterAll(() => h.close());

it('relay - a pty on another node answers keystrokes and ends when the caller hangs up', async () => {
  const { bus, nodeId } = h.endpoint.services;
  const stream = await remoteTerminal(bus, nodeId, {
    sessionId: randomUUID(),
    agentId,
    cols: 80,
    rows: 24,
    term: 'xterm-256color',
    env: {},
  });
  let text = '';
  stream.onData((chunk) => (text += chunk.toString('utf8')));
  stream.write(Buffer.from('echo $((6*7))\r'));
  await waitFor(() => /\D42\r\n/.test(text), 10_000, '42');
  stream.close();
  expect(await stream.done).toMatchObject({ closed: true });
});

it('relay - a paused caller holds the output, and Ctrl-C still answers after', async () => {
  const { bus, nodeId } = h.endpoint.services;
  const stream = await remoteTerminal(bus, nodeId, {
    sessionId: randomUUID(),
    agentId,
    cols: 80,
    rows: 24,
    term: 'xterm-256color',
    env: {},
  });
  let received = 0;
  let text = '';
  stream.onData((chunk) => {
    received += chunk.length;
    text = (text + chunk.toString('latin1')).slice(-4096);
  });
  stream.write(Buffer.from('yes\r'));
  await waitFor(() => received > 1_000_000, 10_000, 'flood');
  stream.pause();
  await new Promise((r) => setTimeout(r, 500));
  const held = received;
  await new Promise((r) => setTimeout(r, 500));
  expect(received).toBe(held);
  stream.write(Buffer.from('\x03echo calm-$((1+1))\r'));
  stream.resume();
  await waitFor(() => text.includes('calm-2'), 10_000, 'Ctrl-C answered');
  stream.close();
  await stream.done;
});

it('relay - an agent that is not linked to the owner gives agent_offline', async () => {
  const { bus, nodeId } = h.endpoint.services;
  const opening = remoteTerminal(bus, nodeId, {
    sessionId: randomUUID(),
    agentId: randomUUID(),
    cols: 80,
    rows: 24,
    term: 'xterm-256color',
    env: {},
  });
  await expect(opening).rejects.toMatchObject({ code: 'agent_offline' });
});
