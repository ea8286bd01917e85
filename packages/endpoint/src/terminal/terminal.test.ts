/** Terminals end to end: real endpoint, real agent, real pty; consent first, recording always. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, waitFor, type Harness } from '../testing/harness.ts';
import { terminalClient, type TerminalClient } from '../testing/terminal-client.ts';

/**
 * The agent's shell is $SHELL: plain sh here, so no rc file of this machine's user (pyenv's
 * rehash lock, slow prompts) decides whether a test passes.
 */
process.env.SHELL = '/bin/sh';

let h: Harness;
let accountId: string;
let agentId: string;
let otherAgentId: string;
let engineer: { id: string; token: string; username: string };
let customer: { id: string; token: string; username: string };
let outsider: { id: string; token: string; username: string };
const open: TerminalClient[] = [];

beforeAll(async () => {
  h = await startHarness();
  accountId = await h.account('Acme');
  await h.account('Globex');
  agentId = (await h.agent('Acme', 'web-1')).agentId;
  otherAgentId = (await h.agent('Acme', 'web-2')).agentId;
  engineer = await h.user('engineer');
  customer = await h.user('customer', { account: 'Acme' });
  outsider = await h.user('customer', { account: 'Globex' });
}, 60_000);
afterEach(() => {
  // A failed test must not leave a flood running for the next: closing ends each session.
  open.splice(0).forEach((c) => c.close());
});
afterAll(() => h.close());

const request = (agent = agentId, body: object = { cols: 80, rows: 24 }) =>
  h.api('POST', `/api/v1/agents/${agent}/terminal-requests`, body, engineer.token);
const decide = (id: string, verb: 'approve' | 'deny', token = customer.token) =>
  h.api('POST', `/api/v1/approvals/${id}/${verb}`, undefined, token);
const audit = async (code: string) =>
  (await h.api('GET', `/api/v1/audit?code=${code}&limit=1000`)).body.events as any[];

function engineerSocket(approval: string, extra = '', token = engineer.token): TerminalClient {
  const client = terminalClient(
    h.url,
    `/api/v1/terminals/socket?approval=${approval}&agent=${agentId}${extra}`,
    token,
  );
  open.push(client);
  return client;
}

function watch(session: string, token: string): TerminalClient {
  const client = terminalClient(h.url, `/api/v1/terminals/${session}/socket`, token);
  open.push(client);
  return client;
}

async function approvedSession(): Promise<{ client: TerminalClient; session: string }> {
  const asked = await request();
  await decide(asked.body.approval.id, 'approve');
  const client = engineerSocket(asked.body.approval.id);
  const hello = await client.waitMessage('hello');
  await client.waitMessage('snapshot');
  return { client, session: hello.session };
}

function castLines(session: string): any[] {
  const file = join(h.endpoint.services.terminals.recordingsDir, `${session}.cast`);
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l));
}

describe('terminal', () => {
  it('terminal - the customer approves, both see 42, the observer is read-only, the customer ends it', async () => {
    const asked = await request();
    expect(asked.status).toBe(200);
    expect(asked.body.approval).toMatchObject({ status: 'pending', agentId });
    const seen = (await h.api('GET', '/api/v1/approvals?status=pending', undefined, customer.token))
      .body.approvals;
    expect(seen.map((a: any) => a.id)).toContain(asked.body.approval.id);

    const early = engineerSocket(asked.body.approval.id);
    expect((await early.waitMessage('error')).error.code).toBe('conflict');
    expect((await early.closed).code).toBe(4409);
    expect((await audit('T8103E')).length).toBeGreaterThan(0);

    expect((await decide(asked.body.approval.id, 'approve')).body.approval.status).toBe('approved');
    const eng = engineerSocket(asked.body.approval.id);
    const hello = await eng.waitMessage('hello');
    expect(hello).toMatchObject({ role: 'engineer', readOnly: false });
    const session = hello.session;
    const watcher = watch(session, customer.token);
    expect(await watcher.waitMessage('hello')).toMatchObject({ role: 'observer', readOnly: true });
    await watcher.waitMessage('snapshot');

    eng.type('echo $((6*7))\r');
    await eng.waitText(/\D42\r\n/);
    await watcher.waitText(/\D42\r\n/);

    watcher.type('touch /tmp/observer-was-here\r');
    watcher.type('more keys');
    expect((await watcher.waitMessage('error')).error.code).toBe('forbidden');
    await waitFor(async () => (await audit('T8104E')).length === 1, 5000, 'input drop audited');

    const late = watch(session, h.adminToken);
    await late.waitMessage('snapshot');
    await late.waitText('42');

    watcher.control({ type: 'end' });
    for (const c of [eng, watcher, late])
      expect(await c.waitMessage('ended')).toMatchObject({
        by: customer.username,
        status: 'ended',
      });
    await waitFor(
      async () =>
        (await h.api('GET', `/api/v1/terminals/${session}`)).body.session.status === 'ended',
    );
    const record = (await h.api('GET', `/api/v1/terminals/${session}`)).body.session;
    expect(record).toMatchObject({
      endedBy: customer.id,
      endedByName: customer.username,
      endReason: `ended by ${customer.username}`,
    });

    const lines = castLines(session);
    expect(lines[0]).toMatchObject({ version: 2, width: 80, height: 24 });
    const events = lines.slice(1);
    expect(events.some((e) => e[1] === 'o' && e[2].includes('42'))).toBe(true);
    expect(events.some((e) => e[1] === 'i' && e[2].includes('echo'))).toBe(true);
    expect(events.filter((e) => e[1] === 'm').map((e) => e[2])).toEqual([
      `approved by ${customer.username}`,
      `joined: ${customer.username}`,
      'joined: admin',
      `ended by ${customer.username}: ended by ${customer.username}`,
    ]);
    const exported = await fetch(`${h.url}/api/v1/terminals/${session}/recording`, {
      headers: { authorization: `Bearer ${customer.token}` },
    });
    expect(exported.headers.get('content-type')).toContain('application/x-asciicast');
    expect((await exported.text()).split('\n')[0]).toContain('"version":2');
  });

  it('terminal - an approval opens one session only: a replay is refused and audited', async () => {
    const asked = await request();
    await decide(asked.body.approval.id, 'approve');
    const first = engineerSocket(asked.body.approval.id);
    const { session } = await first.waitMessage('hello');
    const approval = (await h.api('GET', `/api/v1/approvals/${asked.body.approval.id}`)).body
      .approval;
    expect(approval).toMatchObject({ status: 'used', sessionId: session });
    const replay = engineerSocket(asked.body.approval.id);
    expect((await replay.waitMessage('error')).error.message).toContain('already used');
    const refused = await audit('T8004E');
    expect(refused.some((e) => e.result.reason.includes('already used'))).toBe(true);
    first.control({ type: 'end' });
    await first.waitMessage('ended');
  });

  it('terminal - an approval for one server does not open another, nor another ticket', async () => {
    const asked = await request(otherAgentId);
    await decide(asked.body.approval.id, 'approve');
    const wrong = engineerSocket(asked.body.approval.id);
    expect((await wrong.waitMessage('error')).error.message).toContain('another server');
    const wrongTicket = terminalClient(
      h.url,
      `/api/v1/terminals/socket?approval=${asked.body.approval.id}&agent=${otherAgentId}&ticket=t-x`,
      engineer.token,
    );
    open.push(wrongTicket);
    expect((await wrongTicket.waitMessage('error')).error.message).toContain('another ticket');
    const still = (await h.api('GET', `/api/v1/approvals/${asked.body.approval.id}`)).body.approval;
    expect(still.status).toBe('approved');
  });

  it('consent - nobody approves their own request, nor another account, nor an expired one', async () => {
    const asked = await request();
    const id = asked.body.approval.id;
    const own = await decide(id, 'approve', engineer.token);
    expect(own.status).toBe(403);
    const foreign = await decide(id, 'approve', outsider.token);
    expect(foreign.status).toBe(404);
    const admin = await decide(id, 'approve', h.adminToken);
    expect(admin.status).toBe(403);
    expect((await audit('T9000E')).some((e) => e.params.approvalId === id)).toBe(true);
    expect((await audit('T8004E')).some((e) => e.params.approvalId === id)).toBe(true);

    await h.endpoint.services.db
      .updateTable('approval_requests')
      .set({ expires_at: new Date(Date.now() - 1000).toISOString() })
      .where('id', '=', id)
      .execute();
    const late = await decide(id, 'approve');
    expect(late.status).toBe(409);
    expect(late.body.error.message).toContain('expired');
    expect((await audit('T8003E')).some((e) => e.params.approvalId === id)).toBe(true);
  });

  it('consent - an unanswered request expires on the timer', async () => {
    const asked = await request();
    await h.endpoint.services.db
      .updateTable('approval_requests')
      .set({ expires_at: new Date(Date.now() + 200).toISOString() })
      .where('id', '=', asked.body.approval.id)
      .execute();
    await waitFor(
      async () =>
        (
          await h.endpoint.services.db
            .selectFrom('approval_requests')
            .select('status')
            .where('id', '=', asked.body.approval.id)
            .executeTakeFirst()
        )?.status === 'expired',
      8000,
      'expiry',
    );
  });

  it('consent - the policy pre-approves the engineer assigned to the ticket', async () => {
    const put = await h.api(
      'PUT',
      `/api/v1/accounts/${accountId}/consent`,
      { terminalMode: 'preapprove_assignee', timeoutSeconds: 300, recordInput: false },
      customer.token,
    );
    expect(put.status).toBe(200);
    expect(
      (await h.api('PUT', `/api/v1/accounts/${accountId}/consent`, {}, engineer.token)).status,
    ).toBe(403);
    const now = new Date().toISOString();
    await h.endpoint.services.db
      .insertInto('tickets')
      .values({
        ...{ id: 't-1', account_id: accountId, agent_id: agentId, title: 'help', question: 'q' },
        ...{ status: 'taken', created_by: customer.id, assignee_id: engineer.id, created_at: now },
        ...{ taken_at: now, closed_at: null, closed_by: null, summary: null },
      })
      .execute();
    const asked = await request(agentId, { ticket: 't-1' });
    expect(asked.body.approval.status).toBe('approved');
    expect((await audit('T8002I')).some((e) => e.result.preapproved === true)).toBe(true);
    const eng = engineerSocket(asked.body.approval.id, '&ticket=t-1');
    const { session } = await eng.waitMessage('hello');
    eng.type('echo secret-$((1+1))\r');
    await eng.waitText('secret-2');
    eng.control({ type: 'end' });
    await eng.waitMessage('ended');
    const events = castLines(session).slice(1);
    expect(events.some((e) => e[1] === 'i')).toBe(false);
    await h.api('PUT', `/api/v1/accounts/${accountId}/consent`, {}, customer.token);
  });
});

describe('terminal faults', () => {
  it('terminal - resize to 0x0 or 10000x10000 is refused with an error frame, sane sizes apply', async () => {
    const { client, session } = await approvedSession();
    client.control({ type: 'resize', cols: 0, rows: 0 });
    client.control({ type: 'resize', cols: 10000, rows: 10000 });
    client.control({ type: 'bogus' });
    await waitFor(() => client.messages.filter((m) => m.type === 'error').length === 3);
    client.control({ type: 'resize', cols: 120, rows: 40 });
    await client.waitMessage('resize');
    client.type('stty size\r');
    await client.waitText('40 120');
    client.control({ type: 'end' });
    await client.waitMessage('ended');
    expect(castLines(session).some((e) => e[1] === 'r' && e[2] === '120x40')).toBe(true);
  });

  it('terminal - a 1 MB paste arrives whole, invalid UTF-8 output still records as valid JSON', async () => {
    const { client, session } = await approvedSession();
    const file = join(h.dir, `paste-${Date.now()}`);
    client.type(`stty -echo; cat > ${file}\r`);
    await new Promise((r) => setTimeout(r, 300));
    const line = `${'x'.repeat(99)}\n`;
    client.type(line.repeat(10_000));
    client.type('\x04');
    client.type(`stty echo; wc -c < ${file}\r`);
    await client.waitText('1000000', 30_000);
    client.type("printf 'bad:\\377\\376\\300 \\033]52;c;aGk=\\007 \\033]0;<b>x</b>\\007 ok\\n'\r");
    await client.waitText('ok');
    client.control({ type: 'end' });
    await client.waitMessage('ended');
    const lines = castLines(session);
    expect(lines.some((e) => e[1] === 'o' && e[2].includes('bad:\ufffd'))).toBe(true);
  }, 60_000);

  it('terminal - Ctrl-C stops `yes` even while the engineer reads slowly', async () => {
    const { client, session } = await approvedSession();
    client.type('yes\r');
    await client.waitText('y\r\ny\r\n');
    client.ws.pause();
    // Loopback kernel buffers take a few MB first (4.5 MB measured), then the pty must stop:
    // some half second passes with (almost) no output at all.
    const live = h.endpoint.services.terminals.local(session)!;
    await waitFor(
      async () => {
        const before = live.bytesOut;
        await new Promise((r) => setTimeout(r, 500));
        return live.bytesOut - before < 64 * 1024;
      },
      15_000,
      'the pty to stop',
    );
    client.type('\x03');
    client.type('echo stopped-$((40+2))\r');
    client.ws.resume();
    await client.waitText('stopped-42', 20_000);
    client.control({ type: 'end' });
    await client.waitMessage('ended');
  }, 40_000);

  it('terminal - an agent that goes away mid-session leaves it interrupted, recording kept', async () => {
    const agent = await h.agent('Acme', 'doomed');
    const asked = await request(agent.agentId);
    await decide(asked.body.approval.id, 'approve');
    const client = terminalClient(
      h.url,
      `/api/v1/terminals/socket?approval=${asked.body.approval.id}&agent=${agent.agentId}`,
      engineer.token,
    );
    open.push(client);
    const { session } = await client.waitMessage('hello');
    client.type('echo before-crash\r');
    await client.waitText('before-crash');
    await agent.close();
    expect(await client.waitMessage('ended', 40_000)).toMatchObject({ status: 'interrupted' });
    await waitFor(
      async () =>
        (await h.api('GET', `/api/v1/terminals/${session}`)).body.session.status === 'interrupted',
    );
    expect(castLines(session).some((e) => e[1] === 'o' && e[2].includes('before-crash'))).toBe(
      true,
    );
  }, 60_000);

  it('terminal - a slow observer never slows the engineer and is resynced from the screen', async () => {
    const { client, session } = await approvedSession();
    const slow = watch(session, customer.token);
    await slow.waitMessage('snapshot');
    slow.ws.pause();
    client.type('yes | head -c 30000000\r');
    await waitFor(() => client.bytes() > 25_000_000, 30_000, 'engineer got 25 MB');
    client.type('clear; echo resynced-$((2+3))\r');
    await client.waitText(/resynced-5\r\n/, 30_000);
    slow.ws.resume();
    await waitFor(
      () => slow.messages.filter((m) => m.type === 'snapshot').length >= 2,
      10_000,
      'resync',
    );
    await slow.waitText(/resynced-5\r\n/);
    expect(slow.bytes()).toBeLessThan(20_000_000);
    client.control({ type: 'end' });
    await client.waitMessage('ended');
  }, 60_000);
});
