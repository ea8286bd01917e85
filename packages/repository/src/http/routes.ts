/** The repository's REST API: browse, search, resolve, files, objects by hash, keys, yank. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z, type ZodType } from 'zod';
import { TetherError } from '@tether/protocol';
import { packageName } from '../manifest.ts';
import { assertHash } from '../objects/git-object.ts';
import { parseTree, entryType } from '../objects/git-object.ts';
import type { Repository } from '../repository.ts';
import { ANONYMOUS, type Caller } from '../visibility.ts';

export const API_PREFIX = '/api/v1/repository';
/** Objects never change under their hash: a year, and `immutable` so browsers skip revalidation. */
const IMMUTABLE = 'private, max-age=31536000, immutable';
/** Bytes from a package are data: never sniffed into HTML, never run as script if opened. */
const DATA_HEADERS = {
  'x-content-type-options': 'nosniff',
  'content-security-policy': "default-src 'none'; sandbox",
};

export interface RouteContext<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  request: FastifyRequest;
  reply: FastifyReply;
}

/** The shape of the endpoint's route table (`Api.route`), so routes declare themselves once. */
export interface RouteSpec<B, Q, P> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  url: string;
  summary: string;
  tag: string;
  body?: ZodType<B>;
  query?: ZodType<Q>;
  params?: ZodType<P>;
  public?: boolean;
  handler(ctx: RouteContext<B, Q, P>): Promise<unknown>;
}

export interface RouteTable {
  route<B = undefined, Q = undefined, P = undefined>(spec: RouteSpec<B, Q, P>): void;
}

/** Who calls; null when nobody signed in (they see public packages). */
export type Authenticate = (request: FastifyRequest) => Promise<Caller | null>;

const hash = z.string().refine((h) => /^[0-9a-f]{40}$/.test(h), 'must be 40 lowercase hex digits');
const nameParam = z.strictObject({ name: packageName });
const versionParams = z.strictObject({ name: packageName, version: z.string().min(1).max(64) });
const TAG = 'repository';

export function repositoryRoutes(table: RouteTable, repo: Repository, authenticate: Authenticate) {
  const who = async (request: FastifyRequest): Promise<Caller> =>
    (await authenticate(request)) ?? ANONYMOUS;
  const { catalog } = repo;

  // Every route is reachable without a session: anonymous callers see public packages only,
  // and each handler decides through visibility.ts what the caller gets.
  table.route({
    method: 'GET',
    url: `${API_PREFIX}/packages`,
    summary: 'Packages you may see; q searches names, descriptions and tags; cursor paging',
    tag: TAG,
    public: true,
    query: z.strictObject({
      q: z.string().max(200).optional(),
      tag: z.string().max(32).optional(),
      owner: z.string().max(64).optional(),
      cursor: z.string().max(500).optional(),
      limit: z.coerce.number().int().min(1).max(200).optional(),
    }),
    handler: async ({ query, request }) => catalog.list(await who(request), query),
  });

  table.route({
    method: 'GET',
    url: `${API_PREFIX}/packages/:name`,
    summary: 'One package (name URL-encoded, e.g. acme%2Fdisk): owners, tags, versions',
    tag: TAG,
    public: true,
    params: nameParam,
    handler: async ({ params, request }) => ({
      package: await catalog.package(await who(request), params.name),
    }),
  });

  table.route({
    method: 'GET',
    url: `${API_PREFIX}/packages/:name/versions`,
    summary: 'Versions of a package, newest first, yanked ones marked',
    tag: TAG,
    public: true,
    params: nameParam,
    handler: async ({ params, request }) => ({
      versions: await catalog.versions(await who(request), params.name),
    }),
  });

  table.route({
    method: 'GET',
    url: `${API_PREFIX}/packages/:name/versions/:version`,
    summary: 'One version: manifest, tree and tag hashes, lock, publisher, who may run it',
    tag: TAG,
    public: true,
    params: versionParams,
    handler: async ({ params, request }) => ({
      version: await catalog.version(await who(request), params.name, params.version),
    }),
  });

  table.route({
    method: 'GET',
    url: `${API_PREFIX}/packages/:name/versions/:version/files/*`,
    summary: "A folder's entries (JSON) or a file's bytes, by path inside a version",
    tag: TAG,
    public: true,
    params: z.object({ name: packageName, version: z.string().max(64), '*': z.string().max(4096) }),
    handler: async ({ params, request, reply }) => {
      const found = await catalog.fileAt(
        await who(request),
        params.name,
        params.version,
        params['*'],
      );
      if (found.kind === 'tree') return { tree: found.hash, entries: found.entries };
      reply.headers({ ...DATA_HEADERS, 'x-git-hash': found.hash, 'x-git-mode': found.mode });
      return reply.type('application/octet-stream').send(found.content);
    },
  });

  table.route({
    method: 'POST',
    url: `${API_PREFIX}/packages/:name/versions/:version/yank`,
    summary: 'Yank a version (owners): left out of resolution, still fetchable by hash',
    tag: TAG,
    public: true,
    params: versionParams,
    body: z.strictObject({ reason: z.string().trim().min(1).max(500) }),
    handler: async ({ params, body, request }) => ({
      version: await catalog.yank(
        await person(who, request),
        params.name,
        params.version,
        body.reason,
      ),
    }),
  });

  table.route({
    method: 'POST',
    url: `${API_PREFIX}/packages/:name/deprecate`,
    summary: 'Deprecate a package with a message (owners); null takes it back',
    tag: TAG,
    public: true,
    params: nameParam,
    body: z.strictObject({ message: z.string().trim().min(1).max(500).nullable() }),
    handler: async ({ params, body, request }) => ({
      package: await catalog.deprecate(await person(who, request), params.name, body.message),
    }),
  });

  table.route({
    method: 'GET',
    url: `${API_PREFIX}/resolve`,
    summary: 'name@range to an exact version, its tree and tag hashes and its lock',
    tag: TAG,
    public: true,
    query: z.strictObject({ name: packageName, range: z.string().max(256).default('*') }),
    handler: async ({ query, request }) => ({
      resolved: await catalog.resolve(await who(request), query.name, query.range),
    }),
  });

  const byHash = z.strictObject({ hash });
  table.route({
    method: 'GET',
    url: `${API_PREFIX}/objects/:hash`,
    summary: 'A git object by hash (x-git-type says which); ETag and immutable caching',
    tag: TAG,
    public: true,
    params: byHash,
    handler: async ({ params, request, reply }) => {
      if (notModified(request, reply, params.hash)) return reply;
      const object = await catalog.object(await who(request), assertHash(params.hash));
      cacheHeaders(reply, params.hash);
      reply.headers({ ...DATA_HEADERS, 'x-git-type': object.type });
      return reply.type('application/octet-stream').send(object.content);
    },
  });

  table.route({
    method: 'GET',
    url: `${API_PREFIX}/trees/:hash`,
    summary: "A tree's entries as JSON: name, mode, type, hash",
    tag: TAG,
    public: true,
    params: byHash,
    handler: async ({ params, request, reply }) => {
      if (notModified(request, reply, params.hash)) return reply;
      const object = await catalog.object(await who(request), params.hash);
      if (object.type !== 'tree') throw new TetherError('not_found', `no tree ${params.hash}`);
      cacheHeaders(reply, params.hash);
      const entries = parseTree(object.content).map((e) => ({ ...e, type: entryType(e) }));
      return { tree: params.hash, entries };
    },
  });

  table.route({
    method: 'GET',
    url: `${API_PREFIX}/blobs/:hash`,
    summary: "A file's bytes by hash, as application/octet-stream",
    tag: TAG,
    public: true,
    params: byHash,
    handler: async ({ params, request, reply }) => {
      if (notModified(request, reply, params.hash)) return reply;
      const object = await catalog.object(await who(request), params.hash);
      if (object.type !== 'blob') throw new TetherError('not_found', `no blob ${params.hash}`);
      cacheHeaders(reply, params.hash);
      reply.headers(DATA_HEADERS);
      return reply.type('application/octet-stream').send(object.content);
    },
  });

  table.route({
    method: 'GET',
    url: `${API_PREFIX}/keys`,
    summary: 'Your publisher keys, removed ones included',
    tag: TAG,
    public: true,
    handler: async ({ request }) => ({ keys: await repo.keys.list(await person(who, request)) }),
  });

  table.route({
    method: 'POST',
    url: `${API_PREFIX}/keys`,
    summary: 'Register an Ed25519 publisher key (OpenSSH "ssh-ed25519 AAAA…" or PEM)',
    tag: TAG,
    public: true,
    body: z.strictObject({
      publicKey: z.string().min(1).max(4096),
      comment: z.string().max(200).optional(),
    }),
    handler: async ({ body, request }) => ({
      key: await repo.keys.add(await person(who, request), body.publicKey, body.comment),
    }),
  });

  table.route({
    method: 'DELETE',
    url: `${API_PREFIX}/keys/:id`,
    summary: 'Remove a publisher key (URL-encoded fingerprint); it signs no new release',
    tag: TAG,
    public: true,
    params: z.strictObject({ id: z.string().max(100) }),
    handler: async ({ params, request }) => ({
      key: await repo.keys.remove(await person(who, request), params.id),
    }),
  });
}

async function person(who: (r: FastifyRequest) => Promise<Caller>, request: FastifyRequest) {
  const caller = await who(request);
  if (caller.role === 'anonymous') throw new TetherError('unauthorized', 'sign in first');
  return caller;
}

function cacheHeaders(reply: FastifyReply, hash: string): void {
  reply.header('etag', `"${hash}"`).header('cache-control', IMMUTABLE);
}

/**
 * A matching If-None-Match is answered 304 before anything is read. That says nothing new:
 * the caller already holds bytes that hash to this name.
 */
function notModified(request: FastifyRequest, reply: FastifyReply, hash: string): boolean {
  if (request.headers['if-none-match'] !== `"${hash}"`) return false;
  cacheHeaders(reply, hash);
  void reply.code(304).send();
  return true;
}
