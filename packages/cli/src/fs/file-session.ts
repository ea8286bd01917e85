/**
 * A file session for one command: asks the customer for file reads (and writes when the
 * command changes something), waits for the decision, opens the session, ends it afterwards.
 * `--session ID` uses a session already open instead, and leaves it open.
 */
import type { ApprovalView, FileSessionView } from '@tether/protocol';
import { listAgents, resolveAgent, type AgentView } from '../agent-list.ts';
import type { Client } from '../client.ts';
import { ApiError } from '../errors.ts';
import { awaitDecision } from '../tty.ts';

export interface SessionOptions {
  write: boolean;
  ticket?: string;
  session?: string;
}

export interface OpenSession {
  id: string;
  agent: AgentView;
  client: Client;
}

interface Me {
  role: string;
}

export async function withFileSession<T>(
  client: Client,
  agentRef: string,
  options: SessionOptions,
  work: (session: OpenSession) => Promise<T>,
): Promise<T> {
  const agent = resolveAgent(await listAgents(client), agentRef);
  if (options.session) {
    await client.get(`/api/v1/file-sessions/${encodeURIComponent(options.session)}`, {
      doing: 'finding the file session',
    });
    return work({ id: options.session, agent, client });
  }
  const id = await openSession(client, agent, options);
  try {
    return await work({ id, agent, client });
  } finally {
    await client
      .request('DELETE', `/api/v1/file-sessions/${encodeURIComponent(id)}`, {
        doing: 'ending the file session',
      })
      .catch(() => {
        // The work's own outcome is what the user needs; the session ends with the account's
        // policy or an admin anyway.
      });
  }
}

async function openSession(client: Client, agent: AgentView, options: SessionOptions) {
  const me = await client.get<{ user: Me } | Me>('/api/v1/me', { doing: 'finding who you are' });
  const role = 'user' in me ? me.user.role : me.role;
  const body: Record<string, string> = {};
  if (options.ticket) body.ticket = options.ticket;
  if (role !== 'customer') {
    body.readApproval = await approved(client, agent, 'files.read', options.ticket);
    if (options.write)
      body.writeApproval = await approved(client, agent, 'files.write', options.ticket);
  }
  const opened = await client.post<{ session: FileSessionView }>(
    `/api/v1/agents/${encodeURIComponent(agent.id)}/file-sessions`,
    body,
    { doing: `opening files on ${agent.name}` },
  );
  if (options.write && !opened.session.canWrite) {
    await client.request('DELETE', `/api/v1/file-sessions/${opened.session.id}`).catch(() => {});
    throw new ApiError('forbidden', 403, `the account does not allow file writes on ${agent.name}`);
  }
  return opened.session.id;
}

async function approved(
  client: Client,
  agent: AgentView,
  action: 'files.read' | 'files.write',
  ticket: string | undefined,
): Promise<string> {
  const asked = await client.post<{ approval: ApprovalView }>(
    `/api/v1/agents/${encodeURIComponent(agent.id)}/access-requests`,
    { action, ...(ticket ? { ticket } : {}) },
    {
      doing: `asking for ${action === 'files.read' ? 'file reads' : 'file writes'} on ${agent.name}`,
    },
  );
  const decided = await awaitDecision(client, asked.approval);
  if (decided.status !== 'approved')
    throw new ApiError(
      'forbidden',
      403,
      `the request for ${action} was ${decided.status}; nothing was done`,
    );
  return decided.id;
}

/** `/api/v1/file-sessions/ID/…` */
export function sessionPath(session: OpenSession, route: string): string {
  return `/api/v1/file-sessions/${encodeURIComponent(session.id)}/${route}`;
}
