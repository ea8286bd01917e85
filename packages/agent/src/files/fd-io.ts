/**
 * Descriptor calls as promises on plain fd numbers. The server keeps fds in its own handle
 * table (and reaches entries through /proc/self/fd/N), which fs/promises' FileHandle objects
 * would only wrap.
 */
import fs from 'node:fs';
import { promisify } from 'node:util';

export const openFd = promisify(fs.open) as (
  path: fs.PathLike,
  flags: number,
  mode?: number,
) => Promise<number>;
export const closeFd = promisify(fs.close);
export const fstatFd = promisify(fs.fstat) as (fd: number) => Promise<fs.Stats>;
export const readFd = promisify(fs.read) as (
  fd: number,
  buffer: Buffer,
  offset: number,
  length: number,
  position: number,
) => Promise<{ bytesRead: number }>;
export const writeFd = promisify(fs.write) as (
  fd: number,
  buffer: Buffer,
  offset: number,
  length: number,
  position: number,
) => Promise<{ bytesWritten: number }>;
export const fchmodFd = promisify(fs.fchmod);
export const fchownFd = promisify(fs.fchown);
export const fsyncFd = promisify(fs.fsync);
export const ftruncateFd = promisify(fs.ftruncate) as (fd: number, length: number) => Promise<void>;
export const futimesFd = promisify(fs.futimes);
