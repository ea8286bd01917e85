/** Accounts, users, API tokens and browser sessions: creating them and signing in. */
import type { Kysely } from 'kysely';
import { TetherError, type Role } from '@tether/protocol';
import type { Database } from '../store/schema.ts';
import { checkPassword, hashPassword, newId, newSecret, nowIso, sha256 } from '../auth/secrets.ts';

/** Browser sessions last a working week; API tokens until revoked unless given a lifetime. */
export const SESSION_TTL_SECONDS = 7 * 24 * 60 * 60;
/** Verifying against this when the user does not exist keeps sign-in time the same either way. */
const DUMMY_HASH_PASSWORD = 'tether-timing-equaliser';

export interface NewUser {
  username: string;
  displayName?: string;
  role: Role;
  password?: string;
  accountId?: string | null;
  managerId?: string | null;
}

export class People {
  private dummyHash: Promise<string> | null = null;

  constructor(private readonly db: Kysely<Database>) {}

  async createAccount(name: string): Promise<{ id: string; name: string }> {
    const existing = await this.db
      .selectFrom('accounts')
      .select('id')
      .where('name', '=', name)
      .executeTakeFirst();
    if (existing)
      throw new TetherError('conflict', `account ${JSON.stringify(name)} already exists`);
    const row = { id: newId(), name, created_at: nowIso() };
    await this.db.insertInto('accounts').values(row).execute();
    return { id: row.id, name };
  }

  /** Finds an account by id or by exact name. */
  async findAccount(idOrName: string) {
    return this.db
      .selectFrom('accounts')
      .selectAll()
      .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
      .executeTakeFirst();
  }

  async createUser(user: NewUser): Promise<{ id: string; username: string }> {
    if (user.role === 'customer' && !user.accountId) {
      throw new TetherError('invalid_request', 'a customer needs an account');
    }
    // Admin and admin would read the same in every audit table: one of them only.
    const taken = await this.db
      .selectFrom('users')
      .select('id')
      .where((eb) => eb(eb.fn('lower', ['username']), '=', user.username.toLowerCase()))
      .executeTakeFirst();
    if (taken)
      throw new TetherError('conflict', `username ${JSON.stringify(user.username)} is taken`);
    const row = {
      id: newId(),
      username: user.username,
      display_name: user.displayName ?? user.username,
      role: user.role,
      account_id: user.role === 'customer' ? (user.accountId ?? null) : null,
      manager_id: user.managerId ?? null,
      password_hash: user.password ? await hashPassword(user.password) : null,
      created_at: nowIso(),
      disabled_at: null,
    };
    await this.db.insertInto('users').values(row).execute();
    return { id: row.id, username: row.username };
  }

  async findUser(username: string) {
    return this.db
      .selectFrom('users')
      .selectAll()
      .where('username', '=', username)
      .executeTakeFirst();
  }

  /** A token made with a token lives no longer than that one: a short token cannot mint a lasting one. */
  async createApiToken(
    userId: string,
    name: string,
    ttlSeconds?: number,
    notAfter?: string | null,
  ) {
    const token = newSecret('tth');
    const asked = ttlSeconds ? new Date(Date.now() + ttlSeconds * 1000).toISOString() : null;
    const expiresAt = notAfter && (!asked || asked > notAfter) ? notAfter : asked;
    const row = {
      id: newId(),
      user_id: userId,
      token_hash: sha256(token),
      name,
      created_at: nowIso(),
      expires_at: expiresAt,
      revoked_at: null,
    };
    await this.db.insertInto('api_tokens').values(row).execute();
    return { id: row.id, token, expiresAt: row.expires_at };
  }

  /** Checks a password; answers the same way for an unknown user and a wrong password. */
  async signIn(username: string, password: string) {
    const user = await this.findUser(username);
    if (!user?.password_hash || user.disabled_at) {
      this.dummyHash ??= hashPassword(DUMMY_HASH_PASSWORD);
      await checkPassword(await this.dummyHash, password);
      return null;
    }
    return (await checkPassword(user.password_hash, password)) ? user : null;
  }

  async listApiTokens(userId: string | null) {
    let query = this.db
      .selectFrom('api_tokens')
      .select(['id', 'user_id', 'name', 'created_at', 'expires_at', 'revoked_at'])
      .orderBy('created_at', 'desc');
    if (userId) query = query.where('user_id', '=', userId);
    return query.execute();
  }

  async revokeApiToken(id: string): Promise<void> {
    await this.db
      .updateTable('api_tokens')
      .set({ revoked_at: nowIso() })
      .where('id', '=', id)
      .execute();
  }

  /** Signs the user out everywhere and refuses them from now on; the record stays. */
  async disableUser(userId: string): Promise<void> {
    const now = nowIso();
    await this.db.updateTable('users').set({ disabled_at: now }).where('id', '=', userId).execute();
    await this.db.deleteFrom('web_sessions').where('user_id', '=', userId).execute();
    await this.db
      .updateTable('api_tokens')
      .set({ revoked_at: now })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .execute();
  }

  async createSession(userId: string): Promise<string> {
    const cookie = newSecret('tss');
    const now = Date.now();
    await this.db
      .insertInto('web_sessions')
      .values({
        id: sha256(cookie),
        user_id: userId,
        created_at: new Date(now).toISOString(),
        expires_at: new Date(now + SESSION_TTL_SECONDS * 1000).toISOString(),
      })
      .execute();
    return cookie;
  }

  async endSession(cookie: string): Promise<void> {
    await this.db.deleteFrom('web_sessions').where('id', '=', sha256(cookie)).execute();
  }
}
