/** The repository's index tables (names, versions, owners, tags, keys, locks), as Kysely sees them. */

export interface RepoPackagesTable {
  name: string;
  created_at: string;
  /** The first publisher: they owned the name first. */
  created_by: string;
  /** JSON array of usernames: the owners named by the last version published. */
  owners: string;
  /** Bumped on every publish, so two publishes of one name at once cannot both change owners. */
  publish_seq: number;
  deprecated_message: string | null;
  deprecated_at: string | null;
  deprecated_by: string | null;
  updated_at: string;
}

export interface RepoVersionsTable {
  name: string;
  version: string;
  /** Hash of the package's root tree. */
  tree: string;
  /** Hash of the signed release tag. */
  tag: string;
  /** Canonical manifest JSON. Data only: parsed, never evaluated. */
  manifest: string;
  visibility: string;
  description: string;
  publisher: string;
  key_id: string;
  published_at: string;
  /** JSON array of {name, version, tree, tag}: every dependency, resolved at publish. */
  lock: string;
  yanked_at: string | null;
  yanked_by: string | null;
  yank_reason: string | null;
}

/** One row per owner per version; usernames are lower-cased. */
export interface RepoVersionOwnersTable {
  name: string;
  version: string;
  username: string;
}

export interface RepoVersionTagsTable {
  name: string;
  version: string;
  tag: string;
}

/** The search index: lower-case words from names, descriptions and tags, matched by prefix. */
export interface RepoSearchTermsTable {
  name: string;
  version: string;
  term: string;
}

/** Which objects each version reaches; an object is served only through a visible version. */
export interface RepoObjectRefsTable {
  hash: string;
  name: string;
  version: string;
}

export interface RepoKeysTable {
  /** The key's SHA-256 fingerprint, `SHA256:…`. */
  id: string;
  user_id: string;
  username: string;
  /** `ssh-ed25519 AAAA…` */
  public_key: string;
  comment: string;
  created_at: string;
  removed_at: string | null;
}

/** Uploads in progress; each has a staging folder named by its id. */
export interface RepoUploadsTable {
  id: string;
  user_id: string;
  /**
   * `name@version` as the uploader claims it: a retry of the same release resumes the same
   * staging folder even when its tag was signed again (the commit checks the claim).
   */
  release: string;
  /** The release tag hash most recently offered. */
  tag: string;
  created_at: string;
  updated_at: string;
}

export interface RepositoryDatabase {
  repo_packages: RepoPackagesTable;
  repo_versions: RepoVersionsTable;
  repo_version_owners: RepoVersionOwnersTable;
  repo_version_tags: RepoVersionTagsTable;
  repo_search_terms: RepoSearchTermsTable;
  repo_object_refs: RepoObjectRefsTable;
  repo_keys: RepoKeysTable;
  repo_uploads: RepoUploadsTable;
}
