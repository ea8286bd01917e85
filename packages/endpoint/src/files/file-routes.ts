/** The files API over REST (contract: /work/contracts/files-api.md), and the 'files' live topic. */
import { createReadStream } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import {
  FileChmodRequest,
  FileDeleteRequest,
  FileDiffRequest,
  FileMkdirRequest,
  FileRenameRequest,
  FileSaveRequest,
  FileSessionRequest,
  FileTextQuery,
  FileWriteAccessRequest,
  TetherError,
} from '@tether/protocol';
import { canSeeFileEvent, canSeeFileSession, fileEventScope } from '../audit/visibility.ts';
import { actorOf } from '../agents/guard.ts';
import { decodeCursor, encodeCursor, olderThan } from '../chat/page-cursor.ts';
import type { Api } from '../http/api.ts';
import type { Services } from '../services.ts';
import { FILE_EVENT_SUBJECT, eventView } from './file-history.ts';
import { FileOps } from './file-ops.ts';
import { pathFrom } from './paths.ts';
import { FileTransfers } from './transfer.ts';

const IdParams = z.strictObject({ id: z.string().min(1).max(64) });
const HashParams = z.strictObject({
  hash: z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in hex'),
});
const PathQuery = z.strictObject({
  // Characters, generously: pathFrom counts the bytes and says so when there are too many.
  path: z
    .string()
    .min(1)
    .max(4 * 4095)
    .optional(),
  pathB64: z.string().min(1).max(8192).optional(),
});
const UploadQuery = PathQuery.extend({ overwrite: z.enum(['0', '1']).default('0') });
const EventsQuery = z.strictObject({
  cursor: z.string().max(200).optional(),
  ticket: z.string().max(64).optional(),
  session: z.string().max(64).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});
const EndBody = z.strictObject({ reason: z.string().max(200).optional() }).optional();
const OCTET_STREAM = 'application/octet-stream';

export function fileRoutes(api: Api, app: FastifyInstance, s: Services): void {
  const ops = new FileOps(s.files);
  const transfers = new FileTransfers(s.files);

  // Uploads arrive as a raw stream, handed to the route unread: nothing buffers a whole file.
  if (!app.hasContentTypeParser(OCTET_STREAM))
    app.addContentTypeParser(OCTET_STREAM, (_request, payload, done) => done(null, payload));

  s.live.add({
    name: 'files',
    subject: FILE_EVENT_SUBJECT,
    visible: (p, payload) => {
      const { accountId, userId } = payload as { accountId: string; userId: string };
      return canSeeFileSession(p, { account_id: accountId, user_id: userId });
    },
  });

  api.route({
    method: 'POST',
    url: '/api/v1/agents/:id/file-sessions',
    summary:
      'Opens a file session: {ticket?, readApproval?, writeApproval?}; customers need self-service',
    tag: 'files',
    params: IdParams,
    body: FileSessionRequest,
    handler: async ({ params, body, principal }) => ({
      session: await s.files.open(principal, params.id, body),
    }),
  });

  api.route({
    method: 'GET',
    url: '/api/v1/agents/:id/file-sessions',
    summary: 'File sessions on the server the caller may see, newest first',
    tag: 'files',
    params: IdParams,
    handler: async ({ params, principal }) => ({
      sessions: await s.files.sessions(principal, params.id),
    }),
  });

  api.route({
    method: 'GET',
    url: '/api/v1/file-sessions/:id',
    summary: 'One file session',
    tag: 'files',
    params: IdParams,
    handler: async ({ params, principal }) => ({
      session: await s.files.get(principal, params.id),
    }),
  });

  api.route({
    method: 'POST',
    url: '/api/v1/file-sessions/:id/write-access',
    summary: 'Spends an approved files.write approval on the session: {approval}',
    tag: 'files',
    params: IdParams,
    body: FileWriteAccessRequest,
    handler: async ({ params, body, principal }) => ({
      session: await s.files.grantWrite(principal, params.id, body.approval),
    }),
  });

  api.route({
    method: 'DELETE',
    url: '/api/v1/file-sessions/:id',
    summary: 'Ends the session (whoever opened it, a customer of the account, an admin)',
    tag: 'files',
    params: IdParams,
    body: EndBody,
    handler: async ({ params, body, principal }) => ({
      session: await s.files.end(principal, params.id, body?.reason),
    }),
  });

  api.route({
    method: 'GET',
    url: '/api/v1/file-sessions/:id/list',
    summary: 'A folder’s entries: ?path= or ?pathB64= → {path, entries, truncated}',
    tag: 'files',
    params: IdParams,
    query: PathQuery,
    handler: async ({ params, query, principal }) =>
      ops.list(principal, params.id, pathFrom(query.path, query.pathB64)),
  });

  api.route({
    method: 'GET',
    url: '/api/v1/file-sessions/:id/stat',
    summary: 'One entry, its symlink not followed → {entry}',
    tag: 'files',
    params: IdParams,
    query: PathQuery,
    handler: async ({ params, query, principal }) => ({
      entry: await ops.stat(principal, params.id, pathFrom(query.path, query.pathB64)),
    }),
  });

  api.route({
    method: 'GET',
    url: '/api/v1/file-sessions/:id/text',
    summary:
      'A page of a file as text: ?path=&offset=&length= or &tail=N; hash of the whole file up to 2 MiB',
    tag: 'files',
    params: IdParams,
    query: FileTextQuery,
    handler: async ({ params, query, principal }) => {
      const { path, pathB64, ...page } = query;
      return ops.text(principal, params.id, pathFrom(path, pathB64), page);
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/file-sessions/:id/download',
    summary: 'A file’s bytes (Range, If-Range, ETag) or a folder as .tar.gz',
    tag: 'files',
    params: IdParams,
    query: PathQuery,
    handler: async ({ params, query, principal, request, reply }) => {
      const plan = await transfers.download(
        principal,
        params.id,
        pathFrom(query.path, query.pathB64),
        {
          range: header(request.headers.range),
          ifRange: header(request.headers['if-range']),
        },
      );
      reply.code(plan.status).headers({ ...plan.headers, 'x-content-type-options': 'nosniff' });
      if (!plan.body)
        return reply.type('application/json').send({
          error: { code: 'invalid_request', message: 'the range is outside the file' },
        });
      return reply.send(plan.body);
    },
  });

  api.route({
    method: 'POST',
    url: '/api/v1/file-sessions/:id/diff',
    summary:
      'The diff from the file on the server to {content}; conflict when it is not {baseHash}',
    tag: 'files',
    params: IdParams,
    body: FileDiffRequest,
    handler: async ({ params, body, principal }) =>
      ops.diff(
        principal,
        params.id,
        pathFrom(body.path, body.pathB64),
        body.content,
        body.baseHash,
      ),
  });

  api.route({
    method: 'PUT',
    url: '/api/v1/file-sessions/:id/text',
    summary:
      'Saves {content} atomically if the file still has {baseHash}; 409 with the diff if not',
    tag: 'files',
    params: IdParams,
    body: FileSaveRequest,
    handler: async ({ params, body, principal }) =>
      ops.save(
        principal,
        params.id,
        pathFrom(body.path, body.pathB64),
        body.content,
        body.baseHash,
      ),
  });

  api.route({
    method: 'PUT',
    url: '/api/v1/file-sessions/:id/upload',
    summary:
      'Uploads the raw body (application/octet-stream) to ?path=; &overwrite=1 replaces a file',
    tag: 'files',
    params: IdParams,
    query: UploadQuery,
    handler: async ({ params, query, principal, request, reply }) => {
      try {
        const path = pathFrom(query.path, query.pathB64);
        if (!request.headers['content-type']?.startsWith(OCTET_STREAM))
          throw new TetherError('invalid_request', `send the file as ${OCTET_STREAM}`);
        const length = Number(request.headers['content-length']);
        return await transfers.upload(
          principal,
          params.id,
          path,
          request.body as AsyncIterable<Buffer>,
          {
            overwrite: query.overwrite === '1',
            length: Number.isSafeInteger(length) && length >= 0 ? length : null,
          },
        );
      } catch (error) {
        // Refused before the body was read to its end: answer, then close the connection,
        // so the client stops sending (a 5 GB upload is not read to the end to be refused).
        if (!request.raw.complete) reply.header('connection', 'close');
        throw error;
      }
    },
  });

  api.route({
    method: 'POST',
    url: '/api/v1/file-sessions/:id/mkdir',
    summary: 'Makes a folder: {path, mode?} → {entry}',
    tag: 'files',
    params: IdParams,
    body: FileMkdirRequest,
    handler: async ({ params, body, principal }) => ({
      entry: await ops.mkdir(principal, params.id, pathFrom(body.path, body.pathB64), body.mode),
    }),
  });

  api.route({
    method: 'POST',
    url: '/api/v1/file-sessions/:id/rename',
    summary: 'Renames {from} to {to}; an existing {to} is never replaced → {entry}',
    tag: 'files',
    params: IdParams,
    body: FileRenameRequest,
    handler: async ({ params, body, principal }) => ({
      entry: await ops.rename(
        principal,
        params.id,
        pathFrom(body.from, body.fromB64, 'from'),
        pathFrom(body.to, body.toB64, 'to'),
      ),
    }),
  });

  api.route({
    method: 'POST',
    url: '/api/v1/file-sessions/:id/delete',
    summary: 'Deletes a file, a symlink or a folder ({recursive: true} for one with contents)',
    tag: 'files',
    params: IdParams,
    body: FileDeleteRequest,
    handler: async ({ params, body, principal }) => {
      await ops.remove(
        principal,
        params.id,
        pathFrom(body.path, body.pathB64),
        body.recursive ?? false,
      );
      return { ok: true };
    },
  });

  api.route({
    method: 'POST',
    url: '/api/v1/file-sessions/:id/chmod',
    summary: 'Changes a mode: {path, mode (number, e.g. 0o640 = 416)} → {entry}',
    tag: 'files',
    params: IdParams,
    body: FileChmodRequest,
    handler: async ({ params, body, principal }) => ({
      entry: await ops.chmod(principal, params.id, pathFrom(body.path, body.pathB64), body.mode),
    }),
  });

  api.route({
    method: 'GET',
    url: '/api/v1/agents/:id/file-events',
    summary: 'File history of the server, newest first: ?ticket=&session=&cursor=&limit=',
    tag: 'files',
    params: IdParams,
    query: EventsQuery,
    handler: async ({ params, query, principal }) => {
      const agent = await s.guard.agent(principal, params.id, 'agent.read');
      let q = s.db
        .selectFrom('file_events')
        .selectAll()
        .where(fileEventScope(principal))
        .where('agent_id', '=', agent.id)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(query.limit + 1);
      if (query.ticket) q = q.where('ticket_id', '=', query.ticket);
      if (query.session) q = q.where('session_id', '=', query.session);
      if (query.cursor) q = q.where(olderThan<'file_events'>(decodeCursor(query.cursor)));
      const rows = await q.execute();
      const page = rows.slice(0, query.limit);
      const next = rows.length > query.limit ? encodeCursor(page[page.length - 1]) : null;
      return { events: page.map(eventView), next };
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/file-events/:id',
    summary: 'One file event; a save carries its diff',
    tag: 'files',
    params: IdParams,
    handler: async ({ params, principal }) => {
      const row = await s.db
        .selectFrom('file_events')
        .selectAll()
        .where('id', '=', params.id)
        .executeTakeFirst();
      if (!row || !canSeeFileEvent(principal, row)) {
        await s.guard.denied(
          principal,
          'files.history',
          { eventId: params.id },
          row?.account_id ?? null,
        );
        throw new TetherError('not_found', 'no such file event');
      }
      return { event: eventView(row), ...(row.diff !== null ? { diff: row.diff } : {}) };
    },
  });

  api.route({
    method: 'GET',
    url: '/api/v1/file-blobs/:hash',
    summary: 'Content kept from a save, by SHA-256, if the caller may see an event naming it',
    tag: 'files',
    params: HashParams,
    handler: async ({ params, principal, reply }) => {
      const { hash } = params;
      const event = await s.db
        .selectFrom('file_events')
        .select(['id', 'account_id', 'agent_id', 'session_id', 'ticket_id'])
        .where(fileEventScope(principal))
        .where((eb) => eb.or([eb('before_hash', '=', hash), eb('after_hash', '=', hash)]))
        .where('kind', '=', 'save')
        .limit(1)
        .executeTakeFirst();
      if (!event || !s.files.history.hasBlob(hash)) {
        await s.guard.denied(principal, 'files.blob', { hash }, event?.account_id ?? null);
        throw new TetherError('not_found', 'no such saved content');
      }
      await s.audit.append({
        kind: 'fileBlobRead',
        actor: actorOf(principal),
        accountId: event.account_id,
        agentId: event.agent_id,
        ticketId: event.ticket_id,
        sessionId: event.session_id,
        params: { hash, eventId: event.id },
      });
      return reply
        .type(OCTET_STREAM)
        .header('x-content-type-options', 'nosniff')
        .header('content-disposition', `attachment; filename="${hash}"`)
        .send(createReadStream(s.files.history.blobPath(hash)));
    },
  });
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
