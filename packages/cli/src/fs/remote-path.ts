/** `AGENT:/path` on the command line: which agent, which absolute path on it. */
import { UsageError } from '../errors.ts';

export interface RemotePath {
  agent: string;
  path: string;
}

/** `web-1:/etc/nginx` → {agent: 'web-1', path: '/etc/nginx'}; anything else is local. */
export function parseRemote(text: string): RemotePath | null {
  const match = /^([^/:]+):(\/.*)$/s.exec(text);
  return match ? { agent: match[1], path: match[2] } : null;
}

export function remoteArg(text: string): RemotePath {
  const remote = parseRemote(text);
  if (!remote)
    throw new UsageError(`"${text}" is not AGENT:/absolute/path (for example web-1:/etc/hosts)`);
  return remote;
}

/** The last name of a path, for a local file named after a remote one and the reverse. */
export function lastName(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  return trimmed.slice(trimmed.lastIndexOf('/') + 1) || 'root';
}
