// The message half of the store contract: appending, inboxes and
// conversations. storeContract() runs it on the store of each test.
import { beforeEach, describe, expect, it } from 'vitest';
import {
  DEDUPE_WINDOW_MS,
  inboxSeqOf,
  type Store,
  type StoredMessage,
} from '../src/store/store.js';
import { appendAll, conversation, EMPTY, message, T0, withTenants } from './helpers/store.js';

export function messageContract(current: () => Store): void {
  let store: Store;

  beforeEach(() => {
    store = current();
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

      expect(page.messages.map((m) => [m.tenant, m.message])).toEqual([['globex', 'other tenant']]);
    });

    it('an empty conversation has no messages and no more', async () => {
      expect(await store.readConversation('acme', 'alice', 'bob', { limit: 10 })).toEqual(EMPTY);
    });
  });
}
