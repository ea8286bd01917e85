/** How a failed file operation is told over SFTP: a status code and `ERRNO: message`. */
import { MalformedPacket, Status, statusMessage } from '@tether/protocol/sftp';
import { Refused } from './checked-fs.ts';

/** Short messages people read; the errno in front is what the endpoint branches on. */
const MESSAGES: Record<string, string> = {
  ENOENT: 'no such file or folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EEXIST: 'it already exists',
  ENOTDIR: 'not a folder',
  EISDIR: 'is a folder',
  ENOTEMPTY: 'the folder is not empty',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  ENAMETOOLONG: 'a name is too long',
  ELOOP: 'too many levels of symbolic links',
  EXDEV: 'cannot move across file systems',
  EBUSY: 'the file is busy',
  EFBIG: 'the file is too large',
  EINVAL: 'invalid argument',
  EMFILE: 'too many open files',
  EIO: 'input/output error',
  ETXTBSY: 'the file is a running program',
};

export interface WireStatus {
  code: number;
  message: string;
}

/** Whether the failure is the caller's (expected) rather than a fault in the agent. */
export function describeFailure(error: unknown): WireStatus & { expected: boolean } {
  if (error instanceof Refused) {
    const denied = ['EPOLICY', 'EREADONLY', 'ECHANGED'].includes(error.errno);
    const code = denied ? Status.PERMISSION_DENIED : Status.FAILURE;
    return { code, message: statusMessage(error.errno, error.message), expected: true };
  }
  if (error instanceof MalformedPacket)
    return {
      code: Status.BAD_MESSAGE,
      message: statusMessage('EBADMSG', error.message),
      expected: true,
    };
  const errno = (error as NodeJS.ErrnoException | null)?.code;
  if (typeof errno === 'string' && errno in MESSAGES) {
    const code =
      errno === 'ENOENT'
        ? Status.NO_SUCH_FILE
        : errno === 'EACCES' || errno === 'EPERM'
          ? Status.PERMISSION_DENIED
          : Status.FAILURE;
    return { code, message: statusMessage(errno, MESSAGES[errno]), expected: true };
  }
  return {
    code: Status.FAILURE,
    message: statusMessage('EIO', 'the agent failed'),
    expected: false,
  };
}
