/**
 * The sockets that hold forwards on this process (`/api/v1/forwards/:id/socket`): each keeps
 * its forward's lease, hears every change of it, and hears when its agent goes and comes back,
 * so the client can say what happened before anyone tries a connection.
 */
import type WebSocket from 'ws';
import {
  ForwardControlClientMessage,
  TetherError,
  type ForwardControlServerMessage,
  type ForwardView,
} from '@tether/protocol';
import type { Principal } from '../auth/principal.ts';
import { parseJson, sendJson } from '../http/ws-json.ts';
import { closeCode } from './forward-pump.ts';
import type { EarlyFrame } from './forward-connections.ts';
import type { ForwardDeps, ForwardService } from './forward-service.ts';

/** A third of FORWARD_LEASE_MS, so a renewal lost to a slow database never ends a forward. */
const LEASE_RENEW_MS = 10_000;
const MAX_CONTROL_BYTES = 1024;
/** RFC 6455 §7.4.1: the server is restarting; the client should come back. */
const CLOSE_RESTARTING = 1012;

interface Held {
  agentId: string;
  sockets: Set<WebSocket>;
  online: boolean | null;
}

export class ForwardHolders {
  private readonly held = new Map<string, Held>();
  private readonly offBus: Array<() => void> = [];
  private renewer: NodeJS.Timeout | null = null;

  constructor(
    private readonly deps: ForwardDeps,
    private readonly forwards: ForwardService,
  ) {}

  start(): void {
    const { bus, log } = this.deps;
    this.renewer = setInterval(() => {
      this.forwards
        .renew([...this.held.keys()])
        .catch((err) => log.warn({ err }, 'lease renewal failed'));
    }, LEASE_RENEW_MS);
    this.renewer.unref();
    const onAgent = (payload: unknown): void => {
      const { agentId } = payload as { agentId: string };
      void this.agentChanged(agentId).catch((err) =>
        log.warn({ err, agentId }, 'agent state lost'),
      );
    };
    this.offBus.push(
      bus.subscribe('agent.*.connected', onAgent),
      bus.subscribe('agent.*.disconnected', onAgent),
    );
  }

  stop(): void {
    if (this.renewer) clearInterval(this.renewer);
    this.offBus.forEach((off) => off());
    for (const { sockets } of this.held.values())
      for (const ws of sockets) ws.close(CLOSE_RESTARTING, 'endpoint restarting');
    this.held.clear();
  }

  /**
   * Holds the forward for `p` on `ws` until either closes; `{"type":"end"}` ends it. `early`
   * holds what the client sent meanwhile; `handOver` stops collecting it.
   */
  async hold(
    p: Principal,
    forwardId: string,
    ws: WebSocket,
    early: EarlyFrame[],
    handOver: () => void,
  ): Promise<void> {
    const row = await this.forwards.usable(p, forwardId, 'forward.hold');
    const view = await this.forwards.summary(row);
    send(ws, { type: 'forward', forward: view });
    if (view.status === 'ended' || view.status === 'refused')
      return void ws.close(1000, view.status);
    // A client gone while the forward was looked up must not keep renewing its lease.
    if (ws.readyState !== ws.OPEN) return;

    const entry = this.held.get(row.id) ?? {
      agentId: row.agent_id,
      sockets: new Set(),
      online: null,
    };
    this.held.set(row.id, entry);
    entry.sockets.add(ws);
    ws.once('close', () => {
      entry.sockets.delete(ws);
      if (entry.sockets.size === 0 && this.held.get(row.id) === entry) this.held.delete(row.id);
    });
    const onMessage = (data: Buffer, isBinary: boolean): void => {
      const parsed =
        !isBinary && data.length <= MAX_CONTROL_BYTES
          ? ForwardControlClientMessage.safeParse(parseJson(data.toString('utf8')))
          : null;
      if (!parsed?.success) {
        const error = new TetherError('invalid_request', 'this socket takes only {"type":"end"}');
        send(ws, { type: 'error', error: error.toWire() });
        return void ws.close(closeCode(error.status), error.code);
      }
      void this.forwards
        .load(row.id)
        .then((current) => current && this.forwards.end(p, current, `ended by ${p.username}`))
        .catch((err) => this.deps.log.error({ err, forwardId: row.id }, 'cannot end the forward'));
    };
    handOver();
    ws.on('message', onMessage);
    for (const [data, isBinary] of early.splice(0)) onMessage(data, isBinary);

    await this.forwards.renew([row.id]);
    entry.online = await this.online(row.agent_id);
    send(ws, { type: 'agent', online: entry.online });
  }

  /** A forward changed somewhere: its holders here hear it, and go when it has ended. */
  changed(forward: ForwardView): void {
    const entry = this.held.get(forward.id);
    if (!entry) return;
    const final = forward.status === 'ended' || forward.status === 'refused';
    for (const ws of entry.sockets) {
      send(ws, { type: 'forward', forward });
      if (final) ws.close(1000, forward.status);
    }
    if (final) this.held.delete(forward.id);
  }

  private async agentChanged(agentId: string): Promise<void> {
    const entries = [...this.held.values()].filter((entry) => entry.agentId === agentId);
    if (entries.length === 0) return;
    const online = await this.online(agentId);
    for (const entry of entries) {
      if (entry.online === online) continue;
      entry.online = online;
      for (const ws of entry.sockets) send(ws, { type: 'agent', online });
    }
  }

  private async online(agentId: string): Promise<boolean> {
    const agent = await this.deps.db
      .selectFrom('agents')
      .select(['connected_node'])
      .where('id', '=', agentId)
      .executeTakeFirst();
    return Boolean(agent?.connected_node);
  }
}

const send = (ws: WebSocket, message: ForwardControlServerMessage): void => sendJson(ws, message);
