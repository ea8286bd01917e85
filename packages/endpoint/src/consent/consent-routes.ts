/** Consent over HTTP: each account's policy, terminal requests, and the customers' decisions. */
import { z } from 'zod';
import { AccessRequest, ConsentPolicy, TerminalRequest, TetherError } from '@tether/protocol';
import { canSeeApproval, may } from '../audit/visibility.ts';
import { actorOf } from '../agents/guard.ts';
import type { Api } from '../http/api.ts';
import type { Services } from '../services.ts';
import { APPROVAL_EVENT_SUBJECT, type ApprovalEvent } from './approvals.ts';
import { readPolicy, writePolicy } from './consent-policy.ts';

const IdParams = z.object({ id: z.string().min(1).max(64) });
const ListQuery = z.strictObject({
  status: z.enum(['pending', 'approved', 'denied', 'expired', 'used', 'cancelled']).optional(),
  agent: z.string().max(64).optional(),
});

export function consentRoutes(api: Api, s: Services): void {
  s.live.add({
    name: 'approvals',
    subject: APPROVAL_EVENT_SUBJECT,
    visible: (p, payload) => {
      const { approval } = payload as ApprovalEvent;
      return canSeeApproval(p, {
        account_id: approval.accountId,
        requester_id: approval.requesterId,
      });
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/accounts/:id/consent',
    summary:
      'The account’s consent policy: terminal, file read/write and forward modes, path and target lists',
    tag: 'consent',
    params: IdParams,
    handler: async ({ params, principal }) => {
      const accountId = await visibleAccount(s, principal, params.id, 'account.read');
      return { policy: await readPolicy(s.db, accountId) };
    },
  });

  api.route({
    method: 'PUT',
    url: '/api/v1/accounts/:id/consent',
    summary: 'Sets the account’s consent policy (its customers and admins)',
    tag: 'consent',
    params: IdParams,
    body: ConsentPolicy,
    handler: async ({ params, body, principal }) => {
      const accountId = await visibleAccount(s, principal, params.id, 'consent.update');
      await s.guard.require(principal, 'consent.update', accountId);
      const before = await readPolicy(s.db, accountId);
      await writePolicy(s.db, accountId, body, principal.userId);
      await s.audit.append({
        kind: 'consentPolicyChanged',
        actor: actorOf(principal),
        accountId,
        params: { ...body },
        result: { before },
      });
      return { policy: body };
    },
  });

  api.route({
    method: 'POST',
    url: '/api/v1/agents/:id/terminal-requests',
    summary: 'Asks the account’s customers for a terminal: {ticket?, cols, rows} → approval',
    tag: 'consent',
    params: IdParams,
    body: TerminalRequest,
    handler: async ({ params, body, principal }) => {
      const agent = await s.guard.agent(principal, params.id, 'terminal.request');
      if (agent.revoked_at) throw new TetherError('agent_revoked', 'agent was revoked');
      const { ticket, cols, rows } = body;
      const request = { action: 'terminal' as const, ticket, params: { cols, rows } };
      return { approval: await s.approvals.request(principal, agent, request) };
    },
  });

  api.route({
    method: 'POST',
    url: '/api/v1/agents/:id/access-requests',
    summary:
      'Asks the account’s customers for file reads, file writes or a forward: {action, ticket?, detail?} → approval',
    tag: 'consent',
    params: IdParams,
    body: AccessRequest,
    handler: async ({ params, body, principal }) => {
      const agent = await s.guard.agent(principal, params.id, `${body.action}.request`);
      if (agent.revoked_at) throw new TetherError('agent_revoked', 'agent was revoked');
      const { action, ticket, detail } = body;
      const request = { action, ticket, params: detail === undefined ? {} : { detail } };
      return { approval: await s.approvals.request(principal, agent, request) };
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/approvals',
    summary: 'Approval requests the caller may see, newest first; ?status=pending&agent=',
    tag: 'consent',
    query: ListQuery,
    handler: async ({ query, principal }) => ({
      approvals: await s.approvals.list(principal, query),
    }),
  });

  api.route({
    method: 'GET',
    url: '/api/v1/approvals/:id',
    summary: 'One approval request',
    tag: 'consent',
    params: IdParams,
    handler: async ({ params, principal }) => ({
      approval: await s.approvals.get(principal, params.id),
    }),
  });

  for (const [verb, approve] of [
    ['approve', true],
    ['deny', false],
  ] as const) {
    api.route({
      method: 'POST',
      url: `/api/v1/approvals/:id/${verb}`,
      summary: `The account’s customer ${verb === 'approve' ? 'approves' : 'denies'} a request`,
      tag: 'consent',
      params: IdParams,
      handler: async ({ params, principal }) => ({
        approval: await s.approvals.decide(principal, params.id, approve),
      }),
    });
  }
}

/** The account's id if the caller may see it; otherwise 404, audited. */
async function visibleAccount(
  s: Services,
  p: Parameters<typeof may>[0],
  id: string,
  action: string,
) {
  const account = await s.db
    .selectFrom('accounts')
    .select('id')
    .where((eb) => eb.or([eb('id', '=', id), eb('name', '=', id)]))
    .executeTakeFirst();
  if (!account || !may(p, 'account.read', { accountId: account.id })) {
    await s.guard.denied(p, action, { accountId: id }, account?.id ?? null);
    throw new TetherError('not_found', 'no such account');
  }
  return account.id;
}
