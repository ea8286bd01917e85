/** The audit log over HTTP: filtered listing, chain verification, and the live socket. */
import type { FastifyInstance } from 'fastify';
import type WebSocket from 'ws';
import { z } from 'zod';
import { LiveClientMessage, type AuditEventView, type LiveServerMessage } from '@tether/protocol';
import type { Api } from '../http/api.ts';
import type { Services } from '../services.ts';
import { actorOf } from '../agents/guard.ts';
import { wsGate, wsPrincipal } from '../http/ws-auth.ts';
import { parseJson, sendJson } from '../http/ws-json.ts';
import { AUDIT_EVENT_SUBJECT } from './audit-log.ts';
import { canSeeAuditEvent } from './visibility.ts';

/** A live subscriber that lets this much pile up is too slow; it is closed, not waited for. */
const LIVE_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const MAX_LIVE_MESSAGE_BYTES = 16 * 1024;

const time = z
  .string()
  .max(40)
  .refine((t) => !Number.isNaN(Date.parse(t)), 'not a time');

export function auditRoutes(api: Api, app: FastifyInstance, s: Services): void {
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

  app.get('/api/v1/live', { websocket: true, preValidation: wsGate(s) }, (socket, request) => {
    const ws = socket as unknown as WebSocket;
    void wsPrincipal(s, request).then((principal) => {
      let unsubscribe: (() => void) | null = null;
      ws.on('message', (data, isBinary) => {
        if (isBinary || (data as Buffer).length > MAX_LIVE_MESSAGE_BYTES)
          return ws.close(1008, 'text JSON only');
        const message = LiveClientMessage.safeParse(parseJson(data.toString()));
        if (!message.success) {
          return send(ws, {
            type: 'error',
            error: { code: 'invalid_request', message: 'unknown message' },
          });
        }
        if (message.data.type === 'ping') return send(ws, { type: 'pong' });
        unsubscribe ??= s.bus.subscribe(AUDIT_EVENT_SUBJECT, (payload) => {
          const event = payload as unknown as AuditEventView;
          if (
            !canSeeAuditEvent(principal, { actor_id: event.actorId, account_id: event.accountId })
          )
            return;
          if (ws.bufferedAmount > LIVE_MAX_BUFFERED_BYTES) return ws.terminate();
          send(ws, { type: 'audit', event });
        });
        send(ws, { type: 'subscribed', topics: message.data.topics });
      });
      ws.on('close', () => unsubscribe?.());
    });
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

const send = (ws: WebSocket, message: LiveServerMessage): void => sendJson(ws, message);
