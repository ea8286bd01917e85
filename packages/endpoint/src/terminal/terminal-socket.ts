/**
 * The terminal WebSockets. Binary frames carry terminal bytes only (output to every viewer,
 * keystrokes from the engineer); text frames carry typed JSON control messages. The two are
 * never mixed, so nothing a program prints can pass for a control message.
 */
import type { FastifyInstance } from 'fastify';
import type WebSocket from 'ws';
import { z } from 'zod';
import { TerminalClientMessage, TetherError, type TerminalServerMessage } from '@tether/protocol';
import { canDriveTerminal, canEndTerminal, canWatchTerminal } from '../audit/visibility.ts';
import { actorOf } from '../agents/guard.ts';
import type { Principal } from '../auth/principal.ts';
import { newId } from '../auth/secrets.ts';
import { wsGate, wsPrincipal } from '../http/ws-auth.ts';
import { parseJson, sendJson } from '../http/ws-json.ts';
import type { Services } from '../services.ts';
import type { TerminalSessionsTable } from '../store/schema.ts';
import type { LiveSession } from './live-session.ts';
import { watchRemote } from './remote-watch.ts';
import { Viewer, type ViewerRole } from './viewer.ts';

/** Control frames are a few dozen bytes; anything far larger is not from a real client. */
const MAX_CONTROL_BYTES = 4 * 1024;
/** Close codes in the private range (RFC 6455 §7.4.2): 4000 + the HTTP status they mirror. */
const closeCode = (status: number): number => 4000 + status;

const OpenQuery = z.object({
  approval: z.string().min(1).max(64),
  agent: z.string().min(1).max(64).optional(),
  ticket: z.string().min(1).max(64).optional(),
  cols: z.coerce.number().int().min(1).max(1000).default(80),
  rows: z.coerce.number().int().min(1).max(500).default(24),
});

export function terminalSockets(app: FastifyInstance, s: Services): void {
  app.get(
    '/api/v1/terminals/socket',
    { websocket: true, preValidation: wsGate(s) },
    (socket, request) => {
      const ws = socket as unknown as WebSocket;
      void (async () => {
        const principal = await wsPrincipal(s, request);
        const query = OpenQuery.safeParse(request.query);
        if (!query.success)
          return refuse(
            ws,
            new TetherError('invalid_request', 'give ?approval=ID (and agent, ticket, cols, rows)'),
          );
        const { approval, agent, ticket, cols, rows } = query.data;
        // Keystrokes that race the pty's opening wait here, in order.
        const early: Buffer[] = [];
        const holdEarly = (data: Buffer, isBinary: boolean): void => {
          if (isBinary) early.push(Buffer.from(data));
        };
        ws.on('message', holdEarly);
        let session: LiveSession;
        try {
          session = await s.terminals.open(principal, {
            approvalId: approval,
            agentId: agent,
            ticketId: ticket,
            cols,
            rows,
          });
        } catch (error) {
          await s.audit.append({
            kind: 'terminalRefused',
            actor: actorOf(principal),
            agentId: agent ?? null,
            ticketId: ticket ?? null,
            params: { approvalId: approval },
            result: {
              allowed: false,
              reason: error instanceof TetherError ? error.message : 'internal error',
            },
          });
          return refuse(ws, error);
        }
        ws.off('message', holdEarly);
        const viewer = new Viewer(ws, principal, 'engineer');
        attach(s, session, viewer);
        for (const bytes of early) session.input(bytes);
      })().catch((error) => {
        s.log.error({ err: error }, 'terminal socket failed');
        refuse(ws, error);
      });
    },
  );

  app.get(
    '/api/v1/terminals/:id/socket',
    { websocket: true, preValidation: wsGate(s) },
    (socket, request) => {
      const ws = socket as unknown as WebSocket;
      const id = String((request.params as { id?: string }).id ?? '');
      void (async () => {
        const principal = await wsPrincipal(s, request);
        const row = await s.db
          .selectFrom('terminal_sessions')
          .selectAll()
          .where('id', '=', id)
          .executeTakeFirst();
        if (!row || !canWatchTerminal(principal, row)) {
          await s.guard.denied(
            principal,
            'terminal.watch',
            { sessionId: id, agentId: row?.agent_id },
            row?.account_id ?? null,
          );
          return refuse(ws, new TetherError('not_found', 'no such terminal session'));
        }
        if (row.status !== 'live')
          return refuse(
            ws,
            new TetherError('gone', `the session has ${row.status}; play its recording instead`),
          );
        const session = s.terminals.local(id);
        if (session) {
          const viewer = new Viewer(ws, principal, 'observer');
          attach(s, session, viewer);
          session.marker(`joined: ${principal.username}`);
        } else if (row.node_id !== s.nodeId) {
          try {
            await watchElsewhere(s, row, principal, ws);
          } catch (error) {
            if (!(error instanceof TetherError)) throw error;
            return refuse(ws, error);
          }
        } else {
          return refuse(ws, new TetherError('gone', 'the session has ended'));
        }
        await s.audit.append({
          kind: 'terminalJoined',
          actor: actorOf(principal),
          accountId: row.account_id,
          agentId: row.agent_id,
          ticketId: row.ticket_id,
          sessionId: id,
          params: { role: 'observer' },
        });
      })().catch((error) => {
        s.log.error({ err: error, sessionId: id }, 'terminal watch socket failed');
        refuse(ws, error);
      });
    },
  );
}

/**
 * A watcher whose socket landed on this process while another runs the session: the bus
 * carries the session's output here (remote-watch.ts). Ending it works as for a local
 * watcher; keystrokes are dropped here and never leave this process.
 */
async function watchElsewhere(
  s: Services,
  row: TerminalSessionsTable,
  principal: Principal,
  ws: WebSocket,
): Promise<void> {
  // The watcher may hang up while the other node is still answering.
  let leave: (() => void) | null = null;
  let gone = false;
  ws.on('close', () => {
    gone = true;
    leave?.();
  });
  leave = await watchRemote(
    s.bus,
    row.node_id,
    { sessionId: row.id, watchId: newId(), principal },
    {
      binary: (chunk, written) => {
        if (ws.readyState === ws.OPEN) ws.send(chunk, { binary: true }, written);
      },
      text: (message) => {
        if (ws.readyState === ws.OPEN) ws.send(message);
      },
      close: (code, reason) => ws.close(code, reason),
    },
  );
  let dropAudited = false;
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) {
      if (!dropAudited) dropKeystrokes(s, row, principal, ws, data.length, 'observer');
      dropAudited = true;
      return;
    }
    const message = controlMessage(ws, data);
    if (!message) return;
    if (message.type === 'resize') return error(ws, 'forbidden', 'this view is read-only');
    if (!canEndTerminal(principal, row))
      return error(ws, 'forbidden', 'you may not end this session');
    s.terminals.end(principal, row, `ended by ${principal.username}`);
  });
  if (gone) leave();
  s.log.debug({ sessionId: row.id, node: row.node_id }, 'watching a session on another node');
}

function attach(s: Services, session: LiveSession, viewer: Viewer): void {
  const { principal } = viewer;
  const ws = viewer.ws as WebSocket;
  const log = s.log.child({ sessionId: session.id, user: principal.username, role: viewer.role });
  session.join(viewer);
  ws.on('message', (data: Buffer, isBinary: boolean) => {
    if (isBinary) return keystrokes(s, session, viewer, data);
    const message = controlMessage(ws, data);
    if (!message) return;
    if (message.type === 'resize') {
      if (viewer.role !== 'engineer') return error(ws, 'forbidden', 'this view is read-only');
      log.debug({ cols: message.cols, rows: message.rows }, 'resize');
      return session.resize(message.cols, message.rows);
    }
    if (!canEndTerminal(principal, session.row))
      return error(ws, 'forbidden', 'you may not end this session');
    session.end(principal, `ended by ${principal.username}`);
  });
  ws.on('close', () => {
    session.leave(viewer);
    // The engineer's terminal is the session: when it goes, the shell is hung up.
    if (viewer.role === 'engineer' && !session.isEnded)
      session.end(principal, 'the engineer disconnected');
  });
}

/** A text frame as a client message, or null after telling the client what is wrong with it. */
function controlMessage(ws: WebSocket, data: Buffer): TerminalClientMessage | null {
  if (data.length > MAX_CONTROL_BYTES) {
    error(ws, 'invalid_request', 'control frame too large');
    return null;
  }
  const parsed = TerminalClientMessage.safeParse(parseJson(data.toString('utf8')));
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const where = issue?.path.join('.') || 'message';
  error(ws, 'invalid_request', `${where}: ${issue?.message.toLowerCase() ?? 'invalid'}`);
  return null;
}

function keystrokes(s: Services, session: LiveSession, viewer: Viewer, data: Buffer): void {
  if (viewer.role === 'engineer' && canDriveTerminal(viewer.principal, session.row))
    return session.input(data);
  if (viewer.inputDropAudited) return;
  viewer.inputDropAudited = true;
  const ws = viewer.ws as WebSocket;
  dropKeystrokes(s, session.row, viewer.principal, ws, data.length, viewer.role);
}

/** Keystrokes from a read-only view: the viewer is told once, and it is audited once. */
function dropKeystrokes(
  s: Services,
  row: TerminalSessionsTable,
  principal: Principal,
  ws: WebSocket,
  bytes: number,
  role: ViewerRole,
): void {
  error(ws, 'forbidden', 'this view is read-only: keystrokes are dropped');
  void s.audit
    .append({
      kind: 'terminalInputDropped',
      actor: actorOf(principal),
      accountId: row.account_id,
      agentId: row.agent_id,
      ticketId: row.ticket_id,
      sessionId: row.id,
      params: { bytes, role },
      result: { allowed: false, reason: 'read-only viewer' },
    })
    .catch((err) => s.log.error({ err, sessionId: row.id }, 'cannot audit dropped input'));
}

function error(ws: WebSocket, code: string, message: string): void {
  send(ws, { type: 'error', error: { code, message } });
}

function refuse(ws: WebSocket, cause: unknown): void {
  const known =
    cause instanceof TetherError ? cause : new TetherError('internal', 'internal error');
  error(ws, known.code, known.message);
  ws.close(closeCode(known.status), known.code);
}

const send = (ws: WebSocket, message: TerminalServerMessage): void => sendJson(ws, message);
