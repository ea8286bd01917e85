/** `[LOCAL_PORT:]HOST:PORT` as typed after `tether forward AGENT`; HOST defaults to 127.0.0.1. */
import { formatTarget, parsePort, parseTarget } from '@tether/protocol/forward-target';
import { TetherError } from '@tether/protocol';
import { UsageError } from '../errors.ts';

/** Where the forwarded connections come from: this machine only, never the network. */
export const LOCAL_HOST = '127.0.0.1';
const DEFAULT_TARGET_HOST = '127.0.0.1';

export interface ForwardSpec {
  /** 0 picks a free port. */
  localPort: number;
  /** `host:port` as the endpoint takes it. */
  target: string;
}

/**
 * `5432` (HOST 127.0.0.1, a free local port), `db:5432`, `[fd00::1]:5432`, `15432:5432`,
 * `15432:db:5432`, `15432:[fd00::1]:5432`. A host is never all digits (the endpoint refuses
 * such names), so `15432:5432` can only mean LOCAL_PORT:PORT.
 */
export function parseForwardSpec(text: string): ForwardSpec {
  const leading = /^(\d{1,5}):(.+)$/.exec(text);
  let localText = '0';
  let rest = text;
  if (leading && (leading[2]!.includes(':') || /^\d+$/.test(leading[2]!))) {
    localText = leading[1]!;
    rest = leading[2]!;
  }
  if (/^\d+$/.test(rest)) rest = `${DEFAULT_TARGET_HOST}:${rest}`;
  try {
    const localPort = localText === '0' ? 0 : parsePort(text, localText);
    return { localPort, target: formatTarget(parseTarget(rest)) };
  } catch (error) {
    if (error instanceof TetherError)
      throw new UsageError(`${error.message} (give [LOCAL_PORT:]HOST:PORT, e.g. 15432:db:5432)`);
    throw error;
  }
}
