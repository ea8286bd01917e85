/** The agents the caller may see, and turning the names people type into agent ids. */
import type { AgentView } from '@tether/protocol';
import type { Client } from './client.ts';
import { UsageError } from './errors.ts';

/** Every agent the caller may see, or those of one account (by name or id). */
export async function listAgents(
  client: Pick<Client, 'get'>,
  account?: string,
): Promise<AgentView[]> {
  const body = await client.get<{ agents: AgentView[] }>('/api/v1/agents', {
    query: { account },
    doing: 'listing agents',
  });
  return body.agents;
}

export function isRevoked(agent: AgentView): boolean {
  return Boolean(agent.revoked || agent.revokedAt);
}

/** Agent id → name, for showing records that carry only the id. */
export function agentNames(agents: readonly AgentView[]): Map<string, string> {
  return new Map(agents.map((agent) => [agent.id, agent.name]));
}

/** An exact id wins; otherwise the one agent with exactly that name. */
export function resolveAgent(agents: readonly AgentView[], ref: string): AgentView {
  const byId = agents.find((agent) => agent.id === ref);
  if (byId) return byId;

  const named = agents.filter((agent) => agent.name === ref);
  if (named.length === 1) return named[0];
  if (named.length === 0) throw new UsageError(`no agent named "${ref}" or with that id`);

  const ids = named.map((agent) => `  ${agent.id}  (account ${agent.accountName})`);
  throw new UsageError(
    `${named.length} agents are named "${ref}"; give one of their ids:\n${ids.join('\n')}`,
  );
}

/** Resolves each ref, dropping repeats; the first unresolvable ref is the error. */
export function resolveAgents(agents: readonly AgentView[], refs: readonly string[]): AgentView[] {
  const chosen = new Map<string, AgentView>();
  for (const ref of refs) {
    const agent = resolveAgent(agents, ref);
    chosen.set(agent.id, agent);
  }
  return [...chosen.values()];
}

export type { AgentView };
