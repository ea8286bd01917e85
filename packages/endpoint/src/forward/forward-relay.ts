/** Forwarded connections whose agent is linked to another endpoint process. */
import type { Duplex } from 'node:stream';
import { TetherError } from '@tether/protocol';
import type { Bus } from '../bus/bus.ts';
import type { ForwardDial } from './forward-channel.ts';

export async function openRemoteForward(
  _bus: Bus,
  _owner: string,
  _dial: ForwardDial,
): Promise<Duplex> {
  throw new TetherError('unavailable', 'the agent is linked to another endpoint process');
}

export function serveRemoteForwards(
  _bus: Bus,
  _nodeId: string,
  _hub: unknown,
  _log: unknown,
): () => void {
  return () => {};
}
