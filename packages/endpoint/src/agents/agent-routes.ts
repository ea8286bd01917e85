/** REST for agents: enrollment, listing, revocation, and join tokens. */
import { z } from 'zod';
import {
  EnrollRequest,
  installCommand,
  shellQuote,
  TetherError,
  type AgentView,
} from '@tether/protocol';
import type { Api } from '../http/api.ts';
import type { Services } from '../services.ts';
import { agentScope, joinTokenScope } from '../audit/visibility.ts';
import { nowIso } from '../auth/secrets.ts';
import { actorOf } from './guard.ts';
import { enroll } from './enrollment.ts';
import { RateLimiter } from '../http/rate-limit.ts';
import { JOIN_TOKEN_DEFAULT_TTL_SECONDS, JOIN_TOKEN_MAX_TTL_SECONDS } from './join-tokens.ts';

const IdParams = z.strictObject({ id: z.string().min(1).max(64) });
const MAX_TOKEN_USES = 10_000;

/** Enrollment is a few calls per server ever; more than this from one address is a scan. */
const ENROLLS_PER_MINUTE = 30;

export function agentRoutes(api: Api, s: Services): void {
  const enrolls = new RateLimiter(ENROLLS_PER_MINUTE, 60_000, 'enrollment attempts');
  api.route({
    method: 'POST',
    url: '/api/v1/enroll',
    summary: 'Enroll an agent with a join token and its public key',
    tag: 'agents',
    public: true,
    body: EnrollRequest,
    handler: async ({ body, request }) => {
      enrolls.hit(request.ip);
      return enroll(s, body, request.ip);
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/agents',
    summary: 'List the agents the caller may see',
    tag: 'agents',
    query: z.strictObject({ account: z.string().max(200).optional() }),
    handler: async ({ principal, query }) => {
      let q = s.db
        .selectFrom('agents')
        .innerJoin('accounts', 'accounts.id', 'agents.account_id')
        .selectAll('agents')
        .select('accounts.name as account_name')
        .where(agentScope(principal) as never)
        .orderBy('agents.name');
      if (query.account) {
        q = q.where((eb) =>
          eb.or([eb('accounts.name', '=', query.account!), eb('accounts.id', '=', query.account!)]),
        );
      }
      const rows = await q.execute();
      await s.audit.append({
        kind: 'agentsListed',
        actor: actorOf(principal),
        accountId: principal.accountId,
        params: { account: query.account },
        result: { count: rows.length },
      });
      return { agents: rows.map(agentView) };
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/agents/:id',
    summary: 'One agent',
    tag: 'agents',
    params: IdParams,
    handler: async ({ principal, params }) => {
      const agent = await s.guard.agent(principal, params.id, 'agent.read');
      const account = await s.db
        .selectFrom('accounts')
        .select('name')
        .where('id', '=', agent.account_id)
        .executeTakeFirst();
      await s.audit.append({
        kind: 'agentViewed',
        actor: actorOf(principal),
        accountId: agent.account_id,
        agentId: agent.id,
      });
      return { agent: agentView({ ...agent, account_name: account?.name ?? '' }) };
    },
  });

  api.route({
    method: 'POST',
    url: '/api/v1/agents/:id/revoke',
    summary: 'Revoke an agent: its link closes and its key is refused from then on',
    tag: 'agents',
    params: IdParams,
    handler: async ({ principal, params }) => {
      const agent = await s.guard.agent(principal, params.id, 'agent.revoke');
      if (!agent.revoked_at) {
        await s.db
          .updateTable('agents')
          .set({ revoked_at: nowIso() })
          .where('id', '=', agent.id)
          .execute();
      }
      s.bus.publish(`agent.${agent.id}.revoked`, { agentId: agent.id });
      await s.audit.append({
        kind: 'agentRevoked',
        actor: actorOf(principal),
        accountId: agent.account_id,
        agentId: agent.id,
        result: { alreadyRevoked: Boolean(agent.revoked_at) },
      });
      return { agent: { id: agent.id, name: agent.name, revoked: true } };
    },
  });

  api.route({
    method: 'POST',
    url: '/api/v1/join-tokens',
    summary: 'Create a join token for an account; the response holds the install one-liner',
    tag: 'agents',
    body: z.strictObject({
      account: z.string().min(1).max(200),
      ttlSeconds: z.number().int().positive().max(JOIN_TOKEN_MAX_TTL_SECONDS).optional(),
      maxUses: z.number().int().positive().max(MAX_TOKEN_USES).optional(),
    }),
    handler: async ({ principal, body, request }) => {
      const account = await s.people.findAccount(body.account);
      if (!account || (principal.role === 'customer' && account.id !== principal.accountId)) {
        await s.guard.denied(
          principal,
          'join_token.create',
          { account: body.account },
          account?.id ?? null,
        );
        throw new TetherError('not_found', `no account ${JSON.stringify(body.account)}`);
      }
      await s.guard.require(principal, 'join_token.create', account.id);
      const ttl = body.ttlSeconds ?? JOIN_TOKEN_DEFAULT_TTL_SECONDS;
      const { token, row } = await s.joinTokens.create(
        account.id,
        principal.userId,
        ttl,
        body.maxUses ?? 1,
      );
      await s.audit.append({
        kind: 'joinTokenCreated',
        actor: actorOf(principal),
        accountId: account.id,
        params: { tokenId: row.id, ttlSeconds: ttl, maxUses: row.max_uses },
      });
      const base = s.publicUrl(request);
      return {
        id: row.id,
        token,
        accountId: account.id,
        accountName: account.name,
        expiresAt: row.expires_at,
        maxUses: row.max_uses,
        installCommand: installCommand(base, token),
        agentCommand: `tether agent --endpoint ${shellQuote(base)} --join-token ${shellQuote(token)} --state ./tether-agent-state`,
      };
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/join-tokens',
    summary: 'List join tokens (never the secret)',
    tag: 'agents',
    handler: async ({ principal }) => {
      await s.guard.require(principal, 'join_token.read', principal.accountId);
      const rows = await s.db
        .selectFrom('join_tokens')
        .selectAll()
        .where(joinTokenScope(principal) as never)
        .execute();
      await s.audit.append({
        kind: 'joinTokensListed',
        actor: actorOf(principal),
        accountId: principal.accountId,
        result: { count: rows.length },
      });
      return {
        joinTokens: rows.map((r) => ({
          id: r.id,
          accountId: r.account_id,
          createdAt: r.created_at,
          expiresAt: r.expires_at,
          maxUses: r.max_uses,
          uses: r.uses,
          revokedAt: r.revoked_at,
        })),
      };
    },
  });

  api.route({
    method: 'DELETE',
    url: '/api/v1/join-tokens/:id',
    summary: 'Revoke a join token',
    tag: 'agents',
    params: IdParams,
    handler: async ({ principal, params }) => {
      const row = await s.joinTokens.get(params.id);
      if (!row || (principal.role === 'customer' && row.account_id !== principal.accountId)) {
        await s.guard.denied(
          principal,
          'join_token.revoke',
          { tokenId: params.id },
          row?.account_id ?? null,
        );
        throw new TetherError('not_found', 'no such join token');
      }
      await s.guard.require(principal, 'join_token.revoke', row.account_id);
      await s.joinTokens.revoke(row.id);
      await s.audit.append({
        kind: 'joinTokenRevoked',
        actor: actorOf(principal),
        accountId: row.account_id,
        params: { tokenId: row.id },
      });
      return { id: row.id, revoked: true };
    },
  });
}

export function agentView(row: {
  id: string;
  name: string;
  account_id: string;
  account_name: string;
  os: string;
  arch: string;
  version: string;
  hostname: string | null;
  connected_node: string | null;
  connected_at: string | null;
  last_seen_at: string | null;
  enrolled_at: string;
  revoked_at: string | null;
}): AgentView {
  return {
    id: row.id,
    name: row.name,
    accountId: row.account_id,
    accountName: row.account_name,
    online: row.connected_node !== null,
    revoked: row.revoked_at !== null,
    os: row.os,
    arch: row.arch,
    version: row.version,
    hostname: row.hostname,
    connectedAt: row.connected_at,
    lastSeenAt: row.last_seen_at,
    enrolledAt: row.enrolled_at,
    revokedAt: row.revoked_at,
  };
}
