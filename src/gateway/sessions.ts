// The sessions this node holds, by tenant and user. It is the local part of
// message delivery: on a single node it is the whole of it.
import { CloseCode } from '../errors.js';
import {
  loggedInBefore,
  type Delivery,
  type LazyFrame,
  type OnlineUser,
  type Replacing,
} from '../messages/delivery.js';
import type { Revocation } from '../store/store.js';
import type { Session } from './session.js';

// Told of every session that comes and goes: in cluster mode, presence.
export interface SessionObserver {
  // Resolves once the session can be reached from every node.
  added(session: Session): Promise<void>;
  removed(session: Session): void;
}

export class SessionRegistry implements Delivery {
  private readonly tenants = new Map<string, Map<string, Set<Session>>>();
  private total = 0;
  private observer: SessionObserver | undefined;

  constructor(readonly nodeId: string) {}

  observe(observer: SessionObserver): void {
    this.observer = observer;
  }

  get size(): number {
    return this.total;
  }

  // Resolves once other nodes can reach the session too, or once that was
  // tried: while Redis is down, a later refresh publishes it.
  add(session: Session): Promise<void> {
    let users = this.tenants.get(session.tenant);
    if (!users) this.tenants.set(session.tenant, (users = new Map()));
    let sessions = users.get(session.userId);
    if (!sessions) users.set(session.userId, (sessions = new Set()));
    sessions.add(session);
    this.total += 1;
    return this.observer?.added(session) ?? Promise.resolve();
  }

  remove(session: Session): void {
    const users = this.tenants.get(session.tenant);
    const sessions = users?.get(session.userId);
    if (!users || !sessions?.delete(session)) return;
    this.total -= 1;
    if (sessions.size === 0) users.delete(session.userId);
    if (users.size === 0) this.tenants.delete(session.tenant);
    this.observer?.removed(session);
  }

  all(): Session[] {
    return [...this.tenants.values()].flatMap((users) =>
      [...users.values()].flatMap((sessions) => [...sessions]),
    );
  }

  tenantNames(): string[] {
    return [...this.tenants.keys()];
  }

  localUsers(tenant: string): OnlineUser[] {
    const users = this.tenants.get(tenant) ?? new Map<string, Set<Session>>();
    return [...users].map(([userId, sessions]) => ({
      userId,
      platforms: [...new Set([...sessions].map((s) => s.platform))].sort(),
      sessions: sessions.size,
    }));
  }

  async push(tenant: string, userId: string, frame: LazyFrame, exceptConnId?: string) {
    let reached = 0;
    for (const session of this.tenants.get(tenant)?.get(userId) ?? []) {
      if (session.connId !== exceptConnId && session.send(frame())) reached += 1;
    }
    return reached;
  }

  async broadcast(tenant: string, frame: Buffer) {
    let reached = 0;
    for (const sessions of this.tenants.get(tenant)?.values() ?? []) {
      for (const session of sessions) if (session.send(frame)) reached += 1;
    }
    return reached;
  }

  async kick(
    tenant: string,
    userId: string | undefined,
    platform: string | undefined,
    code: number,
    reason: string,
  ) {
    const users = this.tenants.get(tenant);
    if (!users) return 0;
    const targets = userId === undefined ? [...users.values()] : [users.get(userId) ?? new Set()];
    let closed = 0;
    for (const sessions of targets) {
      for (const session of [...sessions]) {
        if (platform !== undefined && session.platform !== platform) continue;
        session.close(code, reason);
        this.remove(session);
        closed += 1;
      }
    }
    return closed;
  }

  async replaceOlder(session: Replacing): Promise<boolean> {
    return this.closeOlder(session).newest;
  }

  // The replace policy on this node: the sessions of the user and platform
  // that logged in before `session` close with 4502; `newest` is false when
  // one logged in after it.
  closeOlder(session: Replacing): { closed: number; newest: boolean } {
    const { tenant, userId, platform, connId } = session;
    let closed = 0;
    let newest = true;
    for (const other of [...(this.tenants.get(tenant)?.get(userId) ?? [])]) {
      if (other.connId === connId || other.platform !== platform) continue;
      if (!loggedInBefore(other, session)) {
        newest = false;
        continue;
      }
      other.close(CloseCode.REPLACED, 'replaced by a newer session');
      this.remove(other);
      closed += 1;
    }
    return { closed, newest };
  }

  // Closes the sessions whose token the revocation covers.
  closeRevoked(revocation: Revocation): void {
    const { tenant, userId, platform, revokedAt } = revocation;
    for (const session of [...(this.tenants.get(tenant)?.get(userId) ?? [])]) {
      if (platform !== undefined && session.platform !== platform) continue;
      if (session.claims && session.claims.issuedAt < revokedAt) {
        session.close(CloseCode.KICKED, 'kicked');
        this.remove(session);
      }
    }
  }

  // Only nodes that hold users of the tenant are listed.
  async usersByNode(tenant: string) {
    const users = this.localUsers(tenant);
    return new Map(users.length > 0 ? [[this.nodeId, users]] : []);
  }
}
