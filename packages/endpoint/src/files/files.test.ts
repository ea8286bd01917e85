/** The files API end to end on both stores: consent, operations, audit, history, blobs. */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../testing/harness.ts';
import { storeBackends, type TestStore } from '../store/test-stores.ts';
import { engineerSession, filesFetch, q, setPolicy, type FilesUser } from './files-testing.ts';

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

describe.each(storeBackends())('files on $name', (backend) => {
  let store: TestStore;
  let h: Harness;
  let accountId: string;
  let agentId: string;
  let engineer: FilesUser;
  let other: FilesUser;
  let customer: FilesUser;
  let outsider: FilesUser;
  let root: string;

  beforeAll(async () => {
    store = await backend.open();
    const dbUrl = backend.name === 'postgres' ? store.options.url : undefined;
    await store.close();
    h = await startHarness({ dbUrl });
    accountId = await h.account('Acme');
    await h.account('Globex');
    agentId = (await h.agent('Acme', 'web-1')).agentId;
    engineer = await h.user('engineer');
    other = await h.user('engineer');
    customer = await h.user('customer', { account: 'Acme' });
    outsider = await h.user('customer', { account: 'Globex' });
    root = mkdtempSync(join(h.dir, 'srv-'));
    mkdirSync(join(root, 'etc'));
    writeFileSync(join(root, 'etc', 'app.conf'), 'port = 80\n');
  }, 60_000);
  afterAll(async () => {
    await h.close();
    await store.cleanup();
  });

  const call = (method: string, path: string, body?: unknown, token = engineer.token) =>
    h.api(method, path, body, token);
  const audit = async (code: string) =>
    (await h.api('GET', `/api/v1/audit?code=${code}&limit=1000`)).body.events as any[];
  const open = (options: { write?: boolean; ticket?: string } = {}) =>
    engineerSession(h, agentId, engineer, customer, options);

  it('session - an engineer needs the customer’s approval; without one the refusal is audited', async () => {
    await setPolicy(h, accountId, customer, { pathAllow: [root] });
    const refused = await call('POST', `/api/v1/agents/${agentId}/file-sessions`, {});
    expect(refused.status).toBe(403);
    expect(refused.body.error.message).toContain('approval');
    expect((await audit('T8200E')).some((e) => e.actorId === engineer.id)).toBe(true);

    const id = await open();
    const { body } = await call('GET', `/api/v1/file-sessions/${id}`);
    expect(body.session).toMatchObject({
      agentId,
      userId: engineer.id,
      canWrite: false,
      status: 'live',
    });
    expect(body.session.roots).toEqual([root]);
    expect((await audit('T8200I')).some((e) => e.sessionId === id)).toBe(true);
  });

  it('session - an approval for another server or for writes does not open file reads', async () => {
    const asked = await call('POST', `/api/v1/agents/${agentId}/access-requests`, {
      action: 'files.write',
    });
    await call(
      'POST',
      `/api/v1/approvals/${asked.body.approval.id}/approve`,
      undefined,
      customer.token,
    );
    const wrong = await call('POST', `/api/v1/agents/${agentId}/file-sessions`, {
      readApproval: asked.body.approval.id,
    });
    expect(wrong.status).toBe(403);
    expect(wrong.body.error.message).toContain('file writes');
  });

  it('session - customers open their own only with self-service; other accounts see nothing', async () => {
    await setPolicy(h, accountId, customer, { pathAllow: [root], selfService: false });
    const without = await call(
      'POST',
      `/api/v1/agents/${agentId}/file-sessions`,
      {},
      customer.token,
    );
    expect(without.status).toBe(403);
    expect(without.body.error.message).toContain('self-service');

    await setPolicy(h, accountId, customer, {
      pathAllow: [root],
      selfService: true,
      fileWriteMode: 'always_ask',
    });
    const mine = await call('POST', `/api/v1/agents/${agentId}/file-sessions`, {}, customer.token);
    expect(mine.status).toBe(200);
    expect(mine.body.session.canWrite).toBe(true);

    const stranger = await call(
      'POST',
      `/api/v1/agents/${agentId}/file-sessions`,
      {},
      outsider.token,
    );
    expect(stranger.status).toBe(404);
    const peek = await call(
      'GET',
      `/api/v1/file-sessions/${mine.body.session.id}`,
      undefined,
      outsider.token,
    );
    expect(peek.status).toBe(404);
  });

  it('browse - lists with owners, modes and sizes; records the listing; only the opener may list', async () => {
    const id = await open();
    const listed = await call('GET', `/api/v1/file-sessions/${id}/list?${q(join(root, 'etc'))}`);
    expect(listed.status).toBe(200);
    expect(listed.body.entries).toEqual([
      expect.objectContaining({
        name: 'app.conf',
        path: join(root, 'etc', 'app.conf'),
        type: 'file',
        size: 10,
        owner: 'root',
        group: 'root',
      }),
    ]);
    expect(listed.body.entries[0].mode & 0o777).toBe(
      statSync(join(root, 'etc', 'app.conf')).mode & 0o777,
    );

    const stolen = await call(
      'GET',
      `/api/v1/file-sessions/${id}/list?${q(root)}`,
      undefined,
      other.token,
    );
    expect(stolen.status).toBe(404);
    const watched = await call(
      'GET',
      `/api/v1/file-sessions/${id}/list?${q(root)}`,
      undefined,
      customer.token,
    );
    expect(watched.status).toBe(403);
    expect(
      (await audit('T8210E')).some((e) => e.sessionId === id && e.actorId === customer.id),
    ).toBe(true);

    const events = await call('GET', `/api/v1/agents/${agentId}/file-events?session=${id}`);
    expect(events.body.events.map((e: any) => [e.kind, e.path])).toEqual([
      ['list', join(root, 'etc')],
    ]);
    expect((await audit('T8210I')).some((e) => e.sessionId === id)).toBe(true);
  });

  it('browse - a path outside the allowed folders is refused and audited', async () => {
    const id = await open();
    const denied = await call('GET', `/api/v1/file-sessions/${id}/list?${q('/etc')}`);
    expect(denied.status).toBe(403);
    expect(denied.body.error.message).toContain('outside the folders');
    expect(
      (await audit('T8210E')).some((e) => e.sessionId === id && e.params.path === '/etc'),
    ).toBe(true);
  });

  it('view - text with the hash of the whole file, a page, and a tail', async () => {
    const id = await open();
    const log = join(root, 'app.log');
    writeFileSync(log, 'line 1\nline 2\nline 3\n');
    const whole = await call('GET', `/api/v1/file-sessions/${id}/text?${q(log)}`);
    expect(whole.body).toMatchObject({
      size: 21,
      hash: sha256('line 1\nline 2\nline 3\n'),
      offset: 0,
      content: 'line 1\nline 2\nline 3\n',
      binary: false,
      eof: true,
      readOnly: true,
    });
    const page = await call('GET', `/api/v1/file-sessions/${id}/text?${q(log)}&offset=7&length=7`);
    expect(page.body).toMatchObject({ offset: 7, length: 7, content: 'line 2\n', eof: false });
    const tail = await call('GET', `/api/v1/file-sessions/${id}/text?${q(log)}&tail=7`);
    expect(tail.body).toMatchObject({ offset: 14, content: 'line 3\n', eof: true });

    const views = (await call('GET', `/api/v1/agents/${agentId}/file-events?session=${id}`)).body
      .events;
    expect(views.filter((e: any) => e.kind === 'view')).toHaveLength(1);
    expect((await audit('T8212I')).filter((e) => e.sessionId === id)).toHaveLength(3);
  });

  it('save - a read-only session cannot save; write access after approval can, atomically', async () => {
    const id = await open();
    const conf = join(root, 'etc', 'app.conf');
    writeFileSync(conf, 'port = 80\n');
    const base = sha256('port = 80\n');
    const readOnly = await call('PUT', `/api/v1/file-sessions/${id}/text`, {
      path: conf,
      content: 'port = 8080\n',
      baseHash: base,
    });
    expect(readOnly.status).toBe(403);
    expect(readFileSync(conf, 'utf8')).toBe('port = 80\n');

    const asked = await call('POST', `/api/v1/agents/${agentId}/access-requests`, {
      action: 'files.write',
    });
    await call(
      'POST',
      `/api/v1/approvals/${asked.body.approval.id}/approve`,
      undefined,
      customer.token,
    );
    const granted = await call('POST', `/api/v1/file-sessions/${id}/write-access`, {
      approval: asked.body.approval.id,
    });
    expect(granted.body.session.canWrite).toBe(true);

    const diff = await call('POST', `/api/v1/file-sessions/${id}/diff`, {
      path: conf,
      content: 'port = 8080\n',
      baseHash: base,
    });
    expect(diff.body).toMatchObject({ conflict: false, currentHash: base });
    expect(diff.body.diff).toContain('-port = 80\n+port = 8080');

    const saved = await call('PUT', `/api/v1/file-sessions/${id}/text`, {
      path: conf,
      content: 'port = 8080\n',
      baseHash: base,
    });
    expect(saved.status).toBe(200);
    expect(saved.body).toMatchObject({
      hash: sha256('port = 8080\n'),
      previousHash: base,
      unchanged: false,
    });
    expect(readFileSync(conf, 'utf8')).toBe('port = 8080\n');

    const events = (await call('GET', `/api/v1/agents/${agentId}/file-events?session=${id}`)).body
      .events;
    const save = events.find((e: any) => e.kind === 'save');
    expect(save).toMatchObject({ beforeHash: base, afterHash: sha256('port = 8080\n'), bytes: 12 });
    const one = await call('GET', `/api/v1/file-events/${save.id}`);
    expect(one.body.diff).toContain('+port = 8080');
    const before = await filesFetch(h, engineer.token, `/api/v1/file-blobs/${base}`);
    expect(await before.text()).toBe('port = 80\n');
    const after = await filesFetch(
      h,
      customer.token,
      `/api/v1/file-blobs/${sha256('port = 8080\n')}`,
    );
    expect(await after.text()).toBe('port = 8080\n');
    expect((await filesFetch(h, outsider.token, `/api/v1/file-blobs/${base}`)).status).toBe(404);
    expect(
      (await audit('T8215I')).some((e) => e.sessionId === id && e.result.hash === saved.body.hash),
    ).toBe(true);
    expect((await audit('T8221I')).length).toBeGreaterThanOrEqual(2);
  });

  it('save - a stale base hash is a conflict with the diff; nothing changes', async () => {
    const id = await open({ write: true });
    const conf = join(root, 'etc', 'app.conf');
    writeFileSync(conf, 'changed on the server\n');
    const conflict = await call('PUT', `/api/v1/file-sessions/${id}/text`, {
      path: conf,
      content: 'mine\n',
      baseHash: sha256('port = 80\n'),
    });
    expect(conflict.status).toBe(409);
    expect(conflict.body.error.code).toBe('conflict');
    expect(conflict.body.error.details.currentHash).toBe(sha256('changed on the server\n'));
    expect(conflict.body.error.details.diff).toContain('-changed on the server\n+mine');
    expect(readFileSync(conf, 'utf8')).toBe('changed on the server\n');
    expect((await audit('T8215E')).some((e) => e.sessionId === id)).toBe(true);
  });

  it('change - mkdir, upload, rename, chmod and delete are done, audited and kept in history', async () => {
    const id = await open({ write: true });
    const dir = join(root, 'work');
    expect(
      (await call('POST', `/api/v1/file-sessions/${id}/mkdir`, { path: dir, mode: 0o750 })).body
        .entry,
    ).toMatchObject({ type: 'dir' });
    expect(statSync(dir).mode & 0o777).toBe(0o750);

    const up = await filesFetch(
      h,
      engineer.token,
      `/api/v1/file-sessions/${id}/upload?${q(join(dir, 'a.txt'))}`,
      {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: 'uploaded',
      },
    );
    expect(up.status).toBe(200);
    expect(await up.json()).toMatchObject({
      hash: sha256('uploaded'),
      entry: { name: 'a.txt', size: 8 },
    });

    const again = await filesFetch(
      h,
      engineer.token,
      `/api/v1/file-sessions/${id}/upload?${q(join(dir, 'a.txt'))}`,
      {
        method: 'PUT',
        headers: { 'content-type': 'application/octet-stream' },
        body: 'second',
      },
    );
    expect(again.status).toBe(409);
    expect(readFileSync(join(dir, 'a.txt'), 'utf8')).toBe('uploaded');

    const renamed = await call('POST', `/api/v1/file-sessions/${id}/rename`, {
      from: join(dir, 'a.txt'),
      to: join(dir, 'b.txt'),
    });
    expect(renamed.body.entry).toMatchObject({ name: 'b.txt' });
    const mode = await call('POST', `/api/v1/file-sessions/${id}/chmod`, {
      path: join(dir, 'b.txt'),
      mode: 0o600,
    });
    expect(mode.body.entry.mode & 0o777).toBe(0o600);
    const notEmpty = await call('POST', `/api/v1/file-sessions/${id}/delete`, { path: dir });
    expect(notEmpty.status).toBe(409);
    expect(
      (await call('POST', `/api/v1/file-sessions/${id}/delete`, { path: dir, recursive: true }))
        .status,
    ).toBe(200);
    expect(() => statSync(dir)).toThrow();

    const kinds = (
      await call('GET', `/api/v1/agents/${agentId}/file-events?session=${id}`)
    ).body.events
      .map((e: any) => e.kind)
      .reverse();
    expect(kinds).toEqual(['mkdir', 'upload', 'rename', 'chmod', 'delete']);
    for (const code of ['T8218I', 'T8216I', 'T8219I', 'T8220I', 'T8217I', 'T8217E'])
      expect(
        (await audit(code)).some((e) => e.sessionId === id),
        code,
      ).toBe(true);
  });

  it('history - per ticket and per server, paged, and only what the caller may see', async () => {
    const ticket = await call(
      'POST',
      '/api/v1/tickets',
      { agent: agentId, title: 'logs', question: 'why?' },
      customer.token,
    );
    expect(ticket.status).toBe(200);
    await call('POST', `/api/v1/tickets/${ticket.body.ticket.id}/take`);
    const id = await open({ ticket: ticket.body.ticket.id });
    for (let i = 0; i < 3; i++) await call('GET', `/api/v1/file-sessions/${id}/list?${q(root)}`);
    const first = await call(
      'GET',
      `/api/v1/agents/${agentId}/file-events?ticket=${ticket.body.ticket.id}&limit=2`,
    );
    expect(first.body.events).toHaveLength(2);
    expect(first.body.events.every((e: any) => e.ticketId === ticket.body.ticket.id)).toBe(true);
    const second = await call(
      'GET',
      `/api/v1/agents/${agentId}/file-events?ticket=${ticket.body.ticket.id}&limit=2&cursor=${first.body.next}`,
    );
    expect(second.body.events).toHaveLength(1);
    expect(second.body.next).toBeNull();

    const theirs = await call(
      'GET',
      `/api/v1/agents/${agentId}/file-events?session=${id}`,
      undefined,
      other.token,
    );
    expect(theirs.body.events).toEqual([]);
    const customers = await call(
      'GET',
      `/api/v1/agents/${agentId}/file-events?session=${id}`,
      undefined,
      customer.token,
    );
    expect(customers.body.events).toHaveLength(3);
  });

  it('session - the engineer or a customer ends it; afterwards nothing runs in it', async () => {
    const id = await open();
    const ended = await call('DELETE', `/api/v1/file-sessions/${id}`, undefined, customer.token);
    expect(ended.body.session).toMatchObject({
      status: 'ended',
      endReason: `ended by ${customer.username}`,
    });
    const after = await call('GET', `/api/v1/file-sessions/${id}/list?${q(root)}`);
    expect(after.status).toBe(409);
    expect((await audit('T8201I')).some((e) => e.sessionId === id)).toBe(true);
    const list = await call('GET', `/api/v1/agents/${agentId}/file-sessions`);
    expect(list.body.sessions.find((s: any) => s.id === id).status).toBe('ended');
  });

  it('session - one idle for an hour ends by itself; recent file work keeps another open', async () => {
    const idle = await open();
    const busy = await open();
    const twoHoursAgo = new Date(Date.now() - 2 * 3600_000).toISOString();
    await h.endpoint.services.db
      .updateTable('file_sessions')
      .set({ started_at: twoHoursAgo })
      .where('id', 'in', [idle, busy])
      .execute();
    await call('GET', `/api/v1/file-sessions/${busy}/list?${q(root)}`);
    expect(await h.endpoint.services.files.endIdle()).toBe(1);
    const ended = (await call('GET', `/api/v1/file-sessions/${idle}`)).body.session;
    expect(ended).toMatchObject({ status: 'ended', endReason: 'idle for 60 minutes' });
    expect((await call('GET', `/api/v1/file-sessions/${busy}`)).body.session.status).toBe('live');
    const event = (await audit('T8201I')).find((e) => e.sessionId === idle);
    expect(event).toMatchObject({ actorId: null, result: { reason: 'idle for 60 minutes' } });
  });

  it('view - a binary file has base64 for a hex view; a large one opens a page at a time, read-only', async () => {
    const id = await open({ write: true });
    const bin = join(root, 'blob.bin');
    writeFileSync(bin, Buffer.from([0, 1, 2, 255]));
    const binary = await call('GET', `/api/v1/file-sessions/${id}/text?${q(bin)}`);
    expect(binary.body).toMatchObject({
      binary: true,
      content: '',
      base64: 'AAEC/w==',
      readOnly: true,
    });

    const big = join(root, 'big.log');
    // 'é' (two bytes) straddles the 2 MiB page boundary.
    const text = 'x'.repeat(2 * 1024 * 1024 - 1) + 'é' + 'y'.repeat(1024 * 1024);
    writeFileSync(big, text);
    const first = await call('GET', `/api/v1/file-sessions/${id}/text?${q(big)}`);
    expect(first.body).toMatchObject({
      hash: null,
      offset: 0,
      binary: false,
      eof: false,
      readOnly: true,
    });
    expect(first.body.length).toBe(2 * 1024 * 1024 - 1);
    const next = await call(
      'GET',
      `/api/v1/file-sessions/${id}/text?${q(big)}&offset=${first.body.length}&length=10`,
    );
    expect(next.body.content).toBe('éyyyyyyyy');
    const save = await call('PUT', `/api/v1/file-sessions/${id}/text`, {
      path: big,
      content: 'small',
      baseHash: sha256(text),
    });
    expect(save.status).toBe(413);
  });

  it('view - tail follows a growing log', async () => {
    const id = await open();
    const log = join(root, 'follow.log');
    writeFileSync(log, 'one\n');
    expect(
      (await call('GET', `/api/v1/file-sessions/${id}/text?${q(log)}&tail=4`)).body.content,
    ).toBe('one\n');
    writeFileSync(log, 'one\ntwo\n');
    const later = await call('GET', `/api/v1/file-sessions/${id}/text?${q(log)}&tail=4`);
    expect(later.body).toMatchObject({ content: 'two\n', offset: 4, size: 8, eof: true });
  });

  it('live - the socket’s service: editor and observers, late-join state, cwd/open/saved/ended', async () => {
    const id = await open({ write: true });
    const files = h.endpoint.services.files;
    const auth = h.endpoint.services.auth;
    const as = async (user: FilesUser) => (await auth.fromApiToken(user.token))!;
    expect(await files.authorize(await as(engineer), id)).toMatchObject({
      role: 'editor',
      readOnly: false,
    });
    expect(await files.authorize(await as(customer), id)).toMatchObject({
      role: 'observer',
      readOnly: true,
    });
    await expect(files.authorize(await as(other), id)).rejects.toThrow('no such file session');
    await expect(files.authorize(await as(outsider), id)).rejects.toThrow('no such file session');

    const seen: any[] = [];
    const off = files.live.subscribe(id, (message) => seen.push(message));
    const conf = join(root, 'etc', 'live.conf');
    writeFileSync(conf, 'a\n');
    await call('GET', `/api/v1/file-sessions/${id}/list?${q(join(root, 'etc'))}`);
    await call('GET', `/api/v1/file-sessions/${id}/text?${q(conf)}`);
    await call('PUT', `/api/v1/file-sessions/${id}/text`, {
      path: conf,
      content: 'b\n',
      baseHash: sha256('a\n'),
    });
    expect(await files.live.liveState(id)).toEqual([
      { type: 'cwd', path: join(root, 'etc') },
      { type: 'open', path: conf, hash: sha256('b\n') },
    ]);
    await call('DELETE', `/api/v1/file-sessions/${id}`);
    await expect
      .poll(() => seen.map((m) => m.type))
      .toEqual(['cwd', 'open', 'saved', 'open', 'ended']);
    expect(seen[2]).toEqual({ type: 'saved', path: conf, hash: sha256('b\n') });
    expect(seen[4]).toMatchObject({ type: 'ended', by: engineer.username });
    off();
  });

  it('policy - writes switched off refuse changes at once; a denied folder is refused inside an allowed one', async () => {
    const id = await open({ write: true });
    const secrets = join(root, 'secrets');
    mkdirSync(secrets, { recursive: true });
    writeFileSync(join(secrets, 'key'), 'k');
    await setPolicy(h, accountId, customer, {
      pathAllow: [root],
      pathDeny: [secrets],
      fileWriteMode: 'off',
    });
    try {
      const write = await call('POST', `/api/v1/file-sessions/${id}/mkdir`, {
        path: join(root, 'new'),
      });
      expect(write.status).toBe(403);
      expect(write.body.error.message).toBe('the account has switched file writes off');
      const denied = await call(
        'GET',
        `/api/v1/file-sessions/${id}/text?${q(join(secrets, 'key'))}`,
      );
      expect(denied.status).toBe(403);
      const names = (
        await call('GET', `/api/v1/file-sessions/${id}/list?${q(root)}`)
      ).body.entries.map((e: any) => e.name);
      expect(names).not.toContain('secrets');
    } finally {
      await setPolicy(h, accountId, customer, { pathAllow: [root] });
    }
  });

  it('history - an editing session replays save by save from the kept contents', async () => {
    const id = await open({ write: true });
    const conf = join(root, 'replay.conf');
    writeFileSync(conf, 'v1\n');
    let base = sha256('v1\n');
    for (const content of ['v2\n', 'v3\n']) {
      const saved = await call('PUT', `/api/v1/file-sessions/${id}/text`, {
        path: conf,
        content,
        baseHash: base,
      });
      base = saved.body.hash;
    }
    const saves = (
      await call('GET', `/api/v1/agents/${agentId}/file-events?session=${id}`)
    ).body.events
      .filter((e: any) => e.kind === 'save')
      .reverse();
    const blob = async (hash: string) =>
      (await filesFetch(h, customer.token, `/api/v1/file-blobs/${hash}`)).text();
    const steps = [];
    for (const save of saves) steps.push([await blob(save.beforeHash), await blob(save.afterHash)]);
    expect(steps).toEqual([
      ['v1\n', 'v2\n'],
      ['v2\n', 'v3\n'],
    ]);
    const second = await call(
      'GET',
      `/api/v1/file-events/${saves[1].id}`,
      undefined,
      customer.token,
    );
    expect(second.body.diff).toContain('-v2\n+v3');
  });
});
