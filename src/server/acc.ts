// The /acc WebSocket route. A token in the URL is checked before the
// upgrade, so that a bad one gets an HTTP 401 with its code in the body.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { PrimError, toPrimError } from '../errors.js';
import type { NodeContext } from './context.js';
import { sendError } from './envelope.js';

export function accRoute(app: FastifyInstance, context: NodeContext): void {
  const checkToken = async (request: FastifyRequest, reply: FastifyReply) => {
    if (context.state !== 'ready') {
      const error = new PrimError('SERVER_ERROR', `node is ${context.state}; connect again`);
      return reply.status(503).send({ code: error.code, msg: error.message, data: null });
    }
    const token = (request.query as { token?: string }).token;
    if (token === undefined) return;
    try {
      request.claims = await context.gateway.verify(token);
    } catch (err) {
      const error = toPrimError(err);
      request.log.info({ code: error.code }, 'token refused');
      return sendError(reply, error);
    }
  };

  app.route({
    method: 'GET',
    url: '/acc',
    preValidation: checkToken,
    schema: {
      summary: 'The WebSocket endpoint: ?token=<connection token>, or a login frame',
      tags: ['websocket'],
      querystring: { type: 'object', properties: { token: { type: 'string' } } },
    },
    // A plain GET (no upgrade) learns what the endpoint is for.
    handler: async (_request, reply) =>
      sendError(
        reply,
        new PrimError('BAD_PARAMETER', '/acc is a WebSocket endpoint; connect with an upgrade'),
      ),
    wsHandler: (socket, request) => context.gateway.accept(socket, request.claims),
  });
}
