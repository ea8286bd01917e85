/**
 * Whole files over SFTP with several requests in flight, in order, and with backpressure: a
 * slow reader stops new READs, a slow agent stops pulling from the source. Memory stays
 * within `inFlight × chunkBytes` whatever the file's size.
 */
import { Readable } from 'node:stream';
import type { SftpClient } from './client.ts';
import { MAX_DATA_BYTES } from './wire.ts';

/**
 * 16 reads of 128 KiB keep 2 MiB asked for, which is ssh2's channel window: more in flight
 * only waits in the window, fewer leaves the link idle between round trips.
 */
export const READ_CHUNK_BYTES = 128 * 1024;
export const READS_IN_FLIGHT = 16;
export const WRITE_CHUNK_BYTES = MAX_DATA_BYTES;
export const WRITES_IN_FLIGHT = 8;

export interface ReadOptions {
  start?: number;
  /** Exclusive; Infinity reads to the end of file. */
  end?: number;
  /** With a finite `end`: an end of file before it is an error (the file shrank). */
  exact?: boolean;
  chunkBytes?: number;
  inFlight?: number;
}

/** Raised when `exact` is set and the file ended early. */
export class ShortFileError extends Error {
  constructor(
    readonly expected: number,
    readonly got: number,
  ) {
    super(`the file shrank while it was read (${got} of ${expected} bytes)`);
    this.name = 'ShortFileError';
  }
}

/** A Readable of the handle's bytes in [start, end). The caller closes the handle. */
export function sftpReadStream(client: SftpClient, handle: Buffer, options: ReadOptions = {}) {
  const chunkBytes = Math.min(options.chunkBytes ?? READ_CHUNK_BYTES, MAX_DATA_BYTES);
  const maxInFlight = options.inFlight ?? READS_IN_FLIGHT;
  const start = options.start ?? 0;
  let end = options.end ?? Infinity;
  let nextAsk = start;
  let nextDeliver = start;
  let inFlight = 0;
  let wanted = false;
  let failed = false;
  let ended = false;
  const arrived = new Map<number, Buffer | null>();

  const stream = new Readable({
    highWaterMark: chunkBytes * 2,
    read() {
      wanted = true;
      pump();
    },
  });

  const ask = (offset: number, length: number): void => {
    inFlight++;
    client.read(handle, offset, length).then(
      (data) => {
        inFlight--;
        if (failed || stream.destroyed) return;
        if (data === null || data.length === 0) {
          arrived.set(offset, null);
        } else {
          arrived.set(offset, data);
          // A short read leaves a gap; ask for the rest before anything past it is delivered.
          if (data.length < length) ask(offset + data.length, length - data.length);
        }
        deliver();
        pump();
      },
      (error: Error) => {
        inFlight--;
        if (failed) return;
        failed = true;
        stream.destroy(error);
      },
    );
  };

  const pump = (): void => {
    while (wanted && !failed && inFlight < maxInFlight && nextAsk < end) {
      const length = Math.min(chunkBytes, end - nextAsk);
      ask(nextAsk, length);
      nextAsk += length;
    }
  };

  const deliver = (): void => {
    while (arrived.has(nextDeliver)) {
      const data = arrived.get(nextDeliver)!;
      arrived.delete(nextDeliver);
      if (data === null) {
        if (options.exact && end !== Infinity && nextDeliver < end) {
          failed = true;
          stream.destroy(new ShortFileError(end - start, nextDeliver - start));
          return;
        }
        end = nextDeliver;
        arrived.clear();
        break;
      }
      nextDeliver += data.length;
      if (!stream.push(data)) wanted = false;
    }
    if (nextDeliver >= end && inFlight === 0 && !ended) {
      ended = true;
      stream.push(null);
    }
  };

  if (start >= end) {
    ended = true;
    queueMicrotask(() => stream.push(null));
  }
  return stream;
}

export interface WriteOptions {
  offset?: number;
  inFlight?: number;
  /** Called with each chunk before it is sent (hashing, counting, a progress bar). */
  onChunk?(chunk: Buffer): void;
}

/**
 * Copies `source` into the handle from `offset` on, several WRITEs in flight. Resolves with
 * the number of bytes written; rejects on the first failed write or a failed source, and stops
 * reading the source at once.
 */
export async function sftpWriteFrom(
  client: SftpClient,
  handle: Buffer,
  source: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer>,
  options: WriteOptions = {},
): Promise<number> {
  const maxInFlight = options.inFlight ?? WRITES_IN_FLIGHT;
  let offset = options.offset ?? 0;
  const first = offset;
  const writes = new Set<Promise<void>>();
  let failure: Error | null = null;
  let held: Buffer[] = [];
  let heldBytes = 0;

  const send = async (data: Buffer): Promise<void> => {
    options.onChunk?.(data);
    const write = client.write(handle, offset, data).catch((error: Error) => {
      failure ??= error;
    });
    offset += data.length;
    writes.add(write);
    void write.finally(() => writes.delete(write));
    if (writes.size >= maxInFlight) await Promise.race(writes);
  };

  const flush = async (): Promise<void> => {
    if (heldBytes === 0) return;
    const data = held.length === 1 ? held[0] : Buffer.concat(held, heldBytes);
    held = [];
    heldBytes = 0;
    for (let at = 0; at < data.length; at += WRITE_CHUNK_BYTES)
      await send(data.subarray(at, at + WRITE_CHUNK_BYTES));
  };

  for await (const piece of source) {
    if (failure) break;
    const chunk =
      typeof piece === 'string'
        ? Buffer.from(piece)
        : Buffer.isBuffer(piece)
          ? piece
          : Buffer.from(piece.buffer, piece.byteOffset, piece.byteLength);
    held.push(chunk);
    heldBytes += chunk.length;
    // Small body chunks are gathered into full-size writes: fewer requests, same bytes.
    if (heldBytes >= WRITE_CHUNK_BYTES) await flush();
  }
  if (!failure) await flush();
  await Promise.all(writes);
  if (failure) throw failure;
  return offset - first;
}
