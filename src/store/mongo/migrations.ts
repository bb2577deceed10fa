// The MongoDB schema: indexes ensured at every start and versioned
// migrations of stored data, like the SQLite store's migrations.ts.
import type { Db, IndexDescription } from 'mongodb';
import { PrimError } from '../../errors.js';

// Ensured at every start: createIndexes is a no-op for an index that already
// exists as declared. Changing a declared index needs a migration that drops
// the old one first, because the server refuses a different index of the
// same name.
export const INDEXES: Record<string, IndexDescription[]> = {
  messages: [
    { name: 'conversation', key: { tenant: 1, conversation: 1, _id: 1 } },
    {
      name: 'client_msg_id',
      key: { tenant: 1, senderId: 1, clientMsgId: 1, _id: -1 },
      partialFilterExpression: { clientMsgId: { $exists: true } },
    },
  ],
  inbox: [{ name: 'inbox_seq', key: { tenant: 1, userId: 1, seq: 1 }, unique: true }],
  inboxHeads: [{ name: 'inbox_head', key: { tenant: 1, userId: 1 }, unique: true }],
  revocations: [
    { name: 'revocation', key: { tenant: 1, userId: 1, platform: 1 }, unique: true },
    { name: 'revoked_at', key: { revokedAt: 1 } },
  ],
};

// Versioned changes to stored data, applied in order at start-up; the
// version is kept in the `meta` collection. A migration is never edited once
// shipped. Two nodes starting together may both run one, so each must be
// safe to run twice.
const MIGRATIONS: ((db: Db) => Promise<void>)[] = [
  // 1: the first layout; its indexes are in INDEXES. Seeding the id counter
  // here creates its collection outside any transaction, which servers
  // before 4.4 require.
  async (db) => {
    await db
      .collection<{ _id: string; value: number }>('counters')
      .updateOne({ _id: 'messageId' }, { $setOnInsert: { value: 0 } }, { upsert: true });
  },
];

export async function migrate(db: Db): Promise<void> {
  const meta = db.collection<{ _id: string; version: number }>('meta');
  const version = (await meta.findOne({ _id: 'schema' }))?.version ?? 0;
  if (version > MIGRATIONS.length) {
    throw new PrimError(
      'SERVER_ERROR',
      `the store is at schema version ${version}, newer than this prim ` +
        `(${MIGRATIONS.length}); upgrade prim`,
    );
  }
  for (let next = version; next < MIGRATIONS.length; next++) {
    await MIGRATIONS[next]!(db);
    await meta.updateOne({ _id: 'schema' }, { $max: { version: next + 1 } }, { upsert: true });
  }
}
