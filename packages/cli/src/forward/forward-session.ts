/**
 * One `tether forward` run: the local listener, the forward on the endpoint, the socket that
 * holds it (reconnected when the endpoint restarts), and a tunnel per accepted connection.
 * Every change a user acts on is printed as one line.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type WebSocket from 'ws';
import type { AgentView, ForwardControlServerMessage, ForwardView } from '@tether/protocol';
import type { Client } from '../client.ts';
import { ApiError, describeError, NetworkError, UsageError } from '../errors.ts';
import { formatDuration, printable } from '../output.ts';
import { LOCAL_HOST, type ForwardSpec } from './forward-spec.ts';
import { tunnel, type TunnelResult } from './tunnel.ts';

/** Reconnecting the holding socket: 1 s, doubling, at most 10 s (the lease is 30 s). */
const RECONNECT_BASE_MS = 1_000;
const RECONNECT_CAP_MS = 10_000;
/** Ending the forward on Ctrl-C must not hang a user who wants out; its lease ends it anyway. */
const END_TIMEOUT_MS = 5_000;
/**
 * Connections being set up at once; the rest wait their turn, accepted but unread. 500 local
 * connections at once then reach the endpoint as a steady stream rather than a herd whose last
 * handshakes time out while the first are still being dialled.
 */
const MAX_SETTING_UP = 64;

export interface SessionOptions {
  ticket?: string;
  quiet?: boolean;
}

export class ForwardSession {
  private server: Server | null = null;
  private localPort = 0;
  private forward: ForwardView | null = null;
  private announced = false;
  private announcedLive = false;
  private holder: WebSocket | null = null;
  private agentOnline: boolean | null = null;
  private endpointLost = false;
  private stopping = false;
  private over = false;
  private count = 0;
  private readonly waiting: Array<{ socket: Socket; n: number }> = [];
  private readonly open = new Set<Socket>();
  private settingUp = 0;
  private readonly queued: Array<() => void> = [];
  private finished!: (code: number) => void;
  private readonly done = new Promise<number>((resolve) => (this.finished = resolve));

  constructor(
    private readonly client: Client,
    private readonly agent: AgentView,
    private readonly spec: ForwardSpec,
    private readonly options: SessionOptions,
  ) {}

  /** Resolves with the exit status: 0 when the user ended it, 1 when anything else did. */
  async run(): Promise<number> {
    this.localPort = await this.listen();
    const body = {
      target: this.spec.target,
      ...(this.options.ticket ? { ticket: this.options.ticket } : {}),
    };
    try {
      const created = await this.client.post<{ forward: ForwardView }>(
        `/api/v1/agents/${encodeURIComponent(this.agent.id)}/forwards`,
        body,
        { doing: `forwarding to ${this.spec.target} on ${this.agent.name}` },
      );
      this.forward = created.forward;
    } catch (error) {
      this.server?.close();
      throw error;
    }
    const stop = (): void => void this.stop();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    this.changed(this.forward);
    void this.hold();
    const code = await this.done;
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    return code;
  }

  private async listen(): Promise<number> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) =>
      this.accept(socket),
    );
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new UsageError(
            `cannot listen on ${LOCAL_HOST}:${this.spec.localPort}: ${error.code === 'EADDRINUSE' ? 'the port is in use' : error.message}`,
          ),
        ),
      );
      server.listen(this.spec.localPort, LOCAL_HOST, () => resolve());
    });
    this.server = server;
    return (server.address() as { port: number }).port;
  }

  private accept(socket: Socket): void {
    this.count += 1;
    const n = this.count;
    if (this.over) return void socket.destroy();
    if (this.forward?.status === 'live') this.carry(socket, n);
    else this.waiting.push({ socket, n });
  }

  private carry(socket: Socket, n: number): void {
    const from = `${socket.remoteAddress}:${socket.remotePort}`;
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    if (this.settingUp >= MAX_SETTING_UP) {
      // A client that gave up while waiting its turn is simply skipped.
      this.queued.push(() => (socket.destroyed ? this.queued.shift()?.() : this.carry(socket, n)));
      return;
    }
    this.settingUp += 1;
    let done = false;
    const answered = (opened: boolean): void => {
      if (done) return;
      done = true;
      this.settingUp -= 1;
      this.queued.shift()?.();
      if (opened && !this.options.quiet) this.say(`#${n} from ${from}: open`);
    };
    void tunnel(this.client, this.forward!.id, socket, answered).then((result) =>
      this.report(n, result),
    );
  }

  private report(n: number, result: TunnelResult): void {
    if (result.reason !== null && !this.over) return this.say(`#${n} failed: ${result.reason}`);
    if (this.options.quiet || result.reason !== null) return;
    const { bytesUp, bytesDown, durationMs } = result;
    this.say(
      `#${n} closed: sent ${formatBytes(bytesUp)}, received ${formatBytes(bytesDown)} in ${formatDuration(durationMs)}`,
    );
  }

  /** Holds the forward on the endpoint; when the socket drops, comes back until the end. */
  private async hold(): Promise<void> {
    let attempt = 0;
    while (!this.over) {
      try {
        this.holder = await this.client.socket(
          `/api/v1/forwards/${encodeURIComponent(this.forward!.id)}/socket`,
          {
            prepare: (ws) =>
              ws.on('message', (data: Buffer) => this.message(JSON.parse(data.toString('utf8')))),
          },
        );
      } catch (error) {
        if (!(error instanceof NetworkError) && !(error instanceof ApiError && error.status >= 500))
          return this.end(1, describeError(error) ?? String(error));
        if (!this.endpointLost) this.say(`lost the endpoint (${describeError(error)}); retrying…`);
        this.endpointLost = true;
        await sleep(Math.min(RECONNECT_CAP_MS, RECONNECT_BASE_MS * 2 ** attempt++));
        continue;
      }
      if (this.endpointLost) this.say('the endpoint is back');
      this.endpointLost = false;
      attempt = 0;
      const ws = this.holder;
      await new Promise<void>((resolve) => ws.once('close', () => resolve()));
      if (this.over) return;
      this.say('lost the endpoint; reconnecting…');
      this.endpointLost = true;
      await sleep(RECONNECT_BASE_MS);
    }
  }

  private message(message: ForwardControlServerMessage): void {
    if (message.type === 'forward') return this.changed(message.forward);
    if (message.type === 'error') return this.say(`tether: ${printable(message.error.message)}`);
    const name = printable(this.agent.name);
    if (message.online && this.agentOnline === false)
      this.say(`${name} is back: connections work again`);
    else if (!message.online && this.agentOnline !== false)
      this.say(`${name} is offline: connections fail until it is back`);
    this.agentOnline = message.online;
  }

  private changed(forward: ForwardView): void {
    this.forward = forward;
    if (forward.status === 'pending' && !this.announced) {
      this.announced = true;
      this.say(
        `waiting for the customer to approve the forward to ${forward.target} on ${printable(this.agent.name)}…`,
      );
    } else if (forward.status === 'live' && !this.announcedLive) {
      this.announcedLive = true;
      this.say(
        `forwarding ${LOCAL_HOST}:${this.localPort} -> ${forward.target} on ${printable(this.agent.name)} (forward ${forward.id}); Ctrl-C ends it`,
      );
      for (const { socket, n } of this.waiting.splice(0)) this.carry(socket, n);
    } else if (forward.status === 'refused')
      this.end(1, `the forward was refused: ${printable(forward.endReason ?? 'no reason given')}`);
    else if (forward.status === 'ended')
      this.end(this.stopping ? 0 : 1, `the forward ended: ${printable(forward.endReason ?? '')}`);
  }

  /** Ctrl-C: ends the forward on the endpoint (its connections close there), then here. */
  private async stop(): Promise<void> {
    if (this.over || this.stopping) return;
    this.stopping = true;
    try {
      await this.client.request(
        'DELETE',
        `/api/v1/forwards/${encodeURIComponent(this.forward!.id)}`,
        {
          timeoutMs: END_TIMEOUT_MS,
        },
      );
      this.end(0, 'the forward ended');
    } catch (error) {
      const why = describeError(error) ?? String(error);
      this.end(
        0,
        `could not end the forward on the endpoint (${why}); it ends by itself within 30 s`,
      );
    }
  }

  private end(code: number, line: string): void {
    if (this.over) return;
    this.over = true;
    this.say(line);
    this.server?.close();
    for (const { socket } of this.waiting.splice(0)) socket.destroy();
    this.queued.length = 0;
    for (const socket of this.open) socket.destroy();
    this.holder?.close();
    this.finished(code);
  }

  private say(line: string): void {
    process.stdout.write(`${line}\n`);
  }
}

/** "12 B", "1.2 KiB", "3.4 MiB", "1.0 GiB". */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
