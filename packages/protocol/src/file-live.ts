/**
 * The live file socket (`/api/v1/file-sessions/:id/socket`): text frames are typed JSON control
 * messages, binary frames are Yjs bytes, and the two are never mixed. A binary frame's first
 * byte says what the rest is: a y-protocols sync message of the open document, or an awareness
 * update (cursors and selections).
 */
import { z } from 'zod';
import { FILE_LIVE_LISTING_MAX } from './file-live-frames.ts';

export * from './file-live-frames.ts';

/** Paths in control messages: absolute, no NUL, no longer than Linux's PATH_MAX. */
const LivePath = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^\/[^\0]*$/, 'must be an absolute path');

/**
 * A folder as the editor's page listed it, for the observers' view of it (they may not list
 * through the session themselves), at most FILE_LIVE_LISTING_MAX entries.
 */
const ShortText = z.string().max(1024);
const ListedEntry = z.strictObject({
  name: ShortText.min(1),
  type: z.enum(['file', 'dir', 'symlink', 'other']),
  size: z.number().int().min(0),
  mode: z.number().int().min(0),
  uid: z.number().int().min(0),
  gid: z.number().int().min(0),
  owner: ShortText.optional(),
  group: ShortText.optional(),
  mtime: z.string().max(40),
  target: z.string().max(4096).optional(),
  targetType: z.string().max(16).optional(),
});
export type FileLiveEntry = z.infer<typeof ListedEntry>;

const Listing = z.strictObject({
  type: z.literal('listing'),
  path: LivePath,
  entries: z.array(ListedEntry).max(FILE_LIVE_LISTING_MAX),
  truncated: z.boolean(),
});

/** What the editor sends; observers send nothing (their frames are dropped and audited). */
export const FileLiveClientMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('cwd'), path: LivePath }),
  z.strictObject({ type: z.literal('open'), path: LivePath }),
  z.strictObject({ type: z.literal('close') }),
  Listing,
]);
export type FileLiveClientMessage = z.infer<typeof FileLiveClientMessage>;

export type FileLiveRole = 'editor' | 'observer';

/** What the endpoint sends as text frames. */
export type FileLiveServerMessage =
  | { type: 'hello'; session: string; role: FileLiveRole; readOnly: boolean }
  | { type: 'cwd'; path: string }
  /** The folder's entries as the editor's page shows them (observers cannot list themselves). */
  | { type: 'listing'; path: string; entries: FileLiveEntry[]; truncated: boolean }
  /**
   * The file everyone now looks at. `shared` means a Yjs document follows in binary frames
   * (a text file of at most the text limit); otherwise (large or binary) there is none and
   * clients read it page by page over REST. `hash` is null for files over the text limit.
   */
  | {
      type: 'open';
      path: string;
      hash: string | null;
      size: number;
      shared: boolean;
      binary: boolean;
    }
  | { type: 'closed'; path: string }
  | { type: 'saved'; path: string; hash: string }
  /** Who else is on the socket, so the editor knows who watches. */
  | { type: 'watchers'; people: { username: string; role: FileLiveRole }[] }
  | { type: 'ended'; by: string | null; reason: string }
  | { type: 'error'; error: { code: string; message: string } };
