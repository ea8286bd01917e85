/** The terminal worker threads: they come and go with the sessions, and a dead one ends its own. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../testing/harness.ts';
import { terminalClient, type TerminalClient } from '../testing/terminal-client.ts';

/** Plain sh: no rc file of this machine's user decides whether a test passes. */
process.env.SHELL = '/bin/sh';

let h: Harness;
let agentId: string;
let engineer: { token: string };
let customer: { token: string };
const logged: Array<Record<string, any>> = [];
const open: TerminalClient[] = [];

beforeAll(async () => {
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => logged.push(JSON.parse(line)) },
  );
  h = await startHarness({ logger });
  await h.account('Acme');
  agentId = (await h.agent('Acme', 'web-1')).agentId;
  engineer = await h.user('engineer');
  customer = await h.user('customer', { account: 'Acme' });
}, 60_000);
afterEach(() => open.splice(0).forEach((c) => c.close()));
afterAll(async () => {
  await h.close();
  // Nothing of the terminal workers outlives the endpoint.
  expect(h.endpoint.services.terminals.workers.running).toBe(0);
});

async function session(): Promise<{ client: TerminalClient; id: string }> {
  const asked = await h.api(
    'POST',
    `/api/v1/agents/${agentId}/terminal-requests`,
    { cols: 80, rows: 24 },
    engineer.token,
  );
  await h.api(
    'POST',
    `/api/v1/approvals/${asked.body.approval.id}/approve`,
    undefined,
    customer.token,
  );
  const client = terminalClient(
    h.url,
    `/api/v1/terminals/socket?approval=${asked.body.approval.id}&agent=${agentId}`,
    engineer.token,
  );
  open.push(client);
  const hello = await client.waitMessage('hello');
  await client.waitMessage('snapshot');
  return { client, id: hello.session };
}

it('terminal workers - threads start with sessions and end with the last one', async () => {
  const { workers } = h.endpoint.services.terminals;
  expect(workers.running).toBe(0);
  const first = await session();
  const second = await session();
  expect(workers.running).toBeGreaterThan(0);
  first.client.control({ type: 'end' });
  await first.client.waitMessage('ended');
  expect(workers.running).toBeGreaterThan(0);
  second.client.type('echo still-$((2+2))\r');
  await second.client.waitText('still-4');
  second.client.control({ type: 'end' });
  await second.client.waitMessage('ended');
  await waitFor(() => workers.running === 0, 5_000, 'the last worker to end');
});

/** Niceness of each thread of this process, by thread id (Linux: /proc/self/task). */
function threadNiceness(): Map<number, number> {
  const nice = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    // After the command name: state is field 3 of stat(5), nice field 19.
    nice.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
  }
  return nice;
}

it.runIf(process.platform === 'linux')(
  'terminal workers - the worker runs below the event loop, which relays the typing',
  async () => {
    const before = threadNiceness();
    const { client } = await session();
    const nice = threadNiceness();
    expect(nice.get(process.pid)).toBe(0);
    const started = [...nice].filter(([tid, n]) => !before.has(tid) && n === 10);
    expect(started).toHaveLength(1);
    client.control({ type: 'end' });
    await client.waitMessage('ended');
  },
);

it('terminal workers - a worker that dies ends its sessions as interrupted, with an error logged', async () => {
  const { workers, recordingsDir } = h.endpoint.services.terminals;
  const { client, id } = await session();
  client.type('echo before-$((3*3))\r');
  await client.waitText('before-9');
  await new Promise((r) => setTimeout(r, 400)); // one flush of the recording (250 ms)

  await Promise.all(workers.handles.map((worker) => worker.terminate()));

  const ended = await client.waitMessage('ended');
  expect(ended).toMatchObject({ status: 'interrupted' });
  expect(ended.reason).toContain('terminal worker');
  await waitFor(
    async () =>
      (await h.api('GET', `/api/v1/terminals/${id}`)).body.session.status === 'interrupted',
    5_000,
    'the session recorded as interrupted',
  );
  const died = logged.find((line) => line.msg === 'terminal worker died');
  expect(died).toMatchObject({ level: 50, sessions: [id] });
  expect(logged.some((line) => line.level === 50 && line.sessionId === id)).toBe(true);
  const cast = readFileSync(join(recordingsDir, `${id}.cast`), 'utf8')
    .trim()
    .split('\n');
  expect(cast.some((line) => line.includes('before-9'))).toBe(true);
  expect(JSON.parse(cast.at(-1)!)).toMatchObject([
    expect.any(Number),
    'm',
    expect.stringContaining('interrupted'),
  ]);

  // The pool starts afresh for the next session.
  const next = await session();
  next.client.type('echo after-$((4*4))\r');
  await next.client.waitText('after-16');
  next.client.control({ type: 'end' });
  await next.client.waitMessage('ended');
});
