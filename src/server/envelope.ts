// prim's response envelope, {code, msg, data}, with the HTTP status that
// matches the outcome, and the mapping of every failure onto it.
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
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

// A schema refusal in the parameter's own name ("receiverId is required",
// "pageSize must be >= 1"): clients send parameters as JSON, form or query,
// so where in the request it was ("body", "querystring") says nothing.
function validationMessage(err: FastifyError): string {
  const issue = err.validation?.[0];
  if (!issue) return err.message;
  if (issue.keyword === 'required') return `${String(issue.params.missingProperty)} is required`;
  const name = issue.instancePath.replace(/^\//, '').replaceAll('/', '.');
  return name ? `${name} ${issue.message}` : `the parameters ${issue.message}`;
}

// Fastify's own failures (validation, parsing, size) become catalogue errors.
function fromFastify(err: FastifyError): PrimError | undefined {
  if (err.validation) return new PrimError('BAD_PARAMETER', validationMessage(err));
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new PrimError('PAYLOAD_TOO_LARGE', 'the request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new PrimError('BAD_PARAMETER', 'send JSON, a form or query parameters');
    case 'FST_ERR_BAD_URL':
      return new PrimError('BAD_PARAMETER', 'the request URL is not validly encoded');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new PrimError('BAD_PARAMETER', 'the request body is not valid JSON');
  }
  if (err instanceof SyntaxError || err.statusCode === 400) {
    return new PrimError('BAD_PARAMETER', 'the request body could not be parsed');
  }
  return undefined;
}

function handleError(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  const error = fromFastify(err) ?? toPrimError(err);
  // 5xx at error with the cause; refusals at info, without stack.
  if (error.httpStatus >= 500) {
    request.log.error({ err }, 'request failed');
  } else {
    request.log.info({ code: error.code, error: error.message }, 'request refused');
  }
  return sendError(reply, error);
}

// For Fastify's `frameworkErrors` option, which only the constructor takes:
// failures found before routing (a URL that is not validly encoded) reach
// no error handler and need this to get the envelope.
export const frameworkErrors = handleError;

export function installEnvelope(app: FastifyInstance): void {
  app.setErrorHandler(handleError);
  app.setNotFoundHandler((request, reply) =>
    sendError(
      reply,
      new PrimError('UNKNOWN_ROUTE', `no route ${request.method} ${request.url.split('?')[0]}`),
    ),
  );
}

// For Fastify's `clientErrorHandler`: requests Node's HTTP parser refuses
// before Fastify sees them (headers over 16 KiB, a malformed request line)
// still get the envelope.
export function clientErrorHandler(err: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable) return;
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const error = tooLarge
    ? new PrimError('PAYLOAD_TOO_LARGE', 'the request headers or URL are too large')
    : new PrimError('BAD_PARAMETER', 'the request is not valid HTTP');
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
  const body = JSON.stringify({ code: error.code, msg: error.message, data: null });
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
