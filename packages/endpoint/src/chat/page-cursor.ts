/** Newest-first paging over rows keyed by (created_at, id), and ids that keep that order. */
import { randomBytes } from 'node:crypto';
import type { Expression, ExpressionBuilder, SqlBool } from 'kysely';
import { TetherError } from '@tether/protocol';
import type { Database } from '../store/schema.ts';

/** Cursors are short; anything longer is not one of ours. */
const MAX_CURSOR_CHARS = 200;
/** UUIDv7's 12-bit `rand_a` field, used as a counter within one millisecond (RFC 9562 §6.2). */
const MAX_COUNTER = 0xfff;

export interface PageCursor {
  createdAt: string;
  id: string;
}

type Paged = 'tickets' | 'chat_messages' | 'file_events';

let lastMs = 0;
let counter = 0;

/**
 * A UUIDv7 whose order is the order this process made them in, even within one millisecond:
 * two chat messages written in the same millisecond page back in the order they were sent.
 * Ids from different processes in the same millisecond sort arbitrarily, as concurrent writes
 * may. This state is an ordering aid only; no other process needs it.
 */
export function timeOrderedId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
  } else if (++counter > MAX_COUNTER) {
    // 4096 ids in one millisecond: borrow the next one rather than repeat an order.
    lastMs += 1;
    counter = 0;
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(lastMs, 0, 6);
  bytes[6] = 0x70 | (counter >> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = bytes.toString('hex');
  return [
    hex.slice(0, 8),
    hex.slice(8, 12),
    hex.slice(12, 16),
    hex.slice(16, 20),
    hex.slice(20),
  ].join('-');
}

export function encodeCursor(row: { created_at: string; id: string }): string {
  return Buffer.from(JSON.stringify({ t: row.created_at, id: row.id })).toString('base64url');
}

export function decodeCursor(text: string): PageCursor {
  try {
    if (text.length <= MAX_CURSOR_CHARS) {
      const { t, id } = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as {
        t?: unknown;
        id?: unknown;
      };
      if (typeof t === 'string' && typeof id === 'string') return { createdAt: t, id };
    }
  } catch {
    // Falls through to the same answer as a well-formed cursor holding nonsense.
  }
  throw new TetherError('invalid_request', 'invalid cursor');
}

/**
 * Rows strictly older than the cursor's row in (created_at, id) order. Two rows written in the
 * same millisecond are ordered by id, which `timeOrderedId` makes the order they were written.
 */
export function olderThan<T extends Paged>(cursor: PageCursor) {
  return (eb: ExpressionBuilder<Database, T>): Expression<SqlBool> => {
    const e = eb as unknown as ExpressionBuilder<Database, Paged>;
    return e.or([
      e('created_at', '<', cursor.createdAt),
      e.and([e('created_at', '=', cursor.createdAt), e('id', '<', cursor.id)]),
    ]);
  };
}
