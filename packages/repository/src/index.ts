/** The script repository: git object store, publish, resolve, sync protocol, browse API. */
export { Repository, type RepositoryOptions } from './repository.ts';
export { repositoryMigration } from './index/migrations.ts';
export type { RepositoryDatabase } from './index/schema.ts';
export type { AuditSink, RepositoryAuditEvent, RepositoryAuditKind } from './audit.ts';
export { ANONYMOUS, canSee, type Caller, type CallerRole } from './visibility.ts';
export { parseManifest, type Manifest, type Visibility } from './manifest.ts';
export { packFolder, signPack, type Pack, type SignedPack } from './pack.ts';
export { generatePublisherKey, loadPrivateKey, parsePublicKey } from './keys.ts';
export { isHash } from './objects/git-object.ts';
