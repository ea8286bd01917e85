/** Commands relayed over the bus to the process that holds the agent: order, flow, no loss. */
import { pino } from 'pino';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { AgentExecCommand } from '@tether/protocol';
import type { AgentHub } from '../agents/agent-hub.ts';
import { AuditLog } from '../audit/audit-log.ts';
import { MemoryBus } from '../bus/memory-bus.ts';
import { storeBackends, type TestStore } from '../store/test-stores.ts';
import { ExecService } from './exec-service.ts';
import type { ExecOutcome, ExecStream, StreamId } from './exec-stream.ts';
import { serveRemoteExecs } from './remote-exec.ts';

const log = pino({ level: 'silent' });
let store: TestStore;
let bus: MemoryBus;

beforeEach(async () => {
  store = await storeBackends()[0].open();
  bus = new MemoryBus();
  const now = new Date().toISOString();
  await store.db
    .insertInto('accounts')
    .values({ id: 'acc', name: 'Acme', created_at: now })
    .execute();
  await store.db
    .insertInto('agents')
    .values({
      ...{ id: 'agent-1', name: 'box', account_id: 'acc', public_key: 'k', os: 'linux' },
      ...{ arch: 'x64', version: '1', hostname: null, join_token_id: null, enrolled_at: now },
      ...{ revoked_at: null, last_seen_at: now, connected_node: 'owner', connection_id: 'c' },
      ...{ connected_at: now, remote_addr: null },
    })
    .execute();
});
afterEach(async () => {
  await bus.close();
  await store.cleanup();
});

/** An agent that answers at once with fixed output: the fastest command there can be. */
function instantStream(output: Array<[StreamId, string]>): ExecStream {
  let emit: ((id: StreamId, chunk: Buffer) => void) | null = null;
  const done = new Promise<ExecOutcome>((resolve) => {
    queueMicrotask(() => resolve({ exitCode: 0, signal: null, timedOut: false, cancelled: false }));
  });
  return {
    onData: (handler) => {
      emit = handler;
      for (const [id, text] of output) emit(id, Buffer.from(text));
    },
    done,
    pause: () => {},
    resume: () => {},
    cancel: () => {},
  };
}

function services(hub: Partial<AgentHub>, nodeId: string) {
  const audit = new AuditLog({ store, bus, logger: log });
  return new ExecService({ db: store.db, bus, hub: hub as AgentHub, audit, nodeId, log });
}

it('relay - output of a command that ends at once reaches the caller on another node', async () => {
  const ownerHub = {
    exec: async (_id: string, _c: AgentExecCommand) =>
      instantStream([
        [1, 'out\n'],
        [2, 'err\n'],
      ]),
  };
  const stop = serveRemoteExecs(bus, 'owner', ownerHub as unknown as AgentHub, log);
  const caller = services({ isLocal: () => false }, 'caller');
  const agent = await store.db.selectFrom('agents').selectAll().executeTakeFirstOrThrow();
  const principal = {
    userId: 'u',
    username: 'u',
    role: 'admin' as const,
    accountId: null,
    reportIds: [],
  };

  for (let run = 0; run < 20; run++) {
    const exec = await caller.start(principal, agent, { argv: ['true'] });
    const seen: string[] = [];
    await new Promise((r) => setTimeout(r, 5));
    exec.onData((id, chunk) => seen.push(`${id}:${chunk}`));
    const summary = await exec.done;
    expect(seen).toEqual(['1:out\n', '2:err\n']);
    expect(summary).toMatchObject({ exitCode: 0, stdoutBytes: 4, stderrBytes: 4 });
  }
  stop();
});
