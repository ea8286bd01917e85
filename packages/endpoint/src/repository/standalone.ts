/**
 * `tether repository serve`: the repository on its own. It has no users: callers come through
 * an endpoint, which signs who they are (see @tether/repository's forwarded-caller.ts) with a
 * key this server was told to trust. Unsigned requests are anonymous and see public packages.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';
import websocket from '@fastify/websocket';
import pino, { type Logger } from 'pino';
import {
  CALLER_HEADER,
  Repository,
  registerSync,
  repositoryRoutes,
  trustedKeys,
  verifyForwardedCaller,
  type Caller,
} from '@tether/repository';
import { AuditLog } from '../audit/audit-log.ts';
import { loadAuditKey } from '../audit/audit-key.ts';
import { openBus } from '../bus/index.ts';
import { Api } from '../http/api.ts';
import { installErrorHandling } from '../http/errors.ts';
import { openStore } from '../store/store.ts';
import { auditSink } from './host.ts';

/** Sync frames are at most a 256 KiB chunk plus headers; JSON offers stay under 1 MiB. */
const WS_MAX_MESSAGE_BYTES = 1024 * 1024;
const BODY_LIMIT_BYTES = 64 * 1024;

export interface RepositoryServerOptions {
  dataDir: string;
  listen: { host: string; port: number };
  dbUrl?: string;
  /** OpenSSH public keys of the endpoints whose forwarded callers are believed. */
  trustEndpointKeys: string[];
  logLevel?: string;
  logger?: Logger;
}

export interface RunningRepository {
  url: string;
  app: FastifyInstance;
  repository: Repository;
  close(): Promise<void>;
}

export async function startRepositoryServer(
  options: RepositoryServerOptions,
): Promise<RunningRepository> {
  const log =
    options.logger ??
    pino({ level: options.logLevel ?? 'info', base: { app: 'tether-repository' } });
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const trusted = trustedKeys(options.trustEndpointKeys);

  const store = await openStore({ url: options.dbUrl, dataDir });
  const bus = await openBus(undefined);
  const audit = new AuditLog({
    store,
    bus,
    key: await loadAuditKey(store.db, dataDir),
    logger: log,
  });
  const repository = await Repository.open({
    dataDir,
    db: store.db as never,
    audit: auditSink(audit),
    log: log.child({ module: 'repository' }),
  });

  const app = Fastify({
    loggerInstance: log.child({ module: 'http' }),
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
  }) as unknown as FastifyInstance;
  await app.register(websocket, {
    options: { maxPayload: WS_MAX_MESSAGE_BYTES, perMessageDeflate: false },
  });
  installErrorHandling(app);
  const authenticate = async (request: FastifyRequest): Promise<Caller | null> => {
    const header = request.headers[CALLER_HEADER];
    if (typeof header !== 'string') return null;
    return verifyForwardedCaller(header, { method: request.method, path: request.url }, trusted);
  };
  const api = new Api(app, async () => null);
  app.get('/healthz', async () => ({ ok: true, repository: true }));
  app.get('/api/v1/openapi.json', async () => api.openApi());
  repositoryRoutes(api, repository, authenticate);
  registerSync(app, repository, authenticate, log.child({ module: 'repository-sync' }));

  await app.listen({ host: options.listen.host, port: options.listen.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.listen.port;
  const url = `http://${options.listen.host}:${port}`;
  log.info({ url, db: store.dialect, trusted: trusted.length }, 'repository listening');
  return {
    url,
    app,
    repository,
    async close() {
      await app.close();
      await bus.close();
      await store.close();
    },
  };
}

/** Runs until SIGINT or SIGTERM. */
export async function serveRepository(options: RepositoryServerOptions): Promise<void> {
  const running = await startRepositoryServer(options);
  process.stderr.write(`tether repository on ${running.url}\n`);
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await running.close();
}
