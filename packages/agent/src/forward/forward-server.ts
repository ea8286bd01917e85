/**
 * Port forwarding on the agent: each SSH `direct-tcpip` channel the endpoint opens becomes one
 * TCP connection from this server, piped both ways with backpressure and TCP half-close.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { AcceptConnection, Connection, ServerChannel, TcpipRequestInfo } from 'ssh2';
import { FORWARD_FLAG_LISTED, TetherError, type ForwardChannelStatus } from '@tether/protocol';
import { openDestination, systemDialer, type Dialer } from './destination.ts';

/** Connections open at once over one link; past this the channel is refused (the endpoint caps each forward lower). */
const MAX_OPEN_CONNECTIONS = 4_096;

/** Answers the link's direct-tcpip channel requests; call once the SSH connection is ready. */
export function serveForwards(
  client: Connection,
  log: Logger,
  dialer: Dialer = systemDialer,
): void {
  let open = 0;
  const link = { closed: false };
  client.once('close', () => (link.closed = true));
  client.on('tcpip', (accept, reject, info) => {
    if (open >= MAX_OPEN_CONNECTIONS) {
      log.warn({ open }, 'too many forwarded connections; refusing one');
      return reject();
    }
    open += 1;
    const connectionId = info.srcIP;
    const listed = (info.srcPort & FORWARD_FLAG_LISTED) !== 0;
    const connLog = log.child({ connectionId, host: info.destIP, port: info.destPort });
    void forward(accept, info, listed, { dialer, link, log: connLog })
      .catch((error) => connLog.error({ err: error }, 'forwarded connection failed unexpectedly'))
      .finally(() => (open -= 1));
  });
}

async function forward(
  accept: AcceptConnection<ServerChannel>,
  info: TcpipRequestInfo,
  listed: boolean,
  { dialer, link, log }: { dialer: Dialer; link: { closed: boolean }; log: Logger },
): Promise<void> {
  let socket: Socket;
  try {
    socket = await openDestination(info.destIP, info.destPort, listed, dialer);
  } catch (error) {
    const wire = TetherError.wireOf(error, 'the agent could not open the connection');
    log.info({ code: wire.code, reason: wire.message }, 'forwarded connection refused');
    if (link.closed) return;
    const channel = accept();
    return status(channel, { ok: false, error: wire }, () => channel.close());
  }

  if (link.closed) {
    // The link dropped while the target was being reached; nobody is left to talk to it.
    socket.destroy();
    return;
  }
  const channel = accept();
  log.debug(
    { remote: `${socket.remoteAddress}:${socket.remotePort}` },
    'forwarded connection open',
  );
  status(channel, { ok: true });
  // Not channel.end(): ssh2 closes a server channel once its writable side finishes, which
  // would cut off a client still sending after the target's FIN. EOF and close are sent here,
  // each after the bytes queued before it (a write's callback runs after earlier writes).
  socket.pipe(channel, { end: false });
  channel.pipe(socket);
  const afterQueued = (then: () => void): void => void channel.write(Buffer.alloc(0), then);
  // After EOF ssh2 drops writes without calling back, so close follows EOF's own callback.
  let eofQueued = false;
  let eofSent = false;
  let targetClosed = false;

  await new Promise<void>((resolve) => {
    socket.on('error', (error) => log.debug({ err: error }, 'target socket error'));
    socket.once('end', () => {
      eofQueued = true;
      afterQueued(() => {
        channel.eof();
        eofSent = true;
        if (targetClosed) channel.close();
      });
    });
    socket.once('close', () => {
      targetClosed = true;
      if (eofSent) channel.close();
      else if (!eofQueued) afterQueued(() => channel.close());
      resolve();
    });
    // The endpoint closed the channel (its client left): the target's connection goes too.
    channel.once('close', () => socket.destroy());
  });
  log.debug({ up: socket.bytesWritten, down: socket.bytesRead }, 'forwarded connection closed');
}

/** The status line goes on the extended-data stream; the data stream carries only bytes. */
function status(channel: ServerChannel, message: ForwardChannelStatus, then?: () => void): void {
  channel.stderr.write(`${JSON.stringify(message)}\n`, then);
}
