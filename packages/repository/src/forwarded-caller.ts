/**
 * A standalone repository has no users of its own. The endpoint in front of it forwards who
 * is calling in one header, signed with the endpoint's Ed25519 key (the one agents pin):
 *
 *   x-tether-caller: <base64url JSON {v, role, user, name, account, agent, method, path, exp}>.<base64url signature>
 *
 * The repository trusts keys given with --trust-endpoint-key. A header lives 60 seconds and
 * names the method and path it was made for, so a captured one opens nothing else.
 */
import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import { Role, TetherError } from '@tether/protocol';
import { parsePublicKey, verifySignature } from './keys.ts';
import type { Caller } from './visibility.ts';

export const CALLER_HEADER = 'x-tether-caller';
/** Long enough for clock skew between two hosts and a slow hop, short enough to be useless later. */
export const CALLER_TTL_MS = 60_000;
const MAX_HEADER_CHARS = 8192;

const Claims = z.strictObject({
  v: z.literal(1),
  role: z.union([Role, z.literal('agent'), z.literal('anonymous')]),
  user: z.string().max(100).nullable(),
  name: z.string().max(100).nullable(),
  account: z.string().max(100).nullable(),
  agent: z.string().max(100).nullable(),
  method: z.string().max(10),
  path: z.string().max(4096),
  exp: z.number().int(),
});

/** Makes the header value; `sign` is the endpoint's Ed25519 signer. */
export function forwardCaller(
  caller: Caller,
  request: { method: string; path: string },
  sign: (data: Buffer) => Buffer,
  now = Date.now(),
): string {
  const claims: z.infer<typeof Claims> = {
    v: 1,
    role: caller.role,
    user: caller.userId,
    name: caller.username,
    account: caller.accountId,
    agent: caller.agentId ?? null,
    method: request.method.toUpperCase(),
    path: request.path,
    exp: now + CALLER_TTL_MS,
  };
  const body = Buffer.from(JSON.stringify(claims)).toString('base64url');
  return `${body}.${sign(Buffer.from(body)).toString('base64url')}`;
}

/** Checks a header against the trusted keys; throws unauthorized with the reason. */
export function verifyForwardedCaller(
  header: string,
  request: { method: string; path: string },
  trusted: readonly KeyObject[],
  now = Date.now(),
): Caller {
  if (header.length > MAX_HEADER_CHARS) throw refused('header too long');
  const [body, signature, extra] = header.split('.');
  if (!body || !signature || extra !== undefined) throw refused('malformed header');
  const signed = Buffer.from(body);
  const sig = Buffer.from(signature, 'base64url');
  if (!trusted.some((key) => verifySignature(key, signed, sig))) {
    throw refused('signature is not from a trusted endpoint');
  }
  let claims: z.infer<typeof Claims>;
  try {
    claims = Claims.parse(JSON.parse(Buffer.from(body, 'base64url').toString('utf8')));
  } catch (error) {
    throw refused('claims are malformed', error);
  }
  if (claims.exp < now) throw refused('expired');
  if (claims.exp > now + 2 * CALLER_TTL_MS) throw refused('lives too long');
  if (claims.method !== request.method.toUpperCase() || claims.path !== request.path) {
    throw refused('made for another request');
  }
  return {
    role: claims.role,
    userId: claims.user,
    username: claims.name,
    accountId: claims.account,
    agentId: claims.agent,
  };
}

/** Keys from --trust-endpoint-key: OpenSSH lines, one or more. */
export function trustedKeys(lines: readonly string[]): KeyObject[] {
  return lines.map((line) => parsePublicKey(line).key);
}

function refused(reason: string, cause?: unknown): TetherError {
  return new TetherError('unauthorized', `forwarded caller refused: ${reason}`, { cause });
}
