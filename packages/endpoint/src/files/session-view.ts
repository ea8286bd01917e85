/** A file session's row as the API shows it. */
import type { FileSessionView } from '@tether/protocol';
import type { FileSessionsTable } from '../store/schema.ts';

export function sessionView(row: FileSessionsTable): FileSessionView {
  return {
    id: row.id,
    agentId: row.agent_id,
    accountId: row.account_id,
    ticketId: row.ticket_id,
    userId: row.user_id,
    username: row.username,
    canWrite: row.can_write === 1,
    roots: JSON.parse(row.roots) as string[],
    startedAt: row.started_at,
    endedAt: row.ended_at,
    endReason: row.end_reason,
    status: row.status,
  };
}
