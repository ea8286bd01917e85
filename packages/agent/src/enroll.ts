/** Enrollment: trades a join token and the agent's public key for an agent id and a pin. */
import { hostname as osHostname } from 'node:os';
import {
  AGENT_VERSION,
  ENROLL_PATH,
  isErrorBody,
  TetherError,
  type EnrollRequest,
  type EnrollResponse,
} from '@tether/protocol';
import type { Identity, StateDir } from './identity.ts';

const ENROLL_TIMEOUT_MS = 30_000;

export async function enroll(
  state: StateDir,
  endpoint: string,
  joinToken: string,
  name?: string,
): Promise<Identity> {
  const { publicKey } = state.hostKey();
  const body: EnrollRequest = {
    token: joinToken,
    publicKey,
    name: name ?? osHostname(),
    os: process.platform,
    arch: process.arch,
    version: AGENT_VERSION,
    hostname: osHostname(),
  };

  let response: Response;
  try {
    response = await fetch(new URL(ENROLL_PATH, endpoint), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(ENROLL_TIMEOUT_MS),
    });
  } catch (error) {
    throw new TetherError('unavailable', `cannot reach ${endpoint}`, { cause: error });
  }

  const answer: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    if (isErrorBody(answer)) throw TetherError.fromWire(answer.error);
    throw new TetherError('internal', `enrollment failed with HTTP ${response.status}`);
  }
  const enrolled = answer as EnrollResponse;
  const identity: Identity = {
    agentId: enrolled.agentId,
    accountId: enrolled.accountId,
    name: enrolled.name,
    endpoint,
    endpointPublicKey: enrolled.endpointPublicKey,
  };
  state.saveIdentity(identity);
  return identity;
}
