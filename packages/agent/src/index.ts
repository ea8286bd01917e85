/** The agent package: start one in-process, or run the command line. */
export { startAgent, ensureEnrolled, type AgentOptions, type RunningAgent } from './agent.ts';
export { agentMain } from './main.ts';
export type { Identity } from './identity.ts';
export type { LinkState } from './link.ts';
