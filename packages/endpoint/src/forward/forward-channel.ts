/**
 * One forwarded connection as the endpoint holds it: a direct-tcpip channel on the agent, open
 * only once the agent's status line says the target answered. The channel is a Duplex; ending
 * it sends EOF (TCP half-close), its 'end' is the target's EOF, destroying it closes it.
 */
import type { Duplex } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import { z } from 'zod';
import {
  ERROR_STATUS,
  FORWARD_FLAG_LISTED,
  FORWARD_STATUS_MAX_BYTES,
  isSafeText,
  TetherError,
  type ErrorCode,
} from '@tether/protocol';
import type { AgentHub } from '../agents/agent-hub.ts';

/** The agent gives up on a target after 10 s (CONNECT_TIMEOUT_MS there); this adds the trip. */
const STATUS_TIMEOUT_MS = 15_000;
/** SSH_MSG_CHANNEL_OPEN_FAILURE reasons (RFC 4254 §5.1) that mean "no forwarding here". */
const PROHIBITED = 1;
const UNKNOWN_CHANNEL_TYPE = 3;

export interface ForwardDial {
  agentId: string;
  host: string;
  port: number;
  connectionId: string;
  listed: boolean;
}

/** What the agent may say: checked, because nothing an agent sends is trusted as it comes. */
const Status = z.union([
  z.strictObject({ ok: z.literal(true) }),
  z.strictObject({
    ok: z.literal(false),
    error: z.strictObject({
      code: z.string().max(40),
      message: z.string().max(500).refine(isSafeText),
    }),
  }),
]);

/** Opens the channel on a locally linked agent and waits for the target's answer. */
export async function openLocalForward(hub: AgentHub, dial: ForwardDial): Promise<Duplex> {
  let channel: ClientChannel;
  try {
    channel = await hub.directTcpip(dial.agentId, {
      host: dial.host,
      port: dial.port,
      origin: dial.connectionId,
      flags: dial.listed ? FORWARD_FLAG_LISTED : 0,
    });
  } catch (error) {
    throw refusedChannel(error);
  }
  await readStatus(channel);
  return channel;
}

/** Reads the first line of the extended-data stream; throws the agent's reason when not ok. */
export function readStatus(channel: ClientChannel): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (error?: TetherError): void => {
      clearTimeout(timer);
      channel.stderr.off('data', onData);
      channel.stderr.off('end', onClose);
      channel.off('close', onClose);
      // Nothing else is expected there; keep it flowing so it can never hold the window.
      channel.stderr.resume();
      if (!error) return resolve();
      channel.destroy();
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      text += chunk.toString('utf8');
      const newline = text.indexOf('\n');
      if (newline < 0) {
        if (text.length > FORWARD_STATUS_MAX_BYTES) done(garbled());
        return;
      }
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(text.slice(0, newline));
      } catch {
        // Not JSON: the schema check below reports it.
      }
      const status = Status.safeParse(parsed);
      if (!status.success) return done(garbled());
      if (status.data.ok) return done();
      const { code, message } = status.data.error;
      const known = (code in ERROR_STATUS ? code : 'internal') as ErrorCode;
      done(new TetherError(known, message));
    };
    const onClose = (): void =>
      done(new TetherError('agent_offline', 'the agent went away while connecting'));
    const timer = setTimeout(
      () => done(new TetherError('timeout', 'the agent did not say whether the target answered')),
      STATUS_TIMEOUT_MS,
    );
    channel.stderr.on('data', onData);
    // The main stream is not read yet, so its 'close' may wait; stderr's 'end' comes either way.
    channel.stderr.once('end', onClose);
    channel.once('close', onClose);
  });
}

function garbled(): TetherError {
  return new TetherError(
    'internal',
    'the agent answered the forward in a form this endpoint does not read',
  );
}

/** An agent that rejects the channel outright is too old to forward, or out of room. */
function refusedChannel(error: unknown): TetherError {
  const reason = ((error as TetherError).cause as { reason?: number } | undefined)?.reason;
  if (reason === PROHIBITED || reason === UNKNOWN_CHANNEL_TYPE)
    return new TetherError('unavailable', 'this agent does not forward ports; update it', {
      cause: error,
    });
  if (typeof reason === 'number')
    return new TetherError('unavailable', 'the agent refused the connection (too many open)', {
      cause: error,
    });
  return error instanceof TetherError
    ? error
    : new TetherError('agent_offline', 'agent is offline', { cause: error });
}
