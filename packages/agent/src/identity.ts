/** The agent's identity on disk: its SSH host key and what enrollment gave it. */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { generateEd25519 } from '@tether/protocol/ssh-keys';

// ssh2 is CommonJS; Node's ESM loader cannot see its named exports, so take them from the default.
const { utils } = ssh2;

const IDENTITY_FILE = 'identity.json';
const HOST_KEY_FILE = 'host_key';

export interface Identity {
  agentId: string;
  accountId: string;
  name: string;
  endpoint: string;
  /** OpenSSH public key of the endpoint, pinned at enrollment. */
  endpointPublicKey: string;
}

export interface HostKey {
  privateKey: string;
  publicKey: string;
}

export class StateDir {
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  /** Loads the host key, creating it on first use. The private key never leaves this folder. */
  hostKey(): HostKey {
    const file = join(this.dir, HOST_KEY_FILE);
    if (!existsSync(file)) {
      const pair = generateEd25519();
      writeAtomic(file, pair.privateKey);
      writeAtomic(`${file}.pub`, `${pair.publicKey}\n`);
    }
    const privateKey = readFileSync(file, 'utf8');
    const parsed = utils.parseKey(privateKey);
    if (parsed instanceof Error) throw new Error(`unreadable host key ${file}`, { cause: parsed });
    const publicKey = `${parsed.type} ${parsed.getPublicSSH().toString('base64')}`;
    return { privateKey, publicKey };
  }

  identity(): Identity | null {
    const file = join(this.dir, IDENTITY_FILE);
    if (!existsSync(file)) return null;
    return JSON.parse(readFileSync(file, 'utf8')) as Identity;
  }

  saveIdentity(identity: Identity): void {
    writeAtomic(join(this.dir, IDENTITY_FILE), `${JSON.stringify(identity, null, 2)}\n`);
  }
}

/** Writes then renames, so a crash never leaves half a key or half an identity. */
function writeAtomic(file: string, content: string): void {
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, content, { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, file);
}
