// The contract every store backend passes. A backend's test file calls
// storeContract() with a way to open a store over an empty backend; each
// test gets a store of its own, so no test sees another's data.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PrimError } from '../src/errors.js';
import {
  DEDUPE_WINDOW_MS,
  inboxSeqOf,
  type NewMessage,
  type Store,
  type StoredMessage,
} from '../src/store/store.js';

async function withTenants(store: Store): Promise<void> {
  for (const account of ['acme', 'globex']) {
    await store.createTenant({ account, secret: `k-${account}`, createdAt: 0 });
  }
}

// open: a store over an empty backend, called once per test.
// cleanup: called after each test once its store is closed, to remove what
// open made (a file, a database).
export function storeContract(
  name: string,
  open: () => Promise<Store>,
  cleanup?: () => Promise<void> | void,
): void {
  describe(`${name} store contract`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await open();
    });

    afterEach(async () => {
      // open() may have failed before any store existed.
      await store?.close();
      await cleanup?.();
    });

    describe('tenants', () => {
      it('creates a tenant and reads it back', async () => {
        const created = await store.createTenant({
          account: 'acme',
          phone: '+15550100',
          secret: 's'.repeat(43),
          createdAt: T0,
        });

        const expected = {
          account: 'acme',
          phone: '+15550100',
          secret: 's'.repeat(43),
          previousSecret: undefined,
          secretRotatedAt: undefined,
          disabled: false,
          createdAt: T0,
        };
        expect(created).toStrictEqual(expected);
        expect(await store.getTenant('acme')).toStrictEqual(expected);
      });

      it('keeps a tenant without a phone', async () => {
        await store.createTenant({ account: 'acme', secret: 'k1', createdAt: T0 });

        expect((await store.getTenant('acme'))?.phone).toBeUndefined();
      });

      it('refuses a second tenant with the same account with TENANT_EXISTS (1011)', async () => {
        await store.createTenant({ account: 'acme', secret: 'first', createdAt: T0 });

        const second = store.createTenant({ account: 'acme', secret: 'other', createdAt: T0 });

        await expect(second).rejects.toBeInstanceOf(PrimError);
        await expect(second).rejects.toMatchObject({ kind: 'TENANT_EXISTS', code: 1011 });
        expect((await store.getTenant('acme'))?.secret).toBe('first');
      });

      it('returns undefined for an unknown tenant', async () => {
        expect(await store.getTenant('nobody')).toBeUndefined();
      });

      it('lists tenants by account, paged, with the total', async () => {
        for (const account of ['delta', 'alpha', 'echo', 'charlie', 'bravo']) {
          await store.createTenant({ account, secret: `k-${account}`, createdAt: T0 });
        }

        const accounts = async (offset: number, limit: number) => {
          const page = await store.listTenants(offset, limit);
          return { accounts: page.tenants.map((t) => t.account), total: page.total };
        };
        expect(await accounts(0, 2)).toEqual({ accounts: ['alpha', 'bravo'], total: 5 });
        expect(await accounts(2, 2)).toEqual({ accounts: ['charlie', 'delta'], total: 5 });
        expect(await accounts(4, 2)).toEqual({ accounts: ['echo'], total: 5 });
        expect(await accounts(10, 2)).toEqual({ accounts: [], total: 5 });
        expect((await store.listTenants(0, 1)).tenants[0]?.secret).toBe('k-alpha');
      });

      it('lists nothing with a total of 0 when there are no tenants', async () => {
        expect(await store.listTenants(0, 10)).toEqual({ tenants: [], total: 0 });
      });

      it('rotates the secret and keeps the previous one with its time', async () => {
        await store.createTenant({ account: 'acme', phone: 'p', secret: 'old', createdAt: T0 });

        const rotated = await store.updateTenant('acme', {
          secret: 'new',
          previousSecret: 'old',
          secretRotatedAt: T0 + 1000,
        });

        const expected = {
          account: 'acme',
          phone: 'p',
          secret: 'new',
          previousSecret: 'old',
          secretRotatedAt: T0 + 1000,
          disabled: false,
          createdAt: T0,
        };
        expect(rotated).toStrictEqual(expected);
        expect(await store.getTenant('acme')).toStrictEqual(expected);
      });

      it('disables and enables a tenant without touching its secret', async () => {
        await store.createTenant({ account: 'acme', secret: 'k1', createdAt: T0 });

        expect(await store.updateTenant('acme', { disabled: true })).toMatchObject({
          disabled: true,
          secret: 'k1',
        });
        expect((await store.getTenant('acme'))?.disabled).toBe(true);

        await store.updateTenant('acme', { disabled: false });
        expect((await store.getTenant('acme'))?.disabled).toBe(false);
      });

      it('an empty patch returns the tenant unchanged', async () => {
        const created = await store.createTenant({ account: 'acme', secret: 'k1', createdAt: T0 });

        expect(await store.updateTenant('acme', {})).toStrictEqual(created);
      });

      it('updating an unknown tenant returns undefined and creates nothing', async () => {
        expect(await store.updateTenant('nobody', { disabled: true })).toBeUndefined();
        expect(await store.getTenant('nobody')).toBeUndefined();
      });

      it('deleting a tenant removes its messages, inboxes and revocations only', async () => {
        await store.createTenant({ account: 'acme', secret: 'k1', createdAt: T0 });
        await store.createTenant({ account: 'globex', secret: 'k2', createdAt: T0 });
        await store.appendMessages([message({ tenant: 'acme' })]);
        const [globex] = await store.appendMessages([message({ tenant: 'globex' })]);
        await store.revoke('acme', 'alice', undefined, T0);
        await store.revoke('globex', 'alice', undefined, T0);

        expect(await store.deleteTenant('acme')).toBe(true);

        expect(await store.getTenant('acme')).toBeUndefined();
        expect(await store.readInbox('acme', 'alice', 0, 10)).toEqual(EMPTY);
        expect(await store.readInbox('acme', 'bob', 0, 10)).toEqual(EMPTY);
        expect(await store.inboxHead('acme', 'alice')).toBe(0);
        expect(await conversation(store, 'acme', 'alice', 'bob')).toEqual([]);
        expect(await store.revokedAt('acme', 'alice', 'web')).toBeUndefined();

        expect((await store.getTenant('globex'))?.secret).toBe('k2');
        expect(await store.readInbox('globex', 'bob', 0, 10)).toEqual({
          messages: [globex!.message],
          hasMore: false,
        });
        expect(await store.inboxHead('globex', 'alice')).toBe(1);
        expect(await store.revokedAt('globex', 'alice', 'web')).toBe(T0);
      });

      it('a tenant created again after delete starts from empty inboxes', async () => {
        await store.createTenant({ account: 'acme', secret: 'k1', createdAt: T0 });
        const [before] = await store.appendMessages([message(), message()]);
        await store.deleteTenant('acme');

        await store.createTenant({ account: 'acme', secret: 'k2', createdAt: T0 });
        const [after] = await store.appendMessages([message()]);

        expect(after!.message).toMatchObject({ senderSeq: 1, receiverSeq: 1 });
        // Ids are never reused: clients may still hold the old ones as cursors.
        expect(Number(after!.message.id)).toBeGreaterThan(Number(before!.message.id));
      });

      it('deleting an unknown tenant returns false', async () => {
        expect(await store.deleteTenant('nobody')).toBe(false);
      });
    });

    describe('appending messages', () => {
      // Messages are only stored for tenants that exist.
      beforeEach(async () => {
        await withTenants(store);
      });

      it('stores a message with every field and the first seq of both inboxes', async () => {
        const sent = message({ clientMsgId: 'c-1', msgType: 2, msgContType: 3 });

        const [result] = await store.appendMessages([sent]);

        expect(result!.duplicate).toBe(false);
        expect(result!.message).toStrictEqual({
          ...sent,
          id: result!.message.id,
          senderSeq: 1,
          receiverSeq: 1,
        });
        expect(result!.message.id).toMatch(/^[1-9][0-9]*$/);
        expect(await store.inboxHead('acme', 'alice')).toBe(1);
        expect(await store.inboxHead('acme', 'bob')).toBe(1);
      });

      it('gives the sender and the receiver each their own next seq', async () => {
        const results = await store.appendMessages([
          message({ senderId: 'alice', receiverId: 'bob' }),
          message({ senderId: 'alice', receiverId: 'carol' }),
          message({ senderId: 'bob', receiverId: 'alice' }),
          message({ senderId: 'carol', receiverId: 'bob' }),
        ]);

        const seqs = results.map((r) => [r!.message.senderSeq, r!.message.receiverSeq]);
        expect(seqs).toEqual([
          [1, 1],
          [2, 1],
          [2, 3],
          [2, 3],
        ]);
        expect(await store.inboxHead('acme', 'alice')).toBe(3);
        expect(await store.inboxHead('acme', 'bob')).toBe(3);
        expect(await store.inboxHead('acme', 'carol')).toBe(2);
      });

      it('keeps numbering across calls without gaps', async () => {
        await store.appendMessages([message()]);
        await store.appendMessages([message(), message({ senderId: 'bob', receiverId: 'alice' })]);

        const inbox = await store.readInbox('acme', 'alice', 0, 10);

        expect(inbox.messages.map((m) => inboxSeqOf(m, 'alice'))).toEqual([1, 2, 3]);
      });

      it('a message to oneself takes one seq and is in the inbox once', async () => {
        await store.appendMessages([message()]);

        const [self] = await store.appendMessages([message({ receiverId: 'alice' })]);

        expect(self!.message).toMatchObject({ senderSeq: 2, receiverSeq: 2 });
        expect(await store.inboxHead('acme', 'alice')).toBe(2);
        const inbox = await store.readInbox('acme', 'alice', 0, 10);
        expect(inbox.messages.map((m) => m.id)).toHaveLength(2);
        expect(inbox.messages[1]).toStrictEqual(self!.message);
      });

      it('keeps the order of a batch with increasing numeric ids', async () => {
        const batch = [1, 2, 3, 4, 5].map((n) => message({ message: `m${n}` }));

        const results = await store.appendMessages(batch);
        const [later] = await store.appendMessages([message({ message: 'm6' })]);

        expect(results.map((r) => r!.message.message)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5']);
        expect(results.map((r) => r!.message.senderSeq)).toEqual([1, 2, 3, 4, 5]);
        const ids = [...results, later!].map((r) => Number(r!.message.id));
        expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true);
      });

      it('an empty batch stores nothing', async () => {
        expect(await store.appendMessages([])).toEqual([]);
        expect(await store.inboxHead('acme', 'alice')).toBe(0);
      });

      it('a resent clientMsgId within 24 h returns the original and takes no seq', async () => {
        const [original] = await store.appendMessages([message({ clientMsgId: 'c-1' })]);
        await store.appendMessages([message({ senderId: 'bob', receiverId: 'alice' })]);

        const [resent] = await store.appendMessages([
          message({ clientMsgId: 'c-1', message: 'resent text', time: T0 + 3600_000 }),
        ]);

        expect(resent).toStrictEqual({ message: original!.message, duplicate: true });
        expect(await store.inboxHead('acme', 'alice')).toBe(2);
        expect(await store.inboxHead('acme', 'bob')).toBe(2);
        const conversationTexts = (await conversation(store, 'acme', 'alice', 'bob')).map(
          (m) => m.message,
        );
        expect(conversationTexts).not.toContain('resent text');
      });

      it('a clientMsgId repeated inside one batch is stored once', async () => {
        const results = await store.appendMessages([
          message({ clientMsgId: 'c-1', message: 'first' }),
          message({ clientMsgId: 'c-1', message: 'second' }),
        ]);

        expect(results.map((r) => r!.duplicate)).toEqual([false, true]);
        expect(results[1]!.message).toStrictEqual(results[0]!.message);
        expect(await store.inboxHead('acme', 'alice')).toBe(1);
      });

      it('the same clientMsgId from another sender is a new message', async () => {
        await store.appendMessages([message({ clientMsgId: 'c-1' })]);

        const [other] = await store.appendMessages([
          message({ senderId: 'bob', receiverId: 'alice', clientMsgId: 'c-1' }),
        ]);

        expect(other).toMatchObject({
          duplicate: false,
          message: { senderId: 'bob', senderSeq: 2, receiverSeq: 2 },
        });
      });

      it('the same clientMsgId to another receiver is a new message', async () => {
        const [first] = await store.appendMessages([message({ clientMsgId: 'c-1' })]);

        const [other] = await store.appendMessages([
          message({ receiverId: 'carol', clientMsgId: 'c-1', message: 'to carol' }),
        ]);

        expect(other).toMatchObject({
          duplicate: false,
          message: { receiverId: 'carol', message: 'to carol', senderSeq: 2, receiverSeq: 1 },
        });
        expect(other!.message.id).not.toBe(first!.message.id);
      });

      it('a message of a tenant that does not exist is not stored', async () => {
        const results = await store.appendMessages([
          message({ tenant: 'gone', message: 'lost tenant' }),
          message({ message: 'kept' }),
        ]);

        expect(results[0]).toBeUndefined();
        expect(results[1]).toMatchObject({ message: { message: 'kept', senderSeq: 1 } });
        expect(await store.inboxHead('gone', 'alice')).toBe(0);
        expect(await store.readInbox('gone', 'bob', 0, 10)).toEqual(EMPTY);
      });

      it('the same clientMsgId in another tenant is a new message', async () => {
        const [acme] = await store.appendMessages([message({ clientMsgId: 'c-1' })]);

        const [globex] = await store.appendMessages([
          message({ tenant: 'globex', clientMsgId: 'c-1' }),
        ]);

        expect(globex!.duplicate).toBe(false);
        expect(globex!.message).toMatchObject({ tenant: 'globex', senderSeq: 1 });
        expect(globex!.message.id).not.toBe(acme!.message.id);
      });

      it('the same clientMsgId more than 24 h later is stored anew', async () => {
        const [first] = await store.appendMessages([message({ clientMsgId: 'c-1' })]);
        const [nearly] = await store.appendMessages([
          message({ clientMsgId: 'c-1', time: T0 + DEDUPE_WINDOW_MS - 1 }),
        ]);

        const [later] = await store.appendMessages([
          message({ clientMsgId: 'c-1', time: T0 + DEDUPE_WINDOW_MS + 1 }),
        ]);

        expect(nearly).toStrictEqual({ message: first!.message, duplicate: true });
        expect(later!.duplicate).toBe(false);
        expect(later!.message).toMatchObject({ senderSeq: 2, time: T0 + DEDUPE_WINDOW_MS + 1 });
        expect(later!.message.id).not.toBe(first!.message.id);
      });

      it('a resend matches the latest message stored under its clientMsgId', async () => {
        await store.appendMessages([message({ clientMsgId: 'c-1' })]);
        const [second] = await store.appendMessages([
          message({ clientMsgId: 'c-1', time: T0 + DEDUPE_WINDOW_MS + 1 }),
        ]);

        const [resent] = await store.appendMessages([
          message({ clientMsgId: 'c-1', time: T0 + DEDUPE_WINDOW_MS + 2 }),
        ]);

        expect(resent).toStrictEqual({ message: second!.message, duplicate: true });
      });

      it('messages without a clientMsgId are never deduplicated', async () => {
        const results = await store.appendMessages([message(), message()]);

        expect(results.map((r) => r!.duplicate)).toEqual([false, false]);
        expect(await store.inboxHead('acme', 'bob')).toBe(2);
      });

      it('concurrent appends still give every inbox gapless, unique seqs', async () => {
        const users = ['alice', 'bob', 'carol', 'dave'];
        const calls = Array.from({ length: 40 }, (_, i) => {
          const senderId = users[i % 4]!;
          const receiverId = users[(i * 7 + 1) % 4]!;
          const batch = [message({ senderId, receiverId, message: `m${i}` })];
          if (i % 5 === 0) batch.push(message({ senderId: receiverId, receiverId: senderId }));
          return store.appendMessages(batch);
        });

        const stored = (await Promise.all(calls)).flat().map((r) => r!.message);

        expect(new Set(stored.map((m) => m.id)).size).toBe(stored.length);
        for (const user of users) {
          const mine = stored.filter((m) => m.senderId === user || m.receiverId === user);
          const seqs = mine.map((m) => inboxSeqOf(m, user)).sort((a, b) => a - b);
          expect(seqs).toEqual(mine.map((_, i) => i + 1));
          expect(await store.inboxHead('acme', user)).toBe(mine.length);
          const inbox = await store.readInbox('acme', user, 0, 1000);
          expect(inbox.messages.map((m) => inboxSeqOf(m, user))).toEqual(seqs);
        }
      });
    });

    describe('reading the inbox', () => {
      // Messages are only stored for tenants that exist.
      beforeEach(async () => {
        await withTenants(store);
      });

      it('reads sent and received messages after `since`, in order, paged', async () => {
        const stored = await appendAll(store, [
          message({ message: 'a1' }),
          message({ senderId: 'bob', receiverId: 'alice', message: 'b1' }),
          message({ receiverId: 'carol', message: 'a2' }),
          message({ senderId: 'carol', receiverId: 'alice', message: 'c1' }),
          message({ receiverId: 'alice', message: 'self' }),
        ]);

        const first = await store.readInbox('acme', 'alice', 0, 3);
        const rest = await store.readInbox('acme', 'alice', 3, 3);

        expect(first).toEqual({ messages: stored.slice(0, 3), hasMore: true });
        expect(rest).toEqual({ messages: stored.slice(3), hasMore: false });
        expect(await store.readInbox('acme', 'alice', 2, 3)).toEqual({
          messages: stored.slice(2),
          hasMore: false,
        });
        expect(await store.readInbox('acme', 'alice', 5, 3)).toEqual(EMPTY);
      });

      it('holds only the messages the user sent or received', async () => {
        await appendAll(store, [message(), message({ senderId: 'bob', receiverId: 'carol' })]);

        const inbox = await store.readInbox('acme', 'carol', 0, 10);

        expect(inbox.messages.map((m) => [m.senderId, m.receiverId])).toEqual([['bob', 'carol']]);
      });

      it("never shows another tenant's messages to the same user id", async () => {
        await appendAll(store, [message({ tenant: 'globex', message: 'other tenant' })]);
        const [own] = await appendAll(store, [message({ message: 'own' })]);

        expect(await store.readInbox('acme', 'alice', 0, 10)).toEqual({
          messages: [own],
          hasMore: false,
        });
        expect(await store.inboxHead('acme', 'alice')).toBe(1);
      });

      it('an unknown user has an empty inbox at head 0', async () => {
        expect(await store.readInbox('acme', 'nobody', 0, 10)).toEqual(EMPTY);
        expect(await store.inboxHead('acme', 'nobody')).toBe(0);
      });
    });

    describe('reading a conversation', () => {
      // Messages are only stored for tenants that exist.
      beforeEach(async () => {
        await withTenants(store);
      });

      // alice and bob in both directions, with other conversations of the
      // same users and the same pair in another tenant in between.
      async function seed(): Promise<StoredMessage[]> {
        const mixed = await appendAll(store, [
          message({ message: 'ab1' }),
          message({ receiverId: 'carol', message: 'ac' }),
          message({ senderId: 'bob', receiverId: 'alice', message: 'ba1' }),
          message({ tenant: 'globex', message: 'other tenant' }),
          message({ receiverId: 'alice', message: 'self' }),
          message({ message: 'ab2' }),
          message({ senderId: 'bob', receiverId: 'carol', message: 'bc' }),
          message({ senderId: 'bob', receiverId: 'alice', message: 'ba2' }),
          message({ message: 'ab3' }),
        ]);
        return mixed.filter((m) => /^(ab|ba)/.test(m.message));
      }

      it('reads both directions oldest first, from either side', async () => {
        const expected = await seed();

        const texts = expected.map((m) => m.message);
        expect(texts).toEqual(['ab1', 'ba1', 'ab2', 'ba2', 'ab3']);
        expect(await store.readConversation('acme', 'alice', 'bob', { limit: 10 })).toEqual({
          messages: expected,
          hasMore: false,
        });
        expect(await store.readConversation('acme', 'bob', 'alice', { limit: 10 })).toEqual({
          messages: expected,
          hasMore: false,
        });
      });

      it('pages forward with limit and `after`', async () => {
        const expected = await seed();

        const first = await store.readConversation('acme', 'alice', 'bob', { limit: 2 });
        const second = await store.readConversation('acme', 'alice', 'bob', {
          limit: 2,
          after: first.messages[1]!.id,
        });
        const last = await store.readConversation('acme', 'alice', 'bob', {
          limit: 2,
          after: second.messages[1]!.id,
        });

        expect(first).toEqual({ messages: expected.slice(0, 2), hasMore: true });
        expect(second).toEqual({ messages: expected.slice(2, 4), hasMore: true });
        expect(last).toEqual({ messages: expected.slice(4), hasMore: false });
      });

      it('`before` returns the page just before that id, still oldest first', async () => {
        const expected = await seed();

        const page = await store.readConversation('acme', 'alice', 'bob', {
          limit: 2,
          before: expected[4]!.id,
        });
        const start = await store.readConversation('acme', 'alice', 'bob', {
          limit: 2,
          before: expected[2]!.id,
        });

        expect(page).toEqual({ messages: expected.slice(2, 4), hasMore: true });
        expect(start).toEqual({ messages: expected.slice(0, 2), hasMore: false });
      });

      it('a conversation with oneself holds only messages to oneself', async () => {
        await seed();

        const page = await store.readConversation('acme', 'alice', 'alice', { limit: 10 });

        expect(page.messages.map((m) => m.message)).toEqual(['self']);
      });

      it('never crosses tenants', async () => {
        await seed();

        const page = await store.readConversation('globex', 'alice', 'bob', { limit: 10 });

        expect(page.messages.map((m) => [m.tenant, m.message])).toEqual([
          ['globex', 'other tenant'],
        ]);
      });

      it('an empty conversation has no messages and no more', async () => {
        expect(await store.readConversation('acme', 'alice', 'bob', { limit: 10 })).toEqual(EMPTY);
      });
    });

    describe('revocations', () => {
      it('a user with no revocation has none on any platform', async () => {
        expect(await store.revokedAt('acme', 'alice', 'web')).toBeUndefined();
      });

      it('a platform revocation applies to that platform only', async () => {
        await store.revoke('acme', 'alice', 'web', T0);

        expect(await store.revokedAt('acme', 'alice', 'web')).toBe(T0);
        expect(await store.revokedAt('acme', 'alice', 'ios')).toBeUndefined();
        expect(await store.revokedAt('acme', 'bob', 'web')).toBeUndefined();
        expect(await store.revokedAt('globex', 'alice', 'web')).toBeUndefined();
      });

      it('a revocation without platform covers every platform; the later time wins', async () => {
        await store.revoke('acme', 'alice', 'web', T0 + 100);
        await store.revoke('acme', 'alice', undefined, T0 + 50);

        expect(await store.revokedAt('acme', 'alice', 'web')).toBe(T0 + 100);
        expect(await store.revokedAt('acme', 'alice', 'ios')).toBe(T0 + 50);

        await store.revoke('acme', 'alice', undefined, T0 + 200);
        expect(await store.revokedAt('acme', 'alice', 'web')).toBe(T0 + 200);
        expect(await store.revokedAt('acme', 'alice', 'desktop')).toBe(T0 + 200);
      });

      it('a later revoke with an earlier time does not lower it', async () => {
        await store.revoke('acme', 'alice', 'web', T0 + 100);
        await store.revoke('acme', 'alice', undefined, T0 + 100);

        await store.revoke('acme', 'alice', 'web', T0 + 10);
        await store.revoke('acme', 'alice', undefined, T0 + 10);

        expect(await store.revokedAt('acme', 'alice', 'web')).toBe(T0 + 100);
        expect(await store.revokedAt('acme', 'alice', 'android')).toBe(T0 + 100);
      });
    });

    describe('lifecycle', () => {
      it('ping resolves while the store is open', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });

      it('after close, ping rejects; closing twice is harmless', async () => {
        await store.close();

        await expect(store.ping()).rejects.toThrow();
        await expect(store.close()).resolves.toBeUndefined();
      });
    });
  });
}

const T0 = Date.UTC(2024, 0, 15, 9, 0, 0);
const EMPTY = { messages: [], hasMore: false };

function message(fields: Partial<NewMessage> = {}): NewMessage {
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
async function appendAll(store: Store, messages: NewMessage[]): Promise<StoredMessage[]> {
  const stored: StoredMessage[] = [];
  for (const m of messages) stored.push((await store.appendMessages([m]))[0]!.message);
  return stored;
}

async function conversation(store: Store, tenant: string, a: string, b: string) {
  return (await store.readConversation(tenant, a, b, { limit: 1000 })).messages;
}
