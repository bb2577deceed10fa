// What a node checks as it joins the cluster, before it is listed: the
// address other nodes dial, that they can call it and it them, and that
// its node id is its own. Failures are said in the settings' words.
import { status, type ServiceError } from '@grpc/grpc-js';
import type { Config } from '../config/schema.js';
import { PrimError } from '../errors.js';
import type { Logger } from '../log.js';
import type { NodeDirectory, NodeRecord } from './directory.js';
import type { PeerPool } from './peers.js';
import type { NodeStateReply } from './proto.js';

// What other nodes dial: grpc.advertise, else grpc.host and grpc.port; a
// port 0 in either (any free port) is the one bound.
export function advertised(config: Config, boundPort: number): string {
  const { advertise, host, port } = config.grpc;
  const given = advertise ?? `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const at = given.lastIndexOf(':');
  const free = port === 0 || Number(given.slice(at + 1)) === 0;
  return free ? `${given.slice(0, at)}:${boundPort}` : given;
}

// A node that peers cannot call, or whose calls they refuse, would be
// ready and listed while every message across it went undelivered: its
// address must reach itself, and its secret must be the other nodes'.
export async function checkPeerLinks(
  peers: PeerPool,
  directory: NodeDirectory,
  self: NodeStateReply,
  log: Logger,
): Promise<void> {
  const reply = await peers.state(self.address).catch((err: ServiceError) => err);
  if (!('instance' in reply) || reply.instance !== self.instance) {
    const answer =
      'instance' in reply
        ? `node "${reply.nodeId}" answers there`
        : // grpc-js ends its details with an empty "Resolution note:".
          reply.details.replace(/\s*Resolution note:\s*$/, '');
    throw new PrimError(
      'OPERATION_FAILED',
      `grpc.advertise ${self.address} does not reach this node (${answer}); ` +
        'set it to an address of this node that the other nodes can dial',
    );
  }
  const others = (await directory.list()).filter((node) => node.nodeId !== self.nodeId);
  for (const node of others) {
    const state = await peers.state(node.address).catch((err: ServiceError) => err);
    if ('sessionPolicy' in state && state.sessionPolicy !== self.sessionPolicy) {
      // Not refused: a change of policy rolls through the nodes one by one.
      log.warn(
        { peer: node.nodeId, peerPolicy: state.sessionPolicy, policy: self.sessionPolicy },
        'another node has another ws.sessionPolicy; logins there and here disagree',
      );
    }
    if ('code' in state && state.code === status.UNAUTHENTICATED) {
      throw new PrimError(
        'OPERATION_FAILED',
        `node "${node.nodeId}" (${node.address}) refuses this node's cluster.secret; ` +
          'every node needs the same one',
      );
    }
  }
}

// Two live processes with one node id would take each other's sessions
// and record. The record is written only where none is (SET NX, after the
// peer server is up, so that it answers at once); a record already there
// whose node answers as itself belongs to a twin, and this start fails.
// One that does not answer was left by an earlier process: taken over.
export async function claimNodeId(
  peers: PeerPool,
  directory: NodeDirectory,
  self: NodeRecord,
): Promise<void> {
  const { nodeId } = self;
  const existing = await directory.claim(self);
  if (!existing) return;
  const answer = await peers.state(existing.address).catch(() => undefined);
  if (answer?.nodeId === nodeId && answer.instance === existing.instance) {
    throw new PrimError(
      'OPERATION_FAILED',
      `nodeId "${nodeId}" is in use by a running node (gRPC ${existing.address}); ` +
        'give each node its own nodeId (or PRIM_NODE_ID)',
    );
  }
  await directory.register(self);
}

// grpc-js reports a failed bind as "No address added out of total 1
// resolved errors: [listen …]"; said here in the settings' words.
export function grpcFailure(err: unknown, config: Config): unknown {
  const message = (err as Error | undefined)?.message ?? '';
  const { host, port } = config.grpc;
  if (/address already in use|EADDRINUSE/i.test(message)) {
    return new PrimError(
      'OPERATION_FAILED',
      `grpc.port ${port} is in use (${host}:${port}); ` +
        'stop what listens there or change grpc.port (or PRIM_GRPC_PORT)',
    );
  }
  if (/EADDRNOTAVAIL|Name resolution failed|ENOTFOUND/i.test(message)) {
    return new PrimError(
      'OPERATION_FAILED',
      `cannot listen on grpc.host ${host}: it is not an address of this machine; ` +
        'use one of its addresses, or 0.0.0.0 with grpc.advertise (or PRIM_GRPC_HOST)',
    );
  }
  return err;
}
