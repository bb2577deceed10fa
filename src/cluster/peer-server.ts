// The gRPC side other nodes call: it acts on this node's own sessions only,
// for the tenant each request names, and only for callers with the secret.
import { format } from 'node:util';
import {
  Server,
  type ServerCredentials,
  setLogger,
  type ServerUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import type { SessionRegistry } from '../gateway/sessions.js';
import { PrimError, toPrimError } from '../errors.js';
import { throttledWarn, type Logger } from '../log.js';
import {
  loadPeerService,
  MAX_REPLY_BYTES,
  SECRET_HEADER,
  type Addressed,
  type BroadcastRequest,
  type Counted,
  type DeliverRequest,
  type KickRequest,
  type LocalUsersReply,
  type NodeStateReply,
  type TenantRequest,
} from './proto.js';
import { secretMatcher } from './secret.js';

export interface PeerServerOptions {
  registry: SessionRegistry;
  credentials: ServerCredentials;
  secret: string;
  state: () => NodeStateReply;
  maxMessageBytes: number;
  logger: Logger;
}

export interface PeerServer {
  port: number;
  stop(): Promise<void>;
}

// Close codes a peer may ask for: prim's own, never a protocol code.
function checkKick(request: KickRequest): void {
  if (!request.tenant) throw new PrimError('BAD_PARAMETER', 'tenant is required');
  if (request.exceptConnId && !(request.userId && request.platform)) {
    throw new PrimError('BAD_PARAMETER', 'a replacing kick needs userId and platform');
  }
  if (!(request.code >= 4000 && request.code <= 4999)) {
    throw new PrimError(
      'BAD_PARAMETER',
      `close code ${request.code} is not one of prim's (4000-4999)`,
    );
  }
}

function checkTenant(request: TenantRequest): void {
  if (!request.tenant) throw new PrimError('BAD_PARAMETER', 'tenant is required');
}

// A request meant for another node: one that ran at this address before
// (a restart under a new random nodeId) and whose record has not expired
// yet. Serving it would push to this node's sessions twice.
function checkAddressee(request: Addressed, nodeId: string): void {
  if (request.nodeId !== nodeId) {
    throw new PrimError('NOT_FOUND', `this is node "${nodeId}", not "${request.nodeId}"`);
  }
}

export async function startPeerServer(
  options: PeerServerOptions,
  host: string,
  port: number,
): Promise<PeerServer> {
  const { registry, logger } = options;
  const log = logger.child({ module: 'peer-server' });
  const secretMatches = secretMatcher(options.secret);
  // Per caller address: one line every few seconds, however fast it tries.
  const warn = throttledWarn(log);

  const unary =
    <Req, Res>(name: string, work: (request: Req) => Promise<Res> | Res) =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      if (!secretMatches(call.metadata.get(SECRET_HEADER)[0])) {
        // "ipv4:10.0.0.7:51234": a new connection has a new port, not a new caller.
        const peer = call.getPeer().replace(/:\d+$/, '');
        warn(peer, { method: name, peer }, 'peer call with a wrong cluster secret');
        const refused = new PrimError('UNAUTHORIZED', 'cluster secret does not match');
        callback({ code: refused.grpcStatus, details: refused.message });
        return;
      }
      Promise.resolve()
        .then(() => work(call.request))
        .then(
          (reply) => callback(null, reply),
          (err: unknown) => {
            const error = toPrimError(err);
            if (error.kind === 'SERVER_ERROR') log.error({ method: name, err }, 'peer call failed');
            callback({ code: error.grpcStatus, details: error.message });
          },
        );
    };

  // grpc-js prints its own errors to stderr ("No address added…") ahead of
  // prim's clear ones; they go to the node's log, at debug.
  const grpcLog = (...args: unknown[]) => log.debug({ grpc: format(...args) }, 'grpc-js');
  setLogger({ error: grpcLog, info: grpcLog, debug: grpcLog });

  const server = new Server({
    'grpc.max_receive_message_length': options.maxMessageBytes,
    'grpc.max_send_message_length': MAX_REPLY_BYTES,
  });
  server.addService(loadPeerService().service, {
    deliver: unary<DeliverRequest, Counted>('Deliver', async (request) => {
      checkAddressee(request, registry.nodeId);
      checkTenant(request);
      const frame = request.frame;
      const sessions = await registry.push(
        request.tenant,
        request.userId,
        () => frame,
        request.exceptConnId || undefined,
      );
      return { sessions };
    }),
    kick: unary<KickRequest, Counted>('Kick', async (request) => {
      checkAddressee(request, registry.nodeId);
      checkKick(request);
      const { tenant, userId, platform, exceptConnId, loggedInAt } = request;
      if (exceptConnId) {
        const replacing = { tenant, userId, platform, connId: exceptConnId, loginAt: loggedInAt };
        return { sessions: registry.closeOlder(replacing).closed };
      }
      const sessions = await registry.kick(
        tenant,
        userId || undefined,
        platform || undefined,
        request.code,
        request.reason,
      );
      return { sessions };
    }),
    broadcast: unary<BroadcastRequest, Counted>('Broadcast', async (request) => {
      checkAddressee(request, registry.nodeId);
      checkTenant(request);
      return { sessions: await registry.broadcast(request.tenant, request.frame) };
    }),
    localUsers: unary<TenantRequest, LocalUsersReply>('LocalUsers', (request) => {
      checkAddressee(request, registry.nodeId);
      checkTenant(request);
      return { users: registry.localUsers(request.tenant) };
    }),
    state: unary<object, NodeStateReply>('State', () => options.state()),
  });

  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, options.credentials, (err, actual) =>
      err ? reject(err) : resolve(actual),
    );
  });

  const stop = () =>
    new Promise<void>((resolve) => {
      // Calls in flight finish; a peer that hangs is not waited for long.
      const timer = setTimeout(() => server.forceShutdown(), 2000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  return { port: bound, stop };
}
