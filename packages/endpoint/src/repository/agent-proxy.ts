/**
 * What agents use to get scripts: the endpoint checks that the agent's account may see what it
 * asks for, serves objects from its own content-addressed cache (objects never expire there;
 * version lookups do, after LOOKUP_TTL_MS), and fetches what the cache lacks from the repository.
 *
 * The agent link calls `resolve` and `fetch` with the agent's id; the link's `tether`
 * subsystem (the scripts issue) carries the frames. Nothing here trusts what an agent says
 * about itself beyond its id, which the link has already authenticated.
 */
import { join } from 'node:path';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import {
  CALLER_HEADER,
  forwardCaller,
  ObjectStore,
  SyncClient,
  SYNC_PATH,
  walkObjects,
  type Caller,
  type LooseObjects,
  type Repository,
  type Resolved,
} from '@tether/repository';
import { TetherError } from '@tether/protocol';
import type { AuditLog } from '../audit/audit-log.ts';

/** Long enough to spare the repository a lookup per script run, short enough that a yank or a
 * new version reaches agents within a minute. */
export const LOOKUP_TTL_MS = 30_000;

/** Where the proxy gets what it lacks: the embedded repository or a separate one. */
export interface RepositorySource {
  resolve(caller: Caller, name: string, range: string): Promise<Resolved>;
  canRead(caller: Caller, hash: string): Promise<boolean>;
  fetchInto(caller: Caller, roots: string[], into: LooseObjects, have: string[]): Promise<number>;
}

export interface AgentFetch {
  /** Objects the agent already holds: not sent again. */
  have?: Iterable<string>;
  /** Called once per object, parents first, with the object's zlib bytes as git stores them. */
  send(hash: string, deflated: Buffer): Promise<void>;
}

interface Timed<T> {
  value: T;
  until: number;
}

export class AgentRepositoryProxy {
  readonly cache: ObjectStore;
  readonly #lookups = new Map<string, Timed<Resolved>>();
  readonly #access = new Map<string, Timed<boolean>>();
  readonly #source: RepositorySource;
  readonly #db: Kysely<any>;
  readonly #audit: AuditLog;
  readonly #log: Logger;
  readonly #ttlMs: number;
  #ready: Promise<void> | null = null;

  constructor(options: {
    source: RepositorySource;
    db: Kysely<any>;
    audit: AuditLog;
    cacheDir: string;
    log: Logger;
    ttlMs?: number;
  }) {
    this.#source = options.source;
    this.#db = options.db;
    this.#audit = options.audit;
    this.#log = options.log;
    this.#ttlMs = options.ttlMs ?? LOOKUP_TTL_MS;
    this.cache = new ObjectStore(join(options.cacheDir, 'repository-cache'));
  }

  /** `name@range` as the agent's account sees it; cached for the TTL. */
  async resolve(agentId: string, name: string, range: string): Promise<Resolved> {
    const caller = await this.#agentCaller(agentId);
    const key = `${caller.accountId}\u0000${name}\u0000${range}`;
    const cached = this.#fresh(this.#lookups, key);
    if (cached) return cached;
    const resolved = await this.#source.resolve(caller, name, range).catch(async (error) => {
      if (error instanceof TetherError && error.code === 'not_found') {
        await this.#refused(caller, { name, range });
      }
      throw error;
    });
    this.#lookups.set(key, { value: resolved, until: Date.now() + this.#ttlMs });
    return resolved;
  }

  /**
   * Sends the agent everything under `roots` it lacks. Each root must be visible to the
   * agent's account; the cache fills from the repository on a miss.
   */
  async fetch(agentId: string, roots: string[], request: AgentFetch) {
    const caller = await this.#agentCaller(agentId);
    for (const root of roots) {
      const key = `${caller.accountId}\u0000${root}`;
      let allowed = this.#fresh(this.#access, key);
      if (allowed === undefined) {
        allowed = await this.#source.canRead(caller, root);
        this.#access.set(key, { value: allowed, until: Date.now() + this.#ttlMs });
      }
      if (!allowed) {
        await this.#refused(caller, { root });
        throw new TetherError('not_found', `no object ${root}`);
      }
    }

    await (this.#ready ??= this.cache.init());
    const { present, complete } = await this.#cached(roots);
    let fetched = 0;
    if (!complete) {
      fetched = await this.#source.fetchInto(caller, roots, this.cache.objects, present);
    }
    const have = new Set(request.have ?? []);
    let sent = 0;
    await walkObjects(this.cache, roots, async (hash, deflated) => {
      if (have.has(hash)) return;
      await request.send(hash, deflated);
      sent += 1;
    });
    await this.#audit.append({
      kind: 'scriptFetchedByAgent',
      accountId: caller.accountId,
      agentId,
      params: { roots },
      result: { sent, fromRepository: fetched },
    });
    this.#log.debug({ agentId, roots, sent, fetched }, 'agent fetch served');
    return { sent, fetched };
  }

  /** Which objects under `roots` the cache holds, and whether that is all of them. */
  async #cached(roots: string[]): Promise<{ present: string[]; complete: boolean }> {
    const present: string[] = [];
    try {
      await walkObjects(this.cache, roots, async (hash) => void present.push(hash));
      return { present, complete: true };
    } catch (error) {
      if (error instanceof TetherError && error.code === 'internal') {
        return { present, complete: false };
      }
      throw error;
    }
  }

  async #agentCaller(agentId: string): Promise<Caller> {
    const agent = (await this.#db
      .selectFrom('agents')
      .select(['id', 'account_id', 'revoked_at'])
      .where('id', '=', agentId)
      .executeTakeFirst()) as
      { id: string; account_id: string; revoked_at: string | null } | undefined;
    if (!agent) throw new TetherError('not_found', 'no such agent');
    if (agent.revoked_at) throw new TetherError('agent_revoked', 'the agent was revoked');
    return { role: 'agent', userId: null, username: null, accountId: agent.account_id, agentId };
  }

  async #refused(caller: Caller, params: Record<string, unknown>): Promise<void> {
    await this.#audit.append({
      kind: 'scriptAgentFetchRefused',
      accountId: caller.accountId,
      agentId: caller.agentId ?? null,
      params,
    });
  }

  #fresh<T>(map: Map<string, Timed<T>>, key: string): T | undefined {
    const hit = map.get(key);
    if (!hit) return undefined;
    if (hit.until > Date.now()) return hit.value;
    map.delete(key);
    return undefined;
  }
}

export function localSource(repo: Repository): RepositorySource {
  return {
    resolve: (caller, name, range) => repo.catalog.resolve(caller, name, range),
    canRead: (caller, hash) => repo.catalog.canRead(caller, hash),
    async fetchInto(_caller, roots, into, have) {
      const held = new Set(have);
      let copied = 0;
      // The repository verified each object when it was written; the bytes copy as they are.
      await walkObjects(repo.store, roots, async (hash, deflated) => {
        if (held.has(hash)) return;
        await into.putVerified(hash, deflated);
        copied += 1;
      });
      return copied;
    },
  };
}

export function remoteSource(url: string, sign: (data: Buffer) => Buffer): RepositorySource {
  const signed = (caller: Caller, method: string, path: string) => ({
    [CALLER_HEADER]: forwardCaller(caller, { method, path }, sign),
  });
  return {
    async resolve(caller, name, range) {
      const path = `/api/v1/repository/resolve?${new URLSearchParams({ name, range })}`;
      const response = await fetch(`${url}${path}`, { headers: signed(caller, 'GET', path) });
      const body = (await response.json()) as { resolved?: Resolved; error?: any };
      if (!response.ok)
        throw TetherError.fromWire(
          body.error ?? { code: 'unavailable', message: 'repository error' },
        );
      return body.resolved!;
    },
    async canRead(caller, hash) {
      const path = `/api/v1/repository/objects/${hash}`;
      const response = await fetch(`${url}${path}`, {
        method: 'HEAD',
        headers: signed(caller, 'HEAD', path),
      });
      if (response.status === 200) return true;
      if (response.status === 404) return false;
      throw new TetherError('unavailable', `the repository answered ${response.status}`);
    },
    async fetchInto(caller, roots, into, have) {
      const client = await SyncClient.connect(url, signed(caller, 'GET', SYNC_PATH));
      try {
        return (await client.fetch(roots, { into, have })).objects;
      } finally {
        await client.close();
      }
    },
  };
}
