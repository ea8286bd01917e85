/** Consent beyond terminals: file and forward modes, path and target lists, on both stores. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../testing/harness.ts';
import { storeBackends, type TestStore } from '../store/test-stores.ts';

describe.each(storeBackends())('access policy on $name', (backend) => {
  let store: TestStore;
  let h: Harness;
  let accountId: string;
  let agentId: string;
  let engineer: { token: string };
  let customer: { token: string };

  beforeAll(async () => {
    store = await backend.open();
    const dbUrl = backend.name === 'postgres' ? store.options.url : undefined;
    await store.close();
    h = await startHarness({ dbUrl });
    accountId = await h.account('Acme');
    agentId = (await h.agent('Acme', 'web-1')).agentId;
    engineer = await h.user('engineer');
    customer = await h.user('customer', { account: 'Acme' });
  }, 60_000);
  afterAll(async () => {
    await h.close();
    await store.cleanup();
  });

  const policyUrl = () => `/api/v1/accounts/${accountId}/consent`;
  const ask = (body: object, token = engineer.token) =>
    h.api('POST', `/api/v1/agents/${agentId}/access-requests`, body, token);
  const audit = async (code: string) =>
    (await h.api('GET', `/api/v1/audit?code=${code}&limit=1000`)).body.events as any[];

  it('policy - an account that never set one asks for everything and lists nothing', async () => {
    const { body } = await h.api('GET', policyUrl(), undefined, customer.token);
    expect(body.policy).toMatchObject({
      terminalMode: 'always_ask',
      fileReadMode: 'always_ask',
      fileWriteMode: 'always_ask',
      forwardMode: 'always_ask',
      pathAllow: [],
      pathDeny: [],
      forwardTargets: [],
      selfService: false,
    });
  });

  it('policy - lists and modes are stored as given and read back', async () => {
    const policy = {
      fileReadMode: 'allow',
      fileWriteMode: 'off',
      forwardMode: 'preapprove_assignee',
      pathAllow: ['/etc/nginx', '/var/log'],
      pathDeny: ['/etc/nginx/secrets'],
      forwardTargets: ['127.0.0.1:5432', 'db.internal:*'],
      selfService: true,
    };
    expect((await h.api('PUT', policyUrl(), policy, customer.token)).status).toBe(200);
    const { body } = await h.api('GET', policyUrl(), undefined, customer.token);
    expect(body.policy).toMatchObject(policy);
  });

  it('policy - a relative path, a bad target or an unknown mode is refused with a clear error', async () => {
    for (const bad of [
      { pathAllow: ['etc/nginx'] },
      { pathDeny: ['/etc/\u0000x'] },
      { forwardTargets: ['no-port'] },
      { fileReadMode: 'sometimes' },
    ]) {
      const put = await h.api('PUT', policyUrl(), bad, customer.token);
      expect(put.status, JSON.stringify(bad)).toBe(400);
      expect(put.body.error.code).toBe('invalid_request');
    }
  });

  it('access - `allow` grants at once, `off` refuses and audits, `always_ask` waits', async () => {
    const policy = { fileReadMode: 'allow', fileWriteMode: 'off', forwardMode: 'always_ask' };
    expect((await h.api('PUT', policyUrl(), policy, customer.token)).status).toBe(200);

    const read = await ask({ action: 'files.read', detail: '/var/log' });
    expect(read.status).toBe(200);
    expect(read.body.approval).toMatchObject({ action: 'files.read', status: 'approved' });

    const write = await ask({ action: 'files.write' });
    expect(write.status).toBe(403);
    expect(write.body.error.message).toContain('file writes off');
    expect((await audit('T8004E')).some((e) => e.params.action === 'files.write')).toBe(true);

    const forward = await ask({ action: 'forward', detail: '127.0.0.1:5432' });
    expect(forward.body.approval).toMatchObject({ action: 'forward', status: 'pending' });
    expect((await audit('T8001I')).some((e) => e.params.detail === '127.0.0.1:5432')).toBe(true);
  });

  it('access - customers do not ask, and a terminal cannot be asked for here', async () => {
    expect((await ask({ action: 'files.read' }, customer.token)).status).toBe(403);
    expect((await ask({ action: 'terminal' })).status).toBe(400);
  });

  it('access - a file approval does not open a terminal', async () => {
    await h.api('PUT', policyUrl(), { fileReadMode: 'allow' }, customer.token);
    const read = await ask({ action: 'files.read' });
    const id = read.body.approval.id;
    const services = h.endpoint.services;
    const principal = (await services.auth.fromApiToken(engineer.token))!;
    await expect(
      services.terminals.open(principal, { approvalId: id, agentId, cols: 80, rows: 24 }),
    ).rejects.toThrow('the approval is for file reads');
    const refused = await audit('T8004E');
    expect(refused.some((e) => e.params.approvalId === id)).toBe(true);
  });
});
