// The embedded default store: one SQLite file in WAL mode. Several processes
// on one host may open the same file (nodes of a test cluster, the CLI next
// to a running node): every write takes SQLite's write lock up front
// (BEGIN IMMEDIATE), which is what keeps inboxSeq gapless across them.
import { closeSync, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { PrimError } from '../../errors.js';
import {
  conversationKey,
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
import { MIGRATIONS } from './migrations.js';

interface TenantRow {
  account: string;
  phone: string | null;
  secret: string;
  previous_secret: string | null;
  secret_rotated_at: number | null;
  disabled: number;
  created_at: number;
}

interface RevocationRow {
  tenant: string;
  user_id: string;
  platform: string;
  revoked_at: number;
}

interface MessageRow {
  id: number;
  tenant: string;
  sender_id: string;
  receiver_id: string;
  body: string;
  msg_type: number;
  msg_cont_type: number;
  client_msg_id: string | null;
  sender_nickname: string;
  sender_avatar: string;
  time: number;
  sender_seq: number;
  receiver_seq: number;
}

const MESSAGE_COLUMNS =
  'm.id, m.tenant, m.sender_id, m.receiver_id, m.body, m.msg_type, ' +
  'm.msg_cont_type, m.client_msg_id, m.sender_nickname, m.sender_avatar, ' +
  'm.time, m.sender_seq, m.receiver_seq';

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  private readonly db: Database.Database;
  private readonly statements;
  private readonly appendTransaction;

  constructor(file: string) {
    if (file !== ':memory:') {
      // The store holds every tenant's secret: readable by its owner only.
      // SQLite gives the -wal and -shm files the mode of the database file.
      mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
      closeSync(openSync(file, 'a', 0o600));
    }
    this.db = new Database(file);
    // Another process may hold the write lock for a moment; wait instead of
    // failing with SQLITE_BUSY.
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('journal_mode = WAL');
    // FULL: an acknowledged message survives a power cut, not only a crash.
    this.db.pragma('synchronous = FULL');
    try {
      this.migrate();
    } catch (err) {
      this.db.close();
      throw err;
    }

    const db = this.db;
    this.statements = {
      insertTenant: db.prepare(
        'INSERT INTO tenants (account, phone, secret, created_at) VALUES (?, ?, ?, ?)',
      ),
      getTenant: db.prepare<[string], TenantRow>('SELECT * FROM tenants WHERE account = ?'),
      listTenants: db.prepare<[number, number], TenantRow>(
        'SELECT * FROM tenants ORDER BY account LIMIT ? OFFSET ?',
      ),
      countTenants: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM tenants'),
      tenantExists: db.prepare<[string], { one: number }>(
        'SELECT 1 AS one FROM tenants WHERE account = ?',
      ),
      findDuplicate: db.prepare<[string, string, string, string, number], MessageRow>(
        `SELECT ${MESSAGE_COLUMNS} FROM messages m
         WHERE m.tenant = ? AND m.sender_id = ? AND m.client_msg_id = ?
           AND m.receiver_id = ? AND m.time >= ?
         ORDER BY m.id DESC LIMIT 1`,
      ),
      nextSeq: db.prepare<[string, string], { seq: number }>(
        `INSERT INTO inbox_heads (tenant, user_id, seq) VALUES (?, ?, 1)
         ON CONFLICT (tenant, user_id) DO UPDATE SET seq = seq + 1
         RETURNING seq`,
      ),
      insertMessage: db.prepare(
        `INSERT INTO messages (tenant, conversation, sender_id, receiver_id, body,
           msg_type, msg_cont_type, client_msg_id, sender_nickname, sender_avatar,
           time, sender_seq, receiver_seq)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertInbox: db.prepare(
        'INSERT INTO inbox (tenant, user_id, seq, message_id) VALUES (?, ?, ?, ?)',
      ),
      readInbox: db.prepare<[string, string, number, number], MessageRow>(
        `SELECT ${MESSAGE_COLUMNS} FROM inbox i JOIN messages m ON m.id = i.message_id
         WHERE i.tenant = ? AND i.user_id = ? AND i.seq > ?
         ORDER BY i.seq LIMIT ?`,
      ),
      inboxHead: db.prepare<[string, string], { seq: number }>(
        'SELECT seq FROM inbox_heads WHERE tenant = ? AND user_id = ?',
      ),
      conversationAfter: db.prepare<[string, string, number, number], MessageRow>(
        `SELECT ${MESSAGE_COLUMNS} FROM messages m
         WHERE m.tenant = ? AND m.conversation = ? AND m.id > ?
         ORDER BY m.id LIMIT ?`,
      ),
      conversationBefore: db.prepare<[string, string, number, number], MessageRow>(
        `SELECT ${MESSAGE_COLUMNS} FROM messages m
         WHERE m.tenant = ? AND m.conversation = ? AND m.id < ?
         ORDER BY m.id DESC LIMIT ?`,
      ),
      revoke: db.prepare(
        `INSERT INTO revocations (tenant, user_id, platform, revoked_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (tenant, user_id, platform)
         DO UPDATE SET revoked_at = MAX(revoked_at, excluded.revoked_at)`,
      ),
      revokedAt: db.prepare<[string, string, string], { at: number | null }>(
        `SELECT MAX(revoked_at) AS at FROM revocations
         WHERE tenant = ? AND user_id = ? AND platform IN ('', ?)`,
      ),
      revocationsSince: db.prepare<[number], RevocationRow>(
        `SELECT tenant, user_id, platform, revoked_at FROM revocations WHERE revoked_at >= ?`,
      ),
    };
    this.appendTransaction = db.transaction((batch: NewMessage[]) =>
      batch.map((message) => this.appendOne(message)),
    );
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new PrimError(
        'SERVER_ERROR',
        `the store is at schema version ${version}, newer than this prim ` +
          `(${MIGRATIONS.length}); upgrade prim`,
      );
    }
    const pending = MIGRATIONS.slice(version);
    if (pending.length === 0) return;
    this.db
      .transaction(() => {
        // Checked again under the write lock: another process may have
        // migrated while this one waited.
        const now = this.db.pragma('user_version', { simple: true }) as number;
        MIGRATIONS.slice(now).forEach((sql) => this.db.exec(sql));
        this.db.pragma(`user_version = ${MIGRATIONS.length}`);
      })
      .immediate();
  }

  async createTenant(tenant: NewTenant): Promise<Tenant> {
    try {
      this.statements.insertTenant.run(
        tenant.account,
        tenant.phone ?? null,
        tenant.secret,
        tenant.createdAt,
      );
    } catch (err) {
      if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
        throw new PrimError('TENANT_EXISTS', `tenant "${tenant.account}" already exists`);
      }
      throw err;
    }
    return (await this.getTenant(tenant.account)) as Tenant;
  }

  async getTenant(account: string): Promise<Tenant | undefined> {
    const row = this.statements.getTenant.get(account);
    return row && toTenant(row);
  }

  async listTenants(offset: number, limit: number) {
    const rows = this.statements.listTenants.all(limit, offset);
    const total = this.statements.countTenants.get()?.n ?? 0;
    return { tenants: rows.map(toTenant), total };
  }

  async updateTenant(account: string, patch: TenantPatch): Promise<Tenant | undefined> {
    const columns: Record<keyof TenantPatch, string> = {
      secret: 'secret',
      previousSecret: 'previous_secret',
      secretRotatedAt: 'secret_rotated_at',
      disabled: 'disabled',
    };
    const keys = Object.keys(patch) as (keyof TenantPatch)[];
    if (keys.length > 0) {
      const sets = keys.map((key) => `${columns[key]} = ?`).join(', ');
      const values = keys.map((key) => {
        const value = patch[key];
        return typeof value === 'boolean' ? Number(value) : (value ?? null);
      });
      this.db.prepare(`UPDATE tenants SET ${sets} WHERE account = ?`).run(...values, account);
    }
    return this.getTenant(account);
  }

  async deleteTenant(account: string): Promise<boolean> {
    const remove = this.db.transaction(() => {
      for (const table of ['messages', 'inbox', 'inbox_heads', 'revocations']) {
        this.db.prepare(`DELETE FROM ${table} WHERE tenant = ?`).run(account);
      }
      return this.db.prepare('DELETE FROM tenants WHERE account = ?').run(account).changes > 0;
    });
    return remove.immediate();
  }

  async appendMessages(batch: NewMessage[]): Promise<Array<AppendResult | undefined>> {
    return this.appendTransaction.immediate(batch);
  }

  // Runs inside the write transaction, so a tenant deleted by another
  // process is either still there or already gone, never half of each.
  private appendOne(message: NewMessage): AppendResult | undefined {
    const s = this.statements;
    if (!s.tenantExists.get(message.tenant)) return undefined;
    if (message.clientMsgId !== undefined) {
      const earlier = s.findDuplicate.get(
        message.tenant,
        message.senderId,
        message.clientMsgId,
        message.receiverId,
        message.time - DEDUPE_WINDOW_MS,
      );
      if (earlier) return { message: toMessage(earlier), duplicate: true };
    }

    const senderSeq = s.nextSeq.get(message.tenant, message.senderId)!.seq;
    const toSelf = message.receiverId === message.senderId;
    const receiverSeq = toSelf ? senderSeq : s.nextSeq.get(message.tenant, message.receiverId)!.seq;
    const { lastInsertRowid } = s.insertMessage.run(
      message.tenant,
      conversationKey(message.senderId, message.receiverId),
      message.senderId,
      message.receiverId,
      message.message,
      message.msgType,
      message.msgContType,
      message.clientMsgId ?? null,
      message.senderNickname,
      message.senderAvatar,
      message.time,
      senderSeq,
      receiverSeq,
    );
    s.insertInbox.run(message.tenant, message.senderId, senderSeq, lastInsertRowid);
    if (!toSelf) {
      s.insertInbox.run(message.tenant, message.receiverId, receiverSeq, lastInsertRowid);
    }
    return {
      message: { ...message, id: String(lastInsertRowid), senderSeq, receiverSeq },
      duplicate: false,
    };
  }

  async readInbox(tenant: string, userId: string, since: number, limit: number): Promise<Page> {
    const rows = this.statements.readInbox.all(tenant, userId, since, limit + 1);
    return toPage(rows, limit);
  }

  async inboxHead(tenant: string, userId: string): Promise<number> {
    return this.statements.inboxHead.get(tenant, userId)?.seq ?? 0;
  }

  async readConversation(
    tenant: string,
    userA: string,
    userB: string,
    query: ConversationQuery,
  ): Promise<Page> {
    const key = conversationKey(userA, userB);
    if (query.before !== undefined) {
      const rows = this.statements.conversationBefore.all(
        tenant,
        key,
        Number(query.before),
        query.limit + 1,
      );
      const page = toPage(rows, query.limit);
      page.messages.reverse();
      return page;
    }
    const after = query.after === undefined ? 0 : Number(query.after);
    return toPage(
      this.statements.conversationAfter.all(tenant, key, after, query.limit + 1),
      query.limit,
    );
  }

  async revoke(tenant: string, userId: string, platform: string | undefined, at: number) {
    this.statements.revoke.run(tenant, userId, platform ?? '', at);
  }

  async revokedAt(tenant: string, userId: string, platform: string) {
    return this.statements.revokedAt.get(tenant, userId, platform)?.at ?? undefined;
  }

  async revocationsSince(at: number): Promise<Revocation[]> {
    return this.statements.revocationsSince.all(at).map((row) => ({
      tenant: row.tenant,
      userId: row.user_id,
      platform: row.platform || undefined,
      revokedAt: row.revoked_at,
    }));
  }

  async ping(): Promise<void> {
    this.db.prepare('SELECT 1').get();
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

function toTenant(row: TenantRow): Tenant {
  return {
    account: row.account,
    phone: row.phone ?? undefined,
    secret: row.secret,
    previousSecret: row.previous_secret ?? undefined,
    secretRotatedAt: row.secret_rotated_at ?? undefined,
    disabled: row.disabled === 1,
    createdAt: row.created_at,
  };
}

function toMessage(row: MessageRow): StoredMessage {
  return {
    id: String(row.id),
    tenant: row.tenant,
    senderId: row.sender_id,
    receiverId: row.receiver_id,
    message: row.body,
    msgType: row.msg_type,
    msgContType: row.msg_cont_type,
    clientMsgId: row.client_msg_id ?? undefined,
    senderNickname: row.sender_nickname,
    senderAvatar: row.sender_avatar,
    time: row.time,
    senderSeq: row.sender_seq,
    receiverSeq: row.receiver_seq,
  };
}

// Rows were read with limit + 1 to learn whether more follow.
function toPage(rows: MessageRow[], limit: number): Page {
  return { messages: rows.slice(0, limit).map(toMessage), hasMore: rows.length > limit };
}
