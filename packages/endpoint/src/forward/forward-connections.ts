/** Connections through forwards on this endpoint process: checks, tunnel, bytes, the record. */
import type { Duplex } from 'node:stream';
import type WebSocket from 'ws';
import { TetherError } from '@tether/protocol';
import { actorOf } from '../agents/guard.ts';
import type { Principal } from '../auth/principal.ts';
import { newId, nowIso } from '../auth/secrets.ts';
import { readPolicy } from '../consent/consent-policy.ts';
import { sendJson } from '../http/ws-json.ts';
import type { ForwardsTable } from '../store/schema.ts';
import { openLocalForward, type ForwardDial } from './forward-channel.ts';
import { decideForward } from './forward-policy.ts';
import { pump, type Pump, type PumpOutcome } from './forward-pump.ts';
import { openRemoteForward } from './forward-relay.ts';
import { endedError, type ForwardDeps, type ForwardService } from './forward-service.ts';

/**
 * Connections open at once through one forward on one process. The bar is 500 at once;
 * twice that leaves room, and a runaway client cannot hold thousands of channels on an agent.
 */
export const MAX_CONNECTIONS_PER_FORWARD = 1_024;

/** A frame the client sent before the tunnel was open: replayed in order once it is. */
export type EarlyFrame = [data: Buffer, isBinary: boolean];

interface LiveConnection {
  stop(error: TetherError): void;
  done: Promise<void>;
}

export class ForwardConnections {
  private readonly live = new Map<string, Set<LiveConnection>>();

  constructor(
    private readonly deps: ForwardDeps,
    private readonly forwards: ForwardService,
  ) {}

  /**
   * Serves one connection socket; throws (before any byte moves) when it may not be opened.
   * `early` fills with what the client sends meanwhile; `handOver` stops filling it.
   */
  async serve(
    p: Principal,
    forwardId: string,
    ws: WebSocket,
    early: EarlyFrame[],
    handOver: () => void,
  ): Promise<void> {
    const row = await this.forwards.usable(p, forwardId, 'forward.connect');
    if (row.status === 'pending' || row.status === 'opening')
      throw new TetherError('conflict', 'the forward is waiting for the customer’s approval');
    if (row.status !== 'live') throw endedError(this.forwards.toView(row));

    const started = Date.now();
    const id = newId();
    if ((this.live.get(row.id)?.size ?? 0) >= MAX_CONNECTIONS_PER_FORWARD) {
      const error = new TetherError(
        'rate_limited',
        `too many connections at once through this forward (at most ${MAX_CONNECTIONS_PER_FORWARD})`,
      );
      await this.failed(row, p, id, started, error);
      throw error;
    }
    const policy = await readPolicy(this.deps.db, row.account_id);
    const decision = decideForward(p, policy, { host: row.host, port: Number(row.port) });
    if (!decision.allowed) {
      const error = new TetherError('forbidden', decision.reason);
      await this.failed(row, p, id, started, error);
      throw error;
    }
    await this.run(p, row, { id, started, listed: decision.listed }, ws, early, handOver);
  }

  count(forwardId: string): number {
    return this.live.get(forwardId)?.size ?? 0;
  }

  /** Ends every connection of a forward here, telling each client why; resolves once recorded. */
  async closeAll(forwardId: string, error: TetherError): Promise<void> {
    const connections = [...(this.live.get(forwardId) ?? [])];
    for (const connection of connections) connection.stop(error);
    await Promise.all(connections.map((c) => c.done));
  }

  async stopAll(error: TetherError): Promise<void> {
    await Promise.all([...this.live.keys()].map((id) => this.closeAll(id, error)));
  }

  /** Connections this process held when it stopped without recording them: cut off. */
  async recoverInterrupted(): Promise<number> {
    const { db, audit, nodeId } = this.deps;
    const rows = await db
      .selectFrom('forward_connections as c')
      .innerJoin('forwards as f', 'f.id', 'c.forward_id')
      .select(['c.id', 'c.forward_id', 'c.started_at', 'f.account_id', 'f.agent_id', 'f.ticket_id'])
      .select(['f.target', 'f.user_id'])
      .where('c.node_id', '=', nodeId)
      .where('c.status', '=', 'open')
      .execute();
    for (const row of rows) {
      await db
        .updateTable('forward_connections')
        .set({ status: 'interrupted', ended_at: nowIso() })
        .where('id', '=', row.id)
        .execute();
      await audit.append({
        kind: 'forwardConnectionInterrupted',
        accountId: row.account_id,
        agentId: row.agent_id,
        ticketId: row.ticket_id,
        sessionId: row.forward_id,
        params: { connectionId: row.id, target: row.target, userId: row.user_id },
        result: { reason: 'the endpoint holding it stopped', startedAt: row.started_at },
      });
    }
    return rows.length;
  }

  private async run(
    p: Principal,
    row: ForwardsTable,
    conn: { id: string; started: number; listed: boolean },
    ws: WebSocket,
    early: EarlyFrame[],
    handOver: () => void,
  ): Promise<void> {
    const log = this.deps.log.child({
      forwardId: row.id,
      connectionId: conn.id,
      agentId: row.agent_id,
    });
    let stopped: TetherError | null = null;
    let pumping: Pump | null = null;
    let release!: () => void;
    const entry: LiveConnection = {
      stop: (error) => {
        stopped ??= error;
        pumping?.stop(error);
      },
      done: new Promise((resolve) => (release = resolve)),
    };
    const set = this.live.get(row.id) ?? new Set();
    this.live.set(row.id, set.add(entry));

    try {
      let tunnel: { stream: Duplex; local: boolean };
      try {
        tunnel = await this.dial(row, conn.id, conn.listed);
      } catch (error) {
        await this.failed(row, p, conn.id, conn.started, error);
        throw error;
      }
      // Recorded while the first bytes already flow (it is a database write and an audit
      // append, ~10 ms on a busy machine); the end is recorded only after it. A connection
      // that cannot be put on the record does not go on.
      const recorded = this.opened(row, p, conn.id, conn.started);
      let tunnelError: TetherError | null = null;
      tunnel.stream.on('error', (error) => {
        if (error instanceof TetherError) tunnelError = error;
      });
      const cutOff = (): TetherError | null => {
        if (tunnelError) return tunnelError;
        if (tunnel.local && !this.deps.hub.isLocal(row.agent_id))
          return new TetherError('agent_offline', 'the agent disconnected');
        return null;
      };
      sendJson(ws, { type: 'open', connection: conn.id });
      handOver();
      pumping = pump(ws, tunnel.stream, early, cutOff, log);
      if (stopped) pumping.stop(stopped);
      if (ws.readyState !== ws.OPEN) pumping.stop(new TetherError('gone', 'the client left'));
      const running = pumping;
      recorded.catch((error) => {
        log.error({ err: error }, 'cannot record the connection; closing it');
        running.stop(new TetherError('internal', 'the connection could not be recorded'));
      });
      const outcome = await pumping.done;
      await recorded;
      await this.closed(row, p, conn.id, conn.started, outcome);
    } finally {
      set.delete(entry);
      if (set.size === 0 && this.live.get(row.id) === set) this.live.delete(row.id);
      release();
    }
  }

  /** Wherever the agent is linked: here, or through the process that holds it. */
  private async dial(row: ForwardsTable, connectionId: string, listed: boolean) {
    const { hub, db, bus, nodeId } = this.deps;
    const dial: ForwardDial = {
      agentId: row.agent_id,
      host: row.host,
      port: Number(row.port),
      connectionId,
      listed,
    };
    if (hub.isLocal(row.agent_id))
      return { stream: await openLocalForward(hub, dial), local: true };
    const agent = await db
      .selectFrom('agents')
      .select(['connected_node'])
      .where('id', '=', row.agent_id)
      .executeTakeFirst();
    const owner = agent?.connected_node;
    if (!owner || owner === nodeId)
      throw new TetherError(
        'agent_offline',
        'the agent is offline; connections work again once it reconnects',
      );
    return { stream: await openRemoteForward(bus, owner, dial), local: false };
  }

  private async opened(row: ForwardsTable, p: Principal, id: string, started: number) {
    const { db, audit, nodeId } = this.deps;
    await db
      .insertInto('forward_connections')
      .values({
        id,
        forward_id: row.id,
        node_id: nodeId,
        status: 'open',
        started_at: new Date(started).toISOString(),
        ended_at: null,
        bytes_up: 0,
        bytes_down: 0,
        duration_ms: null,
        error_code: null,
        error_message: null,
      })
      .execute();
    await audit.append({
      kind: 'forwardConnectionStarted',
      ...this.auditBase(row, p),
      params: { connectionId: id, target: row.target },
      result: { node: nodeId },
    });
  }

  private async closed(
    row: ForwardsTable,
    p: Principal,
    id: string,
    started: number,
    outcome: PumpOutcome,
  ) {
    const { db, audit, log } = this.deps;
    const durationMs = Date.now() - started;
    const { bytesUp, bytesDown, endedBy, reason } = outcome;
    await db
      .updateTable('forward_connections')
      .set({
        status: 'closed',
        ended_at: nowIso(),
        bytes_up: bytesUp,
        bytes_down: bytesDown,
        duration_ms: durationMs,
      })
      .where('id', '=', id)
      .execute();
    await audit.append({
      kind: 'forwardConnectionEnded',
      ...this.auditBase(row, p),
      params: { connectionId: id, target: row.target },
      result: { bytesUp, bytesDown, durationMs, endedBy, reason },
    });
    log.debug(
      { forwardId: row.id, connectionId: id, bytesUp, bytesDown, durationMs },
      'connection recorded',
    );
  }

  private async failed(
    row: ForwardsTable,
    p: Principal,
    id: string,
    started: number,
    error: unknown,
  ) {
    const { db, audit, log } = this.deps;
    const wire = TetherError.wireOf(error, 'the connection failed');
    if (!(error instanceof TetherError))
      log.error({ err: error, forwardId: row.id, connectionId: id }, 'forwarded connection failed');
    await db
      .insertInto('forward_connections')
      .values({
        id,
        forward_id: row.id,
        node_id: this.deps.nodeId,
        status: 'failed',
        started_at: new Date(started).toISOString(),
        ended_at: nowIso(),
        bytes_up: 0,
        bytes_down: 0,
        duration_ms: Date.now() - started,
        error_code: wire.code,
        error_message: wire.message,
      })
      .execute();
    await audit.append({
      kind: 'forwardConnectionFailed',
      ...this.auditBase(row, p),
      params: { connectionId: id, target: row.target },
      result: { code: wire.code, reason: wire.message },
    });
    log.info(
      { forwardId: row.id, connectionId: id, code: wire.code, reason: wire.message },
      'connection failed',
    );
  }

  private auditBase(row: ForwardsTable, p: Principal) {
    return {
      actor: actorOf(p),
      accountId: row.account_id,
      agentId: row.agent_id,
      ticketId: row.ticket_id,
      sessionId: row.id,
    };
  }
}
