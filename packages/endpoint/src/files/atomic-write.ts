/**
 * Writing a file on the agent so that nobody ever sees half of it: the bytes go to a
 * temporary file in the same folder, are fsync'ed, get the original's mode and owner, and
 * only then take the target's name by rename. A failure removes the temporary file; a link
 * that drops leaves it to the agent, which removes it when the channel closes.
 */
import { randomBytes } from 'node:crypto';
import { OpenFlag, sftpWriteFrom, type SftpClient } from '@tether/protocol/sftp';
import { errnoOf } from './file-errors.ts';
import { baseName, joinPath, parentOf } from './paths.ts';

/** Bytes of the target's name kept in the temporary name, so it stays under NAME_MAX (255). */
const NAME_PART_BYTES = 160;
const NEW_FILE_MODE = 0o644;

export interface Keep {
  mode: number;
  uid: number;
  gid: number;
}

export interface Written {
  bytes: number;
  /** False when the agent may not give the file its old owner (an agent not run as root). */
  ownerKept: boolean;
}

/** `.name.tether-<hex>.tmp` beside the target: the agent knows the pattern and cleans it up. */
export function temporaryFor(target: Buffer): Buffer {
  const name = baseName(target).subarray(0, NAME_PART_BYTES);
  const suffix = Buffer.from(`.tether-${randomBytes(8).toString('hex')}.tmp`);
  return joinPath(parentOf(target), Buffer.concat([Buffer.from('.'), name, suffix]));
}

export async function writeTemporary(
  client: SftpClient,
  temp: Buffer,
  source: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer>,
  keep: Keep | null,
  onChunk?: (chunk: Buffer) => void,
): Promise<Written> {
  const mode = keep ? keep.mode & 0o7777 : NEW_FILE_MODE;
  const handle = await client.open(temp, OpenFlag.WRITE | OpenFlag.CREAT | OpenFlag.EXCL, { mode });
  try {
    const bytes = await sftpWriteFrom(client, handle, source, { onChunk });
    await client.fsync(handle);
    let ownerKept = true;
    if (keep) {
      try {
        await client.fsetstat(handle, { uid: keep.uid, gid: keep.gid, mode });
      } catch (error) {
        if (errnoOf(error) !== 'EPERM') throw error;
        ownerKept = false;
        await client.fsetstat(handle, { mode });
      }
    }
    await client.close(handle);
    return { bytes, ownerKept };
  } catch (error) {
    await client.close(handle).catch(() => {});
    await discard(client, temp);
    throw error;
  }
}

/** Removes a temporary file; a failure here is not the caller's news (the agent cleans up). */
export async function discard(client: SftpClient, temp: Buffer): Promise<void> {
  await client.remove(temp).catch(() => {});
}
