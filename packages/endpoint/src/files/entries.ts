/** SFTP attributes as the API's FileEntry. */
import { constants } from 'node:fs';
import type { FileEntry, FileEntryType, FileLinkType } from '@tether/protocol';
import { AttrExt, type Attrs } from '@tether/protocol/sftp';
import { shown, shownName, utf8 } from './paths.ts';

const LINK_TYPES = new Set<FileLinkType>(['file', 'dir', 'other', 'missing', 'loop', 'outside']);

export function entryOf(path: Buffer, name: Buffer, attrs: Attrs): FileEntry {
  const mode = attrs.mode ?? 0;
  const ext = attrs.extended ?? new Map<string, Buffer>();
  const mtimeNs = Number(ext.get(AttrExt.mtimeNs)?.toString() ?? NaN);
  const mtimeMs = Number.isFinite(mtimeNs) ? mtimeNs / 1e6 : (attrs.mtime ?? 0) * 1000;
  const entry: FileEntry = {
    ...shownName(name),
    ...shown(path),
    type: typeOf(mode),
    size: attrs.size ?? 0,
    mode,
    uid: attrs.uid ?? 0,
    gid: attrs.gid ?? 0,
    mtime: new Date(mtimeMs).toISOString(),
  };
  const owner = ext.get(AttrExt.owner);
  const group = ext.get(AttrExt.group);
  if (owner) entry.owner = owner.toString('utf8');
  if (group) entry.group = group.toString('utf8');
  const target = ext.get(AttrExt.link);
  if (target) {
    const text = utf8(target);
    entry.target = text ?? new TextDecoder().decode(target);
    if (text === null) entry.targetB64 = target.toString('base64');
    const linkType = ext.get(AttrExt.linkType)?.toString() as FileLinkType | undefined;
    if (linkType && LINK_TYPES.has(linkType)) entry.targetType = linkType;
  }
  return entry;
}

/** A version tag for the bytes: inode, size and mtime (ns), as web servers use. */
export function etagOf(attrs: Attrs): string {
  const ext = attrs.extended ?? new Map<string, Buffer>();
  const ino = ext.get(AttrExt.ino)?.toString() ?? '';
  const mtime = ext.get(AttrExt.mtimeNs)?.toString() ?? String(attrs.mtime ?? 0);
  const time = /^\d{1,30}$/.test(mtime) ? BigInt(mtime).toString(16) : '0';
  return `"${ino.replace(/\D/g, '')}-${(attrs.size ?? 0).toString(16)}-${time}"`;
}

export function typeOf(mode: number): FileEntryType {
  switch (mode & constants.S_IFMT) {
    case constants.S_IFREG:
      return 'file';
    case constants.S_IFDIR:
      return 'dir';
    case constants.S_IFLNK:
      return 'symlink';
    default:
      return 'other';
  }
}
