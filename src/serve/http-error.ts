import type { FastifyInstance, FastifyReply } from 'fastify';
import { NotFoundError } from '../catalog/not-found-error.js';
import { WhaleidError } from '../util/errors.js';

/** An error with the HTTP status the service answers (and headers to send with it, e.g. Retry-After). */
export class HttpError extends Error {
  constructor(readonly statusCode: number, message: string, readonly headers: Readonly<Record<string, string>> = {}) {
    super(message);
    this.name = 'HttpError';
  }
}

/**
 * Answers every error as `{ error }` with its status: an {@link HttpError} with its own, a
 * catalog lookup that found nothing 404, a user's mistake ({@link WhaleidError}, a schema
 * violation, Fastify's 4xx) 400 or its 4xx; anything else is a bug: 500 with no detail for the
 * client, the stack for the operator (the log, else stderr).
 *
 * @param app - the Fastify app
 * @param logged - whether the app has a logger (else stacks go to stderr)
 * @example
 * handleErrors(app, false);
 */
export function handleErrors(app: FastifyInstance, logged: boolean): void {
  const logInternal = internalErrorLog(app, logged);
  app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown; code?: string }, req, reply: FastifyReply) => {
    try {
      return answerError(err, req.headers['content-type'], reply, logInternal);
    } catch (e) {
      // answering failed (an error whose message cannot be read, a reply already sent): the
      // process must outlive any one request
      logInternal(e);
      return reply.sent ? undefined : reply.code(500).send({ error: 'internal error' });
    }
  });
}

/** The answer to one error (see {@link handleErrors}). */
function answerError(err: Error & { statusCode?: number; validation?: unknown; code?: string }, contentType: string | undefined, reply: FastifyReply, logInternal: (err: unknown) => void): FastifyReply {
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return reply.code(415).send({ error: `content type ${JSON.stringify((contentType ?? '').slice(0, 100))} is not accepted (expected application/json; uploads: multipart/form-data)` });
  }
  if (err instanceof HttpError) return reply.code(err.statusCode).headers(err.headers).send({ error: err.message });
  if (err instanceof NotFoundError) return reply.code(404).send({ error: err.message });
  if (err instanceof WhaleidError) return reply.code(400).send({ error: err.message });
  if (err.validation) return reply.code(400).send({ error: err.message });
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return reply.code(err.statusCode).send({ error: err.message });
  // a bug, not the client's mistake: keep the stack for the operator, tell the client nothing internal
  logInternal(err);
  return reply.code(500).send({ error: 'internal error' });
}

/**
 * Where the service reports a bug (an error that is not the client's mistake): the app's log when
 * it has one, else stderr, with the stack. The client is told `internal error` only.
 *
 * @param app - the Fastify app
 * @param logged - whether the app has a logger
 * @returns the reporting function
 * @example
 * const logInternal = internalErrorLog(app, false);
 * logInternal(new Error('bug'));
 */
export function internalErrorLog(app: FastifyInstance, logged: boolean): (err: unknown) => void {
  return (err) => {
    if (logged) app.log.error(err);
    else process.stderr.write(`whaleid serve: internal error: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  };
}
