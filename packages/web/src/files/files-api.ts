/** The files REST API (contracts/files-api.md) as the Files pages call it. */
import type { ApprovalView } from '@tether/protocol';
import { ApiError, NETWORK_ERROR, errorFrom } from '../api/client.ts';
import { refBody, refQuery, type FileRef } from './file-paths.ts';

export interface FileSession {
  id: string;
  agentId: string;
  ticketId: string | null;
  userId: string;
  username: string;
  canWrite: boolean;
  /** The account's allowed folders when the session opened ([] = everything). */
  roots?: string[];
  startedAt: string;
  endedAt: string | null;
  status: 'live' | 'ended';
}

export type EntryType = 'file' | 'dir' | 'symlink' | 'other';
/** What a symlink resolves to; `outside` when the account's path policy hides its target. */
export type LinkType = 'file' | 'dir' | 'other' | 'missing' | 'loop' | 'outside';

export interface Entry {
  name: string;
  /** The raw name, when it is not valid UTF-8 (`name` is then a lossy rendering). */
  nameB64?: string;
  type: EntryType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  owner?: string;
  group?: string;
  mtime: string;
  target?: string;
  targetType?: LinkType | string;
}

export interface Listing {
  path: string;
  entries: Entry[];
}

export interface TextPage {
  path: string;
  size: number;
  /** SHA-256 of the whole file when it is at most the text limit, else null. */
  hash: string | null;
  offset: number;
  /** Bytes this page covers; the next page starts at offset + length. */
  length?: number;
  content: string;
  binary: boolean;
  eof: boolean;
}

export interface DiffAnswer {
  diff: string;
  currentHash: string;
  conflict: boolean;
}

export interface SaveAnswer {
  hash: string;
  previousHash: string;
  diff: string;
}

export type FileEventKind =
  'list' | 'view' | 'save' | 'upload' | 'download' | 'delete' | 'mkdir' | 'rename' | 'chmod';

export interface FileEvent {
  id: string;
  at: string;
  code: string;
  kind: FileEventKind;
  path: string;
  username: string;
  sessionId: string;
  ticketId: string | null;
  beforeHash?: string | null;
  afterHash?: string | null;
  bytes?: number | null;
  /** Rename: where it went. */
  toPath?: string;
  /** Kind-specific facts: a chmod's mode, a listing's entry count. */
  detail?: Record<string, unknown>;
}

/** The text limit: larger files open read-only, a page at a time (the contract's TEXT_MAX). */
export const TEXT_MAX = 2 * 1024 * 1024;

const BASE = '/api/v1';
const enc = encodeURIComponent;

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(`${BASE}${path}`, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (cause) {
    throw new ApiError(NETWORK_ERROR, 'cannot reach the Tether server', 0, { cause });
  }
  let parsed: unknown;
  try {
    parsed = await response.json();
  } catch {
    throw errorFrom(response, undefined);
  }
  if (response.ok) return parsed as T;
  throw errorFrom(response, parsed);
}

function query(params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined) q.set(key, String(value));
  return q.toString();
}

const session = (id: string) => `/file-sessions/${enc(id)}`;

export const filesApi = {
  requestAccess: (
    agentId: string,
    body: { action: 'files.read' | 'files.write'; ticket?: string; detail?: string },
  ) =>
    call<{ approval: ApprovalView }>('POST', `/agents/${enc(agentId)}/access-requests`, body).then(
      (r) => r.approval,
    ),
  approval: (id: string) =>
    call<{ approval: ApprovalView }>('GET', `/approvals/${enc(id)}`).then((r) => r.approval),
  openSession: (
    agentId: string,
    body: { ticket?: string; readApproval?: string; writeApproval?: string },
  ) =>
    call<{ session: FileSession }>('POST', `/agents/${enc(agentId)}/file-sessions`, body).then(
      (r) => r.session,
    ),
  grantWrite: (id: string, approval: string) =>
    call<{ session: FileSession }>('POST', `${session(id)}/write-access`, { approval }).then(
      (r) => r.session,
    ),
  endSession: (id: string) => call<unknown>('DELETE', session(id)),
  session: (id: string) =>
    call<{ session: FileSession }>('GET', session(id)).then((r) => r.session),
  sessions: (agentId: string) =>
    call<{ sessions: FileSession[] }>('GET', `/agents/${enc(agentId)}/file-sessions`).then(
      (r) => r.sessions,
    ),

  list: (id: string, dir: FileRef) =>
    call<Listing>('GET', `${session(id)}/list?${query(refQuery(dir))}`),
  stat: (id: string, ref: FileRef) =>
    call<{ entry: Entry }>('GET', `${session(id)}/stat?${query(refQuery(ref))}`).then(
      (r) => r.entry,
    ),
  text: (id: string, ref: FileRef, range: { offset?: number; length?: number; tail?: number }) =>
    call<TextPage>('GET', `${session(id)}/text?${query({ ...refQuery(ref), ...range })}`),
  downloadUrl: (id: string, ref: FileRef) =>
    `${BASE}${session(id)}/download?${query(refQuery(ref))}`,
  /** The first `length` bytes, for the hex preview of a binary file. */
  async head(id: string, ref: FileRef, length: number): Promise<Uint8Array> {
    let response: Response;
    try {
      response = await fetch(filesApi.downloadUrl(id, ref), {
        credentials: 'same-origin',
        headers: { range: `bytes=0-${length - 1}` },
      });
    } catch (cause) {
      throw new ApiError(NETWORK_ERROR, 'cannot reach the Tether server', 0, { cause });
    }
    if (!response.ok) throw errorFrom(response, await response.json().catch(() => undefined));
    // A server that ignores Range sends everything: keep only what the preview shows.
    return new Uint8Array(await response.arrayBuffer()).slice(0, length);
  },
  diff: (id: string, body: { path: string; content: string; baseHash: string }) =>
    call<DiffAnswer>('POST', `${session(id)}/diff`, body),
  save: (id: string, body: { path: string; content: string; baseHash: string }) =>
    call<SaveAnswer>('PUT', `${session(id)}/text`, body),
  mkdir: (id: string, ref: FileRef, mode?: number) =>
    call<{ entry?: Entry }>('POST', `${session(id)}/mkdir`, { ...refBody(ref), mode }),
  rename: (id: string, from: string, to: string) =>
    call<{ entry?: Entry }>('POST', `${session(id)}/rename`, { from, to }),
  remove: (id: string, ref: FileRef, recursive: boolean) =>
    call<{ entry?: Entry }>('POST', `${session(id)}/delete`, { ...refBody(ref), recursive }),
  chmod: (id: string, ref: FileRef, mode: number) =>
    call<{ entry?: Entry }>('POST', `${session(id)}/chmod`, { ...refBody(ref), mode }),

  events: (agentId: string, params: { cursor?: string; ticket?: string }) =>
    call<{ events: FileEvent[]; next: string | null }>(
      'GET',
      `/agents/${enc(agentId)}/file-events?${query(params)}`,
    ),
  event: (id: string) =>
    call<{ event: FileEvent; diff?: string | null }>('GET', `/file-events/${enc(id)}`),
  blobUrl: (hash: string) => `${BASE}/file-blobs/${enc(hash)}`,
  async blobText(hash: string): Promise<string> {
    let response: Response;
    try {
      response = await fetch(filesApi.blobUrl(hash), { credentials: 'same-origin' });
    } catch (cause) {
      throw new ApiError(NETWORK_ERROR, 'cannot reach the Tether server', 0, { cause });
    }
    if (!response.ok) throw errorFrom(response, await response.json().catch(() => undefined));
    return response.text();
  },
};

export interface UploadProgress {
  loaded: number;
  total: number;
}

/**
 * Streams one file to `PUT …/upload` with progress (fetch cannot report upload progress; XHR
 * can). Resolves with the stored entry and hash; rejects with an ApiError, or an `aborted` one
 * when `signal` fires.
 */
export function uploadFile(
  id: string,
  target: FileRef,
  file: Blob,
  options: { overwrite: boolean; onProgress: (p: UploadProgress) => void; signal?: AbortSignal },
): Promise<{ entry: Entry; hash: string }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const q = query({ ...refQuery(target), overwrite: options.overwrite ? 1 : 0 });
    xhr.open('PUT', `${BASE}${session(id)}/upload?${q}`);
    xhr.withCredentials = true;
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.upload.onprogress = (e) =>
      options.onProgress({ loaded: e.loaded, total: e.lengthComputable ? e.total : file.size });
    xhr.onerror = () => reject(new ApiError(NETWORK_ERROR, 'the upload was cut off', 0));
    xhr.onabort = () => reject(new ApiError('aborted', 'the upload was cancelled', 0));
    xhr.onload = () => {
      let body: unknown;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        body = undefined;
      }
      const response = new Response(null, { status: xhr.status, statusText: xhr.statusText });
      if (xhr.status >= 200 && xhr.status < 300 && body)
        return resolve(body as { entry: Entry; hash: string });
      reject(errorFrom(response, body));
    };
    options.signal?.addEventListener('abort', () => xhr.abort());
    xhr.send(file);
  });
}
