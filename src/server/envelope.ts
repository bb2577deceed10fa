// prim's response envelope, {code, msg, data}, with the HTTP status that
// matches the outcome, and the mapping of every failure onto it.
import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { PrimError, toPrimError } from '../errors.js';

export interface Envelope<T = unknown> {
  code: number;
  msg: string;
  data: T | null;
}

export function ok<T>(data: T): Envelope<T> {
  return { code: 200, msg: 'ok', data };
}

export function sendError(reply: FastifyReply, err: PrimError): FastifyReply {
  return reply.status(err.httpStatus).send({ code: err.code, msg: err.message, data: null });
}

// Fastify's own failures (validation, parsing, size) become catalogue errors.
function fromFastify(err: FastifyError): PrimError | undefined {
  if (err.validation) {
    return new PrimError('BAD_PARAMETER', err.message.replace(/^(body|querystring)\/?/, ''));
  }
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PrimError('PAYLOAD_TOO_LARGE', 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new PrimError('BAD_PARAMETER', 'send JSON, a form or query parameters');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new PrimError('BAD_PARAMETER', 'the request body is not valid JSON');
  }
  if (err instanceof SyntaxError || err.statusCode === 400) {
    return new PrimError('BAD_PARAMETER', 'the request body could not be parsed');
  }
  return undefined;
}

export function installEnvelope(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const error = fromFastify(err) ?? toPrimError(err);
    // 5xx at error with the cause; refusals at info, without stack.
    if (error.httpStatus >= 500) {
      request.log.error({ err }, 'request failed');
    } else {
      request.log.info({ code: error.code, error: error.message }, 'request refused');
    }
    return sendError(reply, error);
  });
  app.setNotFoundHandler((request, reply) =>
    sendError(reply, new PrimError('UNKNOWN_ROUTE', `no route ${request.method} ${request.url.split('?')[0]}`)),
  );
}
