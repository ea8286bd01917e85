/** Ed25519 keys in OpenSSH form for agent and endpoint (Node only: not exported to the site). */
import ssh2 from 'ssh2';

/**
 * ssh2 1.17's generator writes about 1 key in 270 that its own parser then calls malformed
 * (measured: 11 of 3,000). Such a key would strand an agent or an endpoint, so a key is only
 * handed out once it parses; the chance of ten bad keys in a row is about 1e-24.
 */
const MAX_KEYGEN_ATTEMPTS = 10;

export interface KeyPair {
  privateKey: string;
  publicKey: string;
}

export function generateEd25519(): KeyPair {
  for (let attempt = 0; attempt < MAX_KEYGEN_ATTEMPTS; attempt++) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error)) {
      return { privateKey: pair.private, publicKey: pair.public };
    }
  }
  throw new Error('could not generate a readable ed25519 key');
}
