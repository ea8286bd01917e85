/** The endpoint's own SSH key: agents pin its public half, so every endpoint process shares it. */
import type { Kysely } from 'kysely';
import ssh2 from 'ssh2';
import { generateEd25519 } from '@tether/protocol/ssh-keys';
import type { Database } from '../store/schema.ts';

const SETTING_KEY = 'endpoint_ssh_key';

export interface EndpointKey {
  privateKey: string;
  publicKey: string;
}

/** Loads the key from the Store, creating it once; concurrent first starts agree on one key. */
export async function loadEndpointKey(db: Kysely<Database>): Promise<EndpointKey> {
  let row = await db
    .selectFrom('settings')
    .select('value')
    .where('key', '=', SETTING_KEY)
    .executeTakeFirst();
  if (!row) {
    const pair = generateEd25519();
    await db
      .insertInto('settings')
      .values({ key: SETTING_KEY, value: pair.privateKey })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    row = await db
      .selectFrom('settings')
      .select('value')
      .where('key', '=', SETTING_KEY)
      .executeTakeFirstOrThrow();
  }
  const parsed = ssh2.utils.parseKey(row.value);
  if (parsed instanceof Error)
    throw new Error('stored endpoint key is unreadable', { cause: parsed });
  return {
    privateKey: row.value,
    publicKey: `${parsed.type} ${parsed.getPublicSSH().toString('base64')}`,
  };
}

/** Parses an OpenSSH public key line; only Ed25519 is accepted for agents. */
export function parseAgentPublicKey(
  line: string,
): { type: string; blob: Buffer; normalized: string } | null {
  const parts = line.trim().split(/\s+/);
  if (parts.length < 2 || parts[0] !== 'ssh-ed25519') return null;
  const parsed = ssh2.utils.parseKey(`${parts[0]} ${parts[1]}`);
  if (parsed instanceof Error || parsed.isPrivateKey()) return null;
  const blob = parsed.getPublicSSH();
  return { type: parsed.type, blob, normalized: `${parsed.type} ${blob.toString('base64')}` };
}
