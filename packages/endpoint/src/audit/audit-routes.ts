/** The audit log over HTTP: filtered listing, chain verification, and its live topic. */
import { z } from 'zod';
import type { AuditEventView } from '@tether/protocol';
import type { Api } from '../http/api.ts';
import type { Services } from '../services.ts';
import { actorOf } from '../agents/guard.ts';
import { AUDIT_EVENT_SUBJECT } from './audit-log.ts';
import { canSeeAuditEvent } from './visibility.ts';

const time = z
  .string()
  .max(40)
  .refine((t) => !Number.isNaN(Date.parse(t)), 'not a time');

export function auditRoutes(api: Api, s: Services): void {
  api.route({
    method: 'GET',
    url: '/api/v1/audit',
    summary: 'Audit events the caller may see, newest first, with cursor paging',
    tag: 'audit',
    query: z.strictObject({
      since: time.optional(),
      until: time.optional(),
      agent: z.string().max(64).optional(),
      actor: z.string().max(200).optional(),
      account: z.string().max(64).optional(),
      code: z.string().max(16).optional(),
      limit: z.coerce.number().int().positive().max(1000).optional(),
      cursor: z.string().max(200).optional(),
    }),
    handler: async ({ principal, query }) => {
      const actorId = query.actor ? await resolveActor(s, query.actor) : undefined;
      const page = await s.audit.list(principal, {
        since: query.since ? new Date(query.since).toISOString() : undefined,
        until: query.until ? new Date(query.until).toISOString() : undefined,
        agentId: query.agent,
        actorId,
        accountId: query.account,
        code: query.code,
        limit: query.limit,
        cursor: query.cursor,
      });
      return page;
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/audit/verify',
    summary: 'Walk the hash chain of the whole audit log (admin)',
    tag: 'audit',
    handler: async ({ principal }) => {
      await s.guard.require(principal, 'audit.verify');
      const result = await s.audit.verify();
      await s.audit.append({
        kind: 'auditRead',
        actor: actorOf(principal),
        params: { verify: true },
        result: { ...result },
      });
      return result;
    },
  });

  s.live.add({
    name: 'audit',
    subject: AUDIT_EVENT_SUBJECT,
    visible: (principal, payload) => {
      const event = payload as unknown as AuditEventView;
      return canSeeAuditEvent(principal, { actor_id: event.actorId, account_id: event.accountId });
    },
  });
}

/** `actor` may be a user id or a username. */
async function resolveActor(s: Services, actor: string): Promise<string> {
  const user = await s.db
    .selectFrom('users')
    .select('id')
    .where((eb) => eb.or([eb('id', '=', actor), eb('username', '=', actor)]))
    .executeTakeFirst();
  return user?.id ?? actor;
}
