/** WebSocket upgrades: the caller is authenticated and the Origin checked before the upgrade. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TetherError } from '@tether/protocol';
import type { Principal } from '../auth/principal.ts';
import type { Services } from '../services.ts';
import { errorBody } from './errors.ts';

const principals = new WeakMap<FastifyRequest, Principal>();

/**
 * A `preValidation` hook for browser and CLI sockets. Browsers always send Origin; a page on
 * another site must not ride the user's cookie into a socket (cross-site WebSocket hijacking).
 */
export function wsGate(s: Services) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = request.headers.origin;
    if (origin !== undefined && !sameOrigin(origin, request)) {
      return reply.code(403).send(errorBody('forbidden', 'cross-origin WebSocket refused'));
    }
    const principal = await s.auth.fromRequest(request);
    if (!principal)
      return reply.code(401).send(errorBody('unauthorized', 'sign in or send a bearer token'));
    principals.set(request, principal);
  };
}

export async function wsPrincipal(_s: Services, request: FastifyRequest): Promise<Principal> {
  const principal = principals.get(request);
  if (!principal) throw new TetherError('unauthorized', 'sign in or send a bearer token');
  return principal;
}

function sameOrigin(origin: string, request: FastifyRequest): boolean {
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}
