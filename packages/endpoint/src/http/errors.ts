/** The one place where errors become HTTP answers: `{"error":{"code","message"}}`. */
import type { FastifyError, FastifyInstance } from 'fastify';
import { TetherError, type ErrorCode } from '@tether/protocol';
import { ZodError } from 'zod';

export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>) {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    if (error instanceof TetherError) {
      // `details` carry what the caller needs to act (a save conflict's diff), never internals.
      return reply.code(error.status).send(errorBody(error.code, error.message, error.details));
    }
    if (error instanceof ZodError) {
      return reply.code(400).send(errorBody('invalid_request', describeZod(error)));
    }
    const fastifyError = error as FastifyError;
    if (fastifyError.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send(errorBody('payload_too_large', 'request body is too large'));
    }
    if (fastifyError.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply
        .code(415)
        .send(errorBody('invalid_request', 'send JSON (content-type: application/json)'));
    }
    if (fastifyError.statusCode !== undefined && fastifyError.statusCode < 500) {
      // Fastify's own client errors: malformed JSON, empty body, bad content length.
      const message =
        fastifyError.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError
          ? 'request body is not valid JSON'
          : fastifyError.message.toLowerCase();
      return reply.code(fastifyError.statusCode).send(errorBody('invalid_request', message));
    }
    request.log.error({ err: error }, 'unhandled error');
    return reply.code(500).send(errorBody('internal', 'internal error'));
  });

  app.setNotFoundHandler((request, reply) => {
    reply
      .code(404)
      .send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0]}`));
  });
}

/** One short line naming the first problem and where it is. */
export function describeZod(error: ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid request';
  const where = issue.path.length ? issue.path.join('.') : 'body';
  if (issue.code === 'unrecognized_keys')
    return `unknown field ${issue.keys.join(', ')} in ${where}`;
  return `${where}: ${issue.message.toLowerCase()}`;
}
