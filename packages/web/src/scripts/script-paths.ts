/**
 * The site's script URLs: `/scripts/NAME`, `/scripts/NAME@VERSION` and
 * `/scripts/NAME@VERSION/PATH`. Package names are lowercase segments without `@`, so the first
 * `@` ends the name and the next `/` ends the version; each path segment is URL-encoded.
 */

export interface ScriptLocation {
  name: string;
  /** Null: the package's latest version. */
  version: string | null;
  /** Segments inside the version's tree; empty for its root. */
  path: string[];
}

export const SCRIPTS_ROOT = '/scripts';

/** Reads a location from the part of the (still encoded) pathname after `/scripts/`. */
export function parseScriptPath(rest: string): ScriptLocation | null {
  const at = rest.indexOf('@');
  const name = (at < 0 ? rest : rest.slice(0, at)).replace(/\/+$/, '');
  if (!name) return null;
  if (at < 0) return { name, version: null, path: [] };
  const [version = '', ...segments] = rest.slice(at + 1).split('/');
  try {
    const path = segments.filter(Boolean).map(decodeURIComponent);
    return version ? { name, version: decodeURIComponent(version), path } : null;
  } catch {
    // A malformed %-escape: no location can be read from it.
    return null;
  }
}

export function scriptHref(name: string, version?: string | null, path: string[] = []): string {
  const base = `${SCRIPTS_ROOT}/${name}`;
  if (!version) return base;
  const inside = path.map(encodeURIComponent).join('/');
  return `${base}@${encodeURIComponent(version)}${inside ? `/${inside}` : ''}`;
}

/** The list page filtered by a tag or an owner. */
export function scriptsSearchHref(filter: { tag?: string; owner?: string }): string {
  const params = new URLSearchParams();
  if (filter.tag) params.set('tag', filter.tag);
  if (filter.owner) params.set('owner', filter.owner);
  return `${SCRIPTS_ROOT}?${params}`;
}
