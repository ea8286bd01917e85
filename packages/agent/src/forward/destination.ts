/**
 * Where a forwarded connection goes: the name resolved here, on the server, every address
 * checked against the refused ranges, then a TCP connect with a deadline.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { connect, isIP, type Socket } from 'node:net';
import { TetherError } from '@tether/protocol';
import { formatTarget, refusedAddress } from '@tether/protocol/forward-target';

/** A target that does not answer in this long fails; long enough for a far, slow network. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** How names are resolved and sockets opened; tests hand in their own to stay off the network. */
export interface Dialer {
  lookup(host: string): Promise<string[]>;
  dial(address: string, port: number, timeoutMs: number): Promise<Socket>;
}

export const systemDialer: Dialer = {
  async lookup(host) {
    const found = await dnsLookup(host, { all: true, verbatim: true });
    return found.map((entry) => entry.address);
  },
  dial(address, port, timeoutMs) {
    return new Promise((resolve, reject) => {
      // allowHalfOpen: the target may stop sending and still read the client's last bytes.
      const socket = connect({ host: address, port, allowHalfOpen: true, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' }));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  },
};

/**
 * Resolves `host`, refuses it when any address it has is link-local or a metadata service and
 * the account did not list the target (`listed`), then connects to the first address that
 * answers. Every refusal happens before any connect is attempted.
 */
export async function openDestination(
  host: string,
  port: number,
  listed: boolean,
  dialer: Dialer,
): Promise<Socket> {
  const where = formatTarget({ host, port });
  if (!(port >= 1 && port <= 65_535))
    throw new TetherError('invalid_request', `bad port in ${where}`);

  const addresses = isIP(host) ? [host] : await resolve(host, dialer);
  if (!listed) {
    for (const address of addresses) {
      const refused = refusedAddress(address);
      if (!refused) continue;
      const what = address === host ? `${host} is` : `${host} resolves to ${address},`;
      throw new TetherError(
        'forbidden',
        `${what} ${refused}; the account must list ${where} to allow it`,
      );
    }
  }

  let last: unknown;
  for (const address of addresses) {
    try {
      return await dialer.dial(address, port, CONNECT_TIMEOUT_MS);
    } catch (error) {
      last = error;
    }
  }
  throw unreachable(where, last);
}

async function resolve(host: string, dialer: Dialer): Promise<string[]> {
  try {
    const addresses = await dialer.lookup(host);
    if (addresses.length > 0) return addresses;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new TetherError(
      'target_unreachable',
      `cannot resolve ${host} on the server${code ? ` (${code})` : ''}`,
      { cause: error },
    );
  }
  throw new TetherError('target_unreachable', `${host} has no address on the server`);
}

/** Errno becomes a sentence at the boundary; the code stays in parentheses for the curious. */
function unreachable(where: string, error: unknown): TetherError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const reason =
    code === 'ECONNREFUSED'
      ? `connection refused by ${where} (nothing listens there)`
      : code === 'ETIMEDOUT'
        ? `no answer from ${where} within ${CONNECT_TIMEOUT_MS / 1000} s`
        : code === 'EHOSTUNREACH' || code === 'ENETUNREACH'
          ? `${where} is unreachable from the server (${code})`
          : `cannot connect to ${where} (${code ?? 'unknown error'})`;
  return new TetherError('target_unreachable', reason, { cause: error });
}
