/** `tether tty` and `tether recording export` as a person runs them, against a real endpoint. */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../../endpoint/src/testing/harness.ts';
import { BIN } from './e2e-harness.ts';

/**
 * The agent's shell is $SHELL: plain sh here, so no rc file of this machine's user (pyenv's
 * rehash lock, slow prompts) decides whether a test passes.
 */
process.env.SHELL = '/bin/sh';

let h: Harness;
let engineer: { token: string };
let customer: { token: string };

beforeAll(async () => {
  h = await startHarness();
  await h.account('Acme');
  await h.agent('Acme', 'web-1');
  engineer = await h.user('engineer');
  customer = await h.user('customer', { account: 'Acme' });
}, 60_000);
afterAll(() => h.close());

function tether(args: string[], token: string) {
  const child = spawn(process.execPath, [BIN, ...args, '--url', h.url, '--token', token], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  return { child, out: () => stdout, err: () => stderr, exited };
}

it('tty - waits for the customer, then runs a terminal until the shell exits; export gives the cast', async () => {
  const run = tether(['tty', 'web-1'], engineer.token);
  await waitFor(() => run.err().includes('waiting for the customer to approve'), 15_000, 'waiting');
  const pending = (
    await h.api('GET', '/api/v1/approvals?status=pending', undefined, customer.token)
  ).body.approvals;
  await h.api('POST', `/api/v1/approvals/${pending[0].id}/approve`, undefined, customer.token);
  run.child.stdin.write('echo $((6*7))\r');
  await waitFor(() => /\D42\r\n/.test(run.out()), 15_000, '42');
  run.child.stdin.write('exit\r');
  expect(await run.exited).toBe(0);
  expect(run.err()).toContain('[session ended');

  const approval = (await h.api('GET', `/api/v1/approvals/${pending[0].id}`)).body.approval;
  const exported = tether(['recording', 'export', approval.sessionId], customer.token);
  expect(await exported.exited).toBe(0);
  const lines = exported
    .out()
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(lines[0]).toMatchObject({ version: 2 });
  expect(lines.some((e) => e[1] === 'o' && String(e[2]).includes('42'))).toBe(true);
}, 60_000);

it('tty - a denied request opens nothing and says so', async () => {
  const run = tether(['tty', 'web-1'], engineer.token);
  await waitFor(() => run.err().includes('waiting for the customer'), 15_000, 'waiting');
  const pending = (
    await h.api('GET', '/api/v1/approvals?status=pending', undefined, customer.token)
  ).body.approvals;
  await h.api('POST', `/api/v1/approvals/${pending[0].id}/deny`, undefined, customer.token);
  expect(await run.exited).toBe(1);
  expect(run.err()).toContain('the request was denied');
}, 30_000);
