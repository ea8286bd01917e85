/** The in-process bus: matching, ordering, isolation of failing handlers, flush and close. */
import { afterEach, describe, expect, it } from 'vitest';
import { BusClosedError, type BusPayload } from './bus.ts';
import { openBus } from './index.ts';
import { MemoryBus } from './memory-bus.ts';

/** NATS subject semantics, one row per case; `nats-bus.test.ts` checks most against NATS. */
const MATCHING = [
  { pattern: 'a.b', subject: 'a.b', matches: true },
  { pattern: 'a.b', subject: 'a.c', matches: false },
  { pattern: 'a.b', subject: 'a.b.c', matches: false },
  { pattern: 'a.b', subject: 'a', matches: false },
  { pattern: 'a.*', subject: 'a.b', matches: true },
  { pattern: 'a.*', subject: 'a', matches: false },
  { pattern: 'a.*', subject: 'a.b.c', matches: false },
  { pattern: '*.b', subject: 'x.b', matches: true },
  { pattern: 'a.*.c', subject: 'a.x.c', matches: true },
  { pattern: 'a.*.c', subject: 'a.x.d', matches: false },
  { pattern: 'a.>', subject: 'a.b', matches: true },
  { pattern: 'a.>', subject: 'a.b.c.d', matches: true },
  { pattern: 'a.>', subject: 'a', matches: false },
  { pattern: 'a.>', subject: 'b.a.c', matches: false },
  { pattern: '>', subject: 'a', matches: true },
  { pattern: '*.>', subject: 'a', matches: false },
  { pattern: '*.*.>', subject: 'a.b.c', matches: true },
];

const MALFORMED = [
  { use: 'publish', subject: 'a.*' },
  { use: 'publish', subject: 'a.>' },
  { use: 'publish', subject: 'a..b' },
  { use: 'publish', subject: '' },
  { use: 'publish', subject: 'a b' },
  { use: 'subscribe', subject: 'a.>.b' },
  { use: 'subscribe', subject: 'a.' },
  { use: 'subscribe', subject: 'a\r\nb' },
];

const buses: MemoryBus[] = [];

function open(onError?: (err: unknown, subject: string) => void): MemoryBus {
  const bus = new MemoryBus({ onError });
  buses.push(bus);
  return bus;
}

/** Subscribes and returns what arrives, as `[subject, payload]` pairs. */
function record(bus: MemoryBus, pattern: string): Array<[string, BusPayload]> {
  const seen: Array<[string, BusPayload]> = [];
  bus.subscribe(pattern, (payload, subject) => seen.push([subject, payload]));
  return seen;
}

afterEach(async () => {
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
});

describe('memory bus', () => {
  for (const { pattern, subject, matches } of MATCHING) {
    const verb = matches ? 'receives' : 'does not receive';
    it(`bus - a \`${pattern}\` subscription ${verb} \`${subject}\``, async () => {
      const bus = open();
      const seen = record(bus, pattern);

      bus.publish(subject, { n: 1 });
      await bus.flush();

      expect(seen).toEqual(matches ? [[subject, { n: 1 }]] : []);
    });
  }

  it('bus - every matching subscription receives the message once', async () => {
    const bus = open();
    const exact = record(bus, 'a.b.c');
    const star = record(bus, 'a.*.c');
    const rest = record(bus, 'a.>');

    bus.publish('a.b.c', { n: 1 });
    await bus.flush();

    expect([exact.length, star.length, rest.length]).toEqual([1, 1, 1]);
  });

  it('bus - delivery happens after publish returns, never inside it', async () => {
    const bus = open();
    const seen = record(bus, 'a');

    bus.publish('a', { n: 1 });
    expect(seen).toEqual([]);

    await bus.flush();
    expect(seen).toHaveLength(1);
  });

  it('bus - a handler that publishes to its own subject is not re-entered', async () => {
    const bus = open();
    let depth = 0;
    let deepest = 0;
    let count = 0;
    bus.subscribe('echo', () => {
      depth++;
      deepest = Math.max(deepest, depth);
      if (++count < 5) bus.publish('echo', { count });
      depth--;
    });

    bus.publish('echo', { count });
    for (let i = 0; i < 5; i++) await bus.flush();

    expect(count).toBe(5);
    expect(deepest).toBe(1);
  });

  it('bus - a payload arrives as the very object that was published', async () => {
    const bus = open();
    const seen = record(bus, 'a');
    const json = { nested: { list: [1, 2] } };
    const bytes = Buffer.from('raw bytes');

    bus.publish('a', json);
    bus.publish('a', bytes);
    await bus.flush();

    expect(seen[0][1]).toBe(json);
    expect(seen[1][1]).toBe(bytes);
  });

  it('bus - 1000 messages arrive in the order they were published', async () => {
    const bus = open();
    const first = record(bus, 'order.first');
    const second = record(bus, 'order.second');

    for (let n = 0; n < 1000; n++) {
      bus.publish('order.first', { n });
      bus.publish('order.second', { n });
    }
    await bus.flush();

    const expected = Array.from({ length: 1000 }, (_, n) => n);
    expect(first.map(([, payload]) => (payload as { n: number }).n)).toEqual(expected);
    expect(second.map(([, payload]) => (payload as { n: number }).n)).toEqual(expected);
  });

  it('bus - an unsubscribed handler gets nothing more, not even what was queued', async () => {
    const bus = open();
    const seen: BusPayload[] = [];
    const unsubscribe = bus.subscribe('a.>', (payload) => seen.push(payload));
    const other = record(bus, 'a.b');

    bus.publish('a.b', { n: 1 });
    unsubscribe();
    bus.publish('a.b', { n: 2 });
    unsubscribe();
    await bus.flush();

    expect(seen).toEqual([]);
    expect(other).toHaveLength(2);
  });

  it('bus - a subscription made after publish does not see that message', async () => {
    const bus = open();

    bus.publish('a', { n: 1 });
    const seen = record(bus, 'a');
    await bus.flush();

    expect(seen).toEqual([]);
  });

  it('bus - a throwing handler does not stop the others, and its error is reported', async () => {
    const errors: Array<[unknown, string]> = [];
    const bus = open((err, subject) => errors.push([err, subject]));
    const failure = new Error('handler broke');
    const before = record(bus, 'a.b');
    bus.subscribe('a.*', () => {
      throw failure;
    });
    const after = record(bus, 'a.>');

    bus.publish('a.b', { n: 1 });
    bus.publish('a.b', { n: 2 });
    await bus.flush();

    expect(before).toHaveLength(2);
    expect(after).toHaveLength(2);
    expect(errors).toEqual([
      [failure, 'a.b'],
      [failure, 'a.b'],
    ]);
  });

  it('bus - a throwing error reporter does not stop delivery either', async () => {
    const bus = open(() => {
      throw new Error('reporter broke');
    });
    bus.subscribe('a', () => {
      throw new Error('handler broke');
    });
    const seen = record(bus, 'a');

    bus.publish('a', { n: 1 });
    await bus.flush();

    expect(seen).toHaveLength(1);
  });

  it('bus - flush waits for messages that handlers publish before it is called', async () => {
    const bus = open();
    const seen = record(bus, 'second');
    bus.subscribe('first', () => bus.publish('second', { n: 2 }));

    bus.publish('first', { n: 1 });
    await Promise.resolve();
    await bus.flush();

    expect(seen).toHaveLength(1);
  });

  it('bus - flush resolves at once when nothing is pending', async () => {
    await expect(open().flush()).resolves.toBeUndefined();
  });

  it('bus - close delivers what was published, then drops every subscription', async () => {
    const bus = open();
    const seen = record(bus, 'a');

    bus.publish('a', { n: 1 });
    await bus.close();

    expect(seen).toHaveLength(1);
    expect(() => bus.publish('a', { n: 2 })).toThrow(BusClosedError);
    expect(() => bus.subscribe('a', () => {})).toThrow(BusClosedError);
    await expect(bus.close()).resolves.toBeUndefined();
  });

  for (const { use, subject } of MALFORMED) {
    it(`bus - ${use} refuses the malformed subject ${JSON.stringify(subject)}`, () => {
      const bus = open();
      const call =
        use === 'publish' ? () => bus.publish(subject, {}) : () => bus.subscribe(subject, () => {});

      expect(call).toThrow(TypeError);
    });
  }
});

describe('openBus', () => {
  for (const url of [undefined, '', 'memory:']) {
    it(`openBus - ${JSON.stringify(url) ?? 'no url'} opens the in-process bus`, async () => {
      const bus = await openBus(url);
      buses.push(bus as MemoryBus);

      expect(bus).toBeInstanceOf(MemoryBus);
    });
  }

  it('openBus - a url without a scheme is refused', async () => {
    await expect(openBus('localhost')).rejects.toThrow(/has no scheme/);
  });

  it('openBus - an unsupported scheme is named, the rest of the url is not', async () => {
    await expect(openBus('redis://user:secret@localhost')).rejects.toThrow(
      /^unsupported bus scheme "redis:"; use memory: or nats:\/\/host:port$/,
    );
  });
});
