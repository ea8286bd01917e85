/** JSON text frames on browser and CLI sockets: parse without throwing, send only when open. */
import type WebSocket from 'ws';

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Not JSON: the caller's schema check turns null into a clear error message.
    return null;
  }
}

export function sendJson(ws: WebSocket, message: object): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
}
