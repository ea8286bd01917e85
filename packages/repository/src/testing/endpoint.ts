/** Test helper: a real endpoint with the repository embedded, and people who can publish. */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { generatePublisherKey, loadPrivateKey } from '../keys.ts';
import { packFolder, signPack, type SignedPack } from '../pack.ts';
import { SyncClient } from '../sync/client.ts';
import type { Published } from '../publish.ts';
import { startHarness, type Harness } from '../../../endpoint/src/testing/harness.ts';

export { startHarness, waitFor, type Harness } from '../../../endpoint/src/testing/harness.ts';

export interface Publisher {
  id: string;
  username: string;
  token: string;
  key: KeyObject;
  keyId: string;
}

let folders = 0;

export async function publisher(
  h: Harness,
  role: 'admin' | 'manager' | 'engineer' | 'customer' = 'engineer',
  options: { account?: string } = {},
): Promise<Publisher> {
  const user = await h.user(role, options);
  const { privatePem, publicKey } = generatePublisherKey();
  const added = await h.api(
    'POST',
    '/api/v1/repository/keys',
    { publicKey: publicKey.openssh },
    user.token,
  );
  if (added.status !== 200) throw new Error(`key: ${JSON.stringify(added.body)}`);
  return { ...user, key: loadPrivateKey(privatePem).key, keyId: publicKey.fingerprint };
}

export async function packIn(
  h: Harness,
  signer: Publisher,
  manifest: Record<string, unknown>,
  files: Record<string, string> = {},
): Promise<SignedPack> {
  const folder = join(h.dir, `pkg-${folders++}`);
  await mkdir(folder, { recursive: true });
  await writeFile(
    join(folder, 'script.json'),
    JSON.stringify({ owners: [signer.username], visibility: 'public', ...manifest }),
  );
  for (const [path, text] of Object.entries(files)) {
    await mkdir(dirname(join(folder, path)), { recursive: true });
    await writeFile(join(folder, path), text);
  }
  return signPack(await packFolder(folder), signer);
}

export async function sync(h: Harness, token?: string): Promise<SyncClient> {
  return SyncClient.connect(h.url, token ? { authorization: `Bearer ${token}` } : {});
}

export async function publishVia(
  h: Harness,
  signer: Publisher,
  manifest: Record<string, unknown>,
  files: Record<string, string> = {},
): Promise<Published> {
  const client = await sync(h, signer.token);
  try {
    return await client.publish(await packIn(h, signer, manifest, files));
  } finally {
    await client.close();
  }
}

export { startHarness as start };
