/** Declares REST routes once: validation, auth and the OpenAPI document come from one table. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z, type ZodType } from 'zod';
import { TetherError } from '@tether/protocol';
import type { Principal } from '../auth/principal.ts';

export interface RouteContext<B, Q, P> {
  body: B;
  query: Q;
  params: P;
  principal: Principal;
  request: FastifyRequest;
  reply: FastifyReply;
}

export interface RouteSpec<B, Q, P> {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH';
  url: string;
  summary: string;
  tag: string;
  body?: ZodType<B>;
  query?: ZodType<Q>;
  params?: ZodType<P>;
  /** Routes without a signed-in caller (sign-in, enrollment). */
  public?: boolean;
  handler(ctx: RouteContext<B, Q, P>): Promise<unknown>;
}

interface Documented {
  method: string;
  url: string;
  summary: string;
  tag: string;
  body?: ZodType;
  query?: ZodType;
  public: boolean;
}

export type Authenticate = (request: FastifyRequest) => Promise<Principal | null>;

/** Collects routes as they are registered and renders `/api/v1/openapi.json` from them. */
export class Api {
  private readonly documented: Documented[] = [];

  constructor(
    private readonly app: FastifyInstance,
    private readonly authenticate: Authenticate,
  ) {}

  /**
   * Lists a route registered elsewhere (WebSockets, downloads) in the OpenAPI document. A
   * WebSocket is a GET that upgrades; its summary says what flows on it.
   */
  describe(spec: {
    method: 'GET';
    url: string;
    summary: string;
    tag: string;
    public?: boolean;
  }): void {
    this.documented.push({ ...spec, public: spec.public ?? false });
  }

  route<B = undefined, Q = undefined, P = undefined>(spec: RouteSpec<B, Q, P>): void {
    this.documented.push({ ...spec, public: spec.public ?? false });
    this.app.route({
      method: spec.method,
      url: spec.url,
      handler: async (request, reply) => {
        const principal = spec.public ? null : await this.authenticate(request);
        if (!spec.public && !principal)
          throw new TetherError('unauthorized', 'sign in or send a bearer token');
        const body = spec.body ? parse(spec.body, request.body ?? {}, 'body') : (undefined as B);
        const query = spec.query ? parse(spec.query, request.query, 'query') : (undefined as Q);
        const params = spec.params ? parse(spec.params, request.params, 'path') : (undefined as P);
        const result = await spec.handler({
          body,
          query,
          params,
          principal: principal as Principal,
          request,
          reply,
        });
        return reply.sent ? reply : result;
      },
    });
  }

  openApi(): Record<string, unknown> {
    const paths: Record<string, Record<string, unknown>> = {};
    for (const route of this.documented) {
      const path = route.url.replace(/:([A-Za-z]+)/g, '{$1}');
      const operation: Record<string, unknown> = {
        summary: route.summary,
        tags: [route.tag],
        security: route.public ? [] : [{ bearer: [] }, { cookie: [] }],
        parameters: [
          ...[...route.url.matchAll(/:([A-Za-z]+)/g)].map((m) => ({
            name: m[1],
            in: 'path',
            required: true,
            schema: { type: 'string' },
          })),
          ...queryParameters(route.query),
        ],
        responses: {
          '200': { description: 'success' },
          default: {
            description: 'error',
            content: { 'application/json': { schema: ERROR_SCHEMA } },
          },
        },
      };
      if (route.body) {
        operation.requestBody = {
          required: true,
          content: {
            'application/json': {
              schema: z.toJSONSchema(route.body, { io: 'input', unrepresentable: 'any' }),
            },
          },
        };
      }
      paths[path] = { ...paths[path], [route.method.toLowerCase()]: operation };
    }
    return {
      openapi: '3.1.0',
      info: { title: 'Tether API', version: '1' },
      components: {
        securitySchemes: {
          bearer: { type: 'http', scheme: 'bearer' },
          cookie: { type: 'apiKey', in: 'cookie', name: 'tether_session' },
        },
      },
      paths,
    };
  }
}

const ERROR_SCHEMA = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
  },
};

function parse<T>(schema: ZodType<T>, value: unknown, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const path = issue?.path.length ? `${where}.${issue.path.join('.')}` : where;
  const message =
    issue?.code === 'unrecognized_keys'
      ? `unknown field ${issue.keys.join(', ')} in ${path}`
      : `${path}: ${lowerFirst(issue?.message ?? 'invalid')}`;
  throw new TetherError('invalid_request', message);
}

function queryParameters(schema: ZodType | undefined): unknown[] {
  if (!schema) return [];
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, unknown>;
  };
  return Object.entries(json.properties ?? {}).map(([name, s]) => ({
    name,
    in: 'query',
    schema: s,
  }));
}

/** Messages start in lower case, but acronyms and units inside them (NUL, KiB) stay as written. */
function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
