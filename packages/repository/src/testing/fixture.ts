/** Test helper: a repository on a fresh Store (SQLite or PostgreSQL), people, keys, packages. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import pino from 'pino';
import type { Role } from '@tether/protocol';
import type { RepositoryAuditEvent } from '../audit.ts';
import type { RepositoryDatabase } from '../index/schema.ts';
import { generatePublisherKey } from '../keys.ts';
import { deflateObject } from '../objects/object-store.ts';
import { packFolder, signPack, type SignedPack } from '../pack.ts';
import type { Published } from '../publish.ts';
import { Repository } from '../repository.ts';
import type { Caller } from '../visibility.ts';
// The endpoint's Store runs every migration, ours as '0005-repository', on both databases.
import type { StoreBackend, TestStore } from '../../../endpoint/src/store/test-stores.ts';

export { storeBackends } from '../../../endpoint/src/store/test-stores.ts';

export const quiet = pino({ level: process.env.TETHER_TEST_LOG ?? 'silent' });

export interface Person extends Caller {
  userId: string;
  username: string;
  key: KeyObject;
  keyId: string;
}

export interface Fixture {
  repo: Repository;
  db: Kysely<RepositoryDatabase>;
  store: TestStore;
  dir: string;
  audits: RepositoryAuditEvent[];
  person(username: string, role?: Role, accountId?: string | null): Promise<Person>;
  /** Writes `files` (script.json from `manifest`) to a folder and packs and signs it. */
  pack(
    signer: Person,
    manifest: Record<string, unknown>,
    files?: Record<string, string>,
  ): Promise<SignedPack>;
  /** Uploads every object the repository lacks, then commits. */
  upload(caller: Caller, pack: SignedPack): Promise<Published>;
  publish(
    signer: Person,
    manifest: Record<string, unknown>,
    files?: Record<string, string>,
  ): Promise<Published>;
  close(): Promise<void>;
}

export function manifestOf(name: string, version: string, extra: Record<string, unknown> = {}) {
  return { name, version, owners: ['alice'], visibility: 'public', ...extra };
}

export async function openFixture(backend: StoreBackend): Promise<Fixture> {
  const store = await backend.open();
  const dir = await mkdtemp(join(tmpdir(), 'tether-repo-'));
  const db = store.db as unknown as Kysely<RepositoryDatabase>;
  const audits: RepositoryAuditEvent[] = [];
  const repo = await Repository.open({
    dataDir: dir,
    db,
    audit: async (event) => void audits.push(event),
    log: quiet,
  });
  let folders = 0;

  const fixture: Fixture = {
    repo,
    db,
    store,
    dir,
    audits,
    async person(username, role = 'engineer', accountId = null) {
      const { privatePem, publicKey } = generatePublisherKey();
      const person = {
        role,
        userId: `user-${username}`,
        username,
        accountId,
        key: (await import('../keys.ts')).loadPrivateKey(privatePem).key,
        keyId: publicKey.fingerprint,
      };
      await repo.keys.add(person, publicKey.openssh, 'test');
      return person;
    },
    async pack(signer, manifest, files = {}) {
      const folder = join(dir, `pkg-${folders++}`);
      await mkdir(folder, { recursive: true });
      await writeFile(join(folder, 'script.json'), JSON.stringify(manifest));
      for (const [path, text] of Object.entries(files)) {
        await mkdir(dirname(join(folder, path)), { recursive: true });
        await writeFile(join(folder, path), text);
      }
      const pack = await packFolder(folder);
      return signPack(pack, signer);
    },
    async upload(caller, pack) {
      const release = `${pack.manifest.name}@${pack.manifest.version}`;
      const upload = await repo.publisher.begin(caller, pack.tag, release);
      for (const hash of await repo.publisher.missing(caller, upload, [...pack.objects.keys()])) {
        const object = pack.objects.get(hash)!;
        await repo.publisher.receive(upload, hash, deflateObject(object.type, object.content));
      }
      return repo.publisher.commit(caller, upload);
    },
    async publish(signer, manifest, files) {
      return fixture.upload(signer, await fixture.pack(signer, manifest, files));
    },
    async close() {
      await store.cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
  return fixture;
}
