/** The files API (issue 4): sessions, entries, history and the live file socket's messages. */
import { z } from 'zod';

/**
 * Files up to this size open as text with a hash and can be saved; larger ones open
 * read-only a page at a time. 2 MiB is a big config file and a small log.
 */
export const FILE_TEXT_MAX_BYTES = 2 * 1024 * 1024;
/** Longest path accepted, in bytes (Linux's PATH_MAX less its NUL). */
export const FILE_PATH_MAX_BYTES = 4095;

export type FileEntryType = 'file' | 'dir' | 'symlink' | 'other';
/** What a symlink resolves to; `outside` when the account's path policy hides its target. */
export type FileLinkType = 'file' | 'dir' | 'other' | 'missing' | 'loop' | 'outside';

/**
 * One folder entry. `name` is for people; a name that is not UTF-8 shows with U+FFFD in
 * `name` and comes exactly in `nameB64` (and `pathB64`), which requests accept back.
 */
export interface FileEntry {
  name: string;
  nameB64?: string;
  path: string;
  pathB64?: string;
  type: FileEntryType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  owner?: string;
  group?: string;
  /** ISO-8601. */
  mtime: string;
  target?: string;
  targetB64?: string;
  targetType?: FileLinkType;
}

export interface FileSessionView {
  id: string;
  agentId: string;
  accountId: string;
  ticketId: string | null;
  userId: string;
  username: string;
  canWrite: boolean;
  /** The account's allowed folders when the session opened ([] = everything). */
  roots: string[];
  startedAt: string;
  endedAt: string | null;
  endReason: string | null;
  status: 'live' | 'ended';
}

export type FileEventKind =
  'list' | 'view' | 'save' | 'upload' | 'download' | 'delete' | 'mkdir' | 'rename' | 'chmod';

export interface FileEventView {
  id: string;
  at: string;
  code: string;
  kind: FileEventKind;
  agentId: string;
  path: string;
  pathB64?: string;
  /** Rename: where it went. */
  toPath?: string;
  toPathB64?: string;
  username: string;
  userId: string;
  sessionId: string;
  ticketId: string | null;
  beforeHash?: string;
  afterHash?: string;
  bytes?: number;
  /** Kind-specific facts: a chmod's mode, a listing's entry count, a recursive delete's counts. */
  detail?: Record<string, unknown>;
}

const HASH = z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in hex');
/** Characters, generously: the endpoint counts the bytes and says so when there are too many. */
const PathText = z
  .string()
  .min(1)
  .max(FILE_PATH_MAX_BYTES * 4);
const PathB64 = z.string().min(1).max(8192);
const id = z.string().min(1).max(64);

/** Where a request points: `path` as text, or `pathB64` for a name that is not UTF-8. */
export const FilePathRef = z
  .strictObject({ path: PathText.optional(), pathB64: PathB64.optional() })
  .refine((v) => (v.path === undefined) !== (v.pathB64 === undefined), 'give path or pathB64');

export const FileSessionRequest = z.strictObject({
  ticket: id.optional(),
  readApproval: id.optional(),
  writeApproval: id.optional(),
});

export const FileWriteAccessRequest = z.strictObject({ approval: id });

export const FileTextQuery = z.strictObject({
  path: PathText.optional(),
  pathB64: PathB64.optional(),
  offset: z.coerce.number().int().min(0).optional(),
  length: z.coerce.number().int().min(1).max(FILE_TEXT_MAX_BYTES).optional(),
  /** The last N bytes (follow mode). */
  tail: z.coerce.number().int().min(1).max(FILE_TEXT_MAX_BYTES).optional(),
});

export const FileDiffRequest = z.strictObject({
  path: PathText.optional(),
  pathB64: PathB64.optional(),
  content: z.string().max(FILE_TEXT_MAX_BYTES),
  baseHash: HASH,
});

export const FileSaveRequest = FileDiffRequest;

export const FileMkdirRequest = z.strictObject({
  path: PathText.optional(),
  pathB64: PathB64.optional(),
  mode: z.number().int().min(0).max(0o7777).optional(),
});

export const FileRenameRequest = z.strictObject({
  from: PathText.optional(),
  fromB64: PathB64.optional(),
  to: PathText.optional(),
  toB64: PathB64.optional(),
});

export const FileDeleteRequest = z.strictObject({
  path: PathText.optional(),
  pathB64: PathB64.optional(),
  recursive: z.boolean().optional(),
});

export const FileChmodRequest = z.strictObject({
  path: PathText.optional(),
  pathB64: PathB64.optional(),
  mode: z.number().int().min(0).max(0o7777),
});

export interface FileTextView {
  path: string;
  pathB64?: string;
  size: number;
  /** SHA-256 of the whole file when it is at most FILE_TEXT_MAX_BYTES, else null. */
  hash: string | null;
  offset: number;
  /** Bytes of the file this page covers; the next page starts at offset + length. */
  length: number;
  content: string;
  /** NUL bytes or invalid UTF-8 in the range; `base64` then carries the bytes for a hex view. */
  binary: boolean;
  base64?: string;
  eof: boolean;
  /** Too large, binary, or the session cannot write: the site shows it read-only. */
  readOnly: boolean;
}

/** Text frames the endpoint sends on `/api/v1/file-sessions/:id/socket`. */
export type FileServerMessage =
  | { type: 'hello'; session: string; role: 'editor' | 'observer'; readOnly: boolean }
  | { type: 'cwd'; path: string; pathB64?: string }
  | { type: 'open'; path: string; pathB64?: string; hash: string | null }
  | { type: 'closed'; path: string; pathB64?: string }
  | { type: 'saved'; path: string; pathB64?: string; hash: string }
  | { type: 'ended'; by: string | null; reason: string }
  | { type: 'error'; error: { code: string; message: string } };

/** Text frames the editor sends (observers' are dropped). */
export const FileClientMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('cwd'), path: PathText }),
  z.strictObject({ type: z.literal('open'), path: PathText }),
  z.strictObject({ type: z.literal('close') }),
]);
export type FileClientMessage = z.infer<typeof FileClientMessage>;
