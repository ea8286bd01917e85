/** The repository's REST API (packages/repository/src/http/routes.ts) as the site reads it. */
import type { AuditEvent } from '../api/types.ts';
import { ApiError, NETWORK_ERROR, errorFrom } from '../api/client.ts';

const BASE = '/api/v1/repository';
/** The code the endpoint's agent proxy writes when it serves a script's objects to an agent. */
export const AGENT_FETCH_CODE = 'T3507I';
/**
 * How many of the latest agent fetches a package page searches: the audit API filters by code,
 * not by tree, so older fetches of a package are not found.
 */
const AGENT_FETCH_LIMIT = 500;

export interface PackageSummary {
  name: string;
  latest: string;
  description: string;
  tags: string[];
  owners: string[];
  visibility: string;
  deprecated: string | null;
  updatedAt: string;
  latestYanked: boolean;
  yankedVersions: number;
}

export interface PackagePage {
  packages: PackageSummary[];
  nextCursor: string | null;
}

export interface VersionView {
  name: string;
  version: string;
  tree: string;
  tag: string;
  publisher: string;
  /** The publisher key's fingerprint (`SHA256:…`) that signed the release tag. */
  keyId: string;
  publishedAt: string;
  visibility: string;
  owners: string[];
  /** Who may see and run it, in words. */
  audience: string;
  yanked: { at: string; by: string | null; reason: string } | null;
}

export interface PackageDetail extends PackageSummary {
  createdAt: string;
  deprecatedAt: string | null;
  versions: VersionView[];
}

export interface LockEntry {
  name: string;
  version: string;
  tree: string;
  tag: string;
}

export interface Manifest {
  name: string;
  version: string;
  description: string;
  tags: string[];
  owners: string[];
  visibility: string;
  dependencies: Record<string, string>;
  capabilities: Partial<Record<string, string[]>>;
}

export interface VersionDetail extends VersionView {
  manifest: Manifest;
  lock: LockEntry[];
  /** Some locked dependency is hidden from the caller and left out of `lock`. */
  lockHidden: boolean;
}

export interface TreeEntry {
  name: string;
  mode: string;
  hash: string;
  type: 'tree' | 'blob';
}

export interface PackageFilter {
  q?: string;
  tag?: string;
  owner?: string;
}

/** A path inside a version: a folder's entries, or the first `limit` bytes of a file. */
export type PathContent =
  | { kind: 'tree'; hash: string; entries: TreeEntry[] }
  | { kind: 'blob'; hash: string; size: number; bytes: Uint8Array; truncated: boolean };

export const scriptsApi = {
  packages: (filter: PackageFilter, cursor?: string, limit?: number) =>
    getJson<PackagePage>(
      `/packages${queryString({ ...filter, cursor, limit: limit ? String(limit) : undefined })}`,
    ),
  package: (name: string) =>
    getJson<{ package: PackageDetail }>(`/packages/${encodeURIComponent(name)}`).then(
      (r) => r.package,
    ),
  version: (name: string, version: string) =>
    getJson<{ version: VersionDetail }>(
      `/packages/${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`,
    ).then((r) => r.version),
  /** Where a file's bytes are; the endpoint serves them as a download, never as a page. */
  fileUrl: (name: string, version: string, path: string) =>
    `${BASE}${filesPath(name, version, path)}`,
  path: (name: string, version: string, path: string, limit: number) =>
    readPath(filesPath(name, version, path), limit),
  /** Agents' fetches of scripts that the caller may see in the audit log, newest first. */
  agentFetches: () =>
    getJsonAt<{ events: AuditEvent[] }>(
      `/api/v1/audit?code=${AGENT_FETCH_CODE}&limit=${AGENT_FETCH_LIMIT}`,
    ).then((r) => r.events),
};

function filesPath(name: string, version: string, path: string): string {
  const segments = path.split('/').filter(Boolean).map(encodeURIComponent).join('/');
  const release = `${encodeURIComponent(name)}/versions/${encodeURIComponent(version)}`;
  return `/packages/${release}/files/${segments}`;
}

function getJson<T>(path: string): Promise<T> {
  return getJsonAt<T>(`${BASE}${path}`);
}

async function getJsonAt<T>(url: string): Promise<T> {
  const response = await reach(url);
  const body = await response.json().catch(() => undefined);
  if (response.ok && body !== undefined) return body as T;
  throw errorFrom(response, body);
}

/**
 * Folders answer JSON, files their bytes. A file is read only up to `limit` bytes and the rest
 * of the download is cancelled, so opening a large file costs no more than the part shown.
 */
async function readPath(path: string, limit: number): Promise<PathContent> {
  const response = await reach(`${BASE}${path}`);
  const type = response.headers.get('content-type') ?? '';
  if (!response.ok || type.startsWith('application/json')) {
    const body = await response.json().catch(() => undefined);
    if (!response.ok || body === undefined) throw errorFrom(response, body);
    const tree = body as { tree: string; entries: TreeEntry[] };
    return { kind: 'tree', hash: tree.tree, entries: tree.entries };
  }

  const hash = response.headers.get('x-git-hash') ?? '';
  const declared = Number(response.headers.get('content-length'));
  const { bytes, complete } = await readUpTo(response, limit);
  const size = complete ? bytes.length : Number.isFinite(declared) ? declared : bytes.length;
  return { kind: 'blob', hash, size, bytes, truncated: !complete };
}

async function readUpTo(
  response: Response,
  limit: number,
): Promise<{ bytes: Uint8Array; complete: boolean }> {
  if (!response.body) return { bytes: new Uint8Array(), complete: true };
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let length = 0;
  let complete = true;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    length += value.length;
    if (length > limit) {
      complete = false;
      await reader.cancel();
      break;
    }
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return { bytes: complete ? bytes : bytes.subarray(0, limit), complete };
}

async function reach(url: string): Promise<Response> {
  try {
    return await fetch(url, { credentials: 'same-origin' });
  } catch (cause) {
    throw new ApiError(NETWORK_ERROR, 'cannot reach the Tether server', 0, { cause });
  }
}

function queryString(query: Record<string, string | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value) params.set(key, value);
  const text = params.toString();
  return text ? `?${text}` : '';
}
