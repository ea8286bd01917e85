/** The NATS bus against a real server; skipped, saying why, when none answers. */
import { randomBytes } from 'node:crypto';
import { connect, type NatsConnection } from 'nats';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BusClosedError, BusPayloadTooLargeError, type Bus, type BusPayload } from './bus.ts';
import { openBus } from './index.ts';
import { BusDecodeError, connectNatsBus } from './nats-bus.ts';

const NATS_URL = process.env.TETHER_TEST_NATS_URL ?? 'nats://127.0.0.1:4222';
const PROBE_TIMEOUT_MS = 1_000;
const HANDLE_RELEASE_MS = 500;

/** Every subject starts with this, so parallel runs against one server never hear each other. */
const RUN = `tether-test-${randomBytes(6).toString('hex')}`;

/** Cases from `memory-bus.test.ts`, checked against the server, each under its own prefix. */
const MATCHING = [
  { pattern: 'a.b', subject: 'a.b', matches: true },
  { pattern: 'a.b', subject: 'a.c', matches: false },
  { pattern: 'a.b', subject: 'a.b.c', matches: false },
  { pattern: 'a.*', subject: 'a.b', matches: true },
  { pattern: 'a.*', subject: 'a', matches: false },
  { pattern: 'a.*', subject: 'a.b.c', matches: false },
  { pattern: 'a.*.c', subject: 'a.x.c', matches: true },
  { pattern: 'a.>', subject: 'a.b', matches: true },
  { pattern: 'a.>', subject: 'a.b.c.d', matches: true },
  { pattern: 'a.>', subject: 'a', matches: false },
  { pattern: '*.>', subject: 'a', matches: false },
  { pattern: '*.*.>', subject: 'a.b.c', matches: true },
];

const unavailable = await probe(NATS_URL);
if (unavailable) console.warn(`nats-bus tests skipped: ${unavailable}`);

let tests = 0;
const buses: Bus[] = [];

/** A subject prefix of its own for each test. */
function fresh(): string {
  return `${RUN}.t${++tests}`;
}

async function open(onError?: (err: unknown, subject: string) => void): Promise<Bus> {
  const bus = await connectNatsBus(NATS_URL, { name: 'tether-bus-test', onError });
  buses.push(bus);
  return bus;
}

/** Subscribes and returns what arrives, as `[subject, payload]` pairs. */
function record(bus: Bus, pattern: string): Array<[string, BusPayload]> {
  const seen: Array<[string, BusPayload]> = [];
  bus.subscribe(pattern, (payload, subject) => seen.push([subject, payload]));
  return seen;
}

/**
 * A single server answers a flush only after routing all the connection sent before it,
 * and it queues those messages to each receiver ahead of that receiver's own flush answer.
 * So flushing the senders, then the receivers, means every message has arrived.
 */
async function settle(senders: Bus[], receivers: Bus[] = []): Promise<void> {
  for (const bus of senders) await bus.flush();
  for (const bus of receivers) await bus.flush();
}

/** Counts what would keep this process alive after the tests. */
function liveHandles(): number {
  const kinds = new Set(['TCPSocketWrap', 'Timeout']);
  return process.getActiveResourcesInfo().filter((kind) => kinds.has(kind)).length;
}

/**
 * A destroyed socket lets go of its handle an event-loop turn after `close()` resolves, so this
 * gives the loop a few turns to get back to `baseline` before counting.
 */
async function handlesAfterClosing(baseline: number): Promise<number> {
  const deadline = Date.now() + HANDLE_RELEASE_MS;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setImmediate(resolve));
    if (liveHandles() <= baseline) break;
  }
  return liveHandles();
}

describe.skipIf(unavailable !== undefined)('nats bus', () => {
  let raw: NatsConnection;
  let handlesBefore = 0;

  beforeAll(async () => {
    handlesBefore = liveHandles();
    raw = await connect({ servers: NATS_URL, name: 'tether-bus-test-raw' });
  });

  afterEach(async () => {
    await Promise.all(buses.splice(0).map((bus) => bus.close()));
  });

  afterAll(async () => {
    await raw?.close();
    expect(await handlesAfterClosing(handlesBefore)).toBe(handlesBefore);
  });

  for (const { pattern, subject, matches } of MATCHING) {
    const verb = matches ? 'receives' : 'does not receive';
    it(`bus - a \`${pattern}\` subscription ${verb} \`${subject}\``, async () => {
      const bus = await open();
      const prefix = fresh();
      const seen = record(bus, `${prefix}.${pattern}`);

      bus.publish(`${prefix}.${subject}`, { n: 1 });
      await settle([bus]);

      expect(seen).toEqual(matches ? [[`${prefix}.${subject}`, { n: 1 }]] : []);
    });
  }

  it('bus - two connections, as two endpoint processes, hear each other', async () => {
    const [left, right] = [await open(), await open()];
    const prefix = fresh();
    const heardByLeft = record(left, `${prefix}.to-left`);
    const heardByRight = record(right, `${prefix}.to-right`);
    await settle([left, right]);

    left.publish(`${prefix}.to-right`, { from: 'left' });
    right.publish(`${prefix}.to-left`, { from: 'right' });
    await settle([left, right], [left, right]);

    expect(heardByRight).toEqual([[`${prefix}.to-right`, { from: 'left' }]]);
    expect(heardByLeft).toEqual([[`${prefix}.to-left`, { from: 'right' }]]);
  });

  it('bus - bytes arrive as the same bytes and JSON as equal data', async () => {
    const [sender, receiver] = [await open(), await open()];
    const prefix = fresh();
    const seen = record(receiver, `${prefix}.>`);
    await settle([receiver]);
    const buffer = Buffer.from([0, 1, 2, 254, 255]);
    const view = new Uint8Array([9, 8, 7, 6, 5]).subarray(1, 4);
    const json = { text: 'zoë ✓', list: [1, null, true], nested: { empty: {} } };

    sender.publish(`${prefix}.buffer`, buffer);
    sender.publish(`${prefix}.view`, view);
    sender.publish(`${prefix}.empty`, new Uint8Array(0));
    sender.publish(`${prefix}.json`, json);
    await settle([sender], [receiver]);

    const payloads = seen.map(([, payload]) => payload);
    for (const bytes of payloads.slice(0, 3)) expect(bytes).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(payloads[0] as Uint8Array)).toEqual(buffer);
    expect([...(payloads[1] as Uint8Array)]).toEqual([8, 7, 6]);
    expect((payloads[2] as Uint8Array).byteLength).toBe(0);
    expect(payloads[3]).toEqual(json);
  });

  it('bus - 1000 messages arrive in the order they were published', async () => {
    const [sender, receiver] = [await open(), await open()];
    const prefix = fresh();
    const seen = record(receiver, `${prefix}.order`);
    await settle([receiver]);

    for (let n = 0; n < 1000; n++) sender.publish(`${prefix}.order`, { n });
    await settle([sender], [receiver]);

    const order = seen.map(([, payload]) => (payload as { n: number }).n);
    expect(order).toEqual(Array.from({ length: 1000 }, (_, n) => n));
  });

  it('bus - after unsubscribing a handler receives nothing more', async () => {
    const bus = await open();
    const prefix = fresh();
    const seen: BusPayload[] = [];
    const unsubscribe = bus.subscribe(`${prefix}.a`, (payload) => seen.push(payload));

    bus.publish(`${prefix}.a`, { n: 1 });
    await settle([bus]);
    unsubscribe();
    unsubscribe();
    bus.publish(`${prefix}.a`, { n: 2 });
    await settle([bus]);

    expect(seen).toEqual([{ n: 1 }]);
  });

  it('bus - a throwing handler does not stop the others, and its error is reported', async () => {
    const errors: Array<[unknown, string]> = [];
    const bus = await open((err, subject) => errors.push([err, subject]));
    const prefix = fresh();
    const failure = new Error('handler broke');
    const before = record(bus, `${prefix}.a`);
    bus.subscribe(`${prefix}.*`, () => {
      throw failure;
    });
    const after = record(bus, `${prefix}.>`);

    bus.publish(`${prefix}.a`, { n: 1 });
    bus.publish(`${prefix}.a`, { n: 2 });
    await settle([bus]);

    expect(before).toHaveLength(2);
    expect(after).toHaveLength(2);
    expect(errors).toEqual([
      [failure, `${prefix}.a`],
      [failure, `${prefix}.a`],
    ]);
  });

  it('bus - a message it did not encode is reported, and the next one still arrives', async () => {
    const errors: Array<[unknown, string]> = [];
    const bus = await open((err, subject) => errors.push([err, subject]));
    const prefix = fresh();
    const seen = record(bus, `${prefix}.a`);
    await settle([bus]);

    raw.publish(`${prefix}.a`, new Uint8Array([7, 1, 2]));
    raw.publish(`${prefix}.a`, new Uint8Array([0, 0x7b]));
    bus.publish(`${prefix}.a`, { n: 1 });
    await raw.flush();
    await settle([bus]);

    expect(seen).toEqual([[`${prefix}.a`, { n: 1 }]]);
    expect(errors.map(([err]) => err)).toEqual([
      expect.any(BusDecodeError),
      expect.any(BusDecodeError),
    ]);
    expect(String(errors[0][0])).toContain('unknown tag 7');
  });

  it('bus - a payload over the server limit throws a clear error and sends nothing', async () => {
    const [sender, receiver] = [await open(), await open()];
    const prefix = fresh();
    const seen = record(receiver, `${prefix}.big`);
    await settle([receiver]);
    const limit = raw.info!.max_payload;

    const oversized = () => sender.publish(`${prefix}.big`, new Uint8Array(limit));
    expect(oversized).toThrow(BusPayloadTooLargeError);
    expect(oversized).toThrow(`is ${limit + 1} bytes; the bus accepts at most ${limit}`);
    sender.publish(`${prefix}.big`, new Uint8Array(limit - 1).fill(42));
    await settle([sender], [receiver]);

    expect(seen).toHaveLength(1);
    const received = seen[0][1] as Uint8Array;
    expect(received.byteLength).toBe(limit - 1);
    expect(received.every((byte) => byte === 42)).toBe(true);
  });

  it('bus - flush resolves once the server has what was published', async () => {
    const [sender, receiver] = [await open(), await open()];
    const prefix = fresh();
    const seen = record(receiver, `${prefix}.a`);
    await settle([receiver]);

    for (let n = 0; n < 10; n++) sender.publish(`${prefix}.a`, { n });
    await sender.flush();
    await receiver.flush();

    expect(seen).toHaveLength(10);
  });

  it('bus - close sends what was published, then refuses to publish or subscribe', async () => {
    const [sender, receiver] = [await open(), await open()];
    const prefix = fresh();
    const seen = record(receiver, `${prefix}.a`);
    await settle([receiver]);

    sender.publish(`${prefix}.a`, { n: 1 });
    await sender.close();
    await settle([], [receiver]);

    expect(seen).toHaveLength(1);
    expect(() => sender.publish(`${prefix}.a`, { n: 2 })).toThrow(BusClosedError);
    expect(() => sender.subscribe(`${prefix}.a`, () => {})).toThrow(BusClosedError);
    await expect(sender.close()).resolves.toBeUndefined();
    await expect(sender.flush()).resolves.toBeUndefined();
  });

  it('bus - a subject with a space is refused before it can reach the wire', async () => {
    const bus = await open();

    expect(() => bus.publish(`${fresh()}.a reply.to.me`, {})).toThrow(TypeError);
  });

  it('openBus - a nats:// url connects to NATS', async () => {
    const bus = await openBus(NATS_URL, { name: 'tether-bus-test' });
    buses.push(bus);
    const prefix = fresh();
    const seen = record(bus, `${prefix}.a`);

    bus.publish(`${prefix}.a`, { n: 1 });
    await settle([bus]);

    expect(seen).toHaveLength(1);
  });
});

/** Returns why the tests cannot run, or undefined when a NATS server answers at `url`. */
async function probe(url: string): Promise<string | undefined> {
  try {
    const connection = await connect({
      servers: url,
      timeout: PROBE_TIMEOUT_MS,
      reconnect: false,
    });
    await connection.close();
    return undefined;
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    const hint = 'start one or point TETHER_TEST_NATS_URL at one';
    return `no NATS server answered at ${url} (${reason}); ${hint}`;
  }
}
