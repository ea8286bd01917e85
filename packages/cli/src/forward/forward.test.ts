/**
 * `tether forward` as a person runs it: the real command as a child process, a real endpoint
 * and agent, real TCP servers and clients on 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { connect, createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '@tether/agent';
import {
  quiet,
  startHarness,
  waitFor,
  type Harness,
} from '../../../endpoint/src/testing/harness.ts';
import { closedPort, echoServer } from '../../../endpoint/src/testing/forward-client.ts';
import { BIN } from '../e2e-harness.ts';

let h: Harness;
let agent: RunningAgent;
let accountId: string;
let engineer: { token: string; username: string };
let customer: { token: string };
let echo: Awaited<ReturnType<typeof echoServer>>;
const running = new Set<ReturnType<typeof tether>>();

beforeAll(async () => {
  h = await startHarness();
  accountId = await h.account('Acme');
  agent = await h.agent('Acme', 'web-1');
  engineer = await h.user('engineer');
  customer = await h.user('customer', { account: 'Acme' });
  echo = await echoServer();
}, 60_000);
afterEach(async () => {
  for (const run of running) {
    run.child.kill('SIGKILL');
    await run.exited;
  }
  running.clear();
});
afterAll(async () => {
  await echo?.close();
  await agent?.close();
  await h?.close();
});

function tether(args: string[], token = engineer.token) {
  const child = spawn(process.execPath, [BIN, ...args, '--url', h.url, '--token', token], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  const run = { child, out: () => stdout, err: () => stderr, exited };
  running.add(run);
  void exited.then(() => running.delete(run));
  return run;
}

/** Starts `tether forward` and waits until it listens; returns the local port it printed. */
async function forwarding(run: ReturnType<typeof tether>): Promise<number> {
  await waitFor(() => /forwarding 127\.0\.0\.1:\d+ ->/.test(run.out()), 20_000, 'forwarding');
  return Number(/forwarding 127\.0\.0\.1:(\d+) ->/.exec(run.out())![1]);
}

const policy = (body: object) =>
  h.api('PUT', `/api/v1/accounts/${accountId}/consent`, body, customer.token);

/** One TCP exchange through the local port: sends `data`, half-closes, reads to the end. */
function exchange(port: number, data: Buffer): Promise<{ got: Buffer; error: string | null }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    let error: string | null = null;
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
    socket.on('close', () => resolve({ got: Buffer.concat(chunks), error }));
    socket.end(data);
  });
}

describe('tether forward', () => {
  it('forward - a picked local port carries bytes both ways; Ctrl-C ends the forward', async () => {
    await policy({ forwardMode: 'allow', forwardTargets: [] });
    const run = tether(['forward', 'web-1', String(echo.port)]);
    const port = await forwarding(run);
    expect(run.out()).toContain(`-> 127.0.0.1:${echo.port} on web-1 (forward `);

    const { got, error } = await exchange(port, Buffer.from('ping through the forward'));
    expect(error).toBeNull();
    expect(got.toString()).toBe('ping through the forward');
    await waitFor(
      () => /#1 closed: sent 24 B, received 24 B in /.test(run.out()),
      10_000,
      'closed line',
    );
    expect(run.out()).toMatch(/#1 from 127\.0\.0\.1:\d+: open/);

    const id = /\(forward ([0-9a-f-]+)\)/.exec(run.out())![1];
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
    const forward = (await h.api('GET', `/api/v1/forwards/${id}`)).body.forward;
    expect(forward).toMatchObject({ status: 'ended', connections: 1, bytesUp: 24, bytesDown: 24 });
    expect(forward.endReason).toBe(`ended by ${engineer.username}`);
    // The port is free again: nothing of the forward is left listening.
    await expect(exchange(port, Buffer.from('x'))).resolves.toMatchObject({
      error: 'ECONNREFUSED',
    });
  }, 60_000);

  it('forward - 500 connections at once through one forward all echo their own bytes', async () => {
    await policy({ forwardMode: 'allow', forwardTargets: [] });
    const run = tether(['forward', 'web-1', `0:127.0.0.1:${echo.port}`, '--quiet']);
    const port = await forwarding(run);
    const before = echo.accepted();

    const payloads = Array.from({ length: 500 }, (_, i) =>
      Buffer.concat([Buffer.from(`connection ${i}:`), randomBytes(2048)]),
    );
    const results = await Promise.all(payloads.map((payload) => exchange(port, payload)));
    const wrong = results.filter((r, i) => r.error !== null || !r.got.equals(payloads[i]!));
    expect(wrong).toEqual([]);
    expect(echo.accepted() - before).toBe(500);
    expect(run.out()).not.toContain('failed');

    const id = /\(forward ([0-9a-f-]+)\)/.exec(run.out())![1];
    await waitFor(
      async () =>
        (await h.api('GET', `/api/v1/forwards/${id}`)).body.forward.bytesDown ===
        payloads.reduce((n, p) => n + p.length, 0),
      30_000,
      'every connection recorded',
    );
    const events = (await h.api('GET', `/api/v1/audit?code=T8311I&limit=1000`)).body.events;
    expect(events.filter((e: any) => e.sessionId === id)).toHaveLength(500);
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  }, 120_000);

  it('forward - a closed port: the local client is reset and the command says why', async () => {
    await policy({ forwardMode: 'allow', forwardTargets: [] });
    const closed = await closedPort();
    const run = tether(['forward', 'web-1', `127.0.0.1:${closed}`]);
    const port = await forwarding(run);
    const { got, error } = await exchange(port, Buffer.from('anyone?'));
    expect(got.length).toBe(0);
    expect(error).toBe('ECONNRESET');
    await waitFor(() => run.out().includes('#1 failed:'), 10_000, 'failure line');
    expect(run.out()).toContain(
      `#1 failed: connection refused by 127.0.0.1:${closed} (nothing listens there)`,
    );
    // One failed connection does not end the forward.
    expect(run.child.exitCode).toBeNull();
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  }, 60_000);

  it.each([
    {
      name: 'forwarding switched off',
      rules: { forwardMode: 'off' },
      spec: '5432',
      says: 'the account has switched port forwarding off',
    },
    {
      name: 'the metadata address unlisted',
      rules: { forwardMode: 'allow', forwardTargets: [] },
      spec: '169.254.169.254:80',
      says: '169.254.169.254 is a cloud metadata address; the account must list 169.254.169.254:80 to allow it',
    },
    {
      name: 'a target not in the list',
      rules: { forwardMode: 'allow', forwardTargets: ['127.0.0.1:1'] },
      spec: '127.0.0.1:2',
      says: "127.0.0.1:2 is not in the account's list of forward targets",
    },
  ])(
    'forward - refused by the policy ($name): says why, exits 1, listens on nothing',
    async ({ rules, spec, says }) => {
      await policy(rules);
      const run = tether(['forward', 'web-1', spec]);
      expect(await run.exited).toBe(1);
      expect(run.err()).toContain(
        `tether: forwarding to ${spec.includes(':') ? spec : `127.0.0.1:${spec}`} on web-1: ${says}`,
      );
      expect(run.out()).not.toContain('forwarding 127.0.0.1');
    },
    30_000,
  );

  it('forward - bad input is refused before anything is asked', async () => {
    const cases: Array<[string[], string]> = [
      [['forward', 'web-1', 'db:99999'], 'the port must be 1 to 65535'],
      [['forward', 'web-1', 'nonsense'], 'give host:port'],
      [['forward', 'no-such-agent', '5432'], 'no agent named "no-such-agent"'],
    ];
    for (const [args, says] of cases) {
      const run = tether(args);
      expect(await run.exited, args.join(' ')).toBe(1);
      expect(run.err()).toContain(says);
    }
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const taken = (busy.address() as AddressInfo).port;
    const run = tether(['forward', 'web-1', `${taken}:5432`]);
    expect(await run.exited).toBe(1);
    expect(run.err()).toContain(`cannot listen on 127.0.0.1:${taken}: the port is in use`);
    busy.close();
  }, 60_000);

  it('forward - waits for the customer, then forwards; the customer ending it stops the command', async () => {
    await policy({ forwardMode: 'always_ask', forwardTargets: [] });
    const run = tether(['forward', 'web-1', String(echo.port)]);
    await waitFor(
      () => run.out().includes('waiting for the customer to approve the forward to'),
      20_000,
      'waiting',
    );
    const pending = (
      await h.api('GET', '/api/v1/approvals?status=pending', undefined, customer.token)
    ).body.approvals;
    const mine = pending.find((a: any) => a.action === 'forward');
    await h.api('POST', `/api/v1/approvals/${mine.id}/approve`, undefined, customer.token);
    const port = await forwarding(run);
    expect((await exchange(port, Buffer.from('approved'))).got.toString()).toBe('approved');

    const id = /\(forward ([0-9a-f-]+)\)/.exec(run.out())![1];
    await h.api('DELETE', `/api/v1/forwards/${id}`, undefined, customer.token);
    expect(await run.exited).toBe(1);
    expect(run.out()).toMatch(/the forward ended: ended by customer\d+/);
  }, 60_000);

  it('forward - a denied request says so and exits 1', async () => {
    await policy({ forwardMode: 'always_ask' });
    const run = tether(['forward', 'web-1', String(echo.port)]);
    await waitFor(() => run.out().includes('waiting for the customer'), 20_000, 'waiting');
    const pending = (
      await h.api('GET', '/api/v1/approvals?status=pending', undefined, customer.token)
    ).body.approvals;
    await h.api(
      'POST',
      `/api/v1/approvals/${pending.find((a: any) => a.action === 'forward').id}/deny`,
      undefined,
      customer.token,
    );
    expect(await run.exited).toBe(1);
    expect(run.out()).toContain('the forward was refused: the request was denied');
  }, 60_000);

  it('forward - the agent drops and comes back: the command keeps listening and says what happened', async () => {
    await policy({ forwardMode: 'allow', forwardTargets: [] });
    const run = tether(['forward', 'web-1', String(echo.port)]);
    const port = await forwarding(run);
    expect((await exchange(port, Buffer.from('before'))).got.toString()).toBe('before');

    await agent.close();
    await waitFor(
      () => run.out().includes('web-1 is offline: connections fail until it is back'),
      20_000,
      'offline line',
    );
    const away = await exchange(port, Buffer.from('while away'));
    expect(away).toMatchObject({ error: 'ECONNRESET' });
    await waitFor(() => /#2 failed: the agent is offline/.test(run.out()), 10_000, 'failed line');

    const stateDir = join(
      h.dir,
      readdirSync(h.dir).find((entry) => entry.endsWith('-web-1'))!,
    );
    agent = await startAgent({ stateDir, logger: quiet });
    await waitFor(
      () => run.out().includes('web-1 is back: connections work again'),
      20_000,
      'back line',
    );
    expect((await exchange(port, Buffer.from('after'))).got.toString()).toBe('after');
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  }, 60_000);
});
