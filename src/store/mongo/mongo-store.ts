// The shared store of a cluster: MongoDB through the official driver. Every
// number that must be unique across nodes (inboxSeq, message ids) comes from
// an atomic $inc on a counter document, never from a node's memory.
import {
  MongoClient,
  MongoServerError,
  WriteConcern,
  type ClientSession,
  type Collection,
  type Db,
  type TransactionOptions,
} from 'mongodb';
import { PrimError } from '../../errors.js';
import {
  DEDUPE_WINDOW_MS,
  type AppendResult,
  type ConversationQuery,
  type NewMessage,
  type NewTenant,
  type Page,
  type Revocation,
  type Store,
  type StoredMessage,
  type Tenant,
  type TenantPatch,
} from '../store.js';
import { conversationKey } from '../store.js';
import { INDEXES, migrate } from './migrations.js';

interface TenantDoc {
  _id: string; // the account
  phone: string | null;
  secret: string;
  previousSecret: string | null;
  secretRotatedAt: number | null;
  disabled: boolean;
  createdAt: number;
}

interface MessageDoc extends Omit<StoredMessage, 'id' | 'clientMsgId'> {
  _id: number;
  conversation: string;
  // Left out rather than null, so that the dedupe index holds only the
  // messages that have one.
  clientMsgId?: string;
}

type InboxDoc = { tenant: string; userId: string; seq: number; messageId: number };
type HeadDoc = { tenant: string; userId: string; seq: number };
type CounterDoc = { _id: string; value: number };
// platform '' means every platform.
type RevocationDoc = { tenant: string; userId: string; platform: string; revokedAt: number };

// Snapshot reads and majority writes: an acknowledged message survives the
// loss of the primary. A commit that a primary cannot confirm in time
// fails the batch (its senders get an error, not an ack) rather than
// holding every ack of the node behind it.
const TRANSACTION: TransactionOptions = {
  readConcern: { level: 'snapshot' },
  writeConcern: new WriteConcern('majority'),
  maxCommitTimeMS: 10_000,
};

export class MongoStore implements Store {
  readonly kind = 'mongodb' as const;
  private readonly tenants: Collection<TenantDoc>;
  private readonly messages: Collection<MessageDoc>;
  private readonly inbox: Collection<InboxDoc>;
  private readonly inboxHeads: Collection<HeadDoc>;
  private readonly counters: Collection<CounterDoc>;
  private readonly revocations: Collection<RevocationDoc>;

  private constructor(
    private readonly client: MongoClient,
    private readonly db: Db,
    // Whether the deployment (a replica set or mongos) runs transactions.
    private readonly transactions: boolean,
  ) {
    this.tenants = db.collection('tenants');
    this.messages = db.collection('messages');
    this.inbox = db.collection('inbox');
    this.inboxHeads = db.collection('inboxHeads');
    this.counters = db.collection('counters');
    this.revocations = db.collection('revocations');
  }

  static async connect(url: string): Promise<MongoStore> {
    // A store that cannot be reached is reported within seconds, not after
    // the driver's default of half a minute; a server that stops answering
    // mid-operation fails it, where the default would wait for ever.
    const client = new MongoClient(url, {
      serverSelectionTimeoutMS: 10_000,
      socketTimeoutMS: 30_000,
    });
    try {
      await client.connect();
      const db = client.db(databaseName(url));
      await migrate(db);
      for (const [name, indexes] of Object.entries(INDEXES)) {
        await db.collection(name).createIndexes(indexes);
      }
      const hello = await db.admin().command({ hello: 1 });
      const transactions = typeof hello.setName === 'string' || hello.msg === 'isdbgrid';
      return new MongoStore(client, db, transactions);
    } catch (err) {
      await client.close();
      throw err;
    }
  }

  async createTenant(tenant: NewTenant): Promise<Tenant> {
    const doc: TenantDoc = {
      _id: tenant.account,
      phone: tenant.phone ?? null,
      secret: tenant.secret,
      previousSecret: null,
      secretRotatedAt: null,
      disabled: false,
      createdAt: tenant.createdAt,
    };
    try {
      await this.tenants.insertOne(doc);
    } catch (err) {
      if (err instanceof MongoServerError && err.code === DUPLICATE_KEY) {
        throw new PrimError('TENANT_EXISTS', `tenant "${tenant.account}" already exists`);
      }
      throw err;
    }
    return toTenant(doc);
  }

  async getTenant(account: string): Promise<Tenant | undefined> {
    const doc = await this.tenants.findOne({ _id: account });
    return doc ? toTenant(doc) : undefined;
  }

  async listTenants(offset: number, limit: number) {
    const total = await this.tenants.countDocuments();
    // A limit of 0 means "no limit" to MongoDB, and "none" to the caller.
    if (limit <= 0) return { tenants: [], total };
    const docs = await this.tenants.find({}, { sort: { _id: 1 }, skip: offset, limit }).toArray();
    return { tenants: docs.map(toTenant), total };
  }

  async updateTenant(account: string, patch: TenantPatch): Promise<Tenant | undefined> {
    // The patch's keys are TenantDoc's own; a key given as undefined clears
    // the field, as in the SQLite store.
    const set = Object.fromEntries(
      Object.entries(patch).map(([key, value]) => [key, value ?? null]),
    ) as Partial<TenantDoc>;
    if (Object.keys(set).length === 0) return this.getTenant(account);
    const doc = await this.tenants.findOneAndUpdate(
      { _id: account },
      { $set: set },
      { returnDocument: 'after' },
    );
    return doc ? toTenant(doc) : undefined;
  }

  async deleteTenant(account: string): Promise<boolean> {
    // Inbox entries go before the messages they point to, and the tenant
    // record last: if this is interrupted, the tenant is still there and
    // deleting it again finishes the job.
    // Not yet safe against messages stored meanwhile: an append only reads
    // the tenant record, so one that commits during these deletes keeps its
    // rows (seen by a new tenant of the same name), or an inbox entry
    // without its head (that user's next message then fails on the unique
    // seq). SQLite does all of this in one write transaction.
    for (const name of ['inbox', 'inboxHeads', 'revocations', 'messages']) {
      await this.db.collection(name).deleteMany({ tenant: account });
    }
    return (await this.tenants.deleteOne({ _id: account })).deletedCount > 0;
  }

  async appendMessages(batch: NewMessage[]): Promise<Array<AppendResult | undefined>> {
    if (batch.length === 0) return [];
    // Without transactions (a standalone server) a node that dies between
    // taking seqs and writing the inbox leaves a gap, a reader may see a
    // later seq before an earlier one lands, and two nodes storing the same
    // resend at once both keep it. A replica set (one member is enough)
    // closes all three.
    if (!this.transactions) return this.appendBatch(batch, undefined);
    return this.client.withSession((session) =>
      session.withTransaction(() => this.appendBatch(batch, session), TRANSACTION),
    );
  }

  // May run more than once: withTransaction retries after a write conflict,
  // which is what puts two nodes taking seqs from one inbox in order.
  private async appendBatch(
    batch: NewMessage[],
    session: ClientSession | undefined,
  ): Promise<Array<AppendResult | undefined>> {
    const results: Array<AppendResult | undefined> = new Array(batch.length);
    const resendOf = new Map<number, number>(); // batch index → earlier index
    const fresh: number[] = [];
    const tenants = await this.existingTenants(batch, session);
    for (const [i, message] of batch.entries()) {
      if (!tenants.has(message.tenant)) continue;
      const inBatch = fresh.filter((j) => isResend(message, batch[j]!)).pop();
      if (inBatch !== undefined) {
        resendOf.set(i, inBatch);
        continue;
      }
      const earlier = await this.findResent(message, session);
      if (earlier) results[i] = { message: toMessage(earlier), duplicate: true };
      else fresh.push(i);
    }
    if (fresh.length === 0) return results;

    const messages = fresh.map((i) => batch[i]!);
    const seqs: [number, number][] = [];
    for (const { tenant, senderId, receiverId } of messages) {
      const senderSeq = await this.nextSeq(tenant, senderId, session);
      const receiverSeq =
        receiverId === senderId ? senderSeq : await this.nextSeq(tenant, receiverId, session);
      seqs.push([senderSeq, receiverSeq]);
    }
    // Ids last: every append shares their counter, so a transaction should
    // hold it for as short a time as possible. One $inc reserves the batch.
    // Not yet spread out: this one document bounds the cluster's message rate.
    const counter = await this.counters.findOneAndUpdate(
      { _id: 'messageId' },
      { $inc: { value: messages.length } },
      { upsert: true, returnDocument: 'after', session },
    );
    const firstId = counter!.value - messages.length + 1;

    const docs = messages.map((message, k) => toDoc(message, firstId + k, seqs[k]!));
    const entries = docs.flatMap((doc): InboxDoc[] => {
      const entry = (userId: string, seq: number) => ({
        tenant: doc.tenant,
        userId,
        seq,
        messageId: doc._id,
      });
      return doc.receiverId === doc.senderId
        ? [entry(doc.senderId, doc.senderSeq)]
        : [entry(doc.senderId, doc.senderSeq), entry(doc.receiverId, doc.receiverSeq)];
    });
    // Messages before inbox entries, so that an entry never points nowhere.
    await this.messages.insertMany(docs, { session });
    await this.inbox.insertMany(entries, { session });

    fresh.forEach((i, k) => (results[i] = { message: toMessage(docs[k]!), duplicate: false }));
    for (const [i, j] of resendOf) results[i] = { message: results[j]!.message, duplicate: true };
    return results;
  }

  // Without a transaction, a tenant deleted between this read and the
  // writes can still receive this batch: the window is one batch long.
  private async existingTenants(batch: NewMessage[], session: ClientSession | undefined) {
    const names = [...new Set(batch.map((message) => message.tenant))];
    const found = await this.tenants
      .find({ _id: { $in: names } }, { projection: { _id: 1 }, session })
      .toArray();
    return new Set(found.map((doc) => doc._id));
  }

  private async nextSeq(tenant: string, userId: string, session: ClientSession | undefined) {
    // Two nodes upserting a new inbox's head at once is retried by the server
    // itself: the filter is an equality match on a unique index.
    const head = await this.inboxHeads.findOneAndUpdate(
      { tenant, userId },
      { $inc: { seq: 1 } },
      { upsert: true, returnDocument: 'after', session },
    );
    return head!.seq;
  }

  private async findResent(message: NewMessage, session?: ClientSession) {
    if (message.clientMsgId === undefined) return null;
    return this.messages.findOne(
      {
        tenant: message.tenant,
        senderId: message.senderId,
        clientMsgId: message.clientMsgId,
        receiverId: message.receiverId,
        time: { $gte: message.time - DEDUPE_WINDOW_MS },
      },
      { sort: { _id: -1 }, session },
    );
  }

  async readInbox(tenant: string, userId: string, since: number, limit: number): Promise<Page> {
    const entries = await this.inbox
      .find({ tenant, userId, seq: { $gt: since } }, { sort: { seq: 1 }, limit: limit + 1 })
      .toArray();
    const ids = entries.slice(0, limit).map((entry) => entry.messageId);
    const docs = await this.messages.find({ _id: { $in: ids } }).toArray();
    const byId = new Map(docs.map((doc) => [doc._id, doc]));
    // An entry whose message is gone belongs to a tenant being deleted.
    const messages = ids.flatMap((id) => {
      const doc = byId.get(id);
      return doc ? [toMessage(doc)] : [];
    });
    return { messages, hasMore: entries.length > limit };
  }

  async inboxHead(tenant: string, userId: string): Promise<number> {
    return (await this.inboxHeads.findOne({ tenant, userId }))?.seq ?? 0;
  }

  async readConversation(
    tenant: string,
    userA: string,
    userB: string,
    query: ConversationQuery,
  ): Promise<Page> {
    const conversation = conversationKey(userA, userB);
    const backwards = query.before !== undefined;
    const _id = backwards ? { $lt: Number(query.before) } : { $gt: Number(query.after ?? 0) };
    const docs = await this.messages
      .find(
        { tenant, conversation, _id },
        { sort: { _id: backwards ? -1 : 1 }, limit: query.limit + 1 },
      )
      .toArray();
    const messages = docs.slice(0, query.limit).map(toMessage);
    if (backwards) messages.reverse();
    return { messages, hasMore: docs.length > query.limit };
  }

  async revoke(tenant: string, userId: string, platform: string | undefined, at: number) {
    await this.revocations.updateOne(
      { tenant, userId, platform: platform ?? '' },
      { $max: { revokedAt: at } },
      { upsert: true },
    );
  }

  async revokedAt(tenant: string, userId: string, platform: string) {
    const docs = await this.revocations
      .find({ tenant, userId, platform: { $in: ['', platform] } })
      .toArray();
    return docs.length === 0 ? undefined : Math.max(...docs.map((doc) => doc.revokedAt));
  }

  async revocationsSince(at: number): Promise<Revocation[]> {
    const docs = await this.revocations.find({ revokedAt: { $gte: at } }).toArray();
    return docs.map((doc) => ({
      tenant: doc.tenant,
      userId: doc.userId,
      platform: doc.platform || undefined,
      revokedAt: doc.revokedAt,
    }));
  }

  async ping(): Promise<void> {
    await this.client.db('admin').command({ ping: 1 });
  }

  async close(): Promise<void> {
    await this.client.close();
  }
}

const DUPLICATE_KEY = 11000;

// The database is the path of the URL, as for the mongo shell; without one
// it is `prim` rather than the driver's default `test`.
export function databaseName(url: string): string {
  const address = url.slice(url.indexOf('://') + 3).split('?')[0]!;
  const slash = address.indexOf('/');
  return (slash < 0 ? '' : decodeURIComponent(address.slice(slash + 1))) || 'prim';
}

function isResend(message: NewMessage, earlier: NewMessage): boolean {
  return (
    message.clientMsgId !== undefined &&
    earlier.clientMsgId === message.clientMsgId &&
    earlier.tenant === message.tenant &&
    earlier.senderId === message.senderId &&
    earlier.receiverId === message.receiverId &&
    earlier.time >= message.time - DEDUPE_WINDOW_MS
  );
}

function toDoc(
  { clientMsgId, ...message }: NewMessage,
  id: number,
  [senderSeq, receiverSeq]: [number, number],
): MessageDoc {
  return {
    ...message,
    ...(clientMsgId === undefined ? {} : { clientMsgId }),
    _id: id,
    conversation: conversationKey(message.senderId, message.receiverId),
    senderSeq,
    receiverSeq,
  };
}

function toTenant(doc: TenantDoc): Tenant {
  return {
    account: doc._id,
    phone: doc.phone ?? undefined,
    secret: doc.secret,
    previousSecret: doc.previousSecret ?? undefined,
    secretRotatedAt: doc.secretRotatedAt ?? undefined,
    disabled: doc.disabled,
    createdAt: doc.createdAt,
  };
}

function toMessage(doc: MessageDoc): StoredMessage {
  return {
    id: String(doc._id),
    tenant: doc.tenant,
    senderId: doc.senderId,
    receiverId: doc.receiverId,
    message: doc.message,
    msgType: doc.msgType,
    msgContType: doc.msgContType,
    clientMsgId: doc.clientMsgId,
    senderNickname: doc.senderNickname,
    senderAvatar: doc.senderAvatar,
    time: doc.time,
    senderSeq: doc.senderSeq,
    receiverSeq: doc.receiverSeq,
  };
}
