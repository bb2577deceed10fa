// How a stored message reaches sessions. On a single node the session
// registry is the delivery; in cluster mode a router in front of it also
// reaches the sessions that other nodes hold.

export interface OnlineUser {
  userId: string;
  platforms: string[];
  sessions: number;
}

// A frame serialised on first use, and then only once: a user with no
// session to reach costs no serialisation at all.
export type LazyFrame = () => Buffer;

export function lazyFrame(build: () => unknown): LazyFrame {
  let bytes: Buffer | undefined;
  return () => (bytes ??= Buffer.from(JSON.stringify(build())));
}

// A session in the order of logins: by loginAt, ties (one millisecond, or
// two nodes' clocks) broken by connId, so that every node agrees.
export interface LoginOrder {
  connId: string;
  loginAt: number;
}

export interface Replacing extends LoginOrder {
  tenant: string;
  userId: string;
  platform: string;
}

export function loggedInBefore(a: LoginOrder, b: LoginOrder): boolean {
  return a.loginAt < b.loginAt || (a.loginAt === b.loginAt && a.connId < b.connId);
}

export interface Delivery {
  // Sends the frame to every session of the user, except `exceptConnId`
  // (the sending connection). Resolves to the number of sessions reached.
  push(tenant: string, userId: string, frame: LazyFrame, exceptConnId?: string): Promise<number>;
  // Every session of the tenant; resolves to the number reached.
  broadcast(tenant: string, frame: Buffer): Promise<number>;
  // Closes the user's sessions (on one platform, or all) with `code`;
  // resolves to the number closed.
  kick(
    tenant: string,
    userId: string | undefined,
    platform: string | undefined,
    code: number,
    reason: string,
  ): Promise<number>;
  // The replace policy, for a session just registered: closes the other
  // sessions of its user and platform that logged in before it. Resolves
  // to false when one logged in after it: then this one must go instead.
  // Two logins at once on two nodes thus leave exactly one session.
  replaceOlder(session: Replacing): Promise<boolean>;
  // The tenant's online users, grouped by the node that holds them.
  usersByNode(tenant: string): Promise<Map<string, OnlineUser[]>>;
}
