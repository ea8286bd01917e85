/** Terminal sessions over REST: list, one, end, and the recording with its keyframes. */
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { TetherError } from '@tether/protocol';
import { canEndTerminal, canWatchTerminal, terminalScope } from '../audit/visibility.ts';
import { actorOf } from '../agents/guard.ts';
import type { Principal } from '../auth/principal.ts';
import type { Api } from '../http/api.ts';
import type { Services } from '../services.ts';
import type { TerminalSessionsTable } from '../store/schema.ts';
import { parseView, playbackIndex, playbackSegment, type RecordingFiles } from './playback.ts';
import { TERMINAL_EVENT_SUBJECT } from './terminal-service.ts';

const IdParams = z.object({ id: z.string().min(1).max(64) });
const ListQuery = z.strictObject({
  agent: z.string().max(64).optional(),
  ticket: z.string().max(64).optional(),
  status: z.enum(['live', 'ended', 'interrupted']).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const EndBody = z.strictObject({ reason: z.string().max(200).optional() }).optional();
const SegmentQuery = z.strictObject({
  at: z
    .string()
    .max(32)
    .regex(/^-?\d+(\.\d+)?$/, 'expected seconds, a number')
    .transform(Number)
    .pipe(z.number().min(0, 'seconds from the start, not negative')),
  view: z.string().max(40).optional(),
});

export function terminalRoutes(api: Api, s: Services): void {
  s.live.add({
    name: 'terminals',
    subject: TERMINAL_EVENT_SUBJECT,
    visible: (p, payload) => {
      const { session } = payload as { session: { accountId: string; engineerId: string } };
      return canWatchTerminal(p, {
        account_id: session.accountId,
        engineer_id: session.engineerId,
      });
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/terminals',
    summary: 'Terminal sessions the caller may watch, newest first; ?agent=&ticket=&status=',
    tag: 'terminals',
    query: ListQuery,
    handler: async ({ query, principal }) => {
      let q = s.db
        .selectFrom('terminal_sessions')
        .selectAll()
        .where(terminalScope(principal) as never)
        .orderBy('started_at', 'desc')
        .limit(query.limit);
      if (query.agent) q = q.where('agent_id', '=', query.agent);
      if (query.ticket) q = q.where('ticket_id', '=', query.ticket);
      if (query.status) q = q.where('status', '=', query.status);
      const rows = await q.execute();
      const names = await usernames(s, rows);
      return { sessions: rows.map((row) => view(row, names)) };
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/terminals/:id',
    summary: 'One terminal session',
    tag: 'terminals',
    params: IdParams,
    handler: async ({ params, principal }) => {
      const row = await visible(s, principal, params.id, 'terminal.read');
      return { session: view(row, await usernames(s, [row])) };
    },
  });

  api.route({
    method: 'POST',
    url: '/api/v1/terminals/:id/end',
    summary: 'Ends a live session (its engineer or any customer of the account)',
    tag: 'terminals',
    params: IdParams,
    body: EndBody,
    handler: async ({ params, body, principal }) => {
      const row = await visible(s, principal, params.id, 'terminal.end');
      if (!canEndTerminal(principal, row)) {
        await s.guard.denied(
          principal,
          'terminal.end',
          { sessionId: row.id, agentId: row.agent_id },
          row.account_id,
        );
        throw new TetherError('forbidden', 'you may not end this session');
      }
      if (row.status !== 'live')
        throw new TetherError('conflict', `the session has already ${row.status}`);
      s.terminals.end(principal, row, body?.reason ?? `ended by ${principal.username}`);
      return { ok: true };
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/terminals/:id/recording',
    summary: 'The session’s asciicast v2 recording (application/x-asciicast)',
    tag: 'terminals',
    params: IdParams,
    handler: async ({ params, principal, reply }) => {
      const row = await visible(s, principal, params.id, 'recording.export');
      const file = join(s.terminals.recordingsDir, row.recording);
      if (!existsSync(file)) throw new TetherError('not_found', 'the recording is missing');
      await s.audit.append({
        kind: 'recordingExported',
        actor: actorOf(principal),
        accountId: row.account_id,
        agentId: row.agent_id,
        ticketId: row.ticket_id,
        sessionId: row.id,
        params: { status: row.status },
      });
      return reply
        .type('application/x-asciicast')
        .header('content-disposition', `attachment; filename="${row.id}.cast"`)
        .send(createReadStream(file));
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/terminals/:id/playback',
    summary:
      'The recording cut at its keyframes, for asciinema-player ({url, format: "segmented"}): ' +
      '{version: 1, duration, term, markers, segments: [{start, url}]}',
    tag: 'terminals',
    params: IdParams,
    handler: async ({ params, principal }) => {
      const row = await visible(s, principal, params.id, 'recording.play');
      const files = recordingFiles(s, row);
      if (!existsSync(files.cast)) throw new TetherError('not_found', 'the recording is missing');
      const index = await playbackIndex(
        files,
        (at, view) =>
          `/api/v1/terminals/${encodeURIComponent(row.id)}/playback/segment?at=${at}&view=${view}`,
      );
      await s.audit.append({
        kind: 'recordingPlayed',
        actor: actorOf(principal),
        accountId: row.account_id,
        agentId: row.agent_id,
        ticketId: row.ticket_id,
        sessionId: row.id,
        params: { status: row.status },
        result: { duration: index.duration, segments: index.segments.length },
      });
      return index;
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/terminals/:id/playback/segment',
    summary:
      'The recording from the last keyframe at or before ?at=SECONDS to the next: ' +
      '{snapshot: {cols, rows, init}, events}; times as recorded',
    tag: 'terminals',
    params: IdParams,
    query: SegmentQuery,
    handler: async ({ params, query, principal, reply }) => {
      const row = await visible(s, principal, params.id, 'recording.play');
      const files = recordingFiles(s, row);
      if (!existsSync(files.cast)) throw new TetherError('not_found', 'the recording is missing');
      const view = query.view === undefined ? undefined : parseView(query.view);
      const segment = await playbackSegment(files, query.at, view);
      // A segment of a given view never changes: the player may keep it while the page lives.
      if (view) reply.header('cache-control', 'private, max-age=3600');
      return reply.type('application/json').send(segment);
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/terminals/:id/keyframes',
    summary: 'Screen snapshots for seeking: [{t, offset, cols, rows, screen}]',
    tag: 'terminals',
    params: IdParams,
    handler: async ({ params, principal }) => {
      const row = await visible(s, principal, params.id, 'terminal.read');
      const file = join(s.terminals.recordingsDir, `${row.id}.keyframes.jsonl`);
      if (!existsSync(file)) return { keyframes: [] };
      const keyframes = readFileSync(file, 'utf8')
        .split('\n')
        .filter((line) => line.length > 0)
        .flatMap((line) => {
          try {
            return [JSON.parse(line)];
          } catch {
            // A line cut short by a crash: the keyframes before it still serve.
            return [];
          }
        });
      return { keyframes };
    },
  });
}

function recordingFiles(s: Services, row: TerminalSessionsTable): RecordingFiles {
  return {
    cast: join(s.terminals.recordingsDir, row.recording),
    keyframes: join(s.terminals.recordingsDir, `${row.id}.keyframes.jsonl`),
  };
}

async function visible(s: Services, p: Principal, id: string, action: string) {
  const row = await s.db
    .selectFrom('terminal_sessions')
    .selectAll()
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row || !canWatchTerminal(p, row)) {
    await s.guard.denied(
      p,
      action,
      { sessionId: id, agentId: row?.agent_id },
      row?.account_id ?? null,
    );
    throw new TetherError('not_found', 'no such terminal session');
  }
  return row;
}

/** Who ended each session, by username, as the live `ended` message names them. */
async function usernames(s: Services, rows: TerminalSessionsTable[]): Promise<Map<string, string>> {
  const ids = [...new Set(rows.flatMap((r) => (r.ended_by ? [r.ended_by] : [])))];
  if (ids.length === 0) return new Map();
  const users = await s.db
    .selectFrom('users')
    .select(['id', 'username'])
    .where('id', 'in', ids)
    .execute();
  return new Map(users.map((u) => [u.id, u.username]));
}

function view(row: TerminalSessionsTable, names: Map<string, string>) {
  return {
    id: row.id,
    agentId: row.agent_id,
    accountId: row.account_id,
    ticketId: row.ticket_id,
    approvalId: row.approval_id,
    engineerId: row.engineer_id,
    status: row.status,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    endedBy: row.ended_by,
    endedByName: row.ended_by ? (names.get(row.ended_by) ?? null) : null,
    endReason: row.end_reason,
    cols: row.cols,
    rows: row.rows,
    bytesOut: Number(row.bytes_out),
    bytesIn: Number(row.bytes_in),
  };
}
