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
export { repositoryRoutes, API_PREFIX, type Authenticate, type RouteTable } from './http/routes.ts';
export { registerSync } from './sync/server.ts';
export { SyncClient, type FetchResult, type ObjectSink } from './sync/client.ts';
export { PackSink } from './sync/pack-sink.ts';
export { SYNC_PATH, SYNC_PROTOCOL } from './sync/protocol.ts';
export { walkObjects } from './sync/walk.ts';
export { LooseObjects, ObjectStore, decodeLoose } from './objects/object-store.ts';
export type { Resolved } from './catalog.ts';
export type { Published } from './publish.ts';
export {
  CALLER_HEADER,
  forwardCaller,
  trustedKeys,
  verifyForwardedCaller,
} from './forwarded-caller.ts';
