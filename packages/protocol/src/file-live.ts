/**
 * The live file socket (`/api/v1/file-sessions/:id/socket`): text frames are typed JSON control
 * messages, binary frames are Yjs bytes, and the two are never mixed. A binary frame's first
 * byte says what the rest is: a y-protocols sync message of the open document, or an awareness
 * update (cursors and selections).
 */
import { z } from 'zod';

export const FILE_LIVE_SYNC = 0;
export const FILE_LIVE_AWARENESS = 1;
/** The Y.Text of a shared document that holds the file's content. */
export const FILE_LIVE_TEXT = 'content';

/** Paths in control messages: absolute, no NUL, no longer than Linux's PATH_MAX. */
const LivePath = z
  .string()
  .min(1)
  .max(4096)
  .regex(/^\/[^\0]*$/, 'must be an absolute path');

/** What the editor sends; observers send nothing (their frames are dropped and audited). */
export const FileLiveClientMessage = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('cwd'), path: LivePath }),
  z.strictObject({ type: z.literal('open'), path: LivePath }),
  z.strictObject({ type: z.literal('close') }),
]);
export type FileLiveClientMessage = z.infer<typeof FileLiveClientMessage>;

export type FileLiveRole = 'editor' | 'observer';

/** What the endpoint sends as text frames. */
export type FileLiveServerMessage =
  | { type: 'hello'; session: string; role: FileLiveRole; readOnly: boolean }
  | { type: 'cwd'; path: string }
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
