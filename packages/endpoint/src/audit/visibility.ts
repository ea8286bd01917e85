/** Who sees which records and may do what: the one module that decides, for code and for SQL. */
/*
 * | role     | sees audit events           | sees agents    | may                              |
 * |----------|-----------------------------|----------------|----------------------------------|
 * | admin    | all                         | all            | everything                       |
 * | manager  | theirs and their reports'   | all            | what an engineer may             |
 * | engineer | their own                   | all            | read and exec on any agent       |
 * | customer | all on their account        | their account's| exec, revoke, join tokens there  |
 *
 * Staff serve every account, so they see every agent and account; what they did is what they
 * see of the record. This module only decides. Callers answer a record the caller may not see
 * with 404, never 403, so an id leaks nothing about what exists; 403 is only for a record the
 * caller sees but may not act on. Callers audit every denied attempt (`AUDIT.accessDenied`).
 * Whether a customer's account enables self-service, and its consent policy, is decided on top
 * of this by the policy code: `may` says only that the role can ever do it there.
 */
import type { Expression, ExpressionBuilder, SqlBool } from 'kysely';
import type { Role } from '@tether/protocol';
import type { Principal } from '../auth/principal.ts';
import type { Database } from '../store/schema.ts';

export type Action =
  | 'agent.read'
  | 'agent.exec'
  | 'agent.revoke'
  | 'join_token.create'
  | 'join_token.read'
  | 'join_token.revoke'
  | 'account.create'
  | 'account.read'
  | 'user.create'
  | 'user.read'
  | 'audit.read'
  | 'audit.verify'
  | 'ticket.create'
  | 'ticket.take'
  | 'chat.write'
  | 'consent.update'
  | 'approval.decide'
  | 'terminal.request'
  | 'files.read.request'
  | 'files.write.request'
  | 'forward.request'
  | 'forward.open'
  | 'files.self_service';

/** How far a role's right reaches: every account, only the caller's own account, or nowhere. */
type Reach = 'all' | 'own' | 'none';

const RULES: Record<Action, Record<Role, Reach>> = {
  'agent.read': { admin: 'all', manager: 'all', engineer: 'all', customer: 'own' },
  // Customers run commands on their own servers as self-service; policy may still switch it off.
  'agent.exec': { admin: 'all', manager: 'all', engineer: 'all', customer: 'own' },
  'agent.revoke': { admin: 'all', manager: 'none', engineer: 'none', customer: 'own' },
  'join_token.create': { admin: 'all', manager: 'none', engineer: 'none', customer: 'own' },
  'join_token.read': { admin: 'all', manager: 'none', engineer: 'none', customer: 'own' },
  'join_token.revoke': { admin: 'all', manager: 'none', engineer: 'none', customer: 'own' },
  'account.create': { admin: 'all', manager: 'none', engineer: 'none', customer: 'none' },
  'account.read': { admin: 'all', manager: 'all', engineer: 'all', customer: 'own' },
  'user.create': { admin: 'all', manager: 'none', engineer: 'none', customer: 'none' },
  'user.read': { admin: 'all', manager: 'all', engineer: 'all', customer: 'own' },
  // Everyone may read the audit log; which events they get is `canSeeAuditEvent`/`auditScope`.
  'audit.read': { admin: 'all', manager: 'all', engineer: 'all', customer: 'all' },
  'audit.verify': { admin: 'all', manager: 'none', engineer: 'none', customer: 'none' },
  'ticket.create': { admin: 'all', manager: 'none', engineer: 'none', customer: 'own' },
  'ticket.take': { admin: 'all', manager: 'all', engineer: 'all', customer: 'none' },
  // A server's chat room is open to whoever may see the server.
  'chat.write': { admin: 'all', manager: 'all', engineer: 'all', customer: 'own' },
  'consent.update': { admin: 'all', manager: 'none', engineer: 'none', customer: 'own' },
  // Consent is the customer's to give: nobody decides for them, admins included.
  'approval.decide': { admin: 'none', manager: 'none', engineer: 'none', customer: 'own' },
  'terminal.request': { admin: 'all', manager: 'all', engineer: 'all', customer: 'none' },
  // Customers need no approval on their own servers; self-service is the account's policy.
  'files.read.request': { admin: 'all', manager: 'all', engineer: 'all', customer: 'none' },
  'files.write.request': { admin: 'all', manager: 'all', engineer: 'all', customer: 'none' },
  'forward.request': { admin: 'all', manager: 'all', engineer: 'all', customer: 'none' },
  // Customers forward on their own servers only when the account's policy enables self-service.
  'forward.open': { admin: 'all', manager: 'all', engineer: 'all', customer: 'own' },
  // Customers browse their own servers' files when the account's policy enables self-service.
  'files.self_service': { admin: 'none', manager: 'none', engineer: 'none', customer: 'own' },
};

type Scope<T extends keyof Database> = (eb: ExpressionBuilder<Database, T>) => Expression<SqlBool>;

/**
 * Whether `p` may do `action` on a record of `target`'s account. Without a target it answers
 * whether the role may do it anywhere at all (a list the caller then narrows with a scope).
 */
export function may(p: Principal, action: Action, target?: { accountId: string | null }): boolean {
  const reach = reachOf(p, action);
  if (reach !== 'own' || target === undefined) return reach !== 'none';
  return ownAccount(p, target.accountId);
}

export function canSeeAgent(p: Principal, agent: { account_id: string }): boolean {
  return may(p, 'agent.read', { accountId: agent.account_id });
}

export function canSeeAuditEvent(
  p: Principal,
  ev: { actor_id: string | null; account_id: string | null },
): boolean {
  switch (p.role) {
    case 'admin':
      return true;
    case 'customer':
      return ownAccount(p, ev.account_id);
    case 'engineer':
      return ev.actor_id !== null && ev.actor_id === p.userId;
    case 'manager':
      return ev.actor_id !== null && teamOf(p).includes(ev.actor_id);
    default:
      return false;
  }
}

/** `db.selectFrom('audit_events').where(auditScope(p))` returns exactly what `p` may see. */
export function auditScope(p: Principal): Scope<'audit_events'> {
  return (eb) => {
    switch (p.role) {
      case 'admin':
        return everything(eb);
      case 'customer':
        return p.accountId === null ? nothing(eb) : eb('account_id', '=', p.accountId);
      case 'engineer':
        return eb('actor_id', '=', p.userId);
      case 'manager':
        return eb('actor_id', 'in', teamOf(p));
      default:
        return nothing(eb);
    }
  };
}

/** `db.selectFrom('agents').where(agentScope(p))`: the agents `canSeeAgent` allows. */
export function agentScope(p: Principal): Scope<'agents'> {
  return (eb) => byAccount(eb, p, reachOf(p, 'agent.read'), eb.ref('account_id'));
}

/** `db.selectFrom('join_tokens').where(joinTokenScope(p))`: the tokens `p` may read. */
export function joinTokenScope(p: Principal): Scope<'join_tokens'> {
  return (eb) => byAccount(eb, p, reachOf(p, 'join_token.read'), eb.ref('account_id'));
}

/** `db.selectFrom('accounts').where(accountScope(p))`: the accounts `p` may read. */
export function accountScope(p: Principal): Scope<'accounts'> {
  return (eb) => byAccount(eb, p, reachOf(p, 'account.read'), eb.ref('id'));
}

/**
 * Tickets: customers see their account's; staff see the open queue and the tickets they (or,
 * for managers, their reports) work.
 */
export function canSeeTicket(
  p: Principal,
  t: { account_id: string; status: string; assignee_id: string | null },
): boolean {
  switch (p.role) {
    case 'admin':
      return true;
    case 'customer':
      return ownAccount(p, t.account_id);
    case 'engineer':
    case 'manager':
      return t.status === 'open' || (t.assignee_id !== null && teamOf(p).includes(t.assignee_id));
    default:
      return false;
  }
}

export function ticketScope(p: Principal): Scope<'tickets'> {
  return (eb) => {
    switch (p.role) {
      case 'admin':
        return everything(eb);
      case 'customer':
        return p.accountId === null ? nothing(eb) : eb('account_id', '=', p.accountId);
      case 'engineer':
      case 'manager':
        return eb.or([eb('status', '=', 'open'), eb('assignee_id', 'in', teamOf(p))]);
      default:
        return nothing(eb);
    }
  };
}

/**
 * Every ticket starts open, and staff see every open ticket (the queue). So staff may learn that
 * a ticket left the queue and who took it, even once it is no longer theirs to see: a late
 * "take" answers 409 "already taken by X" rather than 404, and the live 'tickets' topic sends
 * them the change so the ticket drops out of their queue. They learn nothing they could not
 * have seen a moment earlier; what happens on the ticket afterwards stays hidden.
 */
export function canSeeQueueExit(p: Principal): boolean {
  return p.role === 'admin' || p.role === 'engineer' || p.role === 'manager';
}

/** Closing is for whoever works the ticket (or their manager) and admins. */
export function canCloseTicket(p: Principal, t: { assignee_id: string | null }): boolean {
  if (p.role === 'admin') return true;
  return (
    t.assignee_id !== null &&
    (p.role === 'engineer' || p.role === 'manager') &&
    teamOf(p).includes(t.assignee_id)
  );
}

/**
 * Watching a terminal session read-only: the account's customers, the engineer who runs it,
 * their managers, and admins. Typing is for the session's engineer alone.
 */
export function canWatchTerminal(
  p: Principal,
  session: { account_id: string; engineer_id: string },
): boolean {
  switch (p.role) {
    case 'admin':
      return true;
    case 'customer':
      return ownAccount(p, session.account_id);
    case 'engineer':
    case 'manager':
      return teamOf(p).includes(session.engineer_id);
    default:
      return false;
  }
}

/**
 * Approval requests: the account's customers (who decide them), the requester and their
 * managers, and admins.
 */
export function canSeeApproval(
  p: Principal,
  a: { account_id: string; requester_id: string },
): boolean {
  switch (p.role) {
    case 'admin':
      return true;
    case 'customer':
      return ownAccount(p, a.account_id);
    case 'engineer':
    case 'manager':
      return teamOf(p).includes(a.requester_id);
    default:
      return false;
  }
}

export function approvalScope(p: Principal): Scope<'approval_requests'> {
  return accountOrTeam(p, 'requester_id');
}

/** Deciding: the account's customers only, and never on a request of one's own. */
export function canDecideApproval(
  p: Principal,
  a: { account_id: string; requester_id: string },
): boolean {
  return may(p, 'approval.decide', { accountId: a.account_id }) && p.userId !== a.requester_id;
}

/** `db.selectFrom('terminal_sessions').where(terminalScope(p))`: what `canWatchTerminal` allows. */
export function terminalScope(p: Principal): Scope<'terminal_sessions'> {
  return accountOrTeam(p, 'engineer_id');
}

/** Ending a live session: its engineer, any customer of the account, and admins. */
export function canEndTerminal(
  p: Principal,
  session: { account_id: string; engineer_id: string },
): boolean {
  if (p.role === 'admin') return true;
  if (p.role === 'customer') return ownAccount(p, session.account_id);
  return p.userId === session.engineer_id;
}

/** Typing into a session: its engineer alone. */
export function canDriveTerminal(p: Principal, session: { engineer_id: string }): boolean {
  return p.userId === session.engineer_id && p.role !== 'customer';
}

/**
 * Port forwards, like terminal sessions: the account's customers, the person who opened it and
 * their managers, and admins see it; its person, the account's customers and admins may end it.
 */
export function canSeeForward(p: Principal, f: { account_id: string; user_id: string }): boolean {
  return canWatchTerminal(p, { account_id: f.account_id, engineer_id: f.user_id });
}

export function forwardScope(p: Principal): Scope<'forwards'> {
  return accountOrTeam(p, 'user_id');
}

export function canEndForward(p: Principal, f: { account_id: string; user_id: string }): boolean {
  if (p.role === 'admin') return true;
  if (p.role === 'customer') return ownAccount(p, f.account_id);
  return p.userId === f.user_id;
}

/** Opening connections through a forward, or holding it: the person who opened it, alone. */
export function canUseForward(p: Principal, f: { user_id: string }): boolean {
  return p.userId === f.user_id;
}

/**
 * File sessions and their history: the account's customers, the person who opened the session
 * and their managers, and admins (as for terminals).
 */
export function canSeeFileSession(
  p: Principal,
  session: { account_id: string; user_id: string },
): boolean {
  switch (p.role) {
    case 'admin':
      return true;
    case 'customer':
      return ownAccount(p, session.account_id);
    case 'engineer':
    case 'manager':
      return teamOf(p).includes(session.user_id);
    default:
      return false;
  }
}

export function fileSessionScope(p: Principal): Scope<'file_sessions'> {
  return accountOrTeam(p, 'user_id');
}

/** A file event is seen by whoever may see the session it happened in. */
export const canSeeFileEvent = canSeeFileSession;

export function fileEventScope(p: Principal): Scope<'file_events'> {
  return accountOrTeam(p, 'user_id');
}

/** Listing, reading and changing files in a session: the person who opened it, alone. */
export function canUseFileSession(p: Principal, session: { user_id: string }): boolean {
  return p.userId === session.user_id;
}

/** Ending a file session: whoever opened it, any customer of the account, and admins. */
export function canEndFileSession(
  p: Principal,
  session: { account_id: string; user_id: string },
): boolean {
  if (p.role === 'admin') return true;
  if (p.role === 'customer' && ownAccount(p, session.account_id)) return true;
  return p.userId === session.user_id;
}

/** `db.selectFrom('users').where(userScope(p))`: staff see everyone, customers their account's. */
export function userScope(p: Principal): Scope<'users'> {
  return (eb) =>
    byAccount(eb, p, reachOf(p, 'user.read'), eb.ref('account_id') as Expression<string>);
}

/**
 * The common shape for a person's work on an account: admins everything, customers their
 * account's, staff what they or their reports did (`column` names the person).
 */
function accountOrTeam<
  T extends
    'approval_requests' | 'terminal_sessions' | 'forwards' | 'file_sessions' | 'file_events',
>(p: Principal, column: 'requester_id' | 'engineer_id' | 'user_id'): Scope<T> {
  return (eb) => {
    const person = eb.ref(column as never) as Expression<string>;
    const account = eb.ref('account_id' as never) as Expression<string>;
    if (p.role === 'admin') return everything(eb);
    if (p.role === 'customer') {
      return p.accountId === null ? nothing(eb) : eb(account, '=', p.accountId);
    }
    if (p.role === 'engineer' || p.role === 'manager') return eb(person, 'in', teamOf(p));
    return nothing(eb);
  };
}

function reachOf(p: Principal, action: Action): Reach {
  // A role this table does not know (bad data, an older token) reaches nothing.
  return RULES[action]?.[p.role] ?? 'none';
}

function ownAccount(p: Principal, accountId: string | null): boolean {
  return p.accountId !== null && accountId === p.accountId;
}

function teamOf(p: Principal): string[] {
  return [p.userId, ...p.reportIds];
}

function byAccount<T extends keyof Database>(
  eb: ExpressionBuilder<Database, T>,
  p: Principal,
  reach: Reach,
  column: Expression<string>,
): Expression<SqlBool> {
  if (reach === 'all') return everything(eb);
  if (reach === 'none' || p.accountId === null) return nothing(eb);
  return eb(column, '=', p.accountId);
}

/** Kysely renders an empty `and` as `1 = 1`, which SQLite and PostgreSQL both accept. */
function everything<T extends keyof Database>(eb: ExpressionBuilder<Database, T>) {
  return eb.and([]);
}

/** Kysely renders an empty `or` as `1 = 0`. */
function nothing<T extends keyof Database>(eb: ExpressionBuilder<Database, T>) {
  return eb.or([]);
}
