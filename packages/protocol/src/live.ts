/** Messages on `/api/v1/live`: the caller subscribes, the endpoint sends what they may see. */
import { z } from 'zod';

export const LiveClientMessage = z.discriminatedUnion('type', [
  // Topics are registered by the endpoint's features (audit, tickets, approvals, terminals…).
  z.strictObject({
    type: z.literal('subscribe'),
    topics: z
      .array(z.string().regex(/^[a-z][a-z0-9_.-]{0,39}$/))
      .min(1)
      .max(16),
  }),
  z.strictObject({ type: z.literal('ping') }),
]);
export type LiveClientMessage = z.infer<typeof LiveClientMessage>;

export interface AuditEventView {
  seq: number;
  id: string;
  time: string;
  code: string;
  event: string;
  actorId: string | null;
  actorName: string | null;
  actorRole: string | null;
  accountId: string | null;
  agentId: string | null;
  ticketId: string | null;
  sessionId: string | null;
  params: Record<string, unknown>;
  result: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export type LiveServerMessage =
  | { type: 'subscribed'; topics: string[] }
  | { type: 'audit'; event: AuditEventView }
  /** Any other topic: `topic` names it, `event` is its payload. */
  | { type: 'event'; topic: string; event: unknown }
  | { type: 'pong' }
  | { type: 'error'; error: { code: string; message: string } };
