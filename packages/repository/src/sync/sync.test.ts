/** The sync protocol over a real endpoint's socket, and a client facing a lying server. */
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { frame } from '../objects/git-object.ts';
import { ObjectStore } from '../objects/object-store.ts';
import {
  packIn,
  publisher,
  publishVia,
  startHarness,
  sync,
  type Harness,
  type Publisher,
} from '../testing/endpoint.ts';
import { SyncClient } from './client.ts';
import { PackSink } from './pack-sink.ts';
import {
  FRAME_OBJECT,
  FRAME_UPLOAD,
  objectFrames,
  packFrames,
  SYNC_PATH,
  SYNC_PROTOCOL,
} from './protocol.ts';
import { buildPack } from '../objects/pack-writer.ts';

const FILES = 200;

let h: Harness;
let alice: Publisher;
let outsider: { token: string };
let big: { tree: string; tag: string };
let local: ObjectStore;

beforeAll(async () => {
  h = await startHarness();
  await h.account('other');
  alice = await publisher(h);
  outsider = await h.user('customer', { account: 'other' });
  const files = Object.fromEntries(
    Array.from({ length: FILES }, (_, i) => [`dir${i % 10}/file${i}.js`, `// file ${i}\n`]),
  );
  big = await publishVia(
    h,
    alice,
    { name: 'acme/big', version: '1.0.0', visibility: 'customers' },
    files,
  );
  await publishVia(
    h,
    alice,
    { name: 'acme/secret', version: '1.0.0', visibility: 'owners' },
    { x: 'y' },
  );
}, 60_000);

afterAll(async () => {
  await h?.close();
});

async function freshStore(): Promise<ObjectStore> {
  local = new ObjectStore(await mkdtemp(join(tmpdir(), 'tether-sync-client-')));
  await local.init();
  return local;
}

describe('sync protocol', () => {
  it('sync - one fetch request brings the whole graph, each object checked, readable by git', async () => {
    const store = await freshStore();
    const client = await sync(h, alice.token);
    const result = await client.fetch([big.tag], { into: store.objects });
    await client.close();
    // tag + root tree + script.json + 10 folders + 200 files
    expect(result.objects).toBe(1 + 1 + 1 + 10 + FILES);
    const listing = execFileSync('git', ['--git-dir', store.root, 'ls-tree', '-r', big.tree]);
    expect(listing.toString().split('\n').filter(Boolean)).toHaveLength(FILES + 1);
    await rm(store.root, { recursive: true, force: true });
  });

  it('sync - a fetch into a pack lands as one git pack that git verifies and reads', async () => {
    const store = await freshStore();
    const sink = new PackSink(store);
    const client = await sync(h, alice.token);
    const result = await client.fetch([big.tag], { into: sink });
    await client.close();
    const packs = await readdir(join(store.root, 'objects', 'pack'));
    expect(packs.sort()).toEqual([`pack-${sink.packHash}.idx`, `pack-${sink.packHash}.pack`]);
    const idx = join(store.root, 'objects', 'pack', `pack-${sink.packHash}.idx`);
    const verified = execFileSync('git', ['verify-pack', '-v', idx]).toString();
    expect(verified).toContain(`non delta: ${result.objects} objects`);
    const listing = execFileSync('git', ['--git-dir', store.root, 'ls-tree', '-r', big.tree]);
    expect(listing.toString().split('\n').filter(Boolean)).toHaveLength(FILES + 1);
    execFileSync('git', ['--git-dir', store.root, 'fsck', '--no-dangling']);
    await rm(store.root, { recursive: true, force: true });
  });

  it('sync - with half the objects present, only the other half is sent', async () => {
    const store = await freshStore();
    const client = await sync(h, alice.token);
    await client.fetch([big.tag], { into: store.objects });
    const all: string[] = [];
    for await (const hash of store.objects.hashes()) all.push(hash);
    const kept = all.filter((_, i) => i % 2 === 0);
    for (const hash of all.filter((_, i) => i % 2 === 1)) await store.forget(hash);
    const again = await client.fetch([big.tag], { into: store.objects, have: kept });
    await client.close();
    expect(again.objects).toBe(all.length - kept.length);
    await rm(store.root, { recursive: true, force: true });
  });

  it('sync - a have list far larger than one frame is accepted', async () => {
    const store = await freshStore();
    const client = await sync(h, alice.token);
    const noise = Array.from({ length: 60_000 }, (_, i) => i.toString(16).padStart(40, '0'));
    const result = await client.fetch([big.tree], { into: store.objects, have: noise });
    await client.close();
    expect(result.objects).toBe(1 + 1 + 10 + FILES);
    await rm(store.root, { recursive: true, force: true });
  });

  it('sync - a root the caller may not see is 404 and sends nothing', async () => {
    const store = await freshStore();
    const secret = await h.api(
      'GET',
      `/api/v1/repository/resolve?name=acme%2Fsecret`,
      undefined,
      alice.token,
    );
    const client = await sync(h, outsider.token);
    await expect(
      client.fetch([secret.body.resolved.tag], { into: store.objects }),
    ).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(client.resolve('acme/secret', '*')).rejects.toMatchObject({ code: 'not_found' });
    await client.close();
    const held: string[] = [];
    for await (const hash of store.objects.hashes()) held.push(hash);
    expect(held).toEqual([]);
  });

  it('sync - a publish cut off half way is invisible, and the retry sends only the rest', async () => {
    const files = Object.fromEntries(
      Array.from({ length: 50 }, (_, i) => [`f${i}`, `content ${i}`]),
    );
    const pack = await packIn(h, alice, { name: 'acme/cut', version: '1.0.0' }, files);
    const first = await sync(h, alice.token);
    let total = 0;
    await expect(
      first.publish(pack, (sent, of) => {
        total = of;
        // The network drops once half the objects are on their way.
        if (sent === 25) (first as unknown as { close(): void }).close();
      }),
    ).rejects.toThrow();
    expect(total).toBe(53);
    const hidden = await h.api(
      'GET',
      '/api/v1/repository/resolve?name=acme%2Fcut',
      undefined,
      alice.token,
    );
    expect(hidden.status).toBe(404);

    // The server may still be writing what arrived before the drop; a retry sent later finds it.
    const repo = h.endpoint.services.repository.local!;
    const caller = {
      role: 'engineer' as const,
      userId: alice.id,
      username: alice.username,
      accountId: null,
    };
    const upload = await repo.publisher.begin(caller, pack.tag, 'acme/cut@1.0.0');
    await until(
      async () =>
        (await repo.publisher.missing(caller, upload, [...pack.objects.keys()])).length < 53,
    );
    const second = await sync(h, alice.token);
    let resent = 0;
    const published = await second.publish(pack, (_sent, of) => (resent = of));
    await second.close();
    expect(published.version).toBe('1.0.0');
    expect(resent).toBeLessThan(53);
    expect(resent).toBeGreaterThanOrEqual(53 - 25);
  });

  it('sync - an uploaded object whose bytes do not match its hash is refused', async () => {
    const pack = await packIn(h, alice, { name: 'acme/liar', version: '1.0.0' }, { a: 'a' });
    const ws = await rawSocket(alice.token);
    const answers = collect(ws);
    ws.send(
      JSON.stringify({ type: 'upload.begin', id: 7, tag: pack.tag, release: 'acme/liar@1.0.0' }),
    );
    await until(() => answers.some((a) => a.type === 'upload.ready'));
    const lie = deflateSync(frame('blob', Buffer.from('not what the hash says')));
    for (const f of objectFrames(FRAME_UPLOAD, 7, pack.tag, lie)) ws.send(f);
    await until(() => answers.some((a) => a.type === 'error'));
    expect(answers.find((a) => a.type === 'error').error.message).toMatch(
      /do not match their hash/,
    );
    ws.close();
  });

  it('sync - the wrong subprotocol and malformed frames close the socket with 4400', async () => {
    const wrong = new WebSocket(`${h.url.replace('http', 'ws')}${SYNC_PATH}`, 'tether-repo.v0', {
      headers: { authorization: `Bearer ${alice.token}` },
    });
    wrong.on('error', () => undefined);
    const code = await new Promise((resolve) => wrong.on('close', (c) => resolve(c)));
    expect(code).toBe(4400);

    for (const junk of [Buffer.from([9, 0, 0, 0, 1]), Buffer.from([FRAME_UPLOAD, 0])]) {
      const ws = await rawSocket(alice.token);
      const closed = new Promise((resolve) => ws.on('close', (c) => resolve(c)));
      ws.send(junk);
      expect(await closed).toBe(4400);
    }
  });

  it.each([
    [
      'a pack whose checksum is wrong',
      (pack: Buffer) =>
        Buffer.concat([pack.subarray(0, -1), Buffer.from([pack[pack.length - 1] ^ 1])]),
      /pack checksum mismatch/,
    ],
    ['a pack of objects nobody asked for', (pack: Buffer) => pack, /nobody asked for/],
  ])('sync - a client refuses %s', async (_what, damage, message) => {
    const { pack } = buildPack([{ hash: 'x', type: 'blob', content: Buffer.from('evil') }]);
    const server = await fakeServer((ws, request) => {
      for (const f of packFrames(request.id, damage(pack))) ws.send(f);
      ws.send(JSON.stringify({ type: 'fetch.done', id: request.id, objects: 1, bytes: 1 }));
    });
    const store = await freshStore();
    const client = await SyncClient.connect(server.url);
    await expect(client.fetch(['c'.repeat(40)], { into: store.objects })).rejects.toThrow(message);
    await client.close();
    await server.close();
  });

  it('sync - a client refuses an object that does not match its hash', async () => {
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    server.on('connection', (ws) => {
      ws.on('message', (data, binary) => {
        if (binary) return;
        const request = JSON.parse(data.toString());
        const wrong = deflateSync(frame('blob', Buffer.from('evil')));
        for (const f of objectFrames(FRAME_OBJECT, request.id, request.roots[0], wrong)) ws.send(f);
        ws.send(JSON.stringify({ type: 'fetch.done', id: request.id, objects: 1, bytes: 1 }));
      });
    });
    await new Promise((resolve) => server.once('listening', resolve));
    const port = (server.address() as AddressInfo).port;
    const store = await freshStore();
    const client = await SyncClient.connect(`http://127.0.0.1:${port}`);
    await expect(client.fetch(['c'.repeat(40)], { into: store.objects })).rejects.toThrow(
      /do not match their hash/,
    );
    await client.close();
    await new Promise((resolve) => server.close(resolve));
    expect(await store.objects.has('c'.repeat(40))).toBe(false);
  });
});

async function fakeServer(answer: (ws: WebSocket, request: any) => void) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  server.on('connection', (ws) => {
    ws.on('message', (data, binary) => {
      if (!binary) answer(ws, JSON.parse(data.toString()));
    });
  });
  await new Promise((resolve) => server.once('listening', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

async function rawSocket(token: string): Promise<WebSocket> {
  const ws = new WebSocket(`${h.url.replace('http', 'ws')}${SYNC_PATH}`, SYNC_PROTOCOL, {
    headers: { authorization: `Bearer ${token}` },
  });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  return ws;
}

function collect(ws: WebSocket): any[] {
  const seen: any[] = [];
  ws.on('message', (data, binary) => {
    if (!binary) seen.push(JSON.parse(data.toString()));
  });
  return seen;
}

async function until(check: () => boolean | Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
