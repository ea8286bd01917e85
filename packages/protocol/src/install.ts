/** Agent downloads and the one-line install command, shared by endpoint, site, CLI and build. */

/** Executable file names, by Node's `process.arch`; served under `/downloads/`. */
export const AGENT_DOWNLOADS = {
  x64: 'tether-agent-linux-x64',
  arm64: 'tether-agent-linux-arm64',
} as const;

export type AgentArch = keyof typeof AGENT_DOWNLOADS;
export type AgentDownload = (typeof AGENT_DOWNLOADS)[AgentArch];

export const AGENT_DOWNLOAD_NAMES: readonly AgentDownload[] = Object.values(AGENT_DOWNLOADS);
export const INSTALL_SCRIPT_PATH = '/install.sh';
export const DOWNLOADS_PATH = '/downloads/';

/** Characters that never need quoting in a POSIX shell word (the set Python's shlex uses). */
const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function isAgentDownload(name: string): name is AgentDownload {
  return (AGENT_DOWNLOAD_NAMES as readonly string[]).includes(name);
}

/**
 * `curl -fsSL <url>/install.sh | sh -s -- --join-token <token>`, safe to paste whatever the URL
 * and token hold: each is one shell word, so `$(...)`, quotes and newlines stay literal.
 */
export function installCommand(baseUrl: string, joinToken: string): string {
  const url = `${baseUrl.replace(/\/+$/, '')}${INSTALL_SCRIPT_PATH}`;
  return `curl -fsSL ${shellQuote(url)} | sh -s -- --join-token ${shellQuote(joinToken)}`;
}

/**
 * Quotes one word for a POSIX shell: inside single quotes nothing is special, and a single
 * quote itself is written as `'\''`. A NUL cannot be in an argument at all, so it is refused.
 */
export function shellQuote(word: string): string {
  if (word.includes('\0')) throw new RangeError('a shell word cannot hold a NUL character');
  if (SHELL_SAFE.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}
