/**
 * The SFTP channels of this process's file sessions: opened on first use with the session's
 * policy sent first, one read-only and (once write access is granted) one writable channel
 * per session, reopened when the account's policy changes, closed after a while unused.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { TetherError } from '@tether/protocol';
import type { SftpClient } from '@tether/protocol/sftp';
import { randomUUID } from 'node:crypto';
import type { AgentHub } from '../agents/agent-hub.ts';
import type { Bus } from '../bus/bus.ts';
import { remoteSftp } from './remote-sftp.ts';
import type { Database } from '../store/schema.ts';

/** A session nobody used for this long gives its channels back; the next request reopens. */
const IDLE_CLOSE_MS = 5 * 60_000;

export type ChannelMode = 'read' | 'write';

export interface ChannelPolicy {
  allow: string[];
  deny: string[];
}

interface Held {
  client: Promise<SftpClient>;
  policyKey: string;
  leases: number;
  idle: NodeJS.Timeout | null;
}

export interface Lease {
  client: SftpClient;
  release(): void;
}

export class FileChannels {
  private readonly held = new Map<string, Held>();

  constructor(
    private readonly deps: {
      hub: AgentHub;
      db: Kysely<Database>;
      bus: Bus;
      nodeId: string;
      log: Logger;
    },
  ) {}

  /** A channel for the session; call `release()` when the work (a whole stream) is done. */
  async lease(
    session: { id: string; agent_id: string },
    mode: ChannelMode,
    policy: ChannelPolicy,
  ): Promise<Lease> {
    const key = `${session.id}:${mode}`;
    const policyKey = JSON.stringify([policy.allow, policy.deny]);
    let held = this.held.get(key);
    if (held && held.policyKey !== policyKey) {
      // The account changed its folders: this channel's agent-side policy is out of date.
      this.drop(key, held);
      held = undefined;
    }
    if (!held) {
      held = { client: this.open(session, mode, policy), policyKey, leases: 0, idle: null };
      this.held.set(key, held);
      const mine = held;
      mine.client.then(
        (client) => client.once('close', () => this.forget(key, mine)),
        () => this.forget(key, mine),
      );
    }
    held.leases++;
    if (held.idle) clearTimeout(held.idle);
    held.idle = null;
    let client: SftpClient;
    try {
      client = await held.client;
    } catch (error) {
      held.leases--;
      throw error;
    }
    const leased = held;
    let released = false;
    return {
      client,
      release: () => {
        if (released) return;
        released = true;
        leased.leases--;
        if (leased.leases === 0 && this.held.get(key) === leased) {
          leased.idle = setTimeout(() => this.drop(key, leased), IDLE_CLOSE_MS);
          leased.idle.unref();
        }
      },
    };
  }

  /** Ends the session's channels (the session ended). */
  closeSession(sessionId: string): void {
    for (const mode of ['read', 'write'] as const) {
      const key = `${sessionId}:${mode}`;
      const held = this.held.get(key);
      if (held) this.drop(key, held);
    }
  }

  closeAll(): void {
    for (const [key, held] of this.held) this.drop(key, held);
  }

  private async open(
    session: { id: string; agent_id: string },
    mode: ChannelMode,
    policy: ChannelPolicy,
  ): Promise<SftpClient> {
    const { hub, db, nodeId, bus } = this.deps;
    let client: SftpClient;
    if (hub.isLocal(session.agent_id)) client = await hub.sftp(session.agent_id);
    else {
      const agent = await db
        .selectFrom('agents')
        .select('connected_node')
        .where('id', '=', session.agent_id)
        .executeTakeFirst();
      const owner = agent?.connected_node;
      if (!owner || owner === nodeId) throw new TetherError('agent_offline', 'agent is offline');
      client = await remoteSftp(bus, owner, { channelId: randomUUID(), agentId: session.agent_id });
    }
    const b64 = (path: string) => Buffer.from(path, 'utf8').toString('base64');
    try {
      await client.policy({
        allow: policy.allow.map(b64),
        deny: policy.deny.map(b64),
        readOnly: mode === 'read',
        sessionId: session.id,
      });
    } catch (cause) {
      client.end();
      throw new TetherError('internal', 'the agent refused the session’s path policy', { cause });
    }
    this.deps.log.debug(
      { sessionId: session.id, agentId: session.agent_id, mode },
      'file channel opened',
    );
    return client;
  }

  private drop(key: string, held: Held): void {
    if (held.idle) clearTimeout(held.idle);
    if (this.held.get(key) === held) this.held.delete(key);
    held.client.then(
      (client) => client.end(),
      () => {},
    );
  }

  private forget(key: string, held: Held): void {
    if (held.idle) clearTimeout(held.idle);
    if (this.held.get(key) === held) this.held.delete(key);
  }
}
