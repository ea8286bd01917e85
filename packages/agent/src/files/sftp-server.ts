/**
 * The agent's SFTP v3 server on one SSH `sftp` subsystem channel, on the real file system.
 * Nothing is served until the endpoint sets the session's path policy (`policy@tether`);
 * every path then goes through CheckedFs. Requests run concurrently and answer by id.
 */
import type { Dir } from 'node:fs';
import { opendir } from 'node:fs/promises';
import { closeFd, fstatFd, readFd, writeFd } from './fd-io.ts';
import { constants } from 'node:fs';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import {
  Ext,
  MAX_DATA_BYTES,
  MAX_HANDLES,
  MAX_PACKET_BYTES,
  MalformedPacket,
  OpenFlag,
  Packet,
  PacketReader,
  PacketSplitter,
  PacketWriter,
  SFTP_VERSION,
  Status,
  statusMessage,
  type NameEntry,
} from '@tether/protocol/sftp';
import { CheckedFs, Refused, type CheckHooks } from './checked-fs.ts';
import { describeFailure } from './fs-errors.ts';
import { EntryOps } from './entry-ops.ts';
import { PathPolicy, PolicyError } from './path-policy.ts';

/** Requests being worked on at once; past this the channel is not read until some finish. */
const MAX_CONCURRENT_REQUESTS = 64;
/** Entries per READDIR answer: enough to list a big folder in few round trips. */
const READDIR_BATCH = 128;
const { O_RDONLY, O_WRONLY, O_RDWR, O_APPEND, O_CREAT, O_TRUNC, O_EXCL } = constants;

/** Extensions named in VERSION, with their versions (OpenSSH's numbering for its own). */
const EXTENSIONS: [string, string][] = [
  [Ext.policy, '1'],
  [Ext.casRename, '1'],
  [Ext.posixRename, '1'],
  [Ext.hardlink, '1'],
  [Ext.fsync, '1'],
  [Ext.statvfs, '2'],
  [Ext.limits, '1'],
];

/**
 * Requests still using a handle. CLOSE waits for them before closing the descriptor: a
 * descriptor number closed under a running read could be reused by the next open (of any
 * channel) and that read would return another file's bytes.
 */
interface InUse {
  busy: number;
  idle?: () => void;
}

interface FileHandle extends InUse {
  kind: 'file';
  fd: number;
  path: Buffer;
  writable: boolean;
}

interface DirHandle extends InUse {
  kind: 'dir';
  fd: number;
  path: Buffer;
  dir: Dir;
}

type Handle = FileHandle | DirHandle;

export interface SftpServerOptions {
  log: Logger;
  /** Preset policy (a local test or tool); otherwise the endpoint must send one first. */
  policy?: PathPolicy;
  hooks?: CheckHooks;
}

export function serveSftp(channel: Duplex, options: SftpServerOptions): void {
  new SftpSession(channel, options).start();
}

/** Ends file channels whose link went away: their handles close, temporaries go. */
export function closeChannels(channels: Set<Duplex>): void {
  for (const channel of channels) channel.destroy();
  channels.clear();
}

class SftpSession {
  private fs: CheckedFs | null = null;
  private ops: EntryOps | null = null;
  private readonly handles = new Map<number, Handle>();
  private nextHandle = 1;
  private running = 0;
  private pausedForOutput = false;
  private closed = false;
  private log: Logger;
  private readonly splitter = new PacketSplitter(MAX_PACKET_BYTES);

  constructor(
    private readonly channel: Duplex,
    private readonly options: SftpServerOptions,
  ) {
    this.log = options.log;
    if (options.policy) this.setPolicy(options.policy);
  }

  start(): void {
    this.channel.on('data', (chunk: Buffer) => {
      try {
        this.splitter.push(chunk, (packet) => this.accept(packet));
      } catch (error) {
        this.log.warn({ err: error }, 'malformed SFTP stream; closing the channel');
        this.channel.destroy();
      }
    });
    this.channel.on('drain', () => {
      this.pausedForOutput = false;
      this.flow();
    });
    this.channel.on('error', (error) => this.log.debug({ err: error }, 'file channel error'));
    this.channel.on('close', () => void this.shutdown());
    this.channel.on('end', () => this.channel.end());
  }

  private setPolicy(policy: PathPolicy): void {
    this.fs = new CheckedFs(policy, this.options.hooks);
    this.ops = new EntryOps(this.fs);
    this.log = this.options.log.child({ sessionId: policy.sessionId || null });
    this.log.info({ readOnly: policy.readOnly }, 'file session channel opened');
  }

  private accept(packet: Buffer): void {
    this.running++;
    this.flow();
    void this.handle(packet).finally(() => {
      this.running--;
      this.flow();
    });
  }

  /** Reads the channel only while requests and answers both have room. */
  private flow(): void {
    if (this.running >= MAX_CONCURRENT_REQUESTS || this.pausedForOutput) this.channel.pause();
    else this.channel.resume();
  }

  private send(packet: Buffer): void {
    if (this.closed) return;
    if (!this.channel.write(packet)) {
      this.pausedForOutput = true;
      this.flow();
    }
  }

  private async handle(packet: Buffer): Promise<void> {
    const type = packet[0];
    const reader = new PacketReader(packet, 1);
    if (type === Packet.INIT) return this.version();
    let id = 0;
    try {
      id = reader.u32();
      await this.dispatch(type, id, reader);
    } catch (error) {
      const failure = describeFailure(error);
      if (!failure.expected) this.log.error({ err: error, type }, 'file request failed');
      else this.log.debug({ type, status: failure.message }, 'file request refused');
      this.status(id, failure.code, failure.message);
    }
  }

  private version(): void {
    const writer = new PacketWriter(Packet.VERSION).u32(SFTP_VERSION);
    for (const [name, version] of EXTENSIONS) writer.string(name).string(version);
    this.send(writer.finish());
  }

  private async dispatch(type: number, id: number, r: PacketReader): Promise<void> {
    if (type === Packet.EXTENDED) return this.extended(id, r);
    const fs = this.fs;
    const ops = this.ops;
    if (!fs || !ops) throw new Refused('EPOLICY', 'no policy was set for this session');
    switch (type) {
      case Packet.OPEN:
        return this.open(id, r.bytes(), r.u32(), r.attrs().mode);
      case Packet.CLOSE:
        return this.closeHandle(id, r.bytes());
      case Packet.READ: {
        const file = this.file(r.bytes());
        const [offset, length] = [r.u64(), r.u32()];
        return holding(file, () => this.read(id, file, offset, length));
      }
      case Packet.WRITE: {
        const file = this.file(r.bytes(), true);
        const [offset, data] = [r.u64(), r.bytes()];
        return holding(file, () => this.write(id, file, offset, data));
      }
      case Packet.FSTAT: {
        const handle = this.handleOf(r.bytes());
        const stats = await holding(handle, () => fstatFd(handle.fd));
        return this.attrs(id, await ops.describe(stats));
      }
      case Packet.LSTAT:
        return this.attrs(id, await ops.lstatAttrs(fs.parse(r.bytes())));
      case Packet.STAT:
        return this.attrs(id, await ops.statAttrs(fs.parse(r.bytes())));
      case Packet.SETSTAT:
        return this.ok(id, await ops.setstat(fs.parse(r.bytes()), r.attrs()));
      case Packet.FSETSTAT: {
        const file = this.file(r.bytes(), true);
        const attrs = r.attrs();
        return this.ok(id, await holding(file, () => ops.fsetstat(file.fd, attrs)));
      }
      case Packet.OPENDIR:
        return this.opendir(id, fs.parse(r.bytes()));
      case Packet.READDIR:
        return this.readdir(id, r.bytes());
      case Packet.REMOVE:
        return this.ok(id, await ops.remove(fs.parse(r.bytes())));
      case Packet.MKDIR:
        return this.ok(id, await ops.mkdir(fs.parse(r.bytes()), r.attrs().mode));
      case Packet.RMDIR:
        return this.ok(id, await ops.rmdir(fs.parse(r.bytes())));
      case Packet.REALPATH:
        return this.name(id, await fs.resolve(fs.parse(r.bytes())));
      case Packet.RENAME:
        return this.ok(id, await ops.rename(fs.parse(r.bytes()), fs.parse(r.bytes()), false));
      case Packet.READLINK:
        return this.name(id, await ops.readlink(fs.parse(r.bytes())));
      case Packet.SYMLINK: {
        // OpenSSH's order: the target first, then where the link goes.
        const target = Buffer.from(r.bytes());
        return this.ok(id, await ops.symlink(target, fs.parse(r.bytes())));
      }
      default:
        return this.status(id, Status.OP_UNSUPPORTED, statusMessage('ENOSYS', 'not supported'));
    }
  }

  private async extended(id: number, r: PacketReader): Promise<void> {
    const name = r.text();
    if (name === Ext.policy) {
      if (this.fs) throw new Refused('EPOLICY', 'the policy is already set');
      try {
        this.setPolicy(await PathPolicy.parse(r.text()));
      } catch (error) {
        if (error instanceof PolicyError) throw new Refused('EPOLICY', error.message);
        throw error;
      }
      return this.ok(id);
    }
    if (name === Ext.limits) {
      const writer = new PacketWriter(Packet.EXTENDED_REPLY).u32(id);
      writer.u64(MAX_PACKET_BYTES).u64(MAX_DATA_BYTES).u64(MAX_DATA_BYTES).u64(MAX_HANDLES);
      return this.send(writer.finish());
    }
    const fs = this.fs;
    const ops = this.ops;
    if (!fs || !ops) throw new Refused('EPOLICY', 'no policy was set for this session');
    switch (name) {
      case Ext.posixRename:
        return this.ok(id, await ops.rename(fs.parse(r.bytes()), fs.parse(r.bytes()), true));
      case Ext.hardlink:
        return this.ok(id, await ops.hardlink(fs.parse(r.bytes()), fs.parse(r.bytes())));
      case Ext.fsync: {
        const file = this.file(r.bytes(), true);
        return this.ok(id, await holding(file, () => ops.fsync(file.fd)));
      }
      case Ext.casRename:
        return this.ok(id, await ops.casRename(fs.parse(r.bytes()), fs.parse(r.bytes()), r.text()));
      case Ext.statvfs: {
        const values = await ops.statvfs(fs.parse(r.bytes()));
        const writer = new PacketWriter(Packet.EXTENDED_REPLY).u32(id);
        for (const value of values) writer.u64(value);
        return this.send(writer.finish());
      }
      default:
        return this.status(id, Status.OP_UNSUPPORTED, statusMessage('ENOSYS', `no ${name}`));
    }
  }

  private async open(id: number, rawPath: Buffer, pflags: number, mode?: number): Promise<void> {
    const fs = this.fs!;
    const path = fs.parse(rawPath);
    const writable = (pflags & OpenFlag.WRITE) !== 0;
    const creating = (pflags & OpenFlag.CREAT) !== 0;
    let flags = writable ? ((pflags & OpenFlag.READ) !== 0 ? O_RDWR : O_WRONLY) : O_RDONLY;
    if (pflags & OpenFlag.APPEND) flags |= O_APPEND;
    if (pflags & OpenFlag.TRUNC) flags |= O_TRUNC;
    if (pflags & OpenFlag.EXCL) flags |= O_EXCL;
    if (creating) flags |= O_CREAT;
    if ((flags & (O_TRUNC | O_APPEND | O_CREAT)) !== 0 && !writable)
      throw new MalformedPacket('create, truncate and append need write access');

    const opened = creating
      ? await this.ops!.create(path, flags, mode ?? 0o644)
      : await fs.openResolved(path, flags, writable ? 'write' : 'read');
    const stats = await fstatFd(opened.fd).catch(async (error: unknown) => {
      await closeFd(opened.fd);
      throw error;
    });
    if (!stats.isFile()) {
      await closeFd(opened.fd);
      throw new Refused('ENOTREG', 'not a regular file');
    }
    this.sendHandle(id, { kind: 'file', fd: opened.fd, path: opened.real, writable, busy: 0 });
  }

  private async opendir(id: number, path: Buffer): Promise<void> {
    const opened = await this.fs!.openResolved(path, O_RDONLY | constants.O_DIRECTORY, 'read');
    try {
      const dir = await opendir(`/proc/self/fd/${opened.fd}`, {
        encoding: 'buffer' as BufferEncoding,
        bufferSize: READDIR_BATCH,
      });
      this.sendHandle(id, { kind: 'dir', fd: opened.fd, path: opened.real, dir, busy: 0 });
    } catch (error) {
      await closeFd(opened.fd);
      throw error;
    }
  }

  private async readdir(id: number, handleId: Buffer): Promise<void> {
    const handle = this.handleOf(handleId);
    if (handle.kind !== 'dir') throw new MalformedPacket('not a folder handle');
    return holding(handle, () => this.readBatch(id, handle));
  }

  private async readBatch(id: number, handle: DirHandle): Promise<void> {
    const names: Buffer[] = [];
    while (names.length < READDIR_BATCH) {
      const entry = await handle.dir.read();
      if (!entry) break;
      names.push(entry.name as unknown as Buffer);
    }
    if (names.length === 0)
      return this.status(id, Status.EOF, statusMessage('EOF', 'end of folder'));
    const entries = await Promise.all(
      names.map((n) => this.ops!.listEntry(handle.fd, handle.path, n)),
    );
    this.nameReply(
      id,
      entries.filter((e): e is NameEntry => e !== null),
    );
  }

  private async read(
    id: number,
    handle: FileHandle,
    offset: number,
    length: number,
  ): Promise<void> {
    const wanted = Math.min(length, MAX_DATA_BYTES);
    const writer = new PacketWriter(Packet.DATA, wanted + 16).u32(id);
    const { buffer, offset: at } = writer.reserve(4 + wanted);
    await this.options.hooks?.beforeRead?.();
    const { bytesRead } = await readFd(handle.fd, buffer, at + 4, wanted, offset);
    if (bytesRead === 0) return this.status(id, Status.EOF, statusMessage('EOF', 'end of file'));
    buffer.writeUInt32BE(bytesRead, at);
    this.send(writer.shrink(wanted - bytesRead).finish());
  }

  private async write(id: number, handle: FileHandle, offset: number, data: Buffer): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await writeFd(
        handle.fd,
        data,
        done,
        data.length - done,
        offset + done,
      );
      done += bytesWritten;
    }
    this.ok(id);
  }

  private async closeHandle(id: number, handleId: Buffer): Promise<void> {
    const handle = this.handleOf(handleId);
    this.handles.delete(handleId.readUInt32BE(0));
    await releaseHandle(handle);
    this.ok(id);
  }

  private file(handleId: Buffer, forWriting = false): FileHandle {
    const handle = this.handleOf(handleId);
    if (handle.kind !== 'file') throw new MalformedPacket('not a file handle');
    if (forWriting && !handle.writable)
      throw new Refused('EREADONLY', 'the file was opened to read');
    if (forWriting && this.fs!.policy.readOnly)
      throw new Refused('EREADONLY', 'this file session may only read');
    return handle;
  }

  private handleOf(handleId: Buffer): Handle {
    const handle = handleId.length === 4 ? this.handles.get(handleId.readUInt32BE(0)) : undefined;
    if (!handle) throw new MalformedPacket('unknown handle');
    return handle;
  }

  private sendHandle(id: number, handle: Handle): void {
    if (this.handles.size >= MAX_HANDLES || this.closed) {
      void releaseHandle(handle);
      throw new Refused('EPOLICY', 'too many open files in this session');
    }
    const number = this.nextHandle++;
    this.handles.set(number, handle);
    const handleId = Buffer.alloc(4);
    handleId.writeUInt32BE(number);
    this.send(new PacketWriter(Packet.HANDLE).u32(id).string(handleId).finish());
  }

  private attrs(id: number, attrs: import('@tether/protocol/sftp').Attrs): void {
    this.send(new PacketWriter(Packet.ATTRS).u32(id).attrs(attrs).finish());
  }

  private name(id: number, path: Buffer): void {
    this.nameReply(id, [{ filename: path, longname: path, attrs: {} }]);
  }

  private nameReply(id: number, entries: NameEntry[]): void {
    const writer = new PacketWriter(Packet.NAME, 256 * entries.length).u32(id).u32(entries.length);
    for (const e of entries) writer.string(e.filename).string(e.longname).attrs(e.attrs);
    this.send(writer.finish());
  }

  private ok(id: number, _done?: void): void {
    this.status(id, Status.OK, '');
  }

  private status(id: number, code: number, message: string): void {
    this.send(
      new PacketWriter(Packet.STATUS).u32(id).u32(code).string(message).string('').finish(),
    );
  }

  /** The channel closed: every descriptor is released and unfinished temporary files removed. */
  private async shutdown(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const handles = [...this.handles.values()];
    this.handles.clear();
    await Promise.all(handles.map(releaseHandle));
    const removed = (await this.ops?.removeTemporaries()) ?? 0;
    this.log.info(
      { openHandles: handles.length, removedTemporaries: removed },
      'file session channel closed',
    );
  }
}

async function holding<T>(handle: InUse, work: () => Promise<T>): Promise<T> {
  handle.busy++;
  try {
    return await work();
  } finally {
    handle.busy--;
    if (handle.busy === 0) handle.idle?.();
  }
}

async function releaseHandle(handle: Handle): Promise<void> {
  if (handle.busy > 0) await new Promise<void>((resolve) => (handle.idle = resolve));
  try {
    if (handle.kind === 'dir') await handle.dir.close();
  } catch {
    // Already closed by the iterator reaching its end; the descriptor below is ours.
  }
  await closeFd(handle.fd).catch(() => {});
}
