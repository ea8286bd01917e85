/**
 * The script repository as the endpoint serves it: embedded (its index in our Store, its
 * objects in our data folder), or a separate one (`--repository URL`) that we forward to,
 * signing who calls with the endpoint's key.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import ssh2 from 'ssh2';
import {
  Repository,
  repositoryRoutes,
  registerSync,
  SYNC_PATH,
  SYNC_PROTOCOL,
  type Caller,
  type RepositoryDatabase,
  type RepositoryAuditEvent,
} from '@tether/repository';
import type { AuditLog } from '../audit/audit-log.ts';
import type { Principal } from '../auth/principal.ts';
import type { EndpointKey } from '../agents/endpoint-key.ts';
import type { Api } from '../http/api.ts';
import type { Services } from '../services.ts';
import { forwardRepository } from './forward.ts';
import { AgentRepositoryProxy, localSource, remoteSource } from './agent-proxy.ts';

/** The endpoint's public key, in the data folder, for a separate repository to trust. */
export const ENDPOINT_PUBLIC_KEY_FILE = 'endpoint-key.pub';

export interface RepositoryHost {
  /** The embedded repository; null when a separate one serves (`--repository URL`). */
  local: Repository | null;
  remoteUrl: string | null;
  /** What the agent link calls to resolve and fetch scripts for an agent. */
  agents: AgentRepositoryProxy;
  /** Signs a caller for the separate repository. */
  sign(data: Buffer): Buffer;
}

export async function openRepositoryHost(options: {
  dataDir: string;
  db: Kysely<any>;
  audit: AuditLog;
  endpointKey: EndpointKey;
  remoteUrl?: string;
  log: Logger;
}): Promise<RepositoryHost> {
  const parsed = ssh2.utils.parseKey(options.endpointKey.privateKey);
  if (parsed instanceof Error) throw parsed;
  const sign = (data: Buffer): Buffer => parsed.sign(data) as Buffer;
  const log = options.log.child({ module: 'repository' });
  const remoteUrl = options.remoteUrl?.replace(/\/$/, '') ?? null;
  const local = remoteUrl
    ? null
    : await Repository.open({
        dataDir: options.dataDir,
        db: options.db as unknown as Kysely<RepositoryDatabase>,
        audit: auditSink(options.audit),
        log,
      });
  // Public: the operator gives it to `tether repository serve --trust-endpoint-key`.
  writeFileSync(
    join(options.dataDir, ENDPOINT_PUBLIC_KEY_FILE),
    `${options.endpointKey.publicKey}\n`,
  );
  const source = local ? localSource(local) : remoteSource(remoteUrl!, sign);
  const agents = new AgentRepositoryProxy({
    source,
    db: options.db,
    audit: options.audit,
    cacheDir: options.dataDir,
    log: log.child({ part: 'agent-proxy' }),
  });
  return { local, remoteUrl, agents, sign };
}

/** REST and sync routes: served here, or forwarded to the separate repository. */
export function repositoryEndpointRoutes(api: Api, app: FastifyInstance, s: Services): void {
  const host = s.repository;
  const authenticate = async (request: FastifyRequest) =>
    callerOf(await s.auth.fromRequest(request));
  if (host.local) {
    repositoryRoutes(api, host.local, authenticate);
    registerSync(app, host.local, authenticate, s.log.child({ module: 'repository-sync' }));
    api.describe({
      method: 'GET',
      url: SYNC_PATH,
      summary: `WebSocket, subprotocol ${SYNC_PROTOCOL}: fetch by roots in one stream, resolve, resumable upload`,
      tag: 'repository',
      public: true,
    });
  } else {
    forwardRepository(app, api, host.remoteUrl!, authenticate, host.sign, s.log);
  }
}

export function callerOf(principal: Principal | null): Caller | null {
  if (!principal) return null;
  return {
    role: principal.role,
    userId: principal.userId,
    username: principal.username,
    accountId: principal.accountId,
  };
}

/** The repository's audit reports, written with the T35xx codes. */
export function auditSink(audit: AuditLog) {
  return async (event: RepositoryAuditEvent): Promise<void> => {
    const { caller } = event;
    await audit.append({
      kind: event.kind,
      actor: caller.userId
        ? { id: caller.userId, name: caller.username ?? caller.userId, role: caller.role }
        : null,
      accountId: caller.accountId,
      agentId: caller.agentId ?? null,
      params: event.params,
      result: event.result,
    });
  };
}
