// Shared pieces of the store contract suites.
import type { NewMessage, Store, StoredMessage } from '../../src/store/store.js';

export const T0 = Date.UTC(2024, 0, 15, 9, 0, 0);
export const EMPTY = { messages: [], hasMore: false };

export function message(fields: Partial<NewMessage> = {}): NewMessage {
  return {
    tenant: 'acme',
    senderId: 'alice',
    receiverId: 'bob',
    message: 'hello',
    msgType: 1,
    msgContType: 0,
    clientMsgId: undefined,
    senderNickname: 'Alice',
    senderAvatar: 'https://example.test/a.png',
    time: T0,
    ...fields,
  };
}

// Appends one message per call, so that ids and seqs follow the list.
export async function appendAll(store: Store, messages: NewMessage[]): Promise<StoredMessage[]> {
  const stored: StoredMessage[] = [];
  for (const m of messages) stored.push((await store.appendMessages([m]))[0]!.message);
  return stored;
}

export async function conversation(store: Store, tenant: string, a: string, b: string) {
  return (await store.readConversation(tenant, a, b, { limit: 1000 })).messages;
}

// Messages are only stored for tenants that exist.
export async function withTenants(store: Store): Promise<void> {
  for (const account of ['acme', 'globex']) {
    await store.createTenant({ account, secret: `k-${account}`, createdAt: 0 });
  }
}
