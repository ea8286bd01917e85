/** Where the endpoint URL and token come from: flags, then environment, then `tether login`. */
import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { UsageError, type TokenSource } from './errors.ts';

export interface SavedConfig {
  url: string;
  token: string;
}

export interface ConnectionFlags {
  url?: string;
  token?: string;
}

export interface Connection {
  url: string;
  token?: string;
  tokenSource?: TokenSource;
}

/** `$XDG_CONFIG_HOME/tether/config.json`, else `~/.config/tether/config.json`. */
export function configPath(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  const base = env.XDG_CONFIG_HOME ? env.XDG_CONFIG_HOME : join(home, '.config');
  return join(base, 'tether', 'config.json');
}

/**
 * Each of URL and token is taken from the first source that has it: flags, then
 * `TETHER_URL`/`TETHER_TOKEN`, then the saved login. The saved token is only used for the
 * endpoint it was issued by, so `--url https://other` never sends it somewhere else.
 */
export function resolveConnection(
  flags: ConnectionFlags,
  env: NodeJS.ProcessEnv,
  saved: SavedConfig | undefined,
): Connection {
  const url = flags.url || env.TETHER_URL || saved?.url;
  if (!url) {
    throw new UsageError('no endpoint: pass --url, set TETHER_URL or run tether login URL');
  }

  const normalized = normalizeUrl(url);
  const savedToken = saved && sameOrigin(saved.url, normalized) ? saved.token : undefined;
  if (flags.token) return { url: normalized, token: flags.token, tokenSource: '--token' };
  if (env.TETHER_TOKEN)
    return { url: normalized, token: env.TETHER_TOKEN, tokenSource: 'TETHER_TOKEN' };
  if (savedToken) return { url: normalized, token: savedToken, tokenSource: 'saved login' };
  return { url: normalized };
}

/** The saved login, or undefined when there is none; a broken file is a UsageError. */
export async function loadSaved(path: string): Promise<SavedConfig | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new UsageError(`cannot read ${path}: ${(error as Error).message}`, { cause: error });
  }

  const value = parseSaved(text);
  if (!value) throw new UsageError(`${path} is not a tether config; run tether login again`);
  return value;
}

/** Writes the file readable by its owner only, replacing it atomically. */
export async function saveConfig(path: string, config: SavedConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  // writeFile's mode is masked by the umask and ignored for an existing file; make sure.
  await chmod(temporary, 0o600);
  await rename(temporary, path);
}

/** Accepts `http(s)://host[:port][/prefix]`; drops a trailing slash. */
export function normalizeUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    const example = 'https://tether.example.com';
    throw new UsageError(`invalid endpoint URL "${text}": expected e.g. ${example}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`invalid endpoint URL "${text}": use http:// or https://`);
  }
  if (url.username || url.password) {
    throw new UsageError('put credentials in TETHER_TOKEN or tether login, not in the URL');
  }
  url.search = '';
  url.hash = '';
  return url.href.replace(/\/+$/, '');
}

function sameOrigin(a: string, b: string): boolean {
  try {
    return new URL(a).origin === new URL(b).origin;
  } catch {
    return false;
  }
}

function parseSaved(text: string): SavedConfig | undefined {
  try {
    const value = JSON.parse(text) as Partial<SavedConfig>;
    if (typeof value.url === 'string' && typeof value.token === 'string') {
      return { url: value.url, token: value.token };
    }
  } catch {
    // Not JSON: reported by the caller as a broken config, same as JSON of the wrong shape.
  }
  return undefined;
}
