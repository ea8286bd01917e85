/** Builds one endpoint process: store, bus, audit, agent hub, HTTP and WebSocket routes. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { randomBytes } from 'node:crypto';
import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import websocket from '@fastify/websocket';
import pino, { type Logger } from 'pino';
import { AuditLog } from './audit/audit-log.ts';
import { loadAuditKey } from './audit/audit-key.ts';
import { auditRoutes } from './audit/audit-routes.ts';
import { ticketRoutes } from './tickets/ticket-routes.ts';
import { chatRoutes } from './chat/chat-routes.ts';
import { AgentHub } from './agents/agent-hub.ts';
import { agentRoutes } from './agents/agent-routes.ts';
import { loadEndpointKey } from './agents/endpoint-key.ts';
import { Guard } from './agents/guard.ts';
import { JoinTokens } from './agents/join-tokens.ts';
import { People } from './accounts/people.ts';
import { peopleRoutes } from './accounts/people-routes.ts';
import { Authenticator } from './auth/authenticate.ts';
import { openBus } from './bus/index.ts';
import { registerDownloads } from './downloads/routes.ts';
import { registerSite } from './web/site.ts';
import { ExecService } from './exec/exec-service.ts';
import { execRoutes } from './exec/exec-routes.ts';
import { serveRemoteExecs } from './exec/remote-exec.ts';
import { Approvals } from './consent/approvals.ts';
import { consentRoutes } from './consent/consent-routes.ts';
import { serveRemoteTerminals } from './terminal/remote-terminal.ts';
import { serveRemoteWatches } from './terminal/remote-watch.ts';
import { TerminalService } from './terminal/terminal-service.ts';
import { terminalRoutes } from './terminal/terminal-routes.ts';
import { terminalSockets } from './terminal/terminal-socket.ts';
import { ForwardService } from './forward/forward-service.ts';
import { forwardRoutes } from './forward/forward-routes.ts';
import { serveRemoteForwards } from './forward/forward-relay.ts';
import { FileService } from './files/file-service.ts';
import { fileRoutes } from './files/file-routes.ts';
import { FileLive } from './files/file-live.ts';
import { fileLiveBackend } from './files/file-live-backend.ts';
import { wsGate, wsPrincipal } from './http/ws-auth.ts';
import { serveRemoteSftp } from './files/remote-sftp.ts';
import { Api } from './http/api.ts';
import { LiveTopics } from './live/live-topics.ts';
import { liveRoutes } from './live/live-routes.ts';
import { errorBody, installErrorHandling } from './http/errors.ts';
import { openStore } from './store/store.ts';
import { openRepositoryHost, repositoryEndpointRoutes } from './repository/host.ts';
import type { Services } from './services.ts';

/** JSON bodies: the largest legal one is an exec with 1 MiB of stdin. */
const BODY_LIMIT_BYTES = 2 * 1024 * 1024;
/** Browser and CLI socket messages are small control frames. */
const WS_MAX_MESSAGE_BYTES = 1024 * 1024;
const ADMIN_USERNAME = 'admin';

export interface EndpointOptions {
  dataDir: string;
  listen: { host: string; port: number };
  dbUrl?: string;
  busUrl?: string;
  tlsCert?: string;
  tlsKey?: string;
  trustProxy?: boolean;
  /** The URL agents and browsers use, when it differs from what requests say (a proxy). */
  publicUrl?: string;
  logLevel?: string;
  logger?: Logger;
  /** The audit HMAC key; defaults to `<dataDir>/audit.key`, made on first start. */
  auditKeyFile?: string;
  /** A separate script repository (`tether repository serve`); embedded when unset. */
  repositoryUrl?: string;
  /** Where `npm run build:agent` put the executables; defaults to the repo's dist/agent. */
  distDir?: string;
}

export interface RunningEndpoint {
  url: string;
  nodeId: string;
  adminToken: string;
  app: FastifyInstance;
  services: Services;
  close(): Promise<void>;
}

export async function startEndpoint(options: EndpointOptions): Promise<RunningEndpoint> {
  const log =
    options.logger ?? pino({ level: options.logLevel ?? 'info', base: { app: 'tether-endpoint' } });
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const nodeId = loadNodeId(dataDir);
  const nodeLog = log.child({ node: nodeId });

  const store = await openStore({ url: options.dbUrl, dataDir });
  const bus = await openBus(options.busUrl, {
    onError: (err: unknown, subject: string) =>
      nodeLog.error({ err, subject }, 'bus handler failed'),
  });
  const auditKey = await loadAuditKey(store.db, dataDir, options.auditKeyFile).catch(
    async (error: unknown) => {
      // Nothing has started yet: release the database and bus so the caller can report it.
      await bus.close();
      await store.close();
      throw error;
    },
  );
  const audit = new AuditLog({
    store,
    bus,
    key: auditKey,
    logger: nodeLog.child({ module: 'audit' }),
  });
  const endpointKey = await loadEndpointKey(store.db);
  const people = new People(store.db);
  const hub = new AgentHub({
    db: store.db,
    bus,
    audit,
    key: endpointKey,
    nodeId,
    log: nodeLog.child({ module: 'hub' }),
  });
  const exec = new ExecService({
    db: store.db,
    bus,
    hub,
    audit,
    nodeId,
    log: nodeLog.child({ module: 'exec' }),
  });
  const guard = new Guard(store.db, audit);
  const approvals = new Approvals({
    db: store.db,
    bus,
    audit,
    guard,
    log: nodeLog.child({ module: 'approvals' }),
  });
  const terminals = new TerminalService({
    db: store.db,
    bus,
    hub,
    audit,
    approvals,
    nodeId,
    dataDir,
    log: nodeLog.child({ module: 'terminal' }),
  });
  const repository = await openRepositoryHost({
    dataDir,
    db: store.db,
    audit,
    endpointKey,
    remoteUrl: options.repositoryUrl,
    log: nodeLog,
  });
  const forwards = new ForwardService({
    db: store.db,
    bus,
    hub,
    audit,
    approvals,
    guard,
    nodeId,
    log: nodeLog.child({ module: 'forward' }),
  });
  const files = new FileService({
    db: store.db,
    bus,
    hub,
    audit,
    approvals,
    guard,
    nodeId,
    dataDir,
    log: nodeLog.child({ module: 'files' }),
  });
  const secure = Boolean(options.tlsCert);
  const services: Services = {
    db: store.db,
    bus,
    audit,
    guard,
    people,
    joinTokens: new JoinTokens(store.db),
    hub,
    exec,
    approvals,
    terminals,
    repository,
    forwards,
    files,
    auth: new Authenticator(store.db),
    live: new LiveTopics(),
    endpointKey,
    nodeId,
    log: nodeLog,
    secure,
    publicUrl: (request: FastifyRequest) =>
      (
        options.publicUrl ?? `${request.protocol}://${request.headers.host ?? request.hostname}`
      ).replace(/\/$/, ''),
  };
  const adminToken = await ensureAdmin(services, dataDir);

  const app = Fastify({
    loggerInstance: nodeLog.child({ module: 'http' }),
    // Requests are logged once, at debug, by the onResponse hook below.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: BODY_LIMIT_BYTES,
    // Errors Fastify raises before routing (a malformed URL) get our one error shape too.
    frameworkErrors: (error, _request, reply) => {
      const answer = reply as unknown as FastifyReply;
      void answer.code(400).send(errorBody('invalid_request', `bad request: ${error.message}`));
    },
    trustProxy: options.trustProxy ?? false,
    https: secure
      ? {
          cert: readFileSync(options.tlsCert as string),
          key: readFileSync(options.tlsKey as string),
        }
      : null,
  }) as unknown as FastifyInstance;
  await app.register(websocket, {
    options: { maxPayload: WS_MAX_MESSAGE_BYTES, perMessageDeflate: false },
  });
  installErrorHandling(app);
  app.addHook('onResponse', async (request, reply) => {
    request.log.debug(
      { method: request.method, url: request.url.split('?')[0], status: reply.statusCode },
      'request',
    );
  });

  const api = new Api(app, (request) => services.auth.fromRequest(request));
  app.get('/healthz', async () => ({ ok: true, node: nodeId, agents: hub.localCount }));
  app.get('/api/v1/openapi.json', async () => api.openApi());
  peopleRoutes(api, services);
  agentRoutes(api, services);
  execRoutes(api, app, services);
  auditRoutes(api, services);
  consentRoutes(api, services);
  terminalRoutes(api, services);
  terminalSockets(app, services);
  forwardRoutes(api, app, services);
  fileRoutes(api, app, services);
  const fileLive = new FileLive({
    bus,
    audit,
    log: nodeLog.child({ module: 'file-live' }),
    nodeId,
    gate: wsGate(services),
    principal: (request) => wsPrincipal(services, request),
    backend: fileLiveBackend(files),
  });
  fileLive.register(app);
  ticketRoutes(api, services);
  chatRoutes(api, app, services);
  liveRoutes(app, services);
  repositoryEndpointRoutes(api, app, services);
  await registerDownloads(app, {
    distDir: options.distDir ?? resolve(import.meta.dirname, '../../../dist/agent'),
    publicUrl: services.publicUrl,
  });

  await registerSite(app, options.webDir);
  describeOtherRoutes(api);
  await hub.start(app);
  const stopRelay = serveRemoteExecs(bus, nodeId, hub, nodeLog.child({ module: 'relay' }));
  const stopTerminalRelay = serveRemoteTerminals(
    bus,
    nodeId,
    hub,
    nodeLog.child({ module: 'relay' }),
  );
  const stopForwardRelay = serveRemoteForwards(
    bus,
    nodeId,
    hub,
    nodeLog.child({ module: 'relay' }),
  );
  const stopFileRelay = serveRemoteSftp(bus, nodeId, hub, nodeLog.child({ module: 'relay' }));
  const stopWatchRelay = serveRemoteWatches(
    bus,
    nodeId,
    (id) => terminals.local(id),
    nodeLog.child({ module: 'relay' }),
  );
  const interrupted = await exec.recoverInterrupted();
  if (interrupted > 0)
    nodeLog.warn({ interrupted }, 'marked commands cut off by the last stop as interrupted');
  const cutTerminals = await terminals.recoverInterrupted();
  if (cutTerminals > 0)
    nodeLog.warn(
      { sessions: cutTerminals },
      'marked terminal sessions cut off by the last stop as interrupted',
    );
  approvals.start();
  await forwards.start();
  files.start();

  await app.listen({ host: options.listen.host, port: options.listen.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.listen.port;
  const url = `${secure ? 'https' : 'http'}://${hostForUrl(options.listen.host)}:${port}`;
  nodeLog.info(
    { url, db: store.dialect, bus: options.busUrl ? 'nats' : 'memory' },
    'endpoint listening',
  );

  let closing: Promise<void> | null = null;
  return {
    url,
    nodeId,
    adminToken,
    app,
    services,
    close: () =>
      (closing ??= (async () => {
        stopRelay();
        stopTerminalRelay();
        stopForwardRelay();
        stopFileRelay();
        stopWatchRelay();
        approvals.stop();
        await forwards.stop();
        await terminals.stop();
        fileLive.stop();
        await files.stop();
        await hub.stop();
        await app.close();
        await bus.close();
        await store.close();
        nodeLog.info('endpoint stopped');
      })()),
  };
}

/** Routes outside the REST table, so the OpenAPI document lists every way in. */
function describeOtherRoutes(api: Api): void {
  const routes = [
    ['/healthz', 'Liveness: {ok, node, agents linked to this process}', 'meta', true],
    ['/install.sh', 'The agent installer: sh -s -- --join-token TOKEN', 'downloads', true],
    ['/downloads/', 'The agent executables on offer, with size and SHA-256', 'downloads', true],
    ['/downloads/:file', 'One agent executable; {file}.sha256 gives its digest', 'downloads', true],
    [
      '/agent/v1/connect',
      'WebSocket for agents: SSH-2 inside, keys pinned at enrollment',
      'agents',
      true,
    ],
    [
      '/api/v1/agents/:id/exec/stream',
      'WebSocket: send {"type":"start","request":{…}}; binary frames [1|2][bytes]; {"type":"exit"}',
      'exec',
      false,
    ],
    [
      '/api/v1/live',
      'WebSocket: {"type":"subscribe","topics":["audit"]}, then events you may see',
      'audit',
      false,
    ],
    [
      '/api/v1/terminals/socket',
      'WebSocket for the engineer: ?approval=ID&agent=&ticket=&cols=&rows=; binary frames are terminal bytes, text frames JSON control',
      'terminals',
      false,
    ],
    [
      '/api/v1/terminals/:id/socket',
      'WebSocket to watch a live session read-only: hello, snapshot, then bytes',
      'terminals',
      false,
    ],
    [
      '/api/v1/file-sessions/:id/socket',
      'WebSocket of a file session: JSON control text frames (cwd, open, listing, saved…), binary Yjs frames [0 sync|1 awareness]; the editor drives, others watch',
      'files',
      false,
    ],
  ] as const;
  for (const [url, summary, tag, open] of routes)
    api.describe({ method: 'GET', url, summary, tag, public: open });
}

/** A stable id per data folder: a restarted process knows which links and commands were its own. */
function loadNodeId(dataDir: string): string {
  const file = join(dataDir, 'node-id');
  if (!existsSync(file))
    writeFileSync(file, `node-${randomBytes(6).toString('hex')}\n`, { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/** Creates the admin on first start and an admin API token in `admin.token` (0600). */
async function ensureAdmin(s: Services, dataDir: string): Promise<string> {
  const tokenFile = join(dataDir, 'admin.token');
  if (existsSync(tokenFile)) return readFileSync(tokenFile, 'utf8').trim();
  let admin = await s.people.findUser(ADMIN_USERNAME);
  if (!admin) {
    const created = await s.people.createUser({
      username: ADMIN_USERNAME,
      displayName: 'Administrator',
      role: 'admin',
    });
    await s.audit.append({
      kind: 'userCreated',
      params: { userId: created.id, username: ADMIN_USERNAME, role: 'admin' },
    });
    admin = await s.people.findUser(ADMIN_USERNAME);
  }
  const { token, id } = await s.people.createApiToken(admin!.id, `admin token in ${dataDir}`);
  await s.audit.append({
    kind: 'apiTokenCreated',
    actor: { id: admin!.id, name: ADMIN_USERNAME, role: 'admin' },
    params: { tokenId: id, file: tokenFile },
  });
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  return token;
}

function hostForUrl(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
