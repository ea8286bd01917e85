/** Enrollment and the agent link: tokens, pinned keys, replacement, revocation. */
import { cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { generateEd25519 } from '@tether/protocol/ssh-keys';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAgent } from '@tether/agent';
import { quiet, startHarness, waitFor, type Harness } from '../testing/harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
  await h.account('Acme');
});
afterAll(() => h.close());

function enrollBody(token: string, publicKey = generateEd25519().publicKey) {
  return { token, publicKey, name: 'box', os: 'linux', arch: 'x64', version: 'test' };
}

const events = async (query: string) =>
  (await h.api('GET', `/api/v1/audit?${query}`)).body.events as any[];

describe('enrollment', () => {
  it('enroll - a join token works once and is then refused as used', async () => {
    const token = await h.joinToken('Acme');
    expect((await h.api('POST', '/api/v1/enroll', enrollBody(token), '')).status).toBe(200);
    const again = await h.api('POST', '/api/v1/enroll', enrollBody(token), '');
    expect(again.status).toBe(410);
    expect(again.body.error.code).toBe('token_used');
  });

  it('enroll - an expired token is refused', async () => {
    const token = await h.joinToken('Acme');
    await h.endpoint.services.db
      .updateTable('join_tokens')
      .set({ expires_at: '2000-01-01T00:00:00.000Z' })
      .execute();
    const answer = await h.api('POST', '/api/v1/enroll', enrollBody(token), '');
    expect(answer.body.error.code).toBe('token_expired');
  });

  it('enroll - a revoked token is refused', async () => {
    const created = await h.api('POST', '/api/v1/join-tokens', { account: 'Acme' });
    await h.api('DELETE', `/api/v1/join-tokens/${created.body.id}`);
    const answer = await h.api('POST', '/api/v1/enroll', enrollBody(created.body.token), '');
    expect(answer.body.error.code).toBe('token_revoked');
  });

  it('enroll - a malformed token and a malformed key get clear errors and use nothing', async () => {
    const malformed = await h.api('POST', '/api/v1/enroll', enrollBody('not-a-token'), '');
    expect(malformed.body.error).toMatchObject({
      code: 'token_invalid',
      message: 'join token is malformed',
    });
    const token = await h.joinToken('Acme');
    const badKey = await h.api(
      'POST',
      '/api/v1/enroll',
      enrollBody(token, 'ssh-rsa AAAAB3NzaC1yc2E='),
      '',
    );
    expect(badKey.status).toBe(400);
    expect(badKey.body.error.message).toContain('ssh-ed25519');
    expect((await h.api('POST', '/api/v1/enroll', enrollBody(token), '')).status).toBe(200);
  });

  it('enroll - failures are audited', async () => {
    const failed = await events('code=T2000E');
    expect(failed.length).toBeGreaterThanOrEqual(4);
    expect(JSON.stringify(failed)).not.toContain('tjt_');
  });
});

describe('link', () => {
  it('link - an agent revoked while connected is gone within 5 s and cannot come back', async () => {
    const agent = await h.agent('Acme', 'to-revoke');
    const started = Date.now();
    const revoked = await h.api('POST', `/api/v1/agents/${agent.agentId}/revoke`);
    expect(revoked.status).toBe(200);
    const reason = await agent.stopped;
    expect(reason).toBe('agent revoked');
    expect(Date.now() - started).toBeLessThan(5000);
    const exec = await h.api('POST', `/api/v1/agents/${agent.agentId}/exec`, { argv: ['true'] });
    expect(exec.status).toBe(410);
    expect(exec.body.error).toMatchObject({
      code: 'agent_revoked',
      message: 'agent to-revoke was revoked',
    });
    const listed = (await h.api('GET', `/api/v1/agents/${agent.agentId}`)).body.agent;
    expect(listed).toMatchObject({ online: false, revoked: true });
    expect((await events(`agent=${agent.agentId}&code=T2001E`))[0].result.reason).toBe(
      'agent revoked',
    );
  });

  it('link - a second connection with the same identity wins, both are audited, the old one backs off', async () => {
    const first = await h.agent('Acme', 'twin');
    const copy = join(h.dir, 'agent-twin-copy');
    cpSync(readdirAgentState(h.dir, 'twin'), copy, { recursive: true });
    await first.close();
    const lines: string[] = [];
    const sink = new Writable({
      write: (chunk, _enc, done) => (lines.push(chunk.toString()), done()),
    });
    const older = await startAgent({
      stateDir: readdirAgentState(h.dir, 'twin'),
      logger: pino(sink),
    });
    await waitFor(
      async () => (await h.api('GET', `/api/v1/agents/${first.agentId}`)).body.agent.online,
    );
    const firstConnection = (await h.api('GET', `/api/v1/agents/${first.agentId}`)).body.agent
      .connectedAt;

    const newer = await startAgent({ stateDir: copy, logger: quiet });
    try {
      await waitFor(
        async () => (await events(`agent=${first.agentId}&code=T2003I`)).length > 0,
        10_000,
        'replace event',
      );
      const replaced = async () =>
        (await events(`agent=${first.agentId}&code=T2002I`)).some(
          (e) => e.result.reason === 'replaced by a newer connection',
        );
      await waitFor(replaced, 10_000, 'the old connection closed as replaced');
      await waitFor(
        () => lines.some((l) => l.includes('another agent with this identity')),
        5_000,
        'backoff',
      );
      const now = (await h.api('GET', `/api/v1/agents/${first.agentId}`)).body.agent;
      expect(now.online).toBe(true);
      expect(now.connectedAt).not.toBe(firstConnection);
    } finally {
      await newer.close();
      await older.close();
    }
  });

  it('link - the agent refuses an endpoint whose key does not match its pin, and logs why', async () => {
    const agent = await h.agent('Acme', 'pinned');
    await agent.close();
    const state = readdirAgentState(h.dir, 'pinned');
    const identityFile = join(state, 'identity.json');
    const identity = JSON.parse(readFileSync(identityFile, 'utf8'));
    identity.endpointPublicKey = generateEd25519().publicKey;
    writeFileSync(identityFile, JSON.stringify(identity));

    const lines: string[] = [];
    const sink = new Writable({
      write: (chunk, _enc, done) => (lines.push(chunk.toString()), done()),
    });
    const imposter = await startAgent({ stateDir: state, logger: pino({ level: 'info' }, sink) });
    try {
      await waitFor(
        () => lines.some((l) => l.includes('does not match the key pinned')),
        10_000,
        'pin log',
      );
      const view = (await h.api('GET', `/api/v1/agents/${agent.agentId}`)).body.agent;
      expect(view.online).toBe(false);
    } finally {
      await imposter.close();
    }
  });

  it('link - an agent presenting a key other than the enrolled one is refused and audited', async () => {
    const agent = await h.agent('Acme', 'rekeyed');
    await agent.close();
    const state = readdirAgentState(h.dir, 'rekeyed');
    writeFileSync(join(state, 'host_key'), generateEd25519().privateKey, {
      mode: 0o600,
    });
    const imposter = await startAgent({ stateDir: state, logger: quiet });
    try {
      await waitFor(
        async () => (await events(`agent=${agent.agentId}&code=T2001E`)).length > 0,
        10_000,
        'refusal',
      );
      const refusal = (await events(`agent=${agent.agentId}&code=T2001E`))[0];
      expect(refusal.result.reason).toContain('does not match the enrolled key');
    } finally {
      await imposter.close();
    }
  });

  it('link - an unknown agent id is refused before the upgrade and the agent stops', async () => {
    const agent = await h.agent('Acme', 'forgotten');
    await agent.close();
    await h.endpoint.services.db.deleteFrom('agents').where('id', '=', agent.agentId).execute();
    const again = await startAgent({
      stateDir: readdirAgentState(h.dir, 'forgotten'),
      logger: quiet,
    });
    expect(await again.stopped).toBe('unknown agent');
  });
});

function readdirAgentState(dir: string, name: string): string {
  const entry = readdirSync(dir).find((e) => e.endsWith(`-${name}`));
  if (!entry) throw new Error(`no state folder for ${name}`);
  return join(dir, entry);
}
