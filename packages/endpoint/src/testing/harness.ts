/** Test harness: a real endpoint on a loopback port, real agents, and an HTTP client for both. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startAgent, type RunningAgent } from '@tether/agent';
import { startEndpoint, type EndpointOptions, type RunningEndpoint } from '../server.ts';

export interface Harness {
  endpoint: RunningEndpoint;
  url: string;
  adminToken: string;
  dir: string;
  /** Calls the API; returns status and parsed JSON. */
  api(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ): Promise<{ status: number; body: any }>;
  account(name: string): Promise<string>;
  joinToken(account: string, options?: { ttlSeconds?: number; maxUses?: number }): Promise<string>;
  /** A user with a token, for role tests. */
  user(
    role: 'admin' | 'manager' | 'engineer' | 'customer',
    options?: { account?: string; manager?: string },
  ): Promise<{ id: string; username: string; token: string }>;
  agent(account: string, name?: string): Promise<RunningAgent>;
  close(): Promise<void>;
}

export const quiet = pino({ level: process.env.TETHER_TEST_LOG ?? 'silent' });

export async function startHarness(options: Partial<EndpointOptions> = {}): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'tether-test-'));
  const endpoint = await startEndpoint({
    dataDir: join(dir, 'endpoint'),
    listen: { host: '127.0.0.1', port: 0 },
    logger: quiet,
    ...options,
  });
  const agents: RunningAgent[] = [];
  let users = 0;

  const api: Harness['api'] = async (method, path, body, token = endpoint.adminToken) => {
    const response = await fetch(`${endpoint.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON (e.g. the install script): the text is the body.
    }
    return { status: response.status, body: parsed };
  };

  const harness: Harness = {
    endpoint,
    url: endpoint.url,
    adminToken: endpoint.adminToken,
    dir,
    api,
    async account(name) {
      const created = await api('POST', '/api/v1/accounts', { name });
      if (created.status !== 200) throw new Error(`account: ${JSON.stringify(created.body)}`);
      return created.body.account.id;
    },
    async joinToken(account, options = {}) {
      const created = await api('POST', '/api/v1/join-tokens', { account, ...options });
      if (created.status !== 200) throw new Error(`join token: ${JSON.stringify(created.body)}`);
      return created.body.token;
    },
    async user(role, options = {}) {
      users += 1;
      const username = `${role}${users}`;
      const created = await api('POST', '/api/v1/users', { username, role, ...options });
      if (created.status !== 200) throw new Error(`user: ${JSON.stringify(created.body)}`);
      const { token } = await endpoint.services.people.createApiToken(created.body.user.id, 'test');
      return { id: created.body.user.id, username, token };
    },
    async agent(account, name = `agent-${agents.length + 1}`) {
      const token = await harness.joinToken(account);
      const agent = await startAgent({
        endpoint: endpoint.url,
        joinToken: token,
        stateDir: join(dir, `agent-${agents.length}-${name}`),
        name,
        logger: quiet,
      });
      agents.push(agent);
      await waitFor(
        async () =>
          (await api('GET', `/api/v1/agents/${agent.agentId}`)).body.agent?.online === true,
      );
      return agent;
    },
    async close() {
      await Promise.all(agents.map((a) => a.close()));
      await endpoint.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** Polls until `check` is true; fails with `what` after `timeoutMs`. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
