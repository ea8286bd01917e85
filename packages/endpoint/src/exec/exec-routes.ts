/** Commands over HTTP: buffered REST, a streaming WebSocket, and fan-out to many agents. */
import type { FastifyInstance } from 'fastify';
import type WebSocket from 'ws';
import { z } from 'zod';
import {
  EXEC_REST_OUTPUT_LIMIT_BYTES,
  ExecClientMessage,
  ExecRequest,
  TetherError,
  type ExecServerMessage,
} from '@tether/protocol';
import type { Api } from '../http/api.ts';
import type { Services } from '../services.ts';
import type { Principal } from '../auth/principal.ts';
import { agentScope, canSeeAgent } from '../audit/visibility.ts';
import { actorOf } from '../agents/guard.ts';
import { wsGate, wsPrincipal } from '../http/ws-auth.ts';
import { parseJson, sendJson } from '../http/ws-json.ts';
import type { ExecSummary } from './exec-service.ts';

/** Pause the command while this much output waits for a slow socket, resume below the low mark. */
const WS_HIGH_WATER_BYTES = 4 * 1024 * 1024;
const WS_LOW_WATER_BYTES = 1024 * 1024;
/** A client that opened the socket has this long to say what to run; then it is closed. */
export const START_TIMEOUT_MS = 10_000;
const DEFAULT_FANOUT_CONCURRENCY = 32;
const MAX_FANOUT_CONCURRENCY = 256;
const MAX_FANOUT_AGENTS = 10_000;
/** Each agent's output in a fan-out answer is cut here; the audit log keeps 64 KiB anyway. */
const FANOUT_OUTPUT_LIMIT_BYTES = 64 * 1024;

const IdParams = z.strictObject({ id: z.string().min(1).max(64) });

export function execRoutes(api: Api, app: FastifyInstance, s: Services): void {
  api.route({
    method: 'POST',
    url: '/api/v1/agents/:id/exec',
    summary:
      'Run a command on an agent and wait for its result (output capped at 1 MiB per stream)',
    tag: 'exec',
    params: IdParams,
    body: ExecRequest,
    handler: async ({ principal, params, body }) => {
      const agent = await s.guard.agent(principal, params.id, 'agent.exec');
      return runBuffered(s, principal, agent, body, EXEC_REST_OUTPUT_LIMIT_BYTES);
    },
  });

  api.route({
    method: 'POST',
    url: '/api/v1/exec',
    summary: 'Run one command on many agents, with a concurrency limit; one result per agent',
    tag: 'exec',
    body: z
      .strictObject({
        agents: z.array(z.string().min(1).max(64)).min(1).max(MAX_FANOUT_AGENTS).optional(),
        account: z.string().min(1).max(200).optional(),
        request: ExecRequest,
        concurrency: z.number().int().positive().max(MAX_FANOUT_CONCURRENCY).optional(),
      })
      .refine((b) => (b.agents === undefined) !== (b.account === undefined), {
        message: 'give exactly one of agents or account',
      }),
    handler: async ({ principal, body }) => {
      const targets = body.agents ?? (await accountAgents(s, principal, body.account as string));
      await s.audit.append({
        kind: 'execBatch',
        actor: actorOf(principal),
        accountId: principal.accountId,
        params: { agents: targets, account: body.account, concurrency: body.concurrency },
      });
      const results = await mapLimited(
        targets,
        body.concurrency ?? DEFAULT_FANOUT_CONCURRENCY,
        async (id) => {
          try {
            const agent = await s.guard.agent(principal, id, 'agent.exec');
            const result = await runBuffered(
              s,
              principal,
              agent,
              body.request,
              FANOUT_OUTPUT_LIMIT_BYTES,
            );
            return { agentId: id, agentName: agent.name, ok: true, result };
          } catch (error) {
            const wire = TetherError.wireOf(error, 'exec failed');
            if (!(error instanceof TetherError))
              s.log.error({ err: error, agentId: id }, 'fan-out exec failed');
            const agentName = await visibleName(s, principal, id);
            return { agentId: id, agentName, ok: false, error: wire };
          }
        },
      );
      return { results };
    },
  });

  app.get(
    '/api/v1/agents/:id/exec/stream',
    { websocket: true, preValidation: wsGate(s) },
    (socket, request) => {
      const ws = socket as unknown as WebSocket;
      const agentId = (request.params as { id: string }).id;
      void streamExec(s, ws, agentId, request).catch((error) => {
        if (!(error instanceof TetherError)) s.log.error({ err: error }, 'exec stream failed');
        const wire = TetherError.wireOf(error, 'internal error');
        send(ws, { type: 'error', error: wire });
        ws.close(1000);
      });
    },
  );
}

async function streamExec(
  s: Services,
  ws: WebSocket,
  agentId: string,
  request: import('fastify').FastifyRequest,
) {
  const principal = await wsPrincipal(s, request);
  const start = await firstMessage(ws);
  const agent = await s.guard.agent(principal, agentId, 'agent.exec');
  const body = ExecRequest.safeParse(start.request);
  if (!body.success)
    throw new TetherError('invalid_request', body.error.issues[0]?.message ?? 'bad request');

  const exec = await s.exec.start(principal, agent, body.data);
  send(ws, { type: 'started', execId: exec.execId });
  let paused = false;
  exec.onData((stream, chunk) => {
    const frame = Buffer.allocUnsafe(chunk.length + 1);
    frame[0] = stream;
    chunk.copy(frame, 1);
    ws.send(frame, () => {
      if (paused && ws.bufferedAmount < WS_LOW_WATER_BYTES) {
        paused = false;
        exec.resume();
      }
    });
    if (!paused && ws.bufferedAmount > WS_HIGH_WATER_BYTES) {
      paused = true;
      exec.pause();
    }
  });
  ws.on('message', (data, isBinary) => {
    const message = isBinary ? null : ExecClientMessage.safeParse(parseJson(data.toString()));
    if (message?.success && message.data.type === 'cancel') exec.cancel();
  });
  ws.on('close', () => exec.cancel());

  const summary = await exec.done;
  send(ws, { type: 'exit', result: summary });
  ws.close(1000);
}

function firstMessage(ws: WebSocket): Promise<{ type: 'start'; request: unknown }> {
  return new Promise((resolve, reject) => {
    const late = setTimeout(() => {
      reject(
        new TetherError('invalid_request', `no start message within ${START_TIMEOUT_MS / 1000} s`),
      );
    }, START_TIMEOUT_MS);
    ws.once('close', () => clearTimeout(late));
    ws.once('message', (data, isBinary) => {
      const parsed = isBinary ? null : ExecClientMessage.safeParse(parseJson(data.toString()));
      clearTimeout(late);
      if (parsed?.success && parsed.data.type === 'start') resolve(parsed.data as never);
      else
        reject(
          new TetherError(
            'invalid_request',
            'the first message must be {"type":"start","request":{…}}',
          ),
        );
    });
    ws.once('close', () =>
      reject(new TetherError('invalid_request', 'socket closed before start')),
    );
  });
}

async function runBuffered(
  s: Services,
  principal: Principal,
  agent: import('../store/schema.ts').AgentsTable,
  request: ExecRequest,
  limitBytes: number,
) {
  const exec = await s.exec.start(principal, agent, request);
  const out = new Capped(limitBytes);
  const err = new Capped(limitBytes);
  exec.onData((stream, chunk) => (stream === 1 ? out : err).add(chunk));
  const summary: ExecSummary = await exec.done;
  return {
    ...summary,
    stdout: out.text(),
    stderr: err.text(),
    truncated: out.truncated || err.truncated,
  };
}

class Capped {
  private readonly chunks: Buffer[] = [];
  private kept = 0;
  truncated = false;

  constructor(private readonly limit: number) {}

  add(chunk: Buffer): void {
    const room = this.limit - this.kept;
    if (chunk.length > room) this.truncated = true;
    if (room <= 0) return;
    const part = chunk.subarray(0, room);
    this.chunks.push(Buffer.from(part));
    this.kept += part.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

async function accountAgents(
  s: Services,
  principal: Principal,
  account: string,
): Promise<string[]> {
  const rows = await s.db
    .selectFrom('agents')
    .innerJoin('accounts', 'accounts.id', 'agents.account_id')
    .select('agents.id')
    .where((eb) => eb.or([eb('accounts.name', '=', account), eb('accounts.id', '=', account)]))
    .where('agents.revoked_at', 'is', null)
    .where(agentScope(principal) as never)
    .execute();
  if (rows.length === 0)
    throw new TetherError('not_found', `no agents in account ${JSON.stringify(account)}`);
  return rows.map((r) => r.id);
}

/** The agent's name for a failed row, only if the caller may see that agent at all. */
async function visibleName(s: Services, principal: Principal, id: string) {
  const agent = await s.db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
  return agent && canSeeAgent(principal, agent) ? agent.name : undefined;
}

async function mapLimited<T, R>(
  items: T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

const send = (ws: WebSocket, message: ExecServerMessage): void => sendJson(ws, message);
