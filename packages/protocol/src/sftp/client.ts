/**
 * An SFTP v3 client over any byte stream (an SSH `sftp` subsystem channel, a pipe). Requests
 * are pipelined: each returns a promise, answers may come in any order.
 */
import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import {
  Ext,
  MalformedPacket,
  Packet,
  PacketReader,
  PacketSplitter,
  PacketWriter,
  SFTP_VERSION,
  SftpClosedError,
  SftpStatusError,
  Status,
  type Attrs,
  type NameEntry,
  type SftpPolicy,
  type StatVfs,
} from './wire.ts';

/** Request ids wrap at 2^32 (the field is a uint32). */
const MAX_REQUEST_ID = 0xffff_ffff;
/** An agent that does not answer INIT this fast is not serving files. */
const VERSION_TIMEOUT_MS = 15_000;

type Path = Buffer | string;

interface Pending {
  resolve(reader: PacketReader, type: number): void;
  reject(error: Error): void;
}

export interface SftpClientEvents {
  close: [error: Error | null];
}

export class SftpClient extends EventEmitter<SftpClientEvents> {
  /** Extensions the server named in its VERSION reply, with their version strings. */
  readonly extensions = new Map<string, string>();
  private readonly pending = new Map<number, Pending>();
  private readonly splitter = new PacketSplitter();
  private nextId = 0;
  private closedWith: Error | null = null;
  private versionWaiter: ((error: Error | null) => void) | null = null;

  private constructor(private readonly stream: Duplex) {
    super();
    stream.on('data', (chunk: Buffer) => this.receive(chunk));
    stream.on('error', (error) => this.shut(new SftpClosedError({ cause: error })));
    stream.on('close', () => this.shut(new SftpClosedError()));
    stream.on('end', () => this.shut(new SftpClosedError()));
  }

  /** Sends INIT and waits for VERSION. Rejects if the stream closes first. */
  static async start(stream: Duplex): Promise<SftpClient> {
    const client = new SftpClient(stream);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.versionWaiter = null;
        client.end();
        reject(new SftpClosedError({ cause: new Error('no SFTP VERSION reply') }));
      }, VERSION_TIMEOUT_MS);
      client.versionWaiter = (error) => {
        clearTimeout(timer);
        client.versionWaiter = null;
        if (error) reject(error);
        else resolve();
      };
      stream.write(new PacketWriter(Packet.INIT, 8).u32(SFTP_VERSION).finish());
    });
    return client;
  }

  get closed(): boolean {
    return this.closedWith !== null;
  }

  /** Ends the channel; outstanding requests fail with SftpClosedError. */
  end(): void {
    this.stream.end();
    this.stream.destroy();
    this.shut(new SftpClosedError());
  }

  policy(policy: SftpPolicy): Promise<void> {
    return this.extended(Ext.policy, (w) => w.string(JSON.stringify(policy))).then(status);
  }

  open(path: Path, flags: number, attrs: Attrs = {}): Promise<Buffer> {
    return this.call(Packet.OPEN, (w) => w.string(path).u32(flags).attrs(attrs)).then(handle);
  }

  close(handleId: Buffer): Promise<void> {
    return this.call(Packet.CLOSE, (w) => w.string(handleId)).then(status);
  }

  /** Up to `length` bytes at `offset`; null at end of file. */
  read(handleId: Buffer, offset: number, length: number): Promise<Buffer | null> {
    return this.call(Packet.READ, (w) => w.string(handleId).u64(offset).u32(length)).then(
      ([reader, type]) => {
        // A view into the reply packet, which nothing else holds: no copy per chunk.
        if (type === Packet.DATA) return reader.bytes();
        const error = statusOf(reader, type);
        if (error === null) throw new MalformedPacket('OK status for a read');
        if (error.status === Status.EOF) return null;
        throw error;
      },
    );
  }

  write(handleId: Buffer, offset: number, data: Buffer): Promise<void> {
    const size = handleId.length + data.length + 32;
    return this.call(Packet.WRITE, (w) => w.string(handleId).u64(offset).string(data), size).then(
      status,
    );
  }

  lstat(path: Path): Promise<Attrs> {
    return this.call(Packet.LSTAT, (w) => w.string(path)).then(attrsOf);
  }

  stat(path: Path): Promise<Attrs> {
    return this.call(Packet.STAT, (w) => w.string(path)).then(attrsOf);
  }

  fstat(handleId: Buffer): Promise<Attrs> {
    return this.call(Packet.FSTAT, (w) => w.string(handleId)).then(attrsOf);
  }

  setstat(path: Path, attrs: Attrs): Promise<void> {
    return this.call(Packet.SETSTAT, (w) => w.string(path).attrs(attrs)).then(status);
  }

  fsetstat(handleId: Buffer, attrs: Attrs): Promise<void> {
    return this.call(Packet.FSETSTAT, (w) => w.string(handleId).attrs(attrs)).then(status);
  }

  opendir(path: Path): Promise<Buffer> {
    return this.call(Packet.OPENDIR, (w) => w.string(path)).then(handle);
  }

  /** The next batch of entries; null once the folder is exhausted. */
  readdir(handleId: Buffer): Promise<NameEntry[] | null> {
    return this.call(Packet.READDIR, (w) => w.string(handleId)).then(([reader, type]) => {
      if (type === Packet.NAME) return names(reader);
      const error = statusOf(reader, type);
      if (error?.status === Status.EOF) return null;
      throw error ?? new MalformedPacket('OK status for readdir');
    });
  }

  remove(path: Path): Promise<void> {
    return this.call(Packet.REMOVE, (w) => w.string(path)).then(status);
  }

  mkdir(path: Path, attrs: Attrs = {}): Promise<void> {
    return this.call(Packet.MKDIR, (w) => w.string(path).attrs(attrs)).then(status);
  }

  rmdir(path: Path): Promise<void> {
    return this.call(Packet.RMDIR, (w) => w.string(path)).then(status);
  }

  realpath(path: Path): Promise<Buffer> {
    return this.call(Packet.REALPATH, (w) => w.string(path)).then(firstName);
  }

  readlink(path: Path): Promise<Buffer> {
    return this.call(Packet.READLINK, (w) => w.string(path)).then(firstName);
  }

  /** Plain v3 RENAME: fails when `to` exists. */
  rename(from: Path, to: Path): Promise<void> {
    return this.call(Packet.RENAME, (w) => w.string(from).string(to)).then(status);
  }

  /** Argument order as OpenSSH sends it (target first), which is what servers expect. */
  symlink(target: Path, linkPath: Path): Promise<void> {
    return this.call(Packet.SYMLINK, (w) => w.string(target).string(linkPath)).then(status);
  }

  /** rename(2): replaces `to` atomically. */
  posixRename(from: Path, to: Path): Promise<void> {
    return this.extended(Ext.posixRename, (w) => w.string(from).string(to)).then(status);
  }

  /** link(2): fails with EEXIST when `to` exists, which makes it a rename that never replaces. */
  hardlink(from: Path, to: Path): Promise<void> {
    return this.extended(Ext.hardlink, (w) => w.string(from).string(to)).then(status);
  }

  fsync(handleId: Buffer): Promise<void> {
    return this.extended(Ext.fsync, (w) => w.string(handleId)).then(status);
  }

  statvfs(path: Path): Promise<StatVfs> {
    return this.extended(Ext.statvfs, (w) => w.string(path)).then(([reader, type]) => {
      if (type !== Packet.EXTENDED_REPLY) throw statusOf(reader, type) ?? unexpected(type);
      const [bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax] =
        Array.from({ length: 11 }, () => reader.u64());
      return { bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax };
    });
  }

  /**
   * Renames `temp` over `target` only while `target`'s SHA-256 is `expectedHash` (or, with
   * an empty hash, while `target` does not exist). The agent checks and renames under one
   * lock per path, so two savers cannot both win. Fails with errno ECONFLICT otherwise.
   */
  casRename(temp: Path, target: Path, expectedHash: string): Promise<void> {
    return this.extended(Ext.casRename, (w) =>
      w.string(temp).string(target).string(expectedHash),
    ).then(status);
  }

  private extended(
    name: string,
    fill: (writer: PacketWriter) => void,
  ): Promise<[PacketReader, number]> {
    return this.call(Packet.EXTENDED, (w) => fill(w.string(name)));
  }

  private call(
    type: number,
    fill: (writer: PacketWriter) => void,
    sizeHint = 128,
  ): Promise<[PacketReader, number]> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    const id = this.nextId;
    this.nextId = this.nextId === MAX_REQUEST_ID ? 0 : this.nextId + 1;
    const writer = new PacketWriter(type, sizeHint).u32(id);
    fill(writer);
    return new Promise((resolve, reject) => {
      this.pending.set(id, {
        resolve: (reader, replyType) => resolve([reader, replyType]),
        reject,
      });
      this.stream.write(writer.finish());
    });
  }

  private receive(chunk: Buffer): void {
    try {
      this.splitter.push(chunk, (packet) => this.dispatch(packet));
    } catch (error) {
      this.stream.destroy();
      this.shut(new SftpClosedError({ cause: error }));
    }
  }

  private dispatch(packet: Buffer): void {
    const type = packet[0];
    const reader = new PacketReader(packet, 1);
    if (type === Packet.VERSION) {
      reader.u32();
      while (reader.remaining > 0) this.extensions.set(reader.text(), reader.text());
      this.versionWaiter?.(null);
      return;
    }
    const id = reader.u32();
    const waiter = this.pending.get(id);
    if (!waiter) throw new MalformedPacket(`reply to unknown request ${id}`);
    this.pending.delete(id);
    try {
      waiter.resolve(reader, type);
    } catch (error) {
      waiter.reject(error as Error);
    }
  }

  private shut(error: Error): void {
    if (this.closedWith) return;
    this.closedWith = error;
    this.versionWaiter?.(error);
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
    this.emit('close', error);
  }
}

function statusOf(reader: PacketReader, type: number): SftpStatusError | null {
  if (type !== Packet.STATUS) throw unexpected(type);
  const code = reader.u32();
  const message = reader.remaining >= 4 ? reader.text() : '';
  return code === Status.OK ? null : new SftpStatusError(code, message);
}

function status([reader, type]: [PacketReader, number]): void {
  const error = statusOf(reader, type);
  if (error) throw error;
}

function handle([reader, type]: [PacketReader, number]): Buffer {
  if (type === Packet.HANDLE) return Buffer.from(reader.bytes());
  throw statusOf(reader, type) ?? unexpected(type);
}

function attrsOf([reader, type]: [PacketReader, number]): Attrs {
  if (type === Packet.ATTRS) return reader.attrs();
  throw statusOf(reader, type) ?? unexpected(type);
}

function names(reader: PacketReader): NameEntry[] {
  const count = reader.u32();
  const entries: NameEntry[] = [];
  for (let i = 0; i < count; i++) {
    const filename = Buffer.from(reader.bytes());
    const longname = Buffer.from(reader.bytes());
    entries.push({ filename, longname, attrs: reader.attrs() });
  }
  return entries;
}

function firstName([reader, type]: [PacketReader, number]): Buffer {
  if (type !== Packet.NAME) throw statusOf(reader, type) ?? unexpected(type);
  const [first] = names(reader);
  if (!first) throw new MalformedPacket('empty NAME reply');
  return first.filename;
}

function unexpected(type: number): MalformedPacket {
  return new MalformedPacket(`unexpected reply type ${type}`);
}
