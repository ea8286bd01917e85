/**
 * Paths on the server as the site handles them. A name that is not valid UTF-8 comes with its
 * raw bytes (`nameB64`); a path through such a name keeps its exact bytes in `b64`, so requests
 * address the real file while the page shows the lossy text.
 */
import type { Entry } from './files-api.ts';

/** A file or folder: the path to show and, when it is not valid UTF-8, its exact bytes. */
export interface FileRef {
  path: string;
  b64?: string;
}

const SLASH = 0x2f;

export const ROOT: FileRef = { path: '/' };

export function childRef(dir: FileRef, entry: Pick<Entry, 'name' | 'nameB64'>): FileRef {
  const path = dir.path === '/' ? `/${entry.name}` : `${dir.path}/${entry.name}`;
  if (!dir.b64 && !entry.nameB64) return { path };
  const parent = bytesOf(dir);
  const name = entry.nameB64 ? fromB64(entry.nameB64) : utf8(entry.name);
  const joined = dir.path === '/' ? concat([[SLASH], name]) : concat([parent, [SLASH], name]);
  return { path, b64: toB64(joined) };
}

export function parentRef(ref: FileRef): FileRef {
  const cut = ref.path.lastIndexOf('/');
  const path = cut <= 0 ? '/' : ref.path.slice(0, cut);
  if (!ref.b64) return { path };
  const bytes = fromB64(ref.b64);
  const end = bytes.lastIndexOf(SLASH);
  return end <= 0 ? ROOT : { path, b64: toB64(bytes.slice(0, end)) };
}

/** The folders from `/` down to `ref`, each with the ref that opens it. */
export function crumbsOf(ref: FileRef): { label: string; ref: FileRef }[] {
  const crumbs = [{ label: '/', ref: ROOT }];
  let current = ref;
  const chain: FileRef[] = [];
  while (current.path !== '/') {
    chain.unshift(current);
    current = parentRef(current);
  }
  for (const step of chain) crumbs.push({ label: nameOf(step.path), ref: step });
  return crumbs;
}

export function nameOf(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1) || '/';
}

/** `path=` or `pathB64=`, for a query string. */
export function refQuery(ref: FileRef): Record<string, string> {
  return ref.b64 ? { pathB64: ref.b64 } : { path: ref.path };
}

/** `{path}` or `{pathB64}`, for a JSON body. */
export function refBody(ref: FileRef): { path: string } | { pathB64: string } {
  return ref.b64 ? { pathB64: ref.b64 } : { path: ref.path };
}

/** Turns what someone typed into an absolute, tidy path, or null when it is not one. */
export function normalizePath(typed: string): string | null {
  const trimmed = typed.trim();
  if (!trimmed.startsWith('/') || trimmed.includes('\0')) return null;
  const parts: string[] = [];
  for (const part of trimmed.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') parts.pop();
    else parts.push(part);
  }
  return `/${parts.join('/')}`;
}

/** A name someone typed for a new file or folder: one path segment, nothing odd. */
export function nameProblem(name: string): string | null {
  if (name.length === 0) return 'Give it a name.';
  if (name === '.' || name === '..') return 'That name is reserved.';
  if (name.includes('/')) return 'A name cannot contain “/”.';
  if (name.includes('\0')) return 'A name cannot contain a NUL character.';
  if (new TextEncoder().encode(name).length > 255) return 'Names are at most 255 bytes.';
  return null;
}

function bytesOf(ref: FileRef): Uint8Array {
  return ref.b64 ? fromB64(ref.b64) : utf8(ref.path);
}

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

function concat(parts: ArrayLike<number>[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

export function toB64(bytes: Uint8Array): string {
  let binary = '';
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

export function fromB64(b64: string): Uint8Array {
  const binary = atob(b64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
