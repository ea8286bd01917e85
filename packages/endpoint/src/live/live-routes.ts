/** `/api/v1/live`: a client subscribes to topics and gets each event it may see as it happens. */
import type { FastifyInstance } from 'fastify';
import type WebSocket from 'ws';
import { LiveClientMessage, type LiveServerMessage } from '@tether/protocol';
import type { Services } from '../services.ts';
import { wsGate, wsPrincipal } from '../http/ws-auth.ts';
import { parseJson, sendJson } from '../http/ws-json.ts';

/** A live subscriber that lets this much pile up is too slow; it is closed, not waited for. */
const LIVE_MAX_BUFFERED_BYTES = 8 * 1024 * 1024;
const MAX_LIVE_MESSAGE_BYTES = 16 * 1024;

export function liveRoutes(app: FastifyInstance, s: Services): void {
  app.get('/api/v1/live', { websocket: true, preValidation: wsGate(s) }, (socket, request) => {
    const ws = socket as unknown as WebSocket;
    void wsPrincipal(s, request).then((principal) => {
      const subscriptions = new Map<string, () => void>();
      ws.on('message', (data, isBinary) => {
        if (isBinary || (data as Buffer).length > MAX_LIVE_MESSAGE_BYTES) {
          return ws.close(1008, 'text JSON only');
        }
        const message = LiveClientMessage.safeParse(parseJson(data.toString()));
        if (!message.success) return fail(ws, 'unknown message');
        if (message.data.type === 'ping') return send(ws, { type: 'pong' });

        const unknown = message.data.topics.filter((name) => !s.live.get(name));
        if (unknown.length > 0)
          return fail(
            ws,
            `unknown topic ${unknown.join(', ')}; known: ${s.live.names().join(', ')}`,
          );
        for (const name of message.data.topics) {
          const topic = s.live.get(name)!;
          if (subscriptions.has(name)) continue;
          const off = s.bus.subscribe(topic.subject, (payload) => {
            if (!topic.visible(principal, payload)) return;
            if (ws.bufferedAmount > LIVE_MAX_BUFFERED_BYTES) return ws.terminate();
            // The audit topic keeps its original shape; the others name themselves.
            if (name === 'audit') sendJson(ws, { type: 'audit', event: payload });
            else send(ws, { type: 'event', topic: name, event: payload });
          });
          subscriptions.set(name, off);
        }
        send(ws, { type: 'subscribed', topics: [...subscriptions.keys()] });
      });
      ws.on('close', () => subscriptions.forEach((off) => off()));
    });
  });
}

function fail(ws: WebSocket, message: string): void {
  send(ws, { type: 'error', error: { code: 'invalid_request', message } });
}

const send = (ws: WebSocket, message: LiveServerMessage): void => sendJson(ws, message);
