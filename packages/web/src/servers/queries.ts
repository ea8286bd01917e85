/** Query keys and fetchers for servers, shared by the list, the details and the live feed. */
import { api } from '../api/client.ts';

/** Online state also arrives live; this poll only covers a paused live socket. */
const AGENTS_REFRESH_MS = 60_000;

export const agentsQuery = {
  queryKey: ['agents'] as const,
  queryFn: () => api.agents(),
  refetchInterval: AGENTS_REFRESH_MS,
};

export const agentQuery = (id: string) => ({
  queryKey: ['agent', id] as const,
  queryFn: () => api.agent(id),
});

export const accountsQuery = {
  queryKey: ['accounts'] as const,
  queryFn: () => api.accounts(),
};
