/** The endpoint's repository proxy for agents: access by account, a lasting cache, short lookups. */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeLoose } from '@tether/repository';
import { publisher, publishVia, type Publisher } from '../../../repository/src/testing/endpoint.ts';
import { quiet, startHarness, type Harness } from '../testing/harness.ts';
import { startRepositoryServer, type RunningRepository } from './standalone.ts';
import { AgentRepositoryProxy, localSource } from './agent-proxy.ts';

let h: Harness;
let alice: Publisher;
let agentId: string;

beforeAll(async () => {
  h = await startHarness();
  await h.account('acme');
  agentId = (await h.agent('acme')).agentId;
  alice = await publisher(h);
  await publishVia(
    h,
    alice,
    { name: 'ops/df', version: '1.0.0', visibility: 'customers' },
    {
      'main.js': 'df()',
      'lib/fmt.js': 'fmt()',
    },
  );
  await publishVia(h, alice, { name: 'ops/reset', version: '1.0.0', visibility: 'staff' });
}, 60_000);

afterAll(async () => {
  await h?.close();
});

async function fetchAll(proxy: AgentRepositoryProxy, roots: string[], have: string[] = []) {
  const got = new Map<string, Buffer>();
  const outcome = await proxy.fetch(agentId, roots, {
    have,
    send: async (hash, deflated) => void got.set(hash, deflated),
  });
  return { got, ...outcome };
}

describe('repository proxy for agents', () => {
  it('proxy - an agent gets a script its account may see, verified, and it is audited', async () => {
    const proxy = h.endpoint.services.repository.agents;
    const resolved = await proxy.resolve(agentId, 'ops/df', '^1');
    const { got, sent } = await fetchAll(proxy, [resolved.tag]);
    expect(sent).toBe(got.size);
    // tag, root tree, lib tree, script.json, main.js, fmt.js
    expect(got.size).toBe(6);
    for (const [hash, deflated] of got) expect(decodeLoose(hash, deflated).content).toBeDefined();
    const audit = await h.api('GET', `/api/v1/audit?code=T3507I&agent=${agentId}`);
    expect(audit.body.events[0]).toMatchObject({ agentId, params: { roots: [resolved.tag] } });
  });

  it('proxy - a script the account may not see is 404 for the agent, and audited', async () => {
    const proxy = h.endpoint.services.repository.agents;
    await expect(proxy.resolve(agentId, 'ops/reset', '*')).rejects.toMatchObject({
      code: 'not_found',
    });
    const staff = await h.api('GET', '/api/v1/repository/resolve?name=ops%2Freset');
    await expect(fetchAll(proxy, [staff.body.resolved.tree])).rejects.toMatchObject({
      code: 'not_found',
    });
    const audit = await h.api('GET', `/api/v1/audit?code=T3507E&agent=${agentId}`);
    expect(audit.body.events.length).toBe(2);
  });

  it('proxy - objects once fetched are served from the cache, even when the repository lost them', async () => {
    const repo = h.endpoint.services.repository.local!;
    const proxy = new AgentRepositoryProxy({
      source: localSource(repo),
      db: h.endpoint.services.db,
      audit: h.endpoint.services.audit,
      cacheDir: join(h.dir, 'cache-test'),
      log: quiet,
    });
    const resolved = await proxy.resolve(agentId, 'ops/df', '*');
    const first = await fetchAll(proxy, [resolved.tag]);
    expect(first.fetched).toBe(6);
    const blobs = [...first.got.keys()].filter((hash) => hash !== resolved.tag);
    for (const hash of blobs) await repo.store.forget(hash);
    const second = await fetchAll(proxy, [resolved.tag], [resolved.tag]);
    expect(second.fetched).toBe(0);
    expect(second.got.size).toBe(5);
    await rm(join(h.dir, 'cache-test'), { recursive: true, force: true });
  });

  it('proxy - version lookups expire after the TTL, so a new version reaches agents', async () => {
    const proxy = new AgentRepositoryProxy({
      source: localSource(h.endpoint.services.repository.local!),
      db: h.endpoint.services.db,
      audit: h.endpoint.services.audit,
      cacheDir: join(h.dir, 'ttl-test'),
      log: quiet,
      ttlMs: 500,
    });
    await publishVia(h, alice, { name: 'ops/ttl', version: '1.0.0', visibility: 'customers' });
    expect((await proxy.resolve(agentId, 'ops/ttl', '^1')).version).toBe('1.0.0');
    await publishVia(h, alice, { name: 'ops/ttl', version: '1.1.0', visibility: 'customers' });
    expect((await proxy.resolve(agentId, 'ops/ttl', '^1')).version).toBe('1.0.0');
    await new Promise((r) => setTimeout(r, 600));
    expect((await proxy.resolve(agentId, 'ops/ttl', '^1')).version).toBe('1.1.0');
  });

  it('proxy - a revoked agent gets nothing', async () => {
    const other = await h.agent('acme', 'revoked-one');
    const revoked = await h.api('POST', `/api/v1/agents/${other.agentId}/revoke`);
    expect(revoked.status).toBe(200);
    await expect(
      h.endpoint.services.repository.agents.resolve(other.agentId, 'ops/df', '*'),
    ).rejects.toMatchObject({ code: 'agent_revoked' });
  });
});

describe('repository proxy with a separate repository', () => {
  let front: Harness;
  let standalone: RunningRepository;

  afterAll(async () => {
    await front?.close();
    await standalone?.close();
  });

  it('proxy - misses are fetched from the separate repository, with the agent as the caller', async () => {
    const { freePort } = await import('../testing/processes.ts');
    const port = await freePort();
    front = await startHarness({ repositoryUrl: `http://127.0.0.1:${port}` });
    const { readFile } = await import('node:fs/promises');
    const key = await readFile(join(front.dir, 'endpoint', 'endpoint-key.pub'), 'utf8');
    standalone = await startRepositoryServer({
      dataDir: join(front.dir, 'standalone'),
      listen: { host: '127.0.0.1', port },
      trustEndpointKeys: [key],
      logger: quiet,
    });
    await front.account('acme');
    const frontAgent = (await front.agent('acme')).agentId;
    const bob = await publisher(front);
    await publishVia(
      front,
      bob,
      { name: 'ops/far', version: '2.0.0', visibility: 'customers' },
      {
        'x.js': 'far away',
      },
    );
    await publishVia(front, bob, { name: 'ops/far-staff', version: '1.0.0', visibility: 'staff' });
    expect(front.endpoint.services.repository.local).toBeNull();

    const proxy = front.endpoint.services.repository.agents;
    const resolved = await proxy.resolve(frontAgent, 'ops/far', '*');
    const got = new Map<string, Buffer>();
    const outcome = await proxy.fetch(frontAgent, [resolved.tag], {
      send: async (hash, deflated) => void got.set(hash, deflated),
    });
    expect(outcome).toEqual({ sent: 4, fetched: 4 });
    await expect(proxy.resolve(frontAgent, 'ops/far-staff', '*')).rejects.toMatchObject({
      code: 'not_found',
    });
  });
});
