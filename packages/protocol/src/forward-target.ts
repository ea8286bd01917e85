/**
 * Forward targets for Node (endpoint, agent, CLI): parsing `host:port`, matching an account's
 * target list, and the addresses refused unless listed. Kept out of the package root because
 * node:net has no place in the browser bundle.
 */
import { BlockList, isIP, isIPv4, isIPv6 } from 'node:net';
import { TetherError } from './errors.ts';

export interface Target {
  /** Lower case; an IPv6 address without brackets. */
  host: string;
  port: number;
}

/** RFC 1035 §2.3.4: a name is at most 253 characters, a label at most 63. */
const MAX_HOST_CHARS = 253;
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
/** A last label like `1234` or `0x1f` makes the name a number to inet_aton (RFC 3696 §2). */
const NUMERIC_LABEL = /^(?:\d+|0x[0-9a-f]*)$/;

/**
 * Link-local addresses (RFC 3927, RFC 4291 §2.5.6) and the cloud metadata services on them:
 * 169.254.169.254 (AWS, GCP, Azure), fd00:ec2::254 (AWS over IPv6). A forward there would hand
 * an engineer the server's cloud credentials, so the account must list such a target itself.
 */
const METADATA = new BlockList();
METADATA.addAddress('169.254.169.254', 'ipv4');
METADATA.addAddress('fd00:ec2::254', 'ipv6');
const LINK_LOCAL = new BlockList();
LINK_LOCAL.addSubnet('169.254.0.0', 16, 'ipv4');
LINK_LOCAL.addSubnet('fe80::', 10, 'ipv6');

/** `host:port`, `[v6]:port`; the host lower-cased. Throws `invalid_request` saying what is wrong. */
export function parseTarget(text: string): Target {
  const bracketed = /^\[([^\]]*)\]:([^:]*)$/.exec(text);
  let host: string;
  let portText: string;
  if (bracketed) {
    [, host, portText] = bracketed as unknown as [string, string, string];
    if (!isIPv6(host)) throw invalid(text, `[${host}] is not an IPv6 address`);
  } else {
    const colon = text.lastIndexOf(':');
    if (colon < 0) throw invalid(text, 'give host:port');
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(':')) throw invalid(text, 'write an IPv6 address in brackets: [fd00::1]:80');
    if (host === '') throw invalid(text, 'the host is empty');
    checkHost(text, host);
  }
  return { host: host.toLowerCase().replace(/\.$/, ''), port: parsePort(text, portText) };
}

export function parsePort(text: string, portText: string): number {
  const port = /^\d{1,5}$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 1 && port <= 65_535)) throw invalid(text, 'the port must be 1 to 65535');
  return port;
}

export function formatTarget(target: Target): string {
  return isIPv6(target.host) ? `[${target.host}]:${target.port}` : `${target.host}:${target.port}`;
}

/**
 * Why an address may not be reached unless the account listed it, or null when it may.
 * Takes IP literals only; anything else is a name and answers null (resolve it first).
 */
export function refusedAddress(address: string): string | null {
  const family = isIP(address);
  if (family === 0) return null;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  if (METADATA.check(address, type)) return 'a cloud metadata address';
  if (LINK_LOCAL.check(address, type)) return 'a link-local address';
  return null;
}

/**
 * Whether one entry of an account's target list covers `target`: `host:port`, `host:*`,
 * `[v6]:port`, or a CIDR block `10.0.0.0/8:5432`. Names match names (ignoring case), addresses
 * match addresses; an entry this cannot read matches nothing.
 */
export function entryCovers(entry: string, target: Target): boolean {
  const colon = entry.lastIndexOf(':');
  if (colon < 0) return false;
  const portPart = entry.slice(colon + 1);
  if (portPart !== '*' && Number(portPart) !== target.port) return false;
  const hostPart = entry
    .slice(0, colon)
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase()
    .replace(/\.$/, '');

  const family = isIP(target.host);
  if (family === 0) return hostPart === target.host;
  const type = family === 6 ? 'ipv6' : 'ipv4';
  const block = new BlockList();
  try {
    const slash = hostPart.indexOf('/');
    if (slash >= 0) {
      const base = hostPart.slice(0, slash);
      const prefix = Number(hostPart.slice(slash + 1));
      block.addSubnet(base, prefix, isIPv4(base) ? 'ipv4' : 'ipv6');
    } else if (isIP(hostPart) !== 0) block.addAddress(hostPart, isIPv4(hostPart) ? 'ipv4' : 'ipv6');
    else return false;
  } catch {
    // A malformed block (bad prefix, bad base address) covers nothing.
    return false;
  }
  return block.check(target.host, type);
}

function checkHost(text: string, host: string): void {
  if (isIPv4(host)) return;
  const name = host.toLowerCase().replace(/\.$/, '');
  if (name.length > MAX_HOST_CHARS) throw invalid(text, 'the host name is too long');
  const labels = name.split('.');
  if (!labels.every((label) => LABEL.test(label)))
    throw invalid(text, `${JSON.stringify(host)} is not a host name or IPv4 address`);
  if (NUMERIC_LABEL.test(labels[labels.length - 1] as string))
    throw invalid(
      text,
      `${JSON.stringify(host)} is a number, not a host name; write IPv4 as a.b.c.d`,
    );
}

function invalid(text: string, why: string): TetherError {
  return new TetherError(
    'invalid_request',
    `bad target ${JSON.stringify(text.slice(0, 80))}: ${why}`,
  );
}
