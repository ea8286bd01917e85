/** `--repository URL`: the endpoint forwards repository REST and sync to a separate repository. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import WebSocket from 'ws';
import {
  ANONYMOUS,
  API_PREFIX,
  CALLER_HEADER,
  forwardCaller,
  SYNC_PATH,
  SYNC_PROTOCOL,
  type Authenticate,
} from '@tether/repository';
import { TetherError } from '@tether/protocol';
import type { Api } from '../http/api.ts';

/** Headers of the repository's answer that mean something to the caller. */
const PASSED_HEADERS = [
  'content-type',
  'etag',
  'cache-control',
  'x-git-type',
  'x-git-hash',
  'x-git-mode',
  'x-content-type-options',
  'content-security-policy',
];
const FORWARD_TIMEOUT_MS = 30_000;
/** A slow reader pauses the other side past this many unsent bytes. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024;

export function forwardRepository(
  app: FastifyInstance,
  api: Api,
  remoteUrl: string,
  authenticate: Authenticate,
  sign: (data: Buffer) => Buffer,
  log: Logger,
): void {
  const headerFor = async (request: FastifyRequest, method: string, path: string) =>
    forwardCaller((await authenticate(request)) ?? ANONYMOUS, { method, path }, sign);

  app.route({
    method: ['GET', 'HEAD', 'POST', 'DELETE'],
    url: `${API_PREFIX}/*`,
    exposeHeadRoute: false,
    handler: async (request, reply) => {
      const headers: Record<string, string> = {
        [CALLER_HEADER]: await headerFor(request, request.method, request.url),
      };
      const match = request.headers['if-none-match'];
      if (typeof match === 'string') headers['if-none-match'] = match;
      let body: string | undefined;
      if (request.body !== undefined && request.method !== 'GET' && request.method !== 'HEAD') {
        headers['content-type'] = 'application/json';
        body = JSON.stringify(request.body);
      }
      let response: Response;
      try {
        response = await fetch(`${remoteUrl}${request.url}`, {
          method: request.method,
          headers,
          body,
          signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
        });
      } catch (error) {
        log.warn({ err: error, url: request.url }, 'repository unreachable');
        throw new TetherError('unavailable', 'the script repository does not answer', {
          cause: error,
        });
      }
      reply.code(response.status);
      for (const name of PASSED_HEADERS) {
        const value = response.headers.get(name);
        if (value !== null) reply.header(name, value);
      }
      return reply.send(Buffer.from(await response.arrayBuffer()));
    },
  });

  app.get(SYNC_PATH, { websocket: true }, async (socket, request) => {
    if (socket.protocol !== SYNC_PROTOCOL) return socket.close(4400, `speak ${SYNC_PROTOCOL}`);
    const origin = request.headers.origin;
    if (origin !== undefined && new URL(origin).host !== request.headers.host) {
      return socket.close(4403, 'cross-origin socket');
    }
    const upstream = new WebSocket(
      `${remoteUrl.replace(/^http/, 'ws')}${SYNC_PATH}`,
      SYNC_PROTOCOL,
      {
        headers: { [CALLER_HEADER]: await headerFor(request, 'GET', SYNC_PATH) },
        perMessageDeflate: false,
        maxPayload: 2 * 1024 * 1024,
      },
    );
    const early: Array<{ data: Buffer; binary: boolean }> = [];
    socket.on('message', (data, binary) => {
      if (upstream.readyState === WebSocket.OPEN) relay(socket, upstream, data as Buffer, binary);
      else early.push({ data: data as Buffer, binary });
    });
    upstream.on('open', () => {
      for (const m of early.splice(0)) relay(socket, upstream, m.data, m.binary);
    });
    upstream.on('message', (data, binary) => relay(upstream, socket, data as Buffer, binary));
    upstream.on('unexpected-response', (_req, response) => {
      socket.close(4502, `repository refused (${response.statusCode})`);
      upstream.terminate();
    });
    upstream.on('error', (error) => {
      log.warn({ err: error }, 'repository sync unreachable');
      socket.close(4503, 'the script repository does not answer');
    });
    upstream.on('close', (code) => socket.close(code === 1005 ? 1000 : code));
    socket.on('close', () => upstream.close());
  });

  api.describe({
    method: 'GET',
    url: `${API_PREFIX}/*`,
    summary: 'Forwarded to the separate script repository (--repository)',
    tag: 'repository',
    public: true,
  });
}

/** Sends one frame on, pausing the source while the target has too much unsent. */
function relay(from: WebSocket, to: WebSocket, data: Buffer, binary: boolean): void {
  if (to.readyState !== WebSocket.OPEN) return;
  to.send(data, { binary }, () => {
    if (to.bufferedAmount <= HIGH_WATER_BYTES && from.isPaused) from.resume();
  });
  if (to.bufferedAmount > HIGH_WATER_BYTES) from.pause();
}
