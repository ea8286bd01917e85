/** Join tokens: single use by default, expiring, bound to an account, revocable. */
import type { Kysely } from 'kysely';
import { TetherError } from '@tether/protocol';
import type { Database, JoinTokensTable } from '../store/schema.ts';
import { newId, newSecret, nowIso, sha256 } from '../auth/secrets.ts';

export const JOIN_TOKEN_PREFIX = 'tjt';
export const JOIN_TOKEN_DEFAULT_TTL_SECONDS = 60 * 60;
export const JOIN_TOKEN_MAX_TTL_SECONDS = 30 * 24 * 60 * 60;
const TOKEN_SHAPE = /^tjt_[A-Za-z0-9_-]{43}$/;

export class JoinTokens {
  constructor(private readonly db: Kysely<Database>) {}

  async create(accountId: string, createdBy: string | null, ttlSeconds: number, maxUses: number) {
    const token = newSecret(JOIN_TOKEN_PREFIX);
    const row: JoinTokensTable = {
      id: newId(),
      token_hash: sha256(token),
      account_id: accountId,
      created_by: createdBy,
      created_at: nowIso(),
      expires_at: new Date(Date.now() + ttlSeconds * 1000).toISOString(),
      max_uses: maxUses,
      uses: 0,
      revoked_at: null,
    };
    await this.db.insertInto('join_tokens').values(row).execute();
    return { token, row };
  }

  /**
   * Uses up one use of a token inside the caller's transaction, or throws why it cannot.
   * The conditional update makes two enrollments racing for the last use see one winner.
   */
  async consume(trx: Kysely<Database>, token: string): Promise<JoinTokensTable> {
    if (!TOKEN_SHAPE.test(token)) throw new TetherError('token_invalid', 'join token is malformed');
    const row = await trx
      .selectFrom('join_tokens')
      .selectAll()
      .where('token_hash', '=', sha256(token))
      .executeTakeFirst();
    if (!row) throw new TetherError('token_invalid', 'join token is not known');
    if (row.revoked_at) throw new TetherError('token_revoked', 'join token was revoked');
    if (row.expires_at <= nowIso())
      throw new TetherError('token_expired', 'join token has expired');
    if (row.uses >= row.max_uses)
      throw new TetherError('token_used', 'join token was already used');
    const updated = await trx
      .updateTable('join_tokens')
      .set((eb) => ({ uses: eb('uses', '+', 1) }))
      .where('id', '=', row.id)
      .where('uses', '<', row.max_uses)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1)
      throw new TetherError('token_used', 'join token was already used');
    return row;
  }

  async revoke(id: string): Promise<void> {
    await this.db
      .updateTable('join_tokens')
      .set({ revoked_at: nowIso() })
      .where('id', '=', id)
      .execute();
  }

  async get(id: string) {
    return this.db.selectFrom('join_tokens').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async list(accountId: string | null) {
    let query = this.db
      .selectFrom('join_tokens')
      .innerJoin('accounts', 'accounts.id', 'join_tokens.account_id')
      .select([
        'join_tokens.id',
        'join_tokens.account_id',
        'accounts.name as account_name',
        'join_tokens.created_at',
        'join_tokens.expires_at',
        'join_tokens.max_uses',
        'join_tokens.uses',
        'join_tokens.revoked_at',
      ])
      .orderBy('join_tokens.created_at', 'desc');
    if (accountId) query = query.where('join_tokens.account_id', '=', accountId);
    return query.execute();
  }
}
