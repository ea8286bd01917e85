/** Enrollment: a join token and an Ed25519 public key become an agent, in one transaction. */
import { TetherError, type EnrollRequest, type EnrollResponse } from '@tether/protocol';
import type { Services } from '../services.ts';
import { newId, nowIso } from '../auth/secrets.ts';
import { parseAgentPublicKey } from './endpoint-key.ts';

/**
 * A token whose check fails, or a key already enrolled, leaves the token's use count as it
 * was: the transaction rolls back. Every attempt, failed ones too, is audited.
 */
export async function enroll(
  s: Services,
  body: EnrollRequest,
  remoteAddr: string,
): Promise<EnrollResponse> {
  const key = parseAgentPublicKey(body.publicKey);
  const attempt = {
    name: body.name,
    os: body.os,
    arch: body.arch,
    version: body.version,
    remoteAddr,
  };
  if (!key) {
    await s.audit.append({
      kind: 'agentEnrollFailed',
      params: attempt,
      result: { error: 'public key is not an ssh-ed25519 key' },
    });
    throw new TetherError('invalid_request', 'publicKey must be an OpenSSH ssh-ed25519 public key');
  }
  try {
    const agent = await s.db.transaction().execute(async (trx) => {
      const token = await s.joinTokens.consume(trx, body.token);
      const taken = await trx
        .selectFrom('agents')
        .select('id')
        .where('public_key', '=', key.normalized)
        .executeTakeFirst();
      if (taken)
        throw new TetherError('conflict', 'this key is already enrolled; use a new state folder');
      const id = newId();
      const clash = await trx
        .selectFrom('agents')
        .select('id')
        .where('account_id', '=', token.account_id)
        .where('name', '=', body.name)
        .executeTakeFirst();
      const row = {
        id,
        name: clash ? `${body.name}-${id.slice(0, 4)}` : body.name,
        account_id: token.account_id,
        public_key: key.normalized,
        os: body.os,
        arch: body.arch,
        version: body.version,
        hostname: body.hostname ?? null,
        join_token_id: token.id,
        enrolled_at: nowIso(),
        revoked_at: null,
        last_seen_at: null,
        connected_node: null,
        connection_id: null,
        connected_at: null,
        remote_addr: remoteAddr,
      };
      await trx.insertInto('agents').values(row).execute();
      return row;
    });
    await s.audit.append({
      kind: 'agentEnrolled',
      accountId: agent.account_id,
      agentId: agent.id,
      params: { ...attempt, joinTokenId: agent.join_token_id, publicKey: key.normalized },
      result: { agentId: agent.id, name: agent.name },
    });
    return {
      agentId: agent.id,
      accountId: agent.account_id,
      name: agent.name,
      endpointPublicKey: s.endpointKey.publicKey,
    };
  } catch (error) {
    if (error instanceof TetherError) {
      await s.audit.append({
        kind: 'agentEnrollFailed',
        params: attempt,
        result: { error: error.toWire() },
      });
    }
    throw error;
  }
}
