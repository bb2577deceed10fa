// The contract every store backend passes. A backend's test file calls
// storeContract() with a way to open a store over an empty backend; each
// test gets a store of its own, so no test sees another's data.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PrimError } from '../src/errors.js';
import type { Store } from '../src/store/store.js';
import { messageContract } from './store-contract-messages.js';
import { conversation, EMPTY, message, T0 } from './helpers/store.js';

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

    messageContract(() => store);

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

      it('lists the revocations made since a time, of every tenant', async () => {
        await store.revoke('acme', 'alice', 'web', T0);
        await store.revoke('acme', 'bob', undefined, T0 + 100);
        await store.revoke('globex', 'alice', 'ios', T0 + 200);

        const since = await store.revocationsSince(T0 + 100);
        const byKey = (r: { tenant: string; userId: string }) => `${r.tenant}/${r.userId}`;
        expect(since.sort((a, b) => byKey(a).localeCompare(byKey(b)))).toEqual([
          { tenant: 'acme', userId: 'bob', platform: undefined, revokedAt: T0 + 100 },
          { tenant: 'globex', userId: 'alice', platform: 'ios', revokedAt: T0 + 200 },
        ]);
        // Revoked again later: listed from its new time on.
        await store.revoke('acme', 'alice', 'web', T0 + 300);
        expect(await store.revocationsSince(T0 + 300)).toEqual([
          { tenant: 'acme', userId: 'alice', platform: 'web', revokedAt: T0 + 300 },
        ]);
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
