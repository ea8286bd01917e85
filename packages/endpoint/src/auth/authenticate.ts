/** Turns a request's bearer token or session cookie into a Principal, or null. */
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import { Role } from '@tether/protocol';
import type { Database } from '../store/schema.ts';
import type { Principal } from './principal.ts';
import { readCookie, SESSION_COOKIE } from './cookies.ts';
import { nowIso, sha256 } from './secrets.ts';

/** Management chains are short; this bounds the walk if the data ever holds a cycle. */
const MAX_REPORT_DEPTH = 16;

export class Authenticator {
  constructor(private readonly db: Kysely<Database>) {}

  async fromRequest(request: FastifyRequest): Promise<Principal | null> {
    const header = request.headers.authorization;
    if (header?.startsWith('Bearer '))
      return this.fromApiToken(header.slice('Bearer '.length).trim());
    const cookie = readCookie(request.headers.cookie, SESSION_COOKIE);
    if (cookie) return this.fromSession(cookie);
    return null;
  }

  async fromApiToken(token: string): Promise<Principal | null> {
    const row = await this.db
      .selectFrom('api_tokens')
      .select(['user_id', 'expires_at', 'revoked_at'])
      .where('token_hash', '=', sha256(token))
      .executeTakeFirst();
    if (!row || row.revoked_at || (row.expires_at && row.expires_at < nowIso())) return null;
    const principal = await this.principalFor(row.user_id);
    return principal && { ...principal, tokenExpiresAt: row.expires_at };
  }

  async fromSession(cookie: string): Promise<Principal | null> {
    const row = await this.db
      .selectFrom('web_sessions')
      .select(['user_id', 'expires_at'])
      .where('id', '=', sha256(cookie))
      .executeTakeFirst();
    if (!row || row.expires_at < nowIso()) return null;
    return this.principalFor(row.user_id);
  }

  async principalFor(userId: string): Promise<Principal | null> {
    const user = await this.db
      .selectFrom('users')
      .select(['id', 'username', 'role', 'account_id', 'disabled_at'])
      .where('id', '=', userId)
      .executeTakeFirst();
    if (!user || user.disabled_at) return null;
    const role = Role.parse(user.role);
    const reportIds = role === 'manager' ? await this.reportsOf(user.id) : [];
    return {
      userId: user.id,
      username: user.username,
      role,
      accountId: user.account_id,
      reportIds,
    };
  }

  /** Everyone below a manager, directly or through other managers. */
  private async reportsOf(managerId: string): Promise<string[]> {
    const found = new Set<string>();
    let frontier = [managerId];
    for (let depth = 0; depth < MAX_REPORT_DEPTH && frontier.length > 0; depth++) {
      const rows = await this.db
        .selectFrom('users')
        .select('id')
        .where('manager_id', 'in', frontier)
        .execute();
      frontier = rows.map((r) => r.id).filter((id) => !found.has(id) && id !== managerId);
      frontier.forEach((id) => found.add(id));
    }
    return [...found];
  }
}
