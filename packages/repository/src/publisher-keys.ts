/** Publishers' Ed25519 public keys: registered by their owner, removed, never deleted. */
import type { Kysely } from 'kysely';
import { TetherError } from '@tether/protocol';
import type { RepositoryDatabase } from './index/schema.ts';
import { parsePublicKey } from './keys.ts';
import type { AuditSink } from './audit.ts';
import type { Caller } from './visibility.ts';

const MAX_KEYS_PER_USER = 20;

export interface PublisherKeyView {
  id: string;
  username: string;
  publicKey: string;
  comment: string;
  createdAt: string;
  removedAt: string | null;
}

export class PublisherKeys {
  constructor(
    private readonly db: Kysely<RepositoryDatabase>,
    private readonly audit: AuditSink,
  ) {}

  async add(caller: Caller, text: string, comment = ''): Promise<PublisherKeyView> {
    const person = requirePerson(caller);
    const key = parsePublicKey(text);
    const existing = await this.db
      .selectFrom('repo_keys')
      .selectAll()
      .where('id', '=', key.fingerprint)
      .executeTakeFirst();
    if (existing) {
      // A removed key stays removed: re-adding it would revive releases' trust in it.
      if (existing.user_id !== person.userId || existing.removed_at) {
        throw new TetherError('conflict', `key ${key.fingerprint} is already registered`);
      }
      return view(existing);
    }
    const active = await this.db
      .selectFrom('repo_keys')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', person.userId)
      .where('removed_at', 'is', null)
      .executeTakeFirstOrThrow();
    if (Number(active.n) >= MAX_KEYS_PER_USER) {
      throw new TetherError('conflict', `at most ${MAX_KEYS_PER_USER} keys per person`);
    }
    const row = {
      id: key.fingerprint,
      user_id: person.userId,
      username: person.username,
      public_key: key.openssh,
      comment: comment.slice(0, 200),
      created_at: new Date().toISOString(),
      removed_at: null,
    };
    await this.db.insertInto('repo_keys').values(row).execute();
    await this.audit({ kind: 'publisherKeyAdded', caller, params: { keyId: row.id } });
    return view(row);
  }

  async list(caller: Caller): Promise<PublisherKeyView[]> {
    const person = requirePerson(caller);
    const rows = await this.db
      .selectFrom('repo_keys')
      .selectAll()
      .where('user_id', '=', person.userId)
      .orderBy('created_at')
      .execute();
    return rows.map(view);
  }

  /** Removes one of the caller's keys (admins: anyone's); releases it signed stay published. */
  async remove(caller: Caller, id: string): Promise<PublisherKeyView> {
    const person = requirePerson(caller);
    const row = await this.db
      .selectFrom('repo_keys')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row || (row.user_id !== person.userId && caller.role !== 'admin')) {
      throw new TetherError('not_found', `no key ${id}`);
    }
    if (!row.removed_at) {
      row.removed_at = new Date().toISOString();
      await this.db
        .updateTable('repo_keys')
        .set({ removed_at: row.removed_at })
        .where('id', '=', id)
        .execute();
      await this.audit({
        kind: 'publisherKeyRemoved',
        caller,
        params: { keyId: id, owner: row.username },
      });
    }
    return view(row);
  }

  /** The active key with this fingerprint, or the reason there is none. */
  async active(id: string) {
    const row = await this.db
      .selectFrom('repo_keys')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    if (!row) return { error: `the release is signed with ${id}, which is not a registered key` };
    if (row.removed_at) return { error: `the release is signed with ${id}, which was removed` };
    return { row };
  }
}

export function requirePerson(caller: Caller): Caller & { userId: string; username: string } {
  if (caller.role === 'anonymous') throw new TetherError('unauthorized', 'sign in first');
  if (caller.userId === null || caller.username === null || caller.role === 'agent') {
    throw new TetherError('forbidden', 'only people publish and hold keys');
  }
  return caller as Caller & { userId: string; username: string };
}

function view(row: RepositoryDatabase['repo_keys']): PublisherKeyView {
  return {
    id: row.id,
    username: row.username,
    publicKey: row.public_key,
    comment: row.comment,
    createdAt: row.created_at,
    removedAt: row.removed_at,
  };
}
