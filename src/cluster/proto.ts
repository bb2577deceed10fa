// The peer service from proto/prim.proto, loaded once for the gRPC server
// and the peer clients. Fields are camelCase, bytes are Buffers.
import { fileURLToPath } from 'node:url';
import { loadPackageDefinition, type ServiceClientConstructor } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import type { OnlineUser } from '../messages/delivery.js';
import { encodedMessageBytes } from '../messages/input.js';

// src/cluster/ and dist/cluster/ are both two folders below proto/.
const PROTO = fileURLToPath(new URL('../../proto/prim.proto', import.meta.url));

// Every request but State's names the node it is meant for.
export interface Addressed {
  nodeId: string;
}

export interface DeliverRequest extends Addressed {
  tenant: string;
  userId: string;
  frame: Buffer;
  exceptConnId: string;
}

export interface KickRequest extends Addressed {
  tenant: string;
  userId: string;
  platform: string;
  code: number;
  reason: string;
  exceptConnId: string;
  loggedInAt: number;
}

export interface BroadcastRequest extends Addressed {
  tenant: string;
  frame: Buffer;
}

export interface TenantRequest extends Addressed {
  tenant: string;
}

export interface LocalUsersReply {
  users: OnlineUser[];
}

// Reached, Closed
export interface Counted {
  sessions: number;
}

export interface NodeStateReply {
  nodeId: string;
  address: string;
  version: string;
  state: string;
  startedAt: number;
  connections: number;
  tenantsOnline: number;
  instance: string;
  http: string;
  sessionPolicy: string;
}

let peerService: ServiceClientConstructor | undefined;

export function loadPeerService(): ServiceClientConstructor {
  if (peerService) return peerService;
  const definition = loadSync(PROTO, {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
  });
  const root = loadPackageDefinition(definition) as unknown as {
    prim: { peer: { v1: { Peer: ServiceClientConstructor } } };
  };
  peerService = root.prim.peer.v1.Peer;
  return peerService;
}

// The largest gRPC message: a pushed frame holds a message of up to
// limits.maxFrameBytes, written as JSON, and the envelope.
export function maxMessageBytes(maxFrameBytes: number): number {
  return encodedMessageBytes(maxFrameBytes) + 64 * 1024;
}

// The largest reply. A LocalUsers reply lists every user of a tenant on
// one node: limits.maxConnections (100,000 by default) users of up to a
// few hundred bytes each. Replies come only from nodes with the secret.
export const MAX_REPLY_BYTES = 64 * 1024 * 1024;

export const SECRET_HEADER = 'x-prim-secret';
