/** Everything a route needs, made once per endpoint process and handed to each route module. */
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import type { AuditLog } from './audit/audit-log.ts';
import type { AgentHub } from './agents/agent-hub.ts';
import type { EndpointKey } from './agents/endpoint-key.ts';
import type { Guard } from './agents/guard.ts';
import type { JoinTokens } from './agents/join-tokens.ts';
import type { People } from './accounts/people.ts';
import type { Authenticator } from './auth/authenticate.ts';
import type { Bus } from './bus/bus.ts';
import type { LiveTopics } from './live/live-topics.ts';
import type { ExecService } from './exec/exec-service.ts';
import type { Approvals } from './consent/approvals.ts';
import type { TerminalService } from './terminal/terminal-service.ts';
import type { ForwardService } from './forward/forward-service.ts';
import type { FileService } from './files/file-service.ts';
import type { Database } from './store/schema.ts';
import type { RepositoryHost } from './repository/host.ts';

export interface Services {
  db: Kysely<Database>;
  bus: Bus;
  audit: AuditLog;
  guard: Guard;
  people: People;
  joinTokens: JoinTokens;
  hub: AgentHub;
  exec: ExecService;
  approvals: Approvals;
  terminals: TerminalService;
  forwards: ForwardService;
  /** File sessions: consent, channels to agents, audit, history and live events (issue 4). */
  files: FileService;
  auth: Authenticator;
  /** The script repository, embedded or forwarded to (`--repository URL`). */
  repository: RepositoryHost;
  /** Topics of the live socket; each feature adds its own. */
  live: LiveTopics;
  endpointKey: EndpointKey;
  nodeId: string;
  log: Logger;
  /** Whether browsers reach us over HTTPS (cookies get `Secure`). */
  secure: boolean;
  /** The base URL agents and browsers use to reach this endpoint. */
  publicUrl(request: FastifyRequest): string;
}
