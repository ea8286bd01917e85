/** Who may see a package version: the one place that maps manifest visibility onto callers. */
/*
 * | visibility | anonymous | agent | customer | engineer | manager | admin | owner |
 * |------------|-----------|-------|----------|----------|---------|-------|-------|
 * | public     | yes       | yes   | yes      | yes      | yes     | yes   | yes   |
 * | customers  | no        | yes   | yes      | yes      | yes     | yes   | yes   |
 * | staff      | no        | no    | no       | yes      | yes     | yes   | yes   |
 * | team       | no        | no    | no       | no       | yes     | yes   | yes   |
 * | owners     | no        | no    | no       | no       | no      | yes   | yes   |
 *
 * "customers" means every signed-in caller, so any account's customers and their agents; the
 * manifest names no accounts. "team" is the agent team: the people who run the operator's
 * agent fleet, which in Tether's roles are managers and admins. Owners are usernames from the
 * version's own manifest, so each version keeps the audience it was published for. Admins see
 * everything, as they do in the endpoint's audit rules. Hidden versions answer 404.
 */
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Role } from '@tether/protocol';
import type { Visibility } from './manifest.ts';

export type CallerRole = Role | 'agent' | 'anonymous';

export interface Caller {
  role: CallerRole;
  /** Null for anonymous callers and agents. */
  userId: string | null;
  username: string | null;
  /** The customer's or agent's account. */
  accountId: string | null;
  /** An agent's id, for the audit record. */
  agentId?: string | null;
}

export const ANONYMOUS: Caller = {
  role: 'anonymous',
  userId: null,
  username: null,
  accountId: null,
};

const SEEN_BY: Record<CallerRole, readonly Visibility[]> = {
  anonymous: ['public'],
  agent: ['public', 'customers'],
  customer: ['public', 'customers'],
  engineer: ['public', 'customers', 'staff'],
  manager: ['public', 'customers', 'staff', 'team'],
  admin: ['public', 'customers', 'staff', 'team', 'owners'],
};

/** The levels a caller sees without being an owner. */
export function levelsSeenBy(caller: Caller): readonly Visibility[] {
  return SEEN_BY[caller.role] ?? [];
}

export function canSee(
  caller: Caller,
  version: { visibility: Visibility | string; owners: readonly string[] },
): boolean {
  if (levelsSeenBy(caller).includes(version.visibility as Visibility)) return true;
  return isOwner(caller, version.owners);
}

export function isOwner(caller: Caller, owners: readonly string[]): boolean {
  const name = caller.username?.toLowerCase();
  return name !== undefined && owners.some((owner) => owner.toLowerCase() === name);
}

const AUDIENCE: Record<Visibility, string> = {
  public: 'everyone, signed in or not',
  customers: 'every signed-in person and every agent',
  staff: 'engineers, managers and admins',
  team: 'the agent team: managers and admins',
  owners: 'its owners and admins',
};

/** Who may see and run a version, in words for the site and the CLI. */
export function audienceOf(visibility: string): string {
  return AUDIENCE[visibility as Visibility] ?? 'admins';
}

/** Yank, deprecate: the package's current owners, and admins. */
export function canManage(caller: Caller, currentOwners: readonly string[]): boolean {
  return caller.role === 'admin' || isOwner(caller, currentOwners);
}

type VersionRef = 'repo_versions' | 'v';

/**
 * `where(versionScope(caller))` on `repo_versions` keeps exactly the rows `canSee` allows;
 * `alias` is the name the query gives repo_versions.
 */
export function versionScope(caller: Caller, alias: VersionRef = 'repo_versions') {
  return (eb: ExpressionBuilder<any, any>): Expression<SqlBool> => {
    const levels = levelsSeenBy(caller);
    const byLevel = levels.length > 0 ? [eb(`${alias}.visibility`, 'in', levels)] : [];
    const username = caller.username?.toLowerCase();
    if (username === undefined) return eb.or(byLevel);
    const owned = sql<SqlBool>`exists (select 1 from repo_version_owners as o where o.name = ${sql.ref(
      `${alias}.name`,
    )} and o.version = ${sql.ref(`${alias}.version`)} and o.username = ${username})`;
    return eb.or([...byLevel, owned]);
  };
}
