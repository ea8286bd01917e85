/**
 * The agent's direct-tcpip handling over a real SSH connection on loopback, with real targets
 * on 127.0.0.1. Names are resolved by a hand-written resolver where a test needs one, and every
 * dial goes through a guard that refuses anything but loopback, so no refusal test can ever
 * reach a metadata service even if the code under test were wrong.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import ssh2, { type ClientChannel } from 'ssh2';
import { FORWARD_FLAG_LISTED, type ForwardChannelStatus } from '@tether/protocol';
import { openDestination, systemDialer, type Dialer } from './destination.ts';
import { serveForwards } from './forward-server.ts';

const quiet = pino({ level: 'silent' });
const LOOPBACK = new Set(['127.0.0.1', '::1']);

let names: Record<string, string[]> = {};
const dials: string[] = [];
const dialer: Dialer = {
  async lookup(host) {
    if (host in names) return names[host] as string[];
    return systemDialer.lookup(host);
  },
  async dial(address, port, timeoutMs) {
    dials.push(address);
    if (!LOOPBACK.has(address))
      throw Object.assign(new Error(`test guard: not dialling ${address}`), {
        code: 'ECONNREFUSED',
      });
    return systemDialer.dial(address, port, timeoutMs);
  },
};

let sshServer: ssh2.Server;
let client: ssh2.Client;
const targets: Server[] = [];

beforeAll(async () => {
  const hostKey = ssh2.utils.generateKeyPairSync('ed25519').private;
  sshServer = new ssh2.Server({ hostKeys: [hostKey] }, (connection) => {
    connection.on('authentication', (ctx) => ctx.accept());
    connection.on('ready', () => serveForwards(connection, quiet, dialer));
  });
  await new Promise<void>((resolve) => sshServer.listen(0, '127.0.0.1', resolve));
  client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', resolve).once('error', reject);
    const { port } = sshServer.address() as AddressInfo;
    client.connect({ host: '127.0.0.1', port, username: 'endpoint' });
  });
});

afterAll(async () => {
  client.end();
  await new Promise((resolve) => sshServer.close(resolve));
});

afterEach(async () => {
  names = {};
  dials.length = 0;
  await Promise.all(targets.splice(0).map((t) => new Promise((r) => t.close(r))));
});

/** A TCP server on 127.0.0.1 that the test controls; resolves with its port. */
async function target(onConnection: (socket: Socket) => void): Promise<number> {
  const server = createServer({ allowHalfOpen: true }, onConnection);
  targets.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Opens a direct-tcpip channel as the endpoint does and reads the agent's status line. */
async function open(
  host: string,
  port: number,
  flags = 0,
): Promise<{ channel: ClientChannel; status: ForwardChannelStatus }> {
  const channel = await new Promise<ClientChannel>((resolve, reject) =>
    client.forwardOut('conn-test', flags, host, port, (error, ch) =>
      error ? reject(error) : resolve(ch),
    ),
  );
  const line = await new Promise<string>((resolve) => {
    let text = '';
    channel.stderr.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (text.includes('\n')) resolve(text.slice(0, text.indexOf('\n')));
    });
  });
  return { channel, status: JSON.parse(line) as ForwardChannelStatus };
}

function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return new Promise((resolve) => stream.once('end', () => resolve(Buffer.concat(chunks))));
}

describe('agent forwards - connections', () => {
  it('forward - bytes go both ways and the client half-close reaches the target', async () => {
    const port = await target((socket) => {
      const got: Buffer[] = [];
      socket.on('data', (d: Buffer) => got.push(d));
      socket.on('end', () => socket.end(Buffer.concat(got).toString().toUpperCase()));
    });
    const { channel, status } = await open('127.0.0.1', port);
    expect(status).toEqual({ ok: true });
    const answer = readAll(channel);
    channel.end('hello through the agent');
    expect((await answer).toString()).toBe('HELLO THROUGH THE AGENT');
  });

  it('forward - the target closing its side does not cut off what the client still sends', async () => {
    let received: Promise<string> = Promise.resolve('');
    const port = await target((socket) => {
      received = readAll(socket).then((b) => b.toString());
      socket.end('banner\n');
    });
    const { channel } = await open('localhost', port);
    expect((await readAll(channel)).toString()).toBe('banner\n');
    channel.end('sent after the banner');
    expect(await received).toBe('sent after the banner');
  });

  it('forward - 32 MiB each way arrive whole through the channel windows', async () => {
    const payload = randomBytes(32 * 1024 * 1024);
    const port = await target((socket) => socket.pipe(socket));
    const { channel } = await open('127.0.0.1', port);
    const echoed = readAll(channel);
    channel.end(payload);
    const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(digest(await echoed)).toBe(digest(payload));
  });

  it('forward - closing the channel closes the target connection', async () => {
    let ended!: () => void;
    const gone = new Promise<void>((resolve) => (ended = resolve));
    const port = await target((socket) => {
      socket.on('end', () => {
        ended();
        socket.end();
      });
    });
    const { channel } = await open('127.0.0.1', port);
    channel.resume();
    channel.close();
    await gone;
  });
});

describe('agent forwards - faults and refusals', () => {
  it('forward - a closed port answers with the reason, not a bare failure', async () => {
    const port = await target(() => {});
    await new Promise((resolve) => targets.pop()!.close(resolve));
    const { status } = await open('127.0.0.1', port);
    expect(status).toEqual({
      ok: false,
      error: {
        code: 'target_unreachable',
        message: `connection refused by 127.0.0.1:${port} (nothing listens there)`,
      },
    });
  });

  it('forward - a name that does not resolve says so', async () => {
    const failing: Dialer = {
      ...dialer,
      lookup: async () => {
        throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
      },
    };
    await expect(openDestination('db.internal', 5432, false, failing)).rejects.toMatchObject({
      code: 'target_unreachable',
      message: 'cannot resolve db.internal on the server (ENOTFOUND)',
    });
    expect(dials).toEqual([]);
  });

  it.each([
    { host: '169.254.169.254', says: '169.254.169.254 is a cloud metadata address' },
    { host: 'fd00:ec2::254', says: 'fd00:ec2::254 is a cloud metadata address' },
    { host: '::ffff:169.254.169.254', says: 'is a cloud metadata address' },
    { host: 'fe80::1', says: 'fe80::1 is a link-local address' },
    { host: '169.254.0.1', says: '169.254.0.1 is a link-local address' },
  ])('forward - $host is refused unlisted, before any connect', async ({ host, says }) => {
    const { status } = await open(host, 80);
    expect(status).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect((status as { error: { message: string } }).error.message).toContain(says);
    expect(dials).toEqual([]);
  });

  it('forward - a name resolving to the metadata address is refused, not dialled', async () => {
    names = { 'metadata.test': ['10.1.2.3', '169.254.169.254'] };
    const { status } = await open('metadata.test', 80);
    expect(status).toEqual({
      ok: false,
      error: {
        code: 'forbidden',
        message:
          'metadata.test resolves to 169.254.169.254, a cloud metadata address; the account must list metadata.test:80 to allow it',
      },
    });
    expect(dials).toEqual([]);
  });

  it('forward - a number the system resolver reads as 169.254.169.254 is refused too', async () => {
    const { status } = await open('2852039166', 80);
    expect(status).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(dials).toEqual([]);
  });

  it('forward - a target the account listed may be link-local: the agent dials it', async () => {
    names = { 'metadata.test': ['169.254.169.254'] };
    const { status } = await open('metadata.test', 80, FORWARD_FLAG_LISTED);
    // The guard refused the real dial; what matters is that the agent tried.
    expect(status).toMatchObject({ ok: false, error: { code: 'target_unreachable' } });
    expect(dials).toEqual(['169.254.169.254']);
  });
});
