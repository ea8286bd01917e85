/** Who is asking: the signed-in user or API token holder, as every handler sees them. */
import type { Role } from '@tether/protocol';

export interface Principal {
  userId: string;
  username: string;
  role: Role;
  /** The customer's account; null for staff. */
  accountId: string | null;
  /** Ids of the people who report to this manager, directly or further down. Empty otherwise. */
  reportIds: readonly string[];
  /** When the bearer token this request came with expires; null for sessions and lasting tokens. */
  tokenExpiresAt?: string | null;
}
