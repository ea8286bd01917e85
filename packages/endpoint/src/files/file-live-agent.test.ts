/**
 * The live file socket on a real endpoint with a real agent: the editor opens a file in a
 * temporary folder through the session, observers follow the edits, a save through the REST
 * API reaches every socket with its hash, and ending the session closes them all.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FileLiveClient } from '../testing/file-live-client.ts';
import { startHarness, waitFor, type Harness } from '../testing/harness.ts';
import { engineerSession, setPolicy, type FilesUser } from './files-testing.ts';

const CONFIG = 'port: 8080\nworkers: 2\n';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('file live socket with a real agent', () => {
  let h: Harness;
  let accountId: string;
  let agentId: string;
  let engineer: FilesUser;
  let customer: FilesUser;
  let outsider: FilesUser;
  let root: string;
  const clients: FileLiveClient[] = [];

  beforeAll(async () => {
    h = await startHarness();
    accountId = await h.account('Acme');
    await h.account('Globex');
    agentId = (await h.agent('Acme', 'web-1')).agentId;
    engineer = await h.user('engineer');
    customer = await h.user('customer', { account: 'Acme' });
    outsider = await h.user('customer', { account: 'Globex' });
    root = mkdtempSync(join(h.dir, 'srv-'));
    await setPolicy(h, accountId, customer, { pathAllow: [root] });
  }, 60_000);

  afterEach(async () => {
    const closing = clients.splice(0);
    for (const c of closing) c.close();
    await Promise.all(closing.map((c) => c.closed));
  });

  afterAll(async () => {
    await h?.close();
  });

  function connect(session: string, token: string): FileLiveClient {
    const client = new FileLiveClient(h.url, `/api/v1/file-sessions/${session}/socket`, token);
    clients.push(client);
    return client;
  }

  it('live - the engineer opens a file on the agent, the customer follows the edits and the save', async () => {
    const file = join(root, 'app.yml');
    writeFileSync(file, CONFIG);
    const session = await engineerSession(h, agentId, engineer, customer, { write: true });
    const erin = connect(session, engineer.token);
    const ann = connect(session, customer.token);
    expect(await erin.waitMessage('hello')).toMatchObject({ role: 'editor', readOnly: false });
    expect(await ann.waitMessage('hello')).toMatchObject({ role: 'observer', readOnly: true });

    erin.control({ type: 'cwd', path: root });
    erin.control({ type: 'open', path: file });
    expect(await ann.waitMessage('open')).toEqual({
      type: 'open',
      path: file,
      hash: sha256(CONFIG),
      size: CONFIG.length,
      shared: true,
      binary: false,
    });
    await ann.waitText(CONFIG);
    await erin.waitText(CONFIG);

    erin.insert(CONFIG.indexOf('2'), '8');
    const edited = CONFIG.replace('2', '82');
    await ann.waitText(edited);

    const saved = await h.api(
      'PUT',
      `/api/v1/file-sessions/${session}/text`,
      { path: file, content: erin.text, baseHash: sha256(CONFIG) },
      engineer.token,
    );
    expect(saved.status).toBe(200);
    expect(readFileSync(file, 'utf8')).toBe(edited);
    for (const client of [erin, ann])
      expect(await client.waitMessage('saved')).toEqual({
        type: 'saved',
        path: file,
        hash: sha256(edited),
      });

    // The observer's join and the editor's open are on the record.
    const joined = await h.api('GET', `/api/v1/audit?code=T8291I`);
    expect(joined.body.events.some((e: any) => e.sessionId === session)).toBe(true);
  });

  it('live - a path the account does not allow is refused to the editor, nothing opens', async () => {
    const session = await engineerSession(h, agentId, engineer, customer);
    const erin = connect(session, engineer.token);
    await erin.waitMessage('hello');
    erin.control({ type: 'open', path: '/etc/hostname' });
    const error = await erin.waitMessage('error');
    expect(['forbidden', 'not_found']).toContain(error.error.code);
    expect(erin.messages.some((m) => m.type === 'open')).toBe(false);
  });

  it('live - another account’s customer gets 4404; ending the session closes every socket', async () => {
    const session = await engineerSession(h, agentId, engineer, customer);
    const stranger = connect(session, outsider.token);
    expect((await stranger.closed).code).toBe(4404);

    const erin = connect(session, engineer.token);
    const ann = connect(session, customer.token);
    await erin.waitMessage('hello');
    await ann.waitMessage('hello');
    const ended = await h.api(
      'DELETE',
      `/api/v1/file-sessions/${session}`,
      undefined,
      customer.token,
    );
    expect(ended.status).toBe(200);
    expect(await erin.waitMessage('ended')).toMatchObject({ type: 'ended' });
    await waitFor(async () => (await ann.closed).code === 1000, 10_000, 'observer closed');
    expect((await erin.closed).code).toBe(1000);

    const late = connect(session, customer.token);
    expect((await late.closed).code).toBe(4410);
  });
});
