/** What agent and endpoint agree on: paths, enrollment messages, the exec request on SSH. */
import { z } from 'zod';
import { displayName, lookupName } from './names.ts';

export const AGENT_CONNECT_PATH = '/agent/v1/connect';
export const ENROLL_PATH = '/api/v1/enroll';
/** The agent names itself on the upgrade; its SSH host key then has to match the pinned key. */
export const AGENT_ID_HEADER = 'x-tether-agent-id';
export const AGENT_VERSION = '0.1.0';

/**
 * WebSocket close code the endpoint sends an agent whose identity connected again elsewhere
 * (RFC 6455 leaves 4000-4999 to applications). The agent then waits the longest backoff, so
 * two copies of one identity do not take the link from each other every second.
 */
export const AGENT_CLOSE_REPLACED = 4001;

/** The SSH username the endpoint authenticates as; the key, not the name, is what counts. */
export const ENDPOINT_SSH_USER = 'tether-endpoint';

export const EnrollRequest = z.strictObject({
  token: z.string().min(1).max(512),
  publicKey: z.string().min(1).max(1024),
  name: lookupName(253),
  os: displayName(64),
  arch: displayName(64),
  version: displayName(64),
  hostname: displayName(253).optional(),
});
export type EnrollRequest = z.infer<typeof EnrollRequest>;

export interface EnrollResponse {
  agentId: string;
  accountId: string;
  name: string;
  /** The endpoint's SSH public key, OpenSSH format; the agent pins it. */
  endpointPublicKey: string;
}

/**
 * The command of an SSH `exec` request from the endpoint: JSON, validated by the agent.
 * Not strict: an older agent ignores fields a newer endpoint adds, rather than refusing to run.
 */
export const AgentExecCommand = z.object({
  /** The endpoint's id for this command, so both sides' logs can be followed together. */
  execId: z.string().max(64).optional(),
  argv: z.array(z.string()).min(1).optional(),
  command: z.string().min(1).optional(),
  cwd: z.string().optional(),
  env: z.record(z.string(), z.string()).optional(),
  timeoutMs: z.number().int().positive(),
});
export type AgentExecCommand = z.infer<typeof AgentExecCommand>;

/** The exit-signal description an agent sends when it killed a command at its deadline. */
export const EXEC_TIMEOUT_DESCRIPTION = 'timeout';
