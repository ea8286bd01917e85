/** File sessions that saw no recorded file work for an hour end by themselves. */
import type { Kysely } from 'kysely';
import type { AuditLog } from '../audit/audit-log.ts';
import { nowIso } from '../auth/secrets.ts';
import type { Database } from '../store/schema.ts';
import type { FileChannels } from './channels.ts';
import type { FileSessionLive } from './file-session-live.ts';

/**
 * A session with no recorded file work (a listing, a view, a change) for this long ends by
 * itself: one approval does not open a server's files for good. Follow-mode polls of a file
 * already open are not recorded, so a log followed for longer than this needs a new session.
 */
export const FILE_SESSION_IDLE_MS = 60 * 60_000;
export async function endIdleSessions(
  deps: { db: Kysely<Database>; audit: AuditLog; channels: FileChannels; live: FileSessionLive },
  now: number,
): Promise<number> {
  const { db } = deps;
  const cutoff = new Date(now - FILE_SESSION_IDLE_MS).toISOString();
  const idle = await db
    .selectFrom('file_sessions as s')
    .select(['s.id'])
    .where('s.status', '=', 'live')
    .where('s.started_at', '<', cutoff)
    .where(({ not, exists, selectFrom }) =>
      not(
        exists(
          selectFrom('file_events as e')
            .select('e.id')
            .whereRef('e.session_id', '=', 's.id')
            .where('e.created_at', '>=', cutoff),
        ),
      ),
    )
    .execute();
  let ended = 0;
  for (const { id } of idle) {
    const reason = `idle for ${FILE_SESSION_IDLE_MS / 60_000} minutes`;
    const done = await db
      .updateTable('file_sessions')
      .set({ status: 'ended', ended_at: nowIso(), end_reason: reason })
      .where('id', '=', id)
      .where('status', '=', 'live')
      .executeTakeFirst();
    if (Number(done.numUpdatedRows) !== 1) continue;
    ended++;
    const row = (await load(deps.db, id))!;
    deps.channels.closeSession(id);
    await deps.audit.append({
      kind: 'fileSessionEnded',
      actor: null,
      accountId: row.account_id,
      agentId: row.agent_id,
      ticketId: row.ticket_id,
      sessionId: id,
      params: { userId: row.user_id },
      result: { reason },
    });
    deps.live.publish(id, { type: 'ended', by: null, reason });
    deps.live.announce(row, 'ended');
  }
  return ended;
}

function load(db: Kysely<Database>, id: string) {
  return db.selectFrom('file_sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}
