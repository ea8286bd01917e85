/** Port forwards over HTTP: ask, list, look at, end; and the two sockets of a forward. */
import type { FastifyInstance } from 'fastify';
import type WebSocket from 'ws';
import { z } from 'zod';
import { ForwardCreate, TetherError } from '@tether/protocol';
import { canEndForward, canSeeForward } from '../audit/visibility.ts';
import type { Api } from '../http/api.ts';
import { wsGate, wsPrincipal } from '../http/ws-auth.ts';
import { sendJson } from '../http/ws-json.ts';
import type { Services } from '../services.ts';
import type { EarlyFrame } from './forward-connections.ts';
import { closeCode } from './forward-pump.ts';
import { FORWARD_EVENT_SUBJECT, type ForwardEvent } from './forward-service.ts';

/** What a client may send before its connection's tunnel opens; past this its socket waits. */
const EARLY_MAX_BYTES = 1024 * 1024;
const MAX_EARLY_CONTROL_FRAMES = 4;

const IdParams = z.strictObject({ id: z.string().min(1).max(64) });
const ListQuery = z.strictObject({
  status: z.enum(['pending', 'live', 'ended', 'refused']).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
});

export function forwardRoutes(api: Api, app: FastifyInstance, s: Services): void {
  s.live.add({
    name: 'forwards',
    subject: FORWARD_EVENT_SUBJECT,
    visible: (p, payload) => {
      const { forward } = payload as ForwardEvent;
      return canSeeForward(p, { account_id: forward.accountId, user_id: forward.userId });
    },
  });

  api.route({
    method: 'POST',
    url: '/api/v1/agents/:id/forwards',
    summary:
      'Asks for a port forward to {target: "host:port", ticket?} seen from the server: live at once, or pending until the customer decides; 403 when the policy refuses the target',
    tag: 'forwards',
    params: IdParams,
    body: ForwardCreate,
    handler: async ({ params, body, principal, reply }) => {
      const forward = await s.forwards.create(principal, params.id, body);
      reply.code(forward.status === 'pending' ? 202 : 201);
      return { forward };
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/agents/:id/forwards',
    summary:
      'The server’s forwards the caller may see, newest first, each with its latest connections',
    tag: 'forwards',
    params: IdParams,
    query: ListQuery,
    handler: async ({ params, query, principal }) => {
      await s.guard.agent(principal, params.id, 'agent.read');
      return { forwards: await s.forwards.list(principal, params.id, query) };
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/forwards/:id',
    summary: 'One forward with up to 1,000 of its latest connections (bytes each way, duration)',
    tag: 'forwards',
    params: IdParams,
    handler: async ({ params, principal }) => {
      const row = await s.forwards.visible(principal, params.id, 'forward.read');
      return { forward: await s.forwards.view(await s.forwards.settle(row)) };
    },
  });

  api.route({
    method: 'DELETE',
    url: '/api/v1/forwards/:id',
    summary: 'Ends a forward and closes its connections (its person, the account’s customers)',
    tag: 'forwards',
    params: IdParams,
    handler: async ({ params, principal }) => {
      const row = await s.forwards.visible(principal, params.id, 'forward.end');
      if (!canEndForward(principal, row)) {
        await s.guard.denied(
          principal,
          'forward.end',
          { forwardId: row.id, agentId: row.agent_id },
          row.account_id,
        );
        throw new TetherError('forbidden', 'you may not end this forward');
      }
      if (row.status === 'ended' || row.status === 'refused')
        throw new TetherError('conflict', `the forward has already ${row.status}`);
      const ended = await s.forwards.end(principal, row, `ended by ${principal.username}`);
      return { forward: await s.forwards.view(ended) };
    },
  });

  app.get(
    '/api/v1/forwards/:id/connect',
    { websocket: true, preValidation: wsGate(s) },
    (socket, request) => {
      const ws = socket as unknown as WebSocket;
      const id = String((request.params as { id?: string }).id ?? '');
      const early: EarlyFrame[] = [];
      let earlyBytes = 0;
      const hold = (data: Buffer, isBinary: boolean): void => {
        early.push([Buffer.from(data), isBinary]);
        earlyBytes += data.length;
        if (earlyBytes > EARLY_MAX_BYTES) ws.pause();
      };
      ws.on('message', hold);
      void (async () => {
        const principal = await wsPrincipal(s, request);
        await s.forwards.connections.serve(principal, id, ws, early, () => ws.off('message', hold));
      })().catch((error) => refuse(s, ws, error, id));
    },
  );

  app.get(
    '/api/v1/forwards/:id/socket',
    { websocket: true, preValidation: wsGate(s) },
    (socket, request) => {
      const ws = socket as unknown as WebSocket;
      const id = String((request.params as { id?: string }).id ?? '');
      // Frames sent while the forward is looked up wait here; a real client sends one at most.
      const early: EarlyFrame[] = [];
      const hold = (data: Buffer, isBinary: boolean): void => {
        if (early.length < MAX_EARLY_CONTROL_FRAMES) early.push([data, isBinary]);
      };
      ws.on('message', hold);
      void (async () => {
        const principal = await wsPrincipal(s, request);
        await s.forwards.holders.hold(principal, id, ws, early, () => ws.off('message', hold));
      })().catch((error) => refuse(s, ws, error, id));
    },
  );

  api.describe({
    method: 'GET',
    url: '/api/v1/forwards/:id/connect',
    summary:
      'WebSocket, one per TCP connection: {"type":"open"} once the target answered, then binary frames are bytes both ways; {"type":"eof"} half-closes; {"type":"error"} and a 4xxx close say why',
    tag: 'forwards',
  });
  api.describe({
    method: 'GET',
    url: '/api/v1/forwards/:id/socket',
    summary:
      'WebSocket that holds a forward (it ends ~30 s after the last holder leaves): {"type":"forward"} on each change, {"type":"agent","online"}; send {"type":"end"} to end it',
    tag: 'forwards',
  });
}

function refuse(s: Services, ws: WebSocket, cause: unknown, forwardId: string): void {
  if (!(cause instanceof TetherError))
    s.log.error({ err: cause, forwardId }, 'forward socket failed');
  const known =
    cause instanceof TetherError ? cause : new TetherError('internal', 'internal error');
  sendJson(ws, { type: 'error', error: known.toWire() });
  ws.close(closeCode(known.status), known.code);
}
