/** Opens the Bus that `--bus` names: in-process by default, NATS for `nats://…`. */
import type { Bus } from './bus.ts';
import { MemoryBus } from './memory-bus.ts';
import { connectNatsBus } from './nats-bus.ts';

export type { Bus, BusHandler, BusPayload } from './bus.ts';
export { BusClosedError, BusPayloadTooLargeError } from './bus.ts';
export { MemoryBus, type MemoryBusOptions } from './memory-bus.ts';
export { BusDecodeError, connectNatsBus, type NatsBusOptions } from './nats-bus.ts';

export interface BusOptions {
  /** The connection name the NATS server shows; the in-process bus ignores it. */
  name?: string;
  /** Hears what a subscriber threw and, over NATS, messages that could not be decoded. */
  onError?: (err: unknown, subject: string) => void;
}

/** No url or `memory:` gives the in-process bus; `nats://host:port` connects to NATS. */
export async function openBus(url?: string, options: BusOptions = {}): Promise<Bus> {
  if (url === undefined || url === '') return new MemoryBus({ onError: options.onError });

  // Only the scheme goes into the error: the rest of a URL may carry a password.
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'memory') return new MemoryBus({ onError: options.onError });
  if (scheme === 'nats') return connectNatsBus(url, options);
  throw new Error(
    scheme === undefined
      ? 'bus url has no scheme; use memory: or nats://host:port'
      : `unsupported bus scheme "${scheme}:"; use memory: or nats://host:port`,
  );
}
