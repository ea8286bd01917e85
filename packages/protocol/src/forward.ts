/** Port forwards: the request, the views, and the frames on the forward's sockets. */
import { z } from 'zod';
import type { WireError } from './errors.ts';

/** A forward's target as typed: `host:port` or `[v6]:port`; parsed by forward-target.ts. */
export const FORWARD_TARGET_MAX_CHARS = 300;

export const ForwardCreate = z.strictObject({
  target: z.string().min(1).max(FORWARD_TARGET_MAX_CHARS),
  ticket: z.string().min(1).max(64).optional(),
});
export type ForwardCreate = z.infer<typeof ForwardCreate>;

/**
 * `pending`: waiting for the customer; `live`: connections may be opened; `ended`: stopped by
 * someone or because its client went away; `refused`: the customer denied it or it expired.
 */
export type ForwardStatus = 'pending' | 'live' | 'ended' | 'refused';

export interface ForwardConnectionView {
  id: string;
  status: 'open' | 'closed' | 'failed' | 'interrupted';
  startedAt: string;
  endedAt: string | null;
  /** Client to target, and target to client. */
  bytesUp: number;
  bytesDown: number;
  durationMs: number | null;
  error: WireError | null;
}

export interface ForwardView {
  id: string;
  agentId: string;
  accountId: string;
  ticketId: string | null;
  approvalId: string | null;
  userId: string;
  username: string;
  /** As the policy saw it: `host:port`, IPv6 in brackets. */
  target: string;
  host: string;
  port: number;
  status: ForwardStatus;
  createdAt: string;
  endedAt: string | null;
  endedBy: string | null;
  endReason: string | null;
  connections: number;
  failedConnections: number;
  bytesUp: number;
  bytesDown: number;
  /** The latest connections, newest first (a list shows a few, one forward up to 1,000). */
  recent?: ForwardConnectionView[];
}

/**
 * Text frames the endpoint sends on `/api/v1/forwards/:id/connect`. Bytes travel only as binary
 * frames, and only after `open`.
 */
export type ForwardConnectServerMessage =
  | { type: 'open'; connection: string }
  /** The target closed its side; more bytes may still go to it until the client closes too. */
  | { type: 'eof' }
  | { type: 'error'; error: WireError };

/** Text frames a client sends on a connection: its side is done sending (TCP half-close). */
export const ForwardConnectClientMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('eof') }),
]);
export type ForwardConnectClientMessage = z.infer<typeof ForwardConnectClientMessage>;

/**
 * Text frames on `/api/v1/forwards/:id/socket`, the socket that holds a forward. The forward
 * lives while a holder keeps this socket open (plus a short lease), like an `ssh -L` process.
 */
export type ForwardControlServerMessage =
  | { type: 'forward'; forward: ForwardView }
  /** The agent's link: connections fail while it is offline and work again once it is back. */
  | { type: 'agent'; online: boolean }
  | { type: 'error'; error: WireError };

export const ForwardControlClientMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('end') }),
]);
export type ForwardControlClientMessage = z.infer<typeof ForwardControlClientMessage>;

/**
 * What the agent says first on a direct-tcpip channel's extended-data (stderr) stream, one JSON
 * line: the target answered, or why it did not. The data stream carries only the bytes.
 * (ssh2's server cannot put a description in SSH_MSG_CHANNEL_OPEN_FAILURE, so the channel is
 * opened either way and this line says how it went.)
 */
export type ForwardChannelStatus = { ok: true } | { ok: false; error: WireError };
export const FORWARD_STATUS_MAX_BYTES = 4 * 1024;

/**
 * direct-tcpip's originator fields are informational (RFC 4254 §7.2), so the endpoint uses them
 * for what the agent needs: the connection's id in the address, flags in the port.
 */
export const FORWARD_FLAG_LISTED = 1;
