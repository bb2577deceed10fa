// The MongoDB store against a real server: the shared contract, plus what
// only the shared store has. It runs when PRIM_TEST_MONGO_URL names a server
// (for example mongodb://127.0.0.1:27017); every test gets a fresh database
// of its own, dropped afterwards. Without the variable it is skipped.
import { randomUUID } from 'node:crypto';
import { MongoClient } from 'mongodb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PrimError } from '../src/errors.js';
import { databaseName, MongoStore } from '../src/store/mongo/mongo-store.js';
import { inboxSeqOf } from '../src/store/store.js';
import { storeContract } from './store-contract.js';
import { message } from './helpers/store.js';

const url = process.env.PRIM_TEST_MONGO_URL ?? '';
const SKIPPED = 'MongoDB store contract skipped: set PRIM_TEST_MONGO_URL to run it';

if (!url) console.warn(SKIPPED);

describe('mongodb store database name', () => {
  it('is the path of the store URL', () => {
    expect(databaseName('mongodb://127.0.0.1:27017/chat')).toBe('chat');
    expect(databaseName('mongodb://u:p@h1:1,h2:2/chat?replicaSet=rs0&w=majority')).toBe('chat');
    expect(databaseName('mongodb+srv://u:p@cluster.example.test/chat')).toBe('chat');
  });

  it('is "prim" when the URL names none', () => {
    expect(databaseName('mongodb://127.0.0.1:27017')).toBe('prim');
    expect(databaseName('mongodb://127.0.0.1:27017/')).toBe('prim');
    expect(databaseName('mongodb://127.0.0.1:27017/?replicaSet=rs0')).toBe('prim');
    expect(databaseName('mongodb://127.0.0.1:27017?replicaSet=rs0')).toBe('prim');
  });

  it('the test URLs name the database they were given', () => {
    expect(databaseName(withDatabase('mongodb://h:1/x?w=1', 'prim_test_1'))).toBe('prim_test_1');
    expect(databaseName(withDatabase('mongodb://h:1', 'prim_test_2'))).toBe('prim_test_2');
  });
});

describe.runIf(!url)('mongodb store', () => {
  it.skip(SKIPPED, () => {});
});

describe.skipIf(!url)('mongodb store', () => {
  let admin: MongoClient;
  const databases: string[] = [];

  beforeAll(async () => {
    admin = await MongoClient.connect(url);
  });

  afterAll(async () => {
    await admin?.close();
  });

  // A store URL naming a database no other test or run uses.
  function freshDatabase(): string {
    const name = `prim_test_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
    databases.push(name);
    return withDatabase(url, name);
  }

  async function dropDatabases(): Promise<void> {
    for (const name of databases.splice(0)) await admin.db(name).dropDatabase();
  }

  storeContract('mongodb', () => MongoStore.connect(freshDatabase()), dropDatabases);

  describe('mongodb store database', () => {
    const opened: MongoStore[] = [];

    async function connect(storeUrl: string): Promise<MongoStore> {
      const store = await MongoStore.connect(storeUrl);
      opened.push(store);
      return store;
    }

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((store) => store.close()));
      await dropDatabases();
    });

    it('creates its indexes and records schema version 1 at start-up', async () => {
      await connect(freshDatabase());

      const db = admin.db(databases[0]!);
      const indexes = async (name: string) =>
        (await db.collection(name).indexes()).map((index) => index.name);
      expect(await indexes('messages')).toEqual(
        expect.arrayContaining(['conversation', 'client_msg_id']),
      );
      expect(await indexes('inbox')).toContain('inbox_seq');
      expect(await indexes('inboxHeads')).toContain('inbox_head');
      expect(await indexes('revocations')).toContain('revocation');
      expect(await db.collection('meta').findOne({})).toEqual({ _id: 'schema', version: 1 });
    });

    it('connecting again keeps the data and continues the numbering', async () => {
      const storeUrl = freshDatabase();
      const first = await connect(storeUrl);
      const tenant = await first.createTenant({ account: 'acme', secret: 'k1', createdAt: 1 });
      const [sent] = await first.appendMessages([message()]);
      await first.close();

      const again = await connect(storeUrl);
      const [next] = await again.appendMessages([message()]);

      expect(await again.getTenant('acme')).toStrictEqual(tenant);
      expect((await again.readInbox('acme', 'bob', 0, 10)).messages[0]).toStrictEqual(
        sent!.message,
      );
      expect(next!.message).toMatchObject({ senderSeq: 2, receiverSeq: 2 });
      expect(Number(next!.message.id)).toBeGreaterThan(Number(sent!.message.id));
    });

    it('refuses a database written by a newer prim', async () => {
      const storeUrl = freshDatabase();
      await admin
        .db(databases[0]!)
        .collection<{ _id: string; version: number }>('meta')
        .insertOne({ _id: 'schema', version: 99 });

      const refused = MongoStore.connect(storeUrl);

      await expect(refused).rejects.toBeInstanceOf(PrimError);
      await expect(refused).rejects.toThrow('schema version 99, newer than this prim (1)');
    });

    it('stores message ids as numbers and returns them as decimal strings', async () => {
      const store = await connect(freshDatabase());
      await store.createTenant({ account: 'acme', secret: 'k1', createdAt: 1 });

      const [result] = await store.appendMessages([message()]);

      const doc = await admin.db(databases[0]!).collection('messages').findOne({});
      expect(typeof doc?._id).toBe('number');
      expect(result!.message.id).toBe(String(doc?._id));
    });

    it('two nodes on one database append concurrently with gapless unique seqs', async () => {
      const storeUrl = freshDatabase();
      const nodes = [await connect(storeUrl), await connect(storeUrl)];
      await nodes[0]!.createTenant({ account: 'acme', secret: 'k1', createdAt: 1 });

      const calls = Array.from({ length: 40 }, (_, i) =>
        nodes[i % 2]!.appendMessages([
          message({ message: `m${i}` }),
          message({ senderId: 'bob', receiverId: i % 4 === 0 ? 'carol' : 'alice' }),
        ]),
      );
      const stored = (await Promise.all(calls)).flat().map((r) => r!.message);

      expect(new Set(stored.map((m) => m.id)).size).toBe(80);
      for (const [user, count] of Object.entries({ alice: 70, bob: 80, carol: 10 })) {
        const seqs = stored
          .filter((m) => m.senderId === user || m.receiverId === user)
          .map((m) => inboxSeqOf(m, user))
          .sort((a, b) => a - b);
        expect(seqs).toEqual(Array.from({ length: count }, (_, i) => i + 1));
        expect(await nodes[1]!.inboxHead('acme', user)).toBe(count);
      }
    }, 30_000);
  });
});

// The given server URL with its database path replaced by `name`.
function withDatabase(serverUrl: string, name: string): string {
  const queryAt = serverUrl.indexOf('?');
  const address = queryAt < 0 ? serverUrl : serverUrl.slice(0, queryAt);
  const query = queryAt < 0 ? '' : serverUrl.slice(queryAt);
  const pathAt = address.indexOf('/', address.indexOf('://') + 3);
  return `${pathAt < 0 ? address : address.slice(0, pathAt)}/${name}${query}`;
}
