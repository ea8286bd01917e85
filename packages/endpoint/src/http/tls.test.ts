/** HTTPS and WSS with --tls-cert/--tls-key, and client addresses behind a proxy with --trust-proxy. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { startHarness, waitFor } from '../testing/harness.ts';
import { freePort, request, spawnAgent, spawnEndpoint, stopChild } from '../testing/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'tether-tls-'));
const cleanup: Array<() => Promise<void>> = [];
afterAll(async () => {
  for (const step of cleanup.reverse()) await step();
  rmSync(dir, { recursive: true, force: true });
});

it('tls - the endpoint serves HTTPS and an agent links over WSS', async () => {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  );
  const tls = ['--tls-cert', cert, '--tls-key', key];
  const endpoint = await spawnEndpoint(join(dir, 'data'), await freePort(), tls, { ca: cert });
  cleanup.push(() => endpoint.stop());
  const api = async (method: string, path: string, body?: unknown) =>
    (await request(endpoint.url, endpoint.token(), method, path, body, cert)).body;

  await api('POST', '/api/v1/accounts', { name: 'Acme' });
  const { token, installCommand } = await api('POST', '/api/v1/join-tokens', { account: 'Acme' });
  expect(installCommand).toContain(`${endpoint.url}/install.sh`);
  // The agent trusts the test's CA for TLS; its trust in the endpoint still rests on the pinned key.
  const agent = spawnAgent(endpoint.url, token, join(dir, 'agent'), 'tls-box', {
    NODE_EXTRA_CA_CERTS: cert,
  });
  cleanup.push(() => stopChild(agent));
  let agentId = '';
  await waitFor(
    async () => {
      const found = (await api('GET', '/api/v1/agents')).agents[0];
      agentId = found?.id ?? '';
      return found?.online === true;
    },
    30_000,
    'agent online over wss',
  );
  expect(
    (await api('POST', `/api/v1/agents/${agentId}/exec`, { argv: ['echo', 'secure'] })).stdout,
  ).toBe('secure\n');
}, 90_000);

it('proxy - with --trust-proxy the audit shows the forwarded client address, without it the peer', async () => {
  for (const trustProxy of [true, false]) {
    const h = await startHarness({ trustProxy });
    try {
      await fetch(`${h.url}/api/v1/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.9' },
        body: JSON.stringify({ username: 'nobody', password: 'x' }),
      });
      const event = (await h.api('GET', '/api/v1/audit?code=T1000E')).body.events[0];
      expect(event.params.remoteAddr).toBe(trustProxy ? '203.0.113.9' : '127.0.0.1');
    } finally {
      await h.close();
    }
  }
});
