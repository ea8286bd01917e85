/** Runs a command on an agent for a person: picks the route, records it, audits it. */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import {
  EXEC_AUDIT_OUTPUT_BYTES,
  EXEC_DEFAULT_TIMEOUT_MS,
  STREAM_STDOUT,
  TetherError,
  type ExecRequest,
} from '@tether/protocol';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AgentHub } from '../agents/agent-hub.ts';
import type { Principal } from '../auth/principal.ts';
import type { Bus } from '../bus/bus.ts';
import type { AgentsTable, Database } from '../store/schema.ts';
import { newId, nowIso } from '../auth/secrets.ts';
import type { ExecStream, StreamId } from './exec-stream.ts';
import { remoteExec } from './remote-exec.ts';

/** The endpoint's own deadline trails the agent's, so the agent's kill normally wins. */
const DEADLINE_GRACE_MS = 10_000;

export interface ExecSummary {
  execId: string;
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** Stopped on request (the caller cancelled or went away), or at the endpoint's own deadline. */
  cancelled: boolean;
  stdoutBytes: number;
  stderrBytes: number;
  durationMs: number;
  /** The audit record holds only the first EXEC_AUDIT_OUTPUT_BYTES of each stream. */
  truncated: boolean;
}

export interface RunningExec {
  execId: string;
  onData(handler: (stream: StreamId, chunk: Buffer) => void): void;
  pause(): void;
  resume(): void;
  cancel(): void;
  /** Settles with the summary; rejects with a TetherError when the command could not finish. */
  done: Promise<ExecSummary>;
}

export class ExecService {
  constructor(
    private readonly deps: {
      db: Kysely<Database>;
      bus: Bus;
      hub: AgentHub;
      audit: AuditLog;
      nodeId: string;
      log: Logger;
    },
  ) {}

  /** Marks commands this node was relaying when it died as interrupted, and audits each. */
  async recoverInterrupted(): Promise<number> {
    const { db, audit, nodeId } = this.deps;
    const rows = await db
      .selectFrom('execs')
      .selectAll()
      .where('node_id', '=', nodeId)
      .where('status', '=', 'running')
      .execute();
    for (const row of rows) {
      await db
        .updateTable('execs')
        .set({ status: 'interrupted', ended_at: nowIso(), error: 'endpoint restarted' })
        .where('id', '=', row.id)
        .execute();
      await audit.append({
        kind: 'execInterrupted',
        actor: row.actor_id ? { id: row.actor_id, name: '', role: '' } : null,
        accountId: row.account_id,
        agentId: row.agent_id,
        sessionId: row.id,
        params: { execId: row.id, startedAt: row.started_at },
        result: {
          completed: false,
          reason: 'the endpoint relaying it stopped before the command finished',
        },
      });
    }
    return rows.length;
  }

  async start(
    principal: Principal,
    agent: AgentsTable,
    request: ExecRequest,
  ): Promise<RunningExec> {
    const { db, audit, nodeId } = this.deps;
    const execId = newId();
    const timeoutMs = request.timeoutMs ?? EXEC_DEFAULT_TIMEOUT_MS;
    const command = {
      execId,
      ...(request.argv ? { argv: request.argv } : { command: request.command }),
      ...(request.cwd ? { cwd: request.cwd } : {}),
      ...(request.env ? { env: request.env } : {}),
      timeoutMs,
    };
    const actor = { id: principal.userId, name: principal.username, role: principal.role };
    const params = {
      execId,
      argv: request.argv,
      command: request.command,
      cwd: request.cwd,
      envNames: request.env ? Object.keys(request.env) : undefined,
      timeoutMs,
      stdinBytes: request.stdin ? Buffer.byteLength(request.stdin) : 0,
    };
    const base = {
      actor,
      accountId: agent.account_id,
      agentId: agent.id,
      sessionId: execId,
      params,
    };

    let stream: ExecStream;
    try {
      stream = await this.route(agent, execId, command, request.stdin ?? null);
    } catch (error) {
      const reason = TetherError.wireOf(error, 'exec failed');
      await audit.append({ kind: 'execFailed', ...base, result: { error: reason } });
      throw error;
    }

    const startedAt = Date.now();
    await db
      .insertInto('execs')
      .values({
        id: execId,
        agent_id: agent.id,
        account_id: agent.account_id,
        actor_id: principal.userId,
        node_id: nodeId,
        request: JSON.stringify(params),
        status: 'running',
        exit_code: null,
        signal: null,
        timed_out: 0,
        stdout_bytes: 0,
        stderr_bytes: 0,
        error: null,
        started_at: new Date(startedAt).toISOString(),
        ended_at: null,
        duration_ms: null,
      })
      .execute();
    await audit.append({ kind: 'execStarted', ...base });

    const heads = { [1]: new OutputHead(), [2]: new OutputHead() } as Record<StreamId, OutputHead>;
    let pastDeadline = false;
    const deadline = setTimeout(() => {
      pastDeadline = true;
      stream.cancel();
    }, timeoutMs + DEADLINE_GRACE_MS);

    const done = (async (): Promise<ExecSummary> => {
      const ended = await stream.done.then(
        (outcome) => ({ outcome, error: null }),
        (error: unknown) => ({ outcome: null, error }),
      );
      clearTimeout(deadline);
      const durationMs = Date.now() - startedAt;
      const out = heads[STREAM_STDOUT];
      const err = heads[2];
      const summary: ExecSummary = {
        execId,
        exitCode: ended.outcome?.exitCode ?? null,
        signal: ended.outcome?.signal ?? null,
        timedOut: (ended.outcome?.timedOut ?? false) || pastDeadline,
        cancelled: ended.outcome?.cancelled ?? false,
        stdoutBytes: out.total,
        stderrBytes: err.total,
        durationMs,
        truncated: out.truncated || err.truncated,
      };
      const wire =
        ended.error instanceof TetherError
          ? ended.error.toWire()
          : ended.error
            ? { code: 'internal', message: 'exec failed' }
            : null;
      await db
        .updateTable('execs')
        .set({
          status: wire ? 'failed' : 'completed',
          exit_code: summary.exitCode,
          signal: summary.signal,
          timed_out: summary.timedOut ? 1 : 0,
          stdout_bytes: summary.stdoutBytes,
          stderr_bytes: summary.stderrBytes,
          error: wire ? wire.message : null,
          ended_at: nowIso(),
          duration_ms: durationMs,
        })
        .where('id', '=', execId)
        .execute();
      await audit.append({
        kind: wire ? 'execFailed' : 'execFinished',
        ...base,
        result: {
          ...summary,
          completed: !wire,
          error: wire ?? undefined,
          stdoutHead: out.text(),
          stderrHead: err.text(),
        },
      });
      if (ended.error) throw ended.error;
      return summary;
    })();
    done.catch(() => {});

    return {
      execId,
      // Output waits in the stream until the caller attaches: nothing flows to nobody.
      onData: (handler) =>
        stream.onData((id, chunk) => {
          heads[id].add(chunk);
          handler(id, chunk);
        }),
      pause: () => stream.pause(),
      resume: () => stream.resume(),
      cancel: () => stream.cancel(),
      done,
    };
  }

  private async route(agent: AgentsTable, execId: string, command: object, stdin: string | null) {
    const { hub, bus, db, nodeId } = this.deps;
    if (agent.revoked_at) throw new TetherError('agent_revoked', `agent ${agent.name} was revoked`);
    if (hub.isLocal(agent.id)) {
      return hub.exec(
        agent.id,
        command as never,
        stdin === null ? null : Buffer.from(stdin, 'utf8'),
      );
    }
    const current = await db
      .selectFrom('agents')
      .select('connected_node')
      .where('id', '=', agent.id)
      .executeTakeFirst();
    const owner = current?.connected_node;
    if (!owner || owner === nodeId)
      throw new TetherError('agent_offline', `agent ${agent.name} is offline`);
    return remoteExec(bus, owner, { execId, agentId: agent.id, command: command as never, stdin });
  }
}

/** Keeps the first EXEC_AUDIT_OUTPUT_BYTES of a stream and counts the rest. */
class OutputHead {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  total = 0;

  add(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.kept >= EXEC_AUDIT_OUTPUT_BYTES) return;
    const part = chunk.subarray(0, EXEC_AUDIT_OUTPUT_BYTES - this.kept);
    this.chunks.push(Buffer.from(part));
    this.kept += part.length;
  }

  get truncated(): boolean {
    return this.total > this.kept;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
