/** Failures from the agent's file channel, as the API's errors: one table, one place. */
import { TetherError, type ErrorCode } from '@tether/protocol';
import {
  MalformedPacket,
  SftpClosedError,
  SftpStatusError,
  ShortFileError,
} from '@tether/protocol/sftp';

/** The agent's errno (or Tether refusal) → the API's code and the sentence people read. */
const BY_ERRNO: Record<string, [ErrorCode, string]> = {
  EPOLICY: ['forbidden', 'the path is outside the folders this account allows'],
  EREADONLY: ['forbidden', 'this file session may only read; ask for write access first'],
  ECHANGED: ['conflict', 'the path changed while it was being opened; try again'],
  ECONFLICT: ['conflict', 'the file changed on the server since it was opened'],
  EBADPATH: ['invalid_request', ''],
  ENOTREG: ['invalid_request', 'not a regular file'],
  ENOENT: ['not_found', 'no such file or folder'],
  EACCES: ['forbidden', 'permission denied on the server'],
  EPERM: ['forbidden', 'operation not permitted on the server'],
  EROFS: ['forbidden', 'the file system is read-only'],
  EEXIST: ['conflict', 'it already exists'],
  ENOTEMPTY: ['conflict', 'the folder is not empty'],
  EBUSY: ['conflict', 'the file is busy'],
  ETXTBSY: ['conflict', 'the file is a running program'],
  ENOTDIR: ['invalid_request', 'a part of the path is not a folder'],
  EISDIR: ['invalid_request', 'it is a folder'],
  ENAMETOOLONG: ['invalid_request', 'a name in the path is too long'],
  ELOOP: ['invalid_request', 'too many levels of symbolic links (a symlink loop?)'],
  EXDEV: ['invalid_request', 'cannot move across file systems'],
  EINVAL: ['invalid_request', 'the server refused the request as invalid'],
  EFBIG: ['payload_too_large', 'the file is too large for the server'],
  ENOSPC: ['insufficient_storage', 'no space left on the server’s disk'],
  EDQUOT: ['insufficient_storage', 'the disk quota on the server is exceeded'],
};

/** Maps anything an SFTP call threw; unknown failures stay as they are (a bug: 500). */
export function fileError(error: unknown): unknown {
  if (error instanceof TetherError) return error;
  if (error instanceof SftpStatusError) {
    const [code, message] = BY_ERRNO[error.errno ?? ''] ?? ['internal', 'the agent failed'];
    return new TetherError(code, message || error.message, { cause: error });
  }
  if (error instanceof SftpClosedError)
    return new TetherError('agent_offline', 'the link to the server dropped during the operation', {
      cause: error,
    });
  if (error instanceof ShortFileError)
    return new TetherError('conflict', error.message, { cause: error });
  if (error instanceof MalformedPacket)
    return new TetherError('internal', 'the agent answered with a malformed message', {
      cause: error,
    });
  return error;
}

/** The errno an SFTP failure carried, for branching (ENOENT on a lookup is an answer). */
export function errnoOf(error: unknown): string | null {
  return error instanceof SftpStatusError ? error.errno : null;
}
