/** A server's chat room over HTTP: history and posting by REST, and a live WebSocket. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type WebSocket from 'ws';
import { z } from 'zod';
import { TetherError, type WireError } from '@tether/protocol';
import type { Api } from '../http/api.ts';
import type { Principal } from '../auth/principal.ts';
import type { Services } from '../services.ts';
import { describeZod } from '../http/errors.ts';
import { wsGate, wsPrincipal } from '../http/ws-auth.ts';
import { parseJson, sendJson } from '../http/ws-json.ts';
import { CHAT_PAGE_MAX, ChatInput, ChatRooms, chatSubject, type ChatMessageEvent } from './chat.ts';

export const CHAT_SOCKET_URL = '/api/v1/agents/:id/chat/socket';
/**
 * One `send` holds at most 4000 characters; JSON escapes a control character as six bytes
 * (`\u0001`), so 4000 of them with the envelope stay under 32 KiB. Anything larger is not ours.
 */
const MAX_FRAME_BYTES = 32 * 1024;
/** A viewer that lets this much pile up is too slow; it is closed, not waited for. */
const MAX_BUFFERED_BYTES = 4 * 1024 * 1024;
/** RFC 6455 §7.4.1: 1003 unacceptable data type, 1009 message too big. */
const CLOSE_UNSUPPORTED_DATA = 1003;
const CLOSE_TOO_BIG = 1009;
/** RFC 6455 §7.4.2 leaves 4000–4999 to applications: 4000 + HTTP status (4404: not found). */
const CLOSE_APPLICATION_BASE = 4000;
const CLOSE_INTERNAL_ERROR = 1011;

const IdParams = z.strictObject({ id: z.string().min(1).max(64) });

/** What a client may send on the socket. `ref` is echoed back on the answer to that send. */
export const ChatClientMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('send'), ref: z.string().max(64).optional(), ...ChatInput }),
  z.strictObject({ type: z.literal('ping') }),
]);

export type ChatServerMessage =
  | { type: 'ready'; agentId: string }
  | ChatMessageEvent
  | { type: 'sent'; ref?: string; messageId: string }
  | { type: 'pong' }
  | { type: 'error'; ref?: string; error: WireError };

export function chatRoutes(api: Api, app: FastifyInstance, s: Services): void {
  const rooms = new ChatRooms(s);

  api.route({
    method: 'GET',
    url: '/api/v1/agents/:id/chat',
    summary: "A page of the server's chat room, oldest to newest; pass nextCursor as before",
    tag: 'chat',
    params: IdParams,
    query: z.strictObject({
      before: z.string().max(200).optional(),
      limit: z.coerce.number().int().positive().max(CHAT_PAGE_MAX).optional(),
    }),
    handler: async ({ principal, params, query }) => rooms.history(principal, params.id, query),
  });

  api.route({
    method: 'POST',
    url: '/api/v1/agents/:id/chat',
    summary: "Write in the server's chat room; the body is plain text, returned exactly as sent",
    tag: 'chat',
    params: IdParams,
    body: z.strictObject(ChatInput),
    handler: async ({ principal, params, body }) => ({
      message: await rooms.post(principal, params.id, body),
    }),
  });

  app.get(CHAT_SOCKET_URL, { websocket: true, preValidation: wsGate(s) }, (socket, request) => {
    serveRoom(s, rooms, socket as unknown as WebSocket, request);
  });
  api.describe({
    method: 'GET',
    url: CHAT_SOCKET_URL,
    summary:
      'WebSocket: {"type":"ready"}, then {"type":"message","message":{…}} per new message; ' +
      'send {"type":"send","body":"…","ticket"?,"ref"?} or {"type":"ping"}; text frames only',
    tag: 'chat',
  });
}

/**
 * Frames are handled one at a time, in order, and only once the caller is known to see the
 * room; a frame that arrives earlier waits for that check rather than being lost.
 */
function serveRoom(s: Services, rooms: ChatRooms, ws: WebSocket, request: FastifyRequest): void {
  const agentId = (request.params as { id: string }).id;
  let off = (): void => {};
  const opened = (async () => {
    const principal = await wsPrincipal(s, request);
    await s.guard.agent(principal, agentId, 'agent.read');
    off = s.bus.subscribe(chatSubject(agentId), (payload) => {
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) return ws.terminate();
      sendJson(ws, payload as object);
    });
    send(ws, { type: 'ready', agentId });
    return principal;
  })().catch((error: unknown) => {
    if (error instanceof TetherError) {
      ws.close(CLOSE_APPLICATION_BASE + error.status, error.message);
    } else {
      s.log.error({ err: error, agentId }, 'chat socket failed to open');
      ws.close(CLOSE_INTERNAL_ERROR, 'internal error');
    }
    return null;
  });
  let queue: Promise<unknown> = opened;

  ws.on('message', (data, isBinary) => {
    if (isBinary) return ws.close(CLOSE_UNSUPPORTED_DATA, 'text frames only');
    if ((data as Buffer).length > MAX_FRAME_BYTES) return ws.close(CLOSE_TOO_BIG, 'frame too big');
    const text = data.toString();
    queue = queue
      .then(async () => {
        const principal = await opened;
        if (principal) await handleFrame(s, rooms, ws, principal, agentId, text);
      })
      .catch((error: unknown) => {
        // handleFrame answers every expected failure itself; this keeps the queue going.
        s.log.error({ err: error, agentId }, 'chat frame failed');
      });
  });
  ws.on('close', () => void opened.then(() => off()));
}

async function handleFrame(
  s: Services,
  rooms: ChatRooms,
  ws: WebSocket,
  principal: Principal,
  agentId: string,
  text: string,
): Promise<void> {
  const json = parseJson(text);
  if (json === null)
    return fail(ws, 'frames are JSON: {"type":"send","body":"…"} or {"type":"ping"}');
  const parsed = ChatClientMessage.safeParse(json);
  if (!parsed.success) {
    const ref = (json as { ref?: unknown }).ref;
    return fail(
      ws,
      describeZod(parsed.error),
      typeof ref === 'string' ? ref.slice(0, 64) : undefined,
    );
  }
  const message = parsed.data;
  if (message.type === 'ping') return send(ws, { type: 'pong' });

  try {
    const posted = await rooms.post(principal, agentId, {
      body: message.body,
      ticket: message.ticket,
    });
    send(ws, { type: 'sent', ref: message.ref, messageId: posted.id });
  } catch (error) {
    if (!(error instanceof TetherError)) s.log.error({ err: error, agentId }, 'chat send failed');
    const wire: WireError = TetherError.wireOf(error, 'internal error');
    send(ws, { type: 'error', ref: message.ref, error: wire });
  }
}

function fail(ws: WebSocket, message: string, ref?: string): void {
  send(ws, { type: 'error', ref, error: { code: 'invalid_request', message } });
}

const send = (ws: WebSocket, message: ChatServerMessage): void => sendJson(ws, message);
