/** Looks up records for a caller: one they may not see answers 404, and the attempt is audited. */
import type { Kysely } from 'kysely';
import { TetherError } from '@tether/protocol';
import type { AuditLog } from '../audit/audit-log.ts';
import { canSeeAgent, may, type Action } from '../audit/visibility.ts';
import type { Principal } from '../auth/principal.ts';
import type { AgentsTable, Database } from '../store/schema.ts';

export class Guard {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly audit: AuditLog,
  ) {}

  /** The agent with this id, if the caller may see it and may do `action` on it. */
  async agent(principal: Principal, agentId: string, action: Action): Promise<AgentsTable> {
    const agent = await this.db
      .selectFrom('agents')
      .selectAll()
      .where('id', '=', agentId)
      .executeTakeFirst();
    if (!agent || !canSeeAgent(principal, agent)) {
      await this.denied(principal, action, { agentId }, agent?.account_id ?? null);
      throw new TetherError('not_found', 'no such agent');
    }
    if (!may(principal, action, { accountId: agent.account_id })) {
      await this.denied(principal, action, { agentId }, agent.account_id);
      throw new TetherError('forbidden', `your role may not ${action.replace('.', ' ')}`);
    }
    return agent;
  }

  /** Throws forbidden (audited) unless the caller may do `action` on that account. */
  async require(
    principal: Principal,
    action: Action,
    accountId: string | null = null,
  ): Promise<void> {
    if (may(principal, action, { accountId })) return;
    await this.denied(principal, action, {}, accountId);
    throw new TetherError('forbidden', `your role may not ${action.replace('.', ' ')}`);
  }

  async denied(
    principal: Principal,
    action: string,
    params: Record<string, unknown>,
    accountId: string | null,
  ): Promise<void> {
    await this.audit.append({
      kind: 'accessDenied',
      actor: { id: principal.userId, name: principal.username, role: principal.role },
      accountId,
      agentId: typeof params.agentId === 'string' ? params.agentId : null,
      params: { action, ...params },
      result: { allowed: false },
    });
  }
}

export function actorOf(principal: Principal) {
  return { id: principal.userId, name: principal.username, role: principal.role };
}
