// Builds the Fastify app: REST routes, /acc, OpenAPI and its UI, health.
import formBody from '@fastify/formbody';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import websocket from '@fastify/websocket';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import type { Logger } from '../log.js';
import { encodedMessageBytes } from '../messages/input.js';
import { VERSION } from '../version.js';
import { accRoute } from './acc.js';
import type { NodeContext } from './context.js';
import { clientErrorHandler, frameworkErrors, installEnvelope } from './envelope.js';
import { mergeParams } from './params.js';
import { msgRoutes } from './routes/msg.js';
import { sysClientRoutes } from './routes/sys-client.js';
import { systemRoutes } from './routes/system.js';
import { userRoutes } from './routes/user.js';

// REST bodies carry one message at most, however it is escaped, plus the
// envelope of parameters.
const BODY_MARGIN = 16 * 1024;

// A client's protocol error (an oversize frame, bad UTF-8) is the client's
// fault: ws closes the connection itself with the matching code (1009,
// 1007), which terminating it here would replace with 1006. Anything else
// is ours.
function socketError(
  err: Error & { code?: string },
  socket: { terminate(): void },
  request: FastifyRequest,
): void {
  if (err.code?.startsWith('WS_ERR_')) {
    request.log.info({ code: err.code, error: err.message }, 'client protocol error');
    return;
  }
  request.log.error({ err }, 'websocket failed');
  socket.terminate();
}

export async function buildApp(context: NodeContext, logger: Logger): Promise<FastifyInstance> {
  const { limits } = context.config;
  const app = Fastify({
    loggerInstance: logger.child({ module: 'http' }) as FastifyBaseLogger,
    // Per-request lines would drown the log of a busy node; refusals and
    // failures are logged by the error handler instead.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: encodedMessageBytes(limits.maxFrameBytes) + BODY_MARGIN,
    ajv: { customOptions: { coerceTypes: true, allErrors: false } },
    frameworkErrors,
    clientErrorHandler,
  });

  installEnvelope(app);
  // A draining node answers the requests in flight and then lets their
  // connections go: a keep-alive connection would otherwise hold the HTTP
  // server open until its keep-alive timeout, long past shutdownTimeout.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (context.state === 'draining') reply.header('connection', 'close');
    done(null, payload);
  });
  await app.register(formBody);
  await app.register(websocket, {
    options: { maxPayload: limits.maxFrameBytes },
    errorHandler: socketError,
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'prim',
        version: VERSION,
        description: 'Every response is {code, msg, data}; code 200 is success.',
      },
      components: {
        securitySchemes: {
          adminKey: { type: 'http', scheme: 'bearer', description: 'the admin key' },
          tenantBasic: { type: 'http', scheme: 'basic', description: 'account:authCode' },
          sysAccountParams: {
            type: 'apiKey',
            in: 'query',
            name: 'sysAccount',
            description: 'with authCode, as prim clients send them',
          },
          userToken: { type: 'http', scheme: 'bearer', description: 'a connection token' },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  app.addHook('preValidation', mergeParams);
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  accRoute(app, context);
  sysClientRoutes(app, context);
  userRoutes(app, context);
  msgRoutes(app, context);
  systemRoutes(app, context);
  return app;
}
