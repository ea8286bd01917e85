/** Publishers' Ed25519 keys: OpenSSH or PEM public keys in, one normal form and fingerprint out. */
import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign,
  verify,
  type KeyObject,
} from 'node:crypto';
import { TetherError } from '@tether/protocol';

const SSH_ED25519 = 'ssh-ed25519';
const ED25519_KEY_BYTES = 32;
const ED25519_SIGNATURE_BYTES = 64;

export interface PublicKeyInfo {
  /** `ssh-ed25519 AAAA…`, without a comment. */
  openssh: string;
  /** As `ssh-keygen -l` prints it: `SHA256:` and unpadded base64 of the key blob's SHA-256. */
  fingerprint: string;
  key: KeyObject;
}

/** Accepts an OpenSSH public key line (`ssh-ed25519 AAAA… comment`) or a PEM public key. */
export function parsePublicKey(text: string): PublicKeyInfo {
  const trimmed = text.trim();
  let raw: Buffer;
  if (trimmed.startsWith('-----BEGIN')) {
    let key: KeyObject;
    try {
      key = createPublicKey(trimmed);
    } catch (error) {
      throw badKey('the PEM text is not a public key', error);
    }
    if (key.asymmetricKeyType !== 'ed25519') throw badKey('only Ed25519 keys are accepted');
    raw = Buffer.from(key.export({ format: 'jwk' }).x as string, 'base64url');
  } else {
    raw = rawFromOpenSsh(trimmed);
  }
  return fromRaw(raw);
}

export function fromRaw(raw: Buffer): PublicKeyInfo {
  if (raw.length !== ED25519_KEY_BYTES) throw badKey('an Ed25519 key is 32 bytes');
  const blob = sshBlob(raw);
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') },
    format: 'jwk',
  });
  return {
    openssh: `${SSH_ED25519} ${blob.toString('base64')}`,
    fingerprint: `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`,
    key,
  };
}

export function verifySignature(key: KeyObject, data: Buffer, signature: Buffer): boolean {
  if (signature.length !== ED25519_SIGNATURE_BYTES) return false;
  return verify(null, data, key, signature);
}

/** A publisher's private key as PKCS#8 PEM, the form `tether keys add` writes. */
export function loadPrivateKey(pem: string): { key: KeyObject; publicKey: PublicKeyInfo } {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (error) {
    throw badKey('the signing key is not a PEM private key (PKCS#8)', error);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw badKey('the signing key is not Ed25519');
  const x = createPublicKey(key).export({ format: 'jwk' }).x as string;
  return { key, publicKey: fromRaw(Buffer.from(x, 'base64url')) };
}

export function signBytes(key: KeyObject, data: Buffer): Buffer {
  return sign(null, data, key);
}

export function generatePublisherKey(): { privatePem: string; publicKey: PublicKeyInfo } {
  const { privateKey } = generateKeyPairSync('ed25519');
  const privatePem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return { privatePem, publicKey: loadPrivateKey(privatePem).publicKey };
}

/** The SSH wire form: string "ssh-ed25519", then string key; each string length-prefixed. */
function sshBlob(raw: Buffer): Buffer {
  const type = Buffer.from(SSH_ED25519);
  const blob = Buffer.alloc(4 + type.length + 4 + raw.length);
  blob.writeUInt32BE(type.length, 0);
  type.copy(blob, 4);
  blob.writeUInt32BE(raw.length, 4 + type.length);
  raw.copy(blob, 8 + type.length);
  return blob;
}

function rawFromOpenSsh(line: string): Buffer {
  const [type, data] = line.split(/\s+/);
  if (type !== SSH_ED25519 || !data) {
    throw badKey('expected an OpenSSH line "ssh-ed25519 AAAA…" or a PEM public key');
  }
  const blob = Buffer.from(data, 'base64');
  const typeLength = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  const named = blob.subarray(4, 4 + typeLength).toString('latin1');
  const keyAt = 4 + typeLength;
  if (named !== SSH_ED25519 || blob.length !== keyAt + 4 + ED25519_KEY_BYTES) {
    throw badKey('the OpenSSH key data is not an Ed25519 key');
  }
  if (blob.readUInt32BE(keyAt) !== ED25519_KEY_BYTES) throw badKey('bad Ed25519 key length');
  return blob.subarray(keyAt + 4);
}

function badKey(message: string, cause?: unknown): TetherError {
  return new TetherError('invalid_request', message, cause === undefined ? undefined : { cause });
}
