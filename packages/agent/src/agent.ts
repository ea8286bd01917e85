/** Starts an agent: enrolls on first run, then keeps the link to the endpoint up. */
import pino, { type Logger } from 'pino';
import { TetherError } from '@tether/protocol';
import { StateDir, type Identity } from './identity.ts';
import { enroll } from './enroll.ts';
import { AgentLink } from './link.ts';

export interface AgentOptions {
  /** Endpoint base URL; needed to enroll, afterwards the saved identity's endpoint is used. */
  endpoint?: string;
  joinToken?: string;
  stateDir: string;
  name?: string;
  logger?: Logger;
  logLevel?: string;
}

export interface RunningAgent {
  agentId: string;
  identity: Identity;
  link: AgentLink;
  /** Resolves when the link stops for good (closed, or refused by the endpoint). */
  stopped: Promise<string | null>;
  close(): Promise<void>;
}

/** Loads or creates the identity; enrolls when there is none. Returns the identity. */
export async function ensureEnrolled(options: AgentOptions, log: Logger): Promise<Identity> {
  const state = new StateDir(options.stateDir);
  const existing = state.identity();
  if (existing) return existing;
  if (!options.endpoint || !options.joinToken) {
    throw new TetherError(
      'invalid_request',
      `no identity in ${options.stateDir}: enroll once with --endpoint URL --join-token TOKEN`,
    );
  }
  const identity = await enroll(state, options.endpoint, options.joinToken, options.name);
  log.info({ agentId: identity.agentId, name: identity.name }, 'enrolled');
  return identity;
}

export async function startAgent(options: AgentOptions): Promise<RunningAgent> {
  const log = options.logger ?? pino({ level: options.logLevel ?? 'info' }, pino.destination(2));
  const identity = await ensureEnrolled(options, log);
  const state = new StateDir(options.stateDir);
  const link = new AgentLink(identity, state.hostKey(), log.child({ agentId: identity.agentId }));

  const stopped = new Promise<string | null>((resolve) => {
    link.on('refused', (reason) => resolve(reason));
    link.on('state', (linkState) => {
      if (linkState === 'stopped') resolve(null);
    });
  });
  link.start();

  return {
    agentId: identity.agentId,
    identity,
    link,
    stopped,
    async close() {
      link.stop();
    },
  };
}
