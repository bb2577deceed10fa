// The store interface: everything prim keeps. Every backend (SQLite, MongoDB)
// implements it and passes the same contract suite in test/store-contract.ts.
// All methods are async so that a networked backend fits the same shape.

export interface Tenant {
  account: string;
  phone: string | undefined;
  // The tenant secret (authCode). It signs connection tokens, so it is kept
  // retrievable; it is never logged or returned after create and rotate.
  secret: string;
  // The secret before the last rotation, still accepted for tokens during
  // tokens.rotationGrace after secretRotatedAt.
  previousSecret: string | undefined;
  secretRotatedAt: number | undefined;
  disabled: boolean;
  createdAt: number;
}

export interface NewTenant {
  account: string;
  phone?: string;
  secret: string;
  createdAt: number;
}

export type TenantPatch = Partial<
  Pick<Tenant, 'secret' | 'previousSecret' | 'secretRotatedAt' | 'disabled'>
>;

export interface NewMessage {
  tenant: string;
  senderId: string;
  receiverId: string;
  message: string;
  msgType: number;
  msgContType: number;
  clientMsgId: string | undefined;
  senderNickname: string;
  senderAvatar: string;
  time: number;
}

export interface StoredMessage extends NewMessage {
  // Decimal string of a number that grows with every message in the store,
  // so that conversations page by id.
  id: string;
  // The message's place in the sender's and in the receiver's inbox (the
  // same number when a user writes to themselves).
  senderSeq: number;
  receiverSeq: number;
}

export interface AppendResult {
  message: StoredMessage;
  // True when the same sender sent the same clientMsgId to the same
  // receiver within 24 h: the original message is returned and nothing new
  // was stored.
  duplicate: boolean;
}

export interface Page {
  messages: StoredMessage[];
  hasMore: boolean;
}

export interface ConversationQuery {
  limit: number;
  // Message ids; at most one of them is given. Without either the
  // conversation is read from its start.
  before?: string;
  after?: string;
}

export const DEDUPE_WINDOW_MS = 24 * 3600 * 1000;

export interface Store {
  readonly kind: 'sqlite' | 'mongodb';

  createTenant(tenant: NewTenant): Promise<Tenant>;
  getTenant(account: string): Promise<Tenant | undefined>;
  listTenants(offset: number, limit: number): Promise<{ tenants: Tenant[]; total: number }>;
  updateTenant(account: string, patch: TenantPatch): Promise<Tenant | undefined>;
  // Removes the tenant with its messages, inboxes and revocations.
  deleteTenant(account: string): Promise<boolean>;

  // Stores a batch in one write, in order: each message gets the next
  // inboxSeq of its sender and of its receiver. A message whose tenant does
  // not exist (deleted while the message was on its way) is not stored and
  // its result is undefined, so that nothing outlives a deleted tenant.
  appendMessages(batch: NewMessage[]): Promise<Array<AppendResult | undefined>>;
  // The user's inbox after inboxSeq `since`, in order.
  readInbox(tenant: string, userId: string, since: number, limit: number): Promise<Page>;
  inboxHead(tenant: string, userId: string): Promise<number>;
  // Both directions between two users, oldest first.
  readConversation(
    tenant: string,
    userA: string,
    userB: string,
    query: ConversationQuery,
  ): Promise<Page>;

  // Tokens of the user issued before `at` are refused from now on; without
  // a platform, on every platform.
  revoke(tenant: string, userId: string, platform: string | undefined, at: number): Promise<void>;
  revokedAt(tenant: string, userId: string, platform: string): Promise<number | undefined>;
  // Revocations made (or moved later) at or after `at`, of every tenant:
  // each node closes the sessions of its own that they cover.
  revocationsSince(at: number): Promise<Revocation[]>;

  // Throws when the backend cannot be reached; readiness uses it.
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface Revocation {
  tenant: string;
  userId: string;
  // Undefined: every platform.
  platform: string | undefined;
  revokedAt: number;
}

export function inboxSeqOf(message: StoredMessage, userId: string): number {
  return message.senderId === userId ? message.senderSeq : message.receiverSeq;
}

// One key for both directions of a conversation. User ids hold no control
// characters, so the NUL separator cannot occur inside one.
export function conversationKey(userA: string, userB: string): string {
  return userA < userB ? `${userA}\u0000${userB}` : `${userB}\u0000${userA}`;
}
