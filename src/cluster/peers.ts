// Clients for the other nodes, one per address and kept: a grpc-js channel
// reconnects by itself. Every call carries the cluster secret and a
// deadline, so an unreachable peer costs at most grpc.callTimeout, once: a
// peer whose call found no connection or no answer in time is not waited
// on again until a probe gets an answer, every PROBE_MS. Without that, a
// hung peer held every sender writing to its users for the deadline, one
// message after the other.
import {
  Metadata,
  status,
  type ChannelCredentials,
  type Client,
  type ServiceError,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import type { OnlineUser } from '../messages/delivery.js';
import type { NodeRecord } from './directory.js';
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
} from './proto.js';

type Unary = (
  request: unknown,
  metadata: Metadata,
  options: { deadline: number },
  callback: (err: ServiceError | null, reply: unknown) => void,
) => void;

// A node as its peers reach it: the address to dial, and the id that the
// node at that address must have to act on a request.
export type Peer = Pick<NodeRecord, 'nodeId' | 'address'>;
type Unaddressed<Request extends Addressed> = Omit<Request, 'nodeId'>;

const addressed = <Request extends object>(peer: Peer, request: Request) => ({
  ...request,
  nodeId: peer.nodeId,
});

const PROBE_MS = 500;
// Kicks kept for one peer that does not answer; past that, the oldest
// logins' kicks are the ones kept.
const MAX_OWED = 10_000;

// Failures that say nothing reached the peer or it did not answer.
const UNREACHED = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]);

export class PeerPool {
  private readonly clients = new Map<string, Client>();
  // Peers not answering, each with the timer of its next probe.
  private readonly down = new Map<string, NodeJS.Timeout>();
  // Per peer not answering: kicks to send once it answers again.
  private readonly owed = new Map<string, KickRequest[]>();
  private readonly service: ServiceClientConstructor = loadPeerService();
  private readonly metadata = new Metadata();

  constructor(
    secret: string,
    private readonly timeoutMs: number,
    private readonly maxMessageBytes: number,
    private readonly credentials: ChannelCredentials,
  ) {
    this.metadata.set(SECRET_HEADER, secret);
  }

  async deliver(peer: Peer, request: Unaddressed<DeliverRequest>): Promise<number> {
    return (await this.call<Counted>(peer.address, 'deliver', addressed(peer, request))).sessions;
  }

  async kick(peer: Peer, request: Unaddressed<KickRequest>): Promise<number> {
    return (await this.call<Counted>(peer.address, 'kick', addressed(peer, request))).sessions;
  }

  // A kick that must reach the peer even if it does not answer now (it
  // hangs, or is cut off): sent again once a probe finds it answering. For
  // the replace policy, whose kick closes only sessions older than a login
  // and so is still right when late.
  async kickOrOwe(peer: Peer, request: Unaddressed<KickRequest>): Promise<number> {
    try {
      return await this.kick(peer, request);
    } catch (err) {
      const owed = this.owed.get(peer.address);
      if (owed && owed.length < MAX_OWED) owed.push(addressed(peer, request));
      throw err;
    }
  }

  async broadcast(peer: Peer, request: Unaddressed<BroadcastRequest>): Promise<number> {
    const reply = await this.call<Counted>(peer.address, 'broadcast', addressed(peer, request));
    return reply.sessions;
  }

  async localUsers(peer: Peer, tenant: string): Promise<OnlineUser[]> {
    const request = addressed(peer, { tenant });
    return (await this.call<LocalUsersReply>(peer.address, 'localUsers', request)).users;
  }

  // Whatever node answers at the address.
  state(address: string): Promise<NodeStateReply> {
    return this.call<NodeStateReply>(address, 'state', {});
  }

  // Closes the channels of nodes that are gone.
  retain(addresses: Set<string>): void {
    for (const [address, client] of this.clients) {
      if (addresses.has(address)) continue;
      client.close();
      this.clients.delete(address);
      clearTimeout(this.down.get(address));
      this.down.delete(address);
      this.owed.delete(address);
    }
  }

  close(): void {
    this.retain(new Set());
  }

  private client(address: string): Client {
    let client = this.clients.get(address);
    if (!client) {
      client = new this.service(address, this.credentials, {
        'grpc.max_receive_message_length': MAX_REPLY_BYTES,
        'grpc.max_send_message_length': this.maxMessageBytes,
        // grpc-js backs off up to 2 minutes between attempts to reach a peer
        // that is down (a restart, a long deploy); a peer is back within a
        // second of answering again.
        'grpc.initial_reconnect_backoff_ms': 100,
        'grpc.max_reconnect_backoff_ms': 1000,
      });
      this.clients.set(address, client);
    }
    return client;
  }

  private call<Reply>(address: string, method: string, request: unknown): Promise<Reply> {
    if (this.down.has(address)) {
      const details = `peer ${address} did not answer its last call; probing it`;
      return Promise.reject(
        Object.assign(new Error(details), { code: status.UNAVAILABLE, details }),
      );
    }
    return this.send<Reply>(address, method, request).catch((err: ServiceError) => {
      if (UNREACHED.has(err.code)) this.probeLater(address);
      throw err;
    });
  }

  private probeLater(address: string): void {
    if (this.down.has(address) || !this.clients.has(address)) return;
    const probe = () =>
      this.send(address, 'state', {}).then(
        () => this.back(address),
        () => this.down.has(address) && this.down.set(address, timer()),
      );
    const timer = () => setTimeout(() => void probe(), PROBE_MS).unref();
    this.down.set(address, timer());
    this.owed.set(address, []);
  }

  private back(address: string): void {
    const owed = this.owed.get(address) ?? [];
    this.down.delete(address);
    this.owed.delete(address);
    // A peer that answers as another node now refuses them (NOT_FOUND).
    for (const request of owed) this.send(address, 'kick', request).catch(() => undefined);
  }

  private send<Reply>(address: string, method: string, request: unknown): Promise<Reply> {
    const client = this.client(address) as unknown as Record<string, Unary>;
    return new Promise((resolve, reject) => {
      client[method].call(
        client,
        request,
        this.metadata,
        { deadline: Date.now() + this.timeoutMs },
        (err, reply) => (err ? reject(err) : resolve(reply as Reply)),
      );
    });
  }
}
