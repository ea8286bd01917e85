/**
 * The live file socket over real WebSockets: two endpoint processes' worth of FileLive sharing a
 * bus, with a tiny hand-written files backend (sessions, a few files, a save notice) in place of
 * the agent. The socket's own rules are what is tested here: roles, relay, late joiners, and
 * every kind of bad input.
 */
import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import Fastify, { type FastifyInstance } from 'fastify';
import websocket from '@fastify/websocket';
import { TetherError } from '@tether/protocol';
import type { AppendInput } from '../audit/audit-log.ts';
import type { Principal } from '../auth/principal.ts';
import { MemoryBus } from '../bus/memory-bus.ts';
import { wsGate, wsPrincipal } from '../http/ws-auth.ts';
import type { Services } from '../services.ts';
import { FileLiveClient } from '../testing/file-live-client.ts';
import { quiet, waitFor } from '../testing/harness.ts';
import { FileLive, MAX_BINARY_BYTES, type FileLiveBackend } from './file-live.ts';

const SESSION = '5f0c1d2e-0000-4000-8000-000000000001';
const ENDED = '5f0c1d2e-0000-4000-8000-000000000002';
const ACCOUNT = 'acct-1';
const CONFIG = '/srv/app/config.yml';
const FILES: Record<string, string> = {
  [CONFIG]: 'port: 8080\nworkers: 2\n',
  '/srv/app/other.txt': 'another file\n',
};

const people: Record<string, Principal> = {
  erin: person('erin', 'engineer', null),
  ann: person('ann', 'customer', ACCOUNT),
  otto: person('otto', 'customer', 'acct-2'),
};

/** The files backend as the socket sees it: erin's session on an agent of ACCOUNT. */
const backend: FileLiveBackend = {
  async authorize(p, sessionId) {
    const known = sessionId === SESSION || sessionId === ENDED;
    const mayWatch = p.role === 'admin' || p.accountId === ACCOUNT || p.userId === 'erin';
    if (!known || !mayWatch) throw new TetherError('not_found', 'no such file session');
    return {
      role: p.userId === 'erin' ? 'editor' : 'observer',
      agentId: 'agent-1',
      accountId: ACCOUNT,
      ticketId: null,
      live: sessionId === SESSION,
    };
  },
  async read(_p, _sessionId, path) {
    const content = FILES[path];
    if (content === undefined) throw new TetherError('not_found', `no such file: ${path}`);
    return { path, size: content.length, hash: sha256(content), content, binary: false };
  },
  notices(sessionId, handler) {
    return noticeBus.subscribe(`test.saved.${sessionId}`, (payload) => {
      const { path, hash } = payload as { path: string; hash: string };
      handler({ type: 'saved', sessionId, path, hash });
    });
  },
};

/** Where the fake backend announces saves, as the real one does on its own subject. */
const noticeBus = new MemoryBus();

describe('file live socket', () => {
  const bus = new MemoryBus();
  const audited: AppendInput[] = [];
  let a: FastifyInstance;
  let b: FastifyInstance;
  let urlA: string;
  let urlB: string;
  const lives: FileLive[] = [];
  const clients: FileLiveClient[] = [];

  beforeAll(async () => {
    [a, urlA] = await process_('node-a');
    [b, urlB] = await process_('node-b');
  });

  afterEach(async () => {
    const closing = clients.splice(0);
    for (const c of closing) c.close();
    await Promise.all(closing.map((c) => c.closed));
    // Each test starts with no room anywhere: nothing of the last one's file is left.
    await waitFor(() => lives.every((live) => live.openRooms === 0), 10_000, 'rooms freed');
    audited.length = 0;
  });

  afterAll(async () => {
    for (const live of lives) live.stop();
    await a?.close();
    await b?.close();
    await bus.close();
    await noticeBus.close();
  });

  /** One endpoint process: its own FileLive on its own port, the shared bus between them. */
  async function process_(nodeId: string): Promise<[FastifyInstance, string]> {
    const app = Fastify();
    await app.register(websocket, { options: { maxPayload: 1024 * 1024 } });
    const auth = {
      fromRequest: async (request: { headers: Record<string, unknown> }) =>
        people[String(request.headers.authorization).replace(/^Bearer /, '')] ?? null,
    };
    const live = new FileLive({
      bus,
      audit: { append: async (input) => (audited.push(input), undefined as never) },
      log: quiet,
      nodeId,
      gate: wsGate({ auth } as unknown as Services),
      principal: (request) => wsPrincipal({} as Services, request),
      backend,
    });
    lives.push(live);
    live.register(app);
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    return [app, url];
  }

  function connect(url: string, who: string, session = SESSION): FileLiveClient {
    const client = new FileLiveClient(url, `/api/v1/file-sessions/${session}/socket`, who);
    clients.push(client);
    return client;
  }

  /** The engineer's socket with CONFIG open and its content in the shared document. */
  async function editorWithConfig(url = urlA): Promise<FileLiveClient> {
    const erin = connect(url, 'erin');
    await erin.waitMessage('hello');
    erin.control({ type: 'cwd', path: '/srv/app' });
    erin.control({ type: 'open', path: CONFIG });
    await erin.waitMessage('open', (m) => m.path === CONFIG);
    await erin.waitText(FILES[CONFIG]!);
    return erin;
  }

  it('live - the session’s engineer is the editor, a customer of the account an observer', async () => {
    const erin = connect(urlA, 'erin');
    const ann = connect(urlA, 'ann');
    expect(await erin.waitMessage('hello')).toEqual({
      type: 'hello',
      session: SESSION,
      role: 'editor',
      readOnly: false,
    });
    expect(await ann.waitMessage('hello')).toMatchObject({ role: 'observer', readOnly: true });
    await waitFor(() => audited.some((e) => e.kind === 'fileLiveJoined'));
    const watchers = await erin.waitMessage('watchers', (m) => m.people.length === 2);
    expect(watchers.people).toContainEqual({ username: 'ann', role: 'observer' });
  });

  it('live - someone who may not see the server is refused with 4404, an ended session 4410', async () => {
    const otto = connect(urlA, 'otto');
    expect((await otto.closed).code).toBe(4404);
    expect(otto.messages[0].error.code).toBe('not_found');
    const late = connect(urlA, 'erin', ENDED);
    expect((await late.closed).code).toBe(4410);
  });

  it('live - a cross-site page cannot open the socket with the user’s cookie', async () => {
    const client = new FileLiveClient(
      urlA,
      `/api/v1/file-sessions/${SESSION}/socket`,
      'erin',
      'https://evil.example',
    );
    clients.push(client);
    expect((await client.closed).code).toBe(1006);
    expect(client.messages).toEqual([]);
  });

  it('live - the observer follows the folder, the file, each edit and the cursor as typed', async () => {
    const ann = connect(urlA, 'ann');
    await ann.waitMessage('hello');
    const erin = await editorWithConfig();
    expect(await ann.waitMessage('cwd')).toEqual({ type: 'cwd', path: '/srv/app' });
    expect(await ann.waitMessage('open')).toMatchObject({
      path: CONFIG,
      hash: sha256(FILES[CONFIG]!),
      shared: true,
      binary: false,
    });
    await ann.waitText(FILES[CONFIG]!);

    erin.insert(6, '9');
    await ann.waitText('port: 98080\nworkers: 2\n');
    erin.cursor({ user: { name: 'erin' }, cursor: { anchor: 7, head: 7 } });
    await waitFor(() => ann.peers().length === 1, 10_000, 'the engineer’s cursor');
    expect(ann.peers()[0]).toMatchObject({ user: { name: 'erin' } });
  });

  it('live - a late joiner gets the folder, the open file with unsaved edits, and the cursor', async () => {
    const erin = await editorWithConfig();
    erin.insert(0, '# edited\n');
    erin.cursor({ user: { name: 'erin' }, cursor: { anchor: 2, head: 8 } });
    await new Promise((r) => setTimeout(r, 100));

    const ann = connect(urlA, 'ann');
    expect(await ann.waitMessage('cwd')).toEqual({ type: 'cwd', path: '/srv/app' });
    await ann.waitText(`# edited\n${FILES[CONFIG]}`);
    await waitFor(() => ann.peers().length === 1, 10_000, 'the engineer’s cursor');
  });

  it('live - an observer in another endpoint process gets the state and every later edit', async () => {
    const erin = await editorWithConfig(urlA);
    erin.insert(0, 'A');
    const bob = connect(urlB, 'ann');
    await bob.waitText(`A${FILES[CONFIG]}`);
    erin.insert(1, 'B');
    await bob.waitText(`AB${FILES[CONFIG]}`);
    erin.control({ type: 'open', path: '/srv/app/other.txt' });
    await bob.waitMessage('open', (m) => m.path === '/srv/app/other.txt');
    await bob.waitText(FILES['/srv/app/other.txt']!);
    const watchers = await erin.waitMessage('watchers', (m) =>
      m.people.some((p: { username: string }) => p.username === 'ann'),
    );
    expect(watchers.people).toContainEqual({ username: 'ann', role: 'observer' });
  });

  it('live - an observer’s update is dropped, audited once, and changes nobody’s document', async () => {
    const erin = await editorWithConfig();
    const ann = connect(urlA, 'ann');
    const carl = connect(urlA, 'ann');
    await ann.waitText(FILES[CONFIG]!);
    await carl.waitText(FILES[CONFIG]!);

    ann.insert(0, 'rm -rf /\n');
    ann.insert(0, 'again\n');
    ann.control({ type: 'open', path: '/etc/shadow' });
    const refused = await ann.waitMessage('error');
    expect(refused.error.code).toBe('forbidden');

    // The engineer's next edit arrives on a document without the observer's lines.
    erin.insert(0, 'ok\n');
    await carl.waitText(`ok\n${FILES[CONFIG]}`);
    expect(erin.text).toBe(`ok\n${FILES[CONFIG]}`);
    const drops = audited.filter((e) => e.kind === 'fileLiveInputDropped');
    expect(drops).toHaveLength(1);
    expect(drops[0]).toMatchObject({ sessionId: SESSION, actor: { id: 'ann' } });
    expect(ann.ws.readyState).toBe(ann.ws.OPEN);
  });

  it('live - an oversized frame closes that socket with 1009; the room and observers carry on', async () => {
    const erin = await editorWithConfig();
    const ann = connect(urlA, 'ann');
    await ann.waitText(FILES[CONFIG]!);

    erin.raw(new Uint8Array(MAX_BINARY_BYTES + 1), true);
    const closed = await erin.closed;
    expect(closed.code).toBe(1009);
    expect(closed.reason).toMatch(/frame over 512 KiB/);
    expect(ann.ws.readyState).toBe(ann.ws.OPEN);
    expect(ann.text).toBe(FILES[CONFIG]);

    // The engineer reconnects and finds the file as it was.
    const again = connect(urlA, 'erin');
    await again.waitText(FILES[CONFIG]!);
    again.insert(0, 'x');
    await ann.waitText(`x${FILES[CONFIG]}`);
  });

  it('live - an oversized control frame closes with 1009 too', async () => {
    const erin = connect(urlA, 'erin');
    await erin.waitMessage('hello');
    erin.raw(JSON.stringify({ type: 'cwd', path: `/${'a'.repeat(40_000)}` }), false);
    expect((await erin.closed).code).toBe(1009);
  });

  const badInput: { name: string; data: string | Uint8Array; binary: boolean; says: RegExp }[] = [
    { name: 'malformed JSON', data: '{"type":"open",', binary: false, says: /message: /i },
    {
      name: 'a text frame where binary (Yjs) is expected',
      data: '\u0000\u0002\u0005hello',
      binary: false,
      says: /send \{"type"/,
    },
    {
      name: 'an unknown control type',
      data: '{"type":"rm","path":"/"}',
      binary: false,
      says: /type/,
    },
    {
      name: 'a relative path',
      data: '{"type":"open","path":"etc/passwd"}',
      binary: false,
      says: /absolute path/,
    },
    {
      name: 'an unknown binary kind',
      data: new Uint8Array([7, 0, 1]),
      binary: true,
      says: /start with 0/,
    },
    {
      name: 'garbage after the sync kind',
      data: new Uint8Array([0, 2, 200, 1, 2, 3]),
      binary: true,
      says: /not a valid Yjs message/,
    },
    { name: 'an empty binary frame', data: new Uint8Array([]), binary: true, says: /start with 0/ },
    {
      name: 'a malformed awareness update',
      data: new Uint8Array([1, 5, 255, 255]),
      binary: true,
      says: /not a valid Yjs message/,
    },
  ];

  for (const bad of badInput)
    it(`live - bad input: ${bad.name} gets a clear error and harms nothing`, async () => {
      const erin = await editorWithConfig();
      const ann = connect(urlA, 'ann');
      await ann.waitText(FILES[CONFIG]!);
      erin.raw(bad.data, bad.binary);
      const error = await erin.waitMessage('error');
      expect(error.error.code).toBe('invalid_request');
      expect(error.error.message).toMatch(bad.says);
      // Still open, and the next edit goes through on an unharmed document.
      erin.insert(0, '1');
      await ann.waitText(`1${FILES[CONFIG]}`);
      expect(erin.ws.readyState).toBe(erin.ws.OPEN);
    });

  it('live - opening a file that does not exist tells the editor and keeps the open one', async () => {
    const erin = await editorWithConfig();
    erin.control({ type: 'open', path: '/srv/app/missing' });
    const error = await erin.waitMessage('error');
    expect(error.error).toEqual({ code: 'not_found', message: 'no such file: /srv/app/missing' });
    erin.insert(0, 'z');
    expect(erin.text).toBe(`z${FILES[CONFIG]}`);
  });

  const entry = (name: string) => ({
    name,
    type: 'file' as const,
    size: 12,
    mode: 0o100644,
    uid: 0,
    gid: 0,
    owner: 'root',
    group: 'root',
    mtime: '2026-01-01T00:00:00.000Z',
  });

  it('live - observers get the editor’s listing of its folder, here, late, and elsewhere', async () => {
    const erin = await editorWithConfig(urlA);
    const ann = connect(urlA, 'ann');
    await ann.waitMessage('cwd');
    const listing = {
      type: 'listing',
      path: '/srv/app',
      entries: [entry('config.yml')],
      truncated: false,
    };
    erin.control(listing);
    expect(await ann.waitMessage('listing')).toEqual(listing);
    const late = connect(urlB, 'ann');
    expect(await late.waitMessage('listing')).toEqual(listing);
    // The editor has its own listing: none is echoed back to it.
    await new Promise((r) => setTimeout(r, 100));
    expect(erin.messages.some((m) => m.type === 'listing')).toBe(false);
    // Moving on drops the old folder's listing for those who join next.
    erin.control({ type: 'cwd', path: '/srv' });
    await ann.waitMessage('cwd', (m) => m.path === '/srv');
    const later = connect(urlA, 'ann');
    await later.waitMessage('cwd', (m) => m.path === '/srv');
    await new Promise((r) => setTimeout(r, 100));
    expect(later.messages.some((m) => m.type === 'listing')).toBe(false);
  });

  it('live - a listing of another folder than the editor’s, or too long, is refused', async () => {
    const erin = await editorWithConfig();
    erin.control({ type: 'listing', path: '/etc', entries: [], truncated: false });
    expect((await erin.waitMessage('error')).error.code).toBe('conflict');
    const many = Array.from({ length: 2001 }, (_, i) => entry(`f${i}`));
    erin.control({ type: 'listing', path: '/srv/app', entries: many, truncated: false });
    await erin.waitMessage('error', (m) => m.error.code === 'invalid_request');
    expect(erin.ws.readyState).toBe(erin.ws.OPEN);
  });

  it('live - a save recorded anywhere reaches every socket with the new hash', async () => {
    const erin = await editorWithConfig(urlA);
    const bob = connect(urlB, 'ann');
    await bob.waitText(FILES[CONFIG]!);
    noticeBus.publish(`test.saved.${SESSION}`, { path: CONFIG, hash: 'ab'.repeat(32) });
    expect(await erin.waitMessage('saved')).toEqual({
      type: 'saved',
      path: CONFIG,
      hash: 'ab'.repeat(32),
    });
    await bob.waitMessage('saved');
  });

  it('live - closing the file clears it for everyone', async () => {
    const erin = await editorWithConfig();
    const ann = connect(urlA, 'ann');
    await ann.waitText(FILES[CONFIG]!);
    erin.control({ type: 'close' });
    expect(await ann.waitMessage('closed')).toEqual({ type: 'closed', path: CONFIG });
    expect(ann.text).toBe('');
  });

  it('live - a second editor socket replaces the first (4409); the document stays', async () => {
    const first = await editorWithConfig(urlA);
    first.insert(0, 'kept ');
    const second = connect(urlB, 'erin');
    expect((await first.closed).code).toBe(4409);
    await second.waitText(`kept ${FILES[CONFIG]}`);
  });

  it('live - the last socket leaving frees the room and its document', async () => {
    const erin = await editorWithConfig();
    erin.close();
    await erin.closed;
    const again = connect(urlA, 'erin');
    await again.waitMessage('hello');
    await new Promise((r) => setTimeout(r, 100));
    expect(again.messages.some((m) => m.type === 'open')).toBe(false);
  });
});

function person(userId: string, role: Principal['role'], accountId: string | null): Principal {
  return { userId, username: userId, role, accountId, reportIds: [] };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
