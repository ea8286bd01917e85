/** Commands end to end: API → endpoint → SSH over WebSocket → agent → a real process. */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startHarness, waitFor, type Harness } from '../testing/harness.ts';

let h: Harness;
let agentId: string;

beforeAll(async () => {
  h = await startHarness();
  await h.account('Acme');
  agentId = (await h.agent('Acme', 'web-1')).agentId;
});
afterAll(() => h.close());

const exec = (body: unknown, id = agentId, token?: string) =>
  h.api('POST', `/api/v1/agents/${id}/exec`, body, token);

describe('exec', () => {
  it('exec - returns stdout, stderr and the exit status separately', async () => {
    const { status, body } = await exec({ command: 'echo out; echo err >&2; exit 3' });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      exitCode: 3,
      signal: null,
      stdout: 'out\n',
      stderr: 'err\n',
      truncated: false,
      timedOut: false,
    });
    expect(body.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('exec - argv runs exactly those words, with cwd, env and stdin', async () => {
    const { body } = await exec({
      argv: ['sh', '-c', 'pwd; echo "$GREETING"; cat', 'ignored $(x)'],
      cwd: '/tmp',
      env: { GREETING: "it's $HOME" },
      stdin: 'from stdin',
    });
    expect(body.stdout).toBe(`/tmp\nit's $HOME\nfrom stdin`);
    expect(body.exitCode).toBe(0);
  });

  it('exec - a command past its timeout has its whole process group killed', async () => {
    const marker = `tether-timeout-${process.pid}-${Date.now()}`;
    const { body } = await exec({ command: `sleep 300 & sleep 301 # ${marker}`, timeoutMs: 500 });
    expect(body).toMatchObject({ timedOut: true, exitCode: null, signal: 'SIGKILL' });
    await waitFor(
      () => !execFileSync('ps', ['-eo', 'args']).toString().includes(marker),
      5000,
      'group killed',
    );
  });

  it('exec - a cwd that does not exist gives a clear result', async () => {
    const { body } = await exec({ argv: ['true'], cwd: '/no/such/dir' });
    expect(body.exitCode).toBe(126);
    expect(body.stderr).toContain('working directory /no/such/dir does not exist');
  });

  it('exec - a program that does not exist gives a clear result', async () => {
    const { body } = await exec({ argv: ['no-such-program-xyz'] });
    expect(body.exitCode).toBe(127);
    expect(body.stderr).toContain('program not found');
  });

  it('exec - output past the REST limit is cut and marked truncated', async () => {
    const { body } = await exec({ command: 'head -c 3000000 /dev/zero' });
    expect(body.truncated).toBe(true);
    expect(body.stdout.length).toBe(1024 * 1024);
    expect(body.stdoutBytes).toBe(3_000_000);
  });

  it('exec - the audit log records command, status, sizes and the first 64 KiB of output', async () => {
    const { body } = await exec({ command: 'printf hello; head -c 100000 /dev/zero | tr "\\0" x' });
    const events = (await h.api('GET', `/api/v1/audit?agent=${agentId}&code=T3000I`)).body.events;
    const event = events.find((e: any) => e.params.execId === body.execId);
    expect(event.params.command).toContain('printf hello');
    expect(event.result).toMatchObject({
      exitCode: 0,
      stdoutBytes: 100005,
      truncated: true,
      completed: true,
    });
    expect(event.result.stdoutHead.length).toBe(64 * 1024);
    expect(event.result.stdoutHead.startsWith('hellox')).toBe(true);
  });

  it('exec - the socket variant streams output and ends with the exit frame', async () => {
    const ws = new WebSocket(
      `${h.url.replace('http', 'ws')}/api/v1/agents/${agentId}/exec/stream`,
      {
        headers: { authorization: `Bearer ${h.adminToken}` },
      },
    );
    const frames: Array<string | Buffer> = [];
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () =>
        ws.send(
          JSON.stringify({ type: 'start', request: { command: 'echo a; echo b >&2; exit 5' } }),
        ),
      );
      ws.on('message', (data, isBinary) =>
        frames.push(isBinary ? (data as Buffer) : data.toString()),
      );
      ws.on('close', () => resolve());
      ws.on('error', reject);
    });
    const texts = frames
      .filter((f): f is string => typeof f === 'string')
      .map((f) => JSON.parse(f));
    const binary = frames.filter((f): f is Buffer => Buffer.isBuffer(f));
    expect(texts[0].type).toBe('started');
    expect(texts.at(-1)).toMatchObject({ type: 'exit', result: { exitCode: 5 } });
    expect(
      binary
        .filter((b) => b[0] === 1)
        .map((b) => b.subarray(1).toString())
        .join(''),
    ).toBe('a\n');
    expect(
      binary
        .filter((b) => b[0] === 2)
        .map((b) => b.subarray(1).toString())
        .join(''),
    ).toBe('b\n');
  });

  it('exec - cancelling on the socket kills the command and the record says cancelled', async () => {
    const marker = `tether-cancel-${process.pid}-${Date.now()}`;
    const ws = new WebSocket(
      `${h.url.replace('http', 'ws')}/api/v1/agents/${agentId}/exec/stream`,
      {
        headers: { authorization: `Bearer ${h.adminToken}` },
      },
    );
    const texts: any[] = [];
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      const message = JSON.parse(data.toString());
      texts.push(message);
      if (message.type === 'started') setTimeout(() => ws.send('{"type":"cancel"}'), 200);
    });
    ws.on('open', () =>
      ws.send(JSON.stringify({ type: 'start', request: { command: `sleep 300 # ${marker}` } })),
    );
    await new Promise((resolve) => ws.on('close', resolve));
    expect(texts.at(-1)).toMatchObject({
      type: 'exit',
      result: { cancelled: true, exitCode: null },
    });
    await waitFor(
      () => !execFileSync('ps', ['-eo', 'args']).toString().includes(marker),
      5000,
      'killed',
    );
    const events = (await h.api('GET', `/api/v1/audit?agent=${agentId}&code=T3000I`)).body.events;
    expect(events.find((e: any) => e.params.execId === texts[0].execId).result).toMatchObject({
      cancelled: true,
      completed: true,
    });
  });

  it("exec - another account's agent answers 404 and the attempt is audited", async () => {
    await h.account('Other');
    const customer = await h.user('customer', { account: 'Other' });
    const { status, body } = await exec({ command: 'true' }, agentId, customer.token);
    expect(status).toBe(404);
    expect(body.error.code).toBe('not_found');
    const denied = (await h.api('GET', `/api/v1/audit?code=T9000E&actor=${customer.id}`)).body
      .events;
    expect(denied[0].params).toMatchObject({ action: 'agent.exec', agentId });
  });

  it('exec - fan-out names no agent of another account', async () => {
    await h.account('Nosy');
    const nosy = await h.user('customer', { account: 'Nosy' });
    const request = { agents: [agentId], request: { argv: ['id'] } };
    const { body } = await h.api('POST', '/api/v1/exec', request, nosy.token);
    expect(body.results).toEqual([
      { agentId, ok: false, error: { code: 'not_found', message: 'no such agent' } },
    ]);
  });

  it('exec - an offline agent answers at once with agent_offline', async () => {
    await h.account('Offline');
    const agent = await h.agent('Offline', 'gone');
    await agent.close();
    await waitFor(
      async () =>
        (await h.api('GET', `/api/v1/agents/${agent.agentId}`)).body.agent.online === false,
    );
    const started = Date.now();
    const { status, body } = await exec({ command: 'true' }, agent.agentId);
    expect(status).toBe(409);
    expect(body.error.code).toBe('agent_offline');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('exec - fan-out returns one result per agent, errors included', async () => {
    await h.account('Fleet');
    const a = await h.agent('Fleet', 'f1');
    const b = await h.agent('Fleet', 'f2');
    const { body } = await h.api('POST', '/api/v1/exec', {
      account: 'Fleet',
      request: { argv: ['echo', 'hi'] },
      concurrency: 2,
    });
    expect(body.results).toHaveLength(2);
    for (const r of body.results)
      expect(r).toMatchObject({ ok: true, result: { exitCode: 0, stdout: 'hi\n' } });
    expect(new Set(body.results.map((r: any) => r.agentId))).toEqual(
      new Set([a.agentId, b.agentId]),
    );
    const mixed = await h.api('POST', '/api/v1/exec', {
      agents: [a.agentId, '00000000-0000-0000-0000-000000000000'],
      request: { argv: ['true'] },
    });
    expect(mixed.body.results[1]).toMatchObject({ ok: false, error: { code: 'not_found' } });
  });
});
