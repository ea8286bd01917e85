/**
 * SFTP version 3 on the wire (draft-ietf-secsh-filexfer-02, as OpenSSH speaks it) and the
 * extensions agent and endpoint agree on. Paths and names are raw bytes throughout: a name
 * that is not UTF-8 crosses unchanged.
 */

export const SFTP_VERSION = 3;

export const Packet = {
  INIT: 1,
  VERSION: 2,
  OPEN: 3,
  CLOSE: 4,
  READ: 5,
  WRITE: 6,
  LSTAT: 7,
  FSTAT: 8,
  SETSTAT: 9,
  FSETSTAT: 10,
  OPENDIR: 11,
  READDIR: 12,
  REMOVE: 13,
  MKDIR: 14,
  RMDIR: 15,
  REALPATH: 16,
  STAT: 17,
  RENAME: 18,
  READLINK: 19,
  SYMLINK: 20,
  STATUS: 101,
  HANDLE: 102,
  DATA: 103,
  NAME: 104,
  ATTRS: 105,
  EXTENDED: 200,
  EXTENDED_REPLY: 201,
} as const;

export const Status = {
  OK: 0,
  EOF: 1,
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  BAD_MESSAGE: 5,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;

export const OpenFlag = {
  READ: 0x01,
  WRITE: 0x02,
  APPEND: 0x04,
  CREAT: 0x08,
  TRUNC: 0x10,
  EXCL: 0x20,
} as const;

export const AttrFlag = {
  SIZE: 0x01,
  UIDGID: 0x02,
  PERMISSIONS: 0x04,
  ACMODTIME: 0x08,
  EXTENDED: 0x80000000,
} as const;

/**
 * Data in one READ or WRITE. OpenSSH allows 256 KiB packets; 256 KiB of data keeps a 1 GB
 * transfer at about 4,000 requests, each with a few dozen bytes of header around it.
 */
export const MAX_DATA_BYTES = 256 * 1024;
/** The largest packet either side accepts: the data above plus the request around it. */
export const MAX_PACKET_BYTES = MAX_DATA_BYTES + 4096;
/** Open handles per session; a client that leaks them is refused more, not the agent's fds. */
export const MAX_HANDLES = 256;

/** Extended requests (SSH_FXP_EXTENDED) the agent answers. */
export const Ext = {
  /** Sets the session's path policy; must come before any other request, and only once. */
  policy: 'policy@tether',
  /** Renames a temporary file over a target only if the target still has the given SHA-256. */
  casRename: 'cas-rename@tether',
  posixRename: 'posix-rename@openssh.com',
  hardlink: 'hardlink@openssh.com',
  fsync: 'fsync@openssh.com',
  statvfs: 'statvfs@openssh.com',
  limits: 'limits@openssh.com',
} as const;

/** Extended attributes the agent attaches to NAME and ATTRS replies (values are raw bytes). */
export const AttrExt = {
  owner: 'owner@tether',
  group: 'group@tether',
  /** A symlink's target as stored, and what it resolves to. */
  link: 'link@tether',
  linkType: 'link-type@tether',
  /** Modification time in nanoseconds (v3 attributes carry whole seconds only). */
  mtimeNs: 'mtime-ns@tether',
  ino: 'ino@tether',
} as const;

/** What a symlink resolves to, as the agent tells it: `outside` means the policy hides it. */
export type LinkType = 'file' | 'dir' | 'other' | 'missing' | 'loop' | 'outside';

/** The policy sent with `policy@tether`, as JSON. Paths are base64 of the raw bytes. */
export interface SftpPolicy {
  allow: string[];
  deny: string[];
  readOnly: boolean;
  /** For the agent's logs: which file session this channel serves. */
  sessionId: string;
}

export interface Attrs {
  size?: number;
  uid?: number;
  gid?: number;
  mode?: number;
  atime?: number;
  mtime?: number;
  extended?: Map<string, Buffer>;
}

export interface NameEntry {
  filename: Buffer;
  longname: Buffer;
  attrs: Attrs;
}

export interface StatVfs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  fsid: number;
  flag: number;
  namemax: number;
}

/**
 * A STATUS that is not OK. The agent starts its message with the errno (or a Tether code such
 * as EPOLICY) and a colon, so the endpoint can tell "disk full" from "permission denied".
 */
export class SftpStatusError extends Error {
  readonly status: number;
  readonly errno: string | null;

  constructor(status: number, message: string) {
    const match = /^([A-Z][A-Z0-9_]{1,31}): (.*)$/s.exec(message);
    super(match ? match[2] : message || `sftp status ${status}`);
    this.name = 'SftpStatusError';
    this.status = status;
    this.errno = match ? match[1] : null;
  }
}

/** The channel closed (or failed) with requests outstanding. */
export class SftpClosedError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('the file channel to the agent closed', options);
    this.name = 'SftpClosedError';
  }
}

/** Builds one packet; `finish()` puts the length in front. */
export class PacketWriter {
  private buf: Buffer;
  private at = 4;

  constructor(type: number, sizeHint = 64) {
    this.buf = Buffer.allocUnsafe(Math.max(16, sizeHint + 5));
    this.buf[this.at++] = type;
  }

  u8(value: number): this {
    this.room(1);
    this.buf[this.at++] = value;
    return this;
  }

  u32(value: number): this {
    this.room(4);
    this.buf.writeUInt32BE(value >>> 0, this.at);
    this.at += 4;
    return this;
  }

  u64(value: number): this {
    this.room(8);
    this.buf.writeBigUInt64BE(BigInt(Math.max(0, Math.trunc(value))), this.at);
    this.at += 8;
    return this;
  }

  string(value: Buffer | string): this {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.u32(bytes.length);
    this.room(bytes.length);
    bytes.copy(this.buf, this.at);
    this.at += bytes.length;
    return this;
  }

  attrs(attrs: Attrs): this {
    let flags = 0;
    if (attrs.size !== undefined) flags |= AttrFlag.SIZE;
    if (attrs.uid !== undefined && attrs.gid !== undefined) flags |= AttrFlag.UIDGID;
    if (attrs.mode !== undefined) flags |= AttrFlag.PERMISSIONS;
    if (attrs.atime !== undefined && attrs.mtime !== undefined) flags |= AttrFlag.ACMODTIME;
    if (attrs.extended && attrs.extended.size > 0) flags |= AttrFlag.EXTENDED;
    this.u32(flags);
    if (flags & AttrFlag.SIZE) this.u64(attrs.size!);
    if (flags & AttrFlag.UIDGID) this.u32(attrs.uid!).u32(attrs.gid!);
    if (flags & AttrFlag.PERMISSIONS) this.u32(attrs.mode!);
    if (flags & AttrFlag.ACMODTIME) this.u32(attrs.atime!).u32(attrs.mtime!);
    if (flags & AttrFlag.EXTENDED) {
      this.u32(attrs.extended!.size);
      for (const [key, value] of attrs.extended!) this.string(key).string(value);
    }
    return this;
  }

  /** Reserves `length` bytes for the caller to fill (a read straight into the packet). */
  reserve(length: number): { buffer: Buffer; offset: number } {
    this.room(length);
    const offset = this.at;
    this.at += length;
    return { buffer: this.buf, offset };
  }

  /** Drops bytes reserved but not used (a short read). */
  shrink(by: number): this {
    this.at -= by;
    return this;
  }

  finish(): Buffer {
    this.buf.writeUInt32BE(this.at - 4, 0);
    return this.buf.subarray(0, this.at);
  }

  private room(extra: number): void {
    if (this.at + extra <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + extra));
    this.buf.copy(grown, 0, 0, this.at);
    this.buf = grown;
  }
}

/** Reads one packet's fields; any read past the end throws, and the packet is refused. */
export class PacketReader {
  private at: number;

  constructor(
    private readonly buf: Buffer,
    offset = 0,
  ) {
    this.at = offset;
  }

  get remaining(): number {
    return this.buf.length - this.at;
  }

  u8(): number {
    this.need(1);
    return this.buf[this.at++];
  }

  u32(): number {
    this.need(4);
    const value = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return value;
  }

  u64(): number {
    this.need(8);
    const value = this.buf.readBigUInt64BE(this.at);
    this.at += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER))
      throw new MalformedPacket('64-bit value too large');
    return Number(value);
  }

  /** A string field as the bytes it holds (a view into the packet, not a copy). */
  bytes(): Buffer {
    const length = this.u32();
    this.need(length);
    const value = this.buf.subarray(this.at, this.at + length);
    this.at += length;
    return value;
  }

  text(): string {
    return this.bytes().toString('utf8');
  }

  attrs(): Attrs {
    const flags = this.u32();
    const attrs: Attrs = {};
    if (flags & AttrFlag.SIZE) attrs.size = this.u64();
    if (flags & AttrFlag.UIDGID) {
      attrs.uid = this.u32();
      attrs.gid = this.u32();
    }
    if (flags & AttrFlag.PERMISSIONS) attrs.mode = this.u32();
    if (flags & AttrFlag.ACMODTIME) {
      attrs.atime = this.u32();
      attrs.mtime = this.u32();
    }
    if (flags & AttrFlag.EXTENDED) {
      const count = this.u32();
      if (count > 64) throw new MalformedPacket('too many extended attributes');
      attrs.extended = new Map();
      for (let i = 0; i < count; i++) attrs.extended.set(this.text(), Buffer.from(this.bytes()));
    }
    return attrs;
  }

  private need(length: number): void {
    if (this.at + length > this.buf.length) throw new MalformedPacket('packet too short');
  }
}

export class MalformedPacket extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MalformedPacket';
  }
}

/**
 * Cuts a byte stream into packets (type byte first, length prefix removed). A packet is
 * copied once into a buffer of its own size, however many chunks it arrives in.
 */
export class PacketSplitter {
  private header = Buffer.alloc(4);
  private headerFill = 0;
  private packet: Buffer | null = null;
  private fill = 0;

  constructor(private readonly maxBytes = MAX_PACKET_BYTES) {}

  /** Calls `onPacket` for each complete packet; throws MalformedPacket on a bad length. */
  push(chunk: Buffer, onPacket: (packet: Buffer) => void): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.packet === null) {
        const take = Math.min(4 - this.headerFill, chunk.length - at);
        chunk.copy(this.header, this.headerFill, at, at + take);
        this.headerFill += take;
        at += take;
        if (this.headerFill < 4) return;
        const length = this.header.readUInt32BE(0);
        if (length < 1 || length > this.maxBytes)
          throw new MalformedPacket(`packet length ${length} out of range`);
        this.headerFill = 0;
        // A whole packet inside this chunk needs no copy.
        if (chunk.length - at >= length) {
          onPacket(chunk.subarray(at, at + length));
          at += length;
          continue;
        }
        this.packet = Buffer.allocUnsafe(length);
        this.fill = 0;
      }
      const take = Math.min(this.packet.length - this.fill, chunk.length - at);
      chunk.copy(this.packet, this.fill, at, at + take);
      this.fill += take;
      at += take;
      if (this.fill === this.packet.length) {
        const done = this.packet;
        this.packet = null;
        onPacket(done);
      }
    }
  }
}

/** The errno-style prefix of a status message, as the agent writes it. */
export function statusMessage(errno: string, message: string): string {
  return `${errno}: ${message}`;
}
