// Versioned schema migrations, applied in order at start-up. The version
// lives in SQLite's user_version; a migration is never edited once shipped,
// a change is a new entry.
export const MIGRATIONS: string[] = [
  `
  CREATE TABLE tenants (
    account TEXT PRIMARY KEY,
    phone TEXT,
    secret TEXT NOT NULL,
    previous_secret TEXT,
    secret_rotated_at INTEGER,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  );

  -- AUTOINCREMENT so that ids are never reused after a tenant is deleted:
  -- clients page conversations by id.
  CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    conversation TEXT NOT NULL,
    sender_id TEXT NOT NULL,
    receiver_id TEXT NOT NULL,
    body TEXT NOT NULL,
    msg_type INTEGER NOT NULL,
    msg_cont_type INTEGER NOT NULL,
    client_msg_id TEXT,
    sender_nickname TEXT NOT NULL,
    sender_avatar TEXT NOT NULL,
    time INTEGER NOT NULL,
    sender_seq INTEGER NOT NULL,
    receiver_seq INTEGER NOT NULL
  );
  CREATE INDEX messages_conversation ON messages (tenant, conversation, id);
  CREATE INDEX messages_client_id ON messages (tenant, sender_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;

  CREATE TABLE inbox (
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (tenant, user_id, seq)
  ) WITHOUT ROWID;

  CREATE TABLE inbox_heads (
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (tenant, user_id)
  ) WITHOUT ROWID;

  -- platform '' means every platform.
  CREATE TABLE revocations (
    tenant TEXT NOT NULL,
    user_id TEXT NOT NULL,
    platform TEXT NOT NULL,
    revoked_at INTEGER NOT NULL,
    PRIMARY KEY (tenant, user_id, platform)
  ) WITHOUT ROWID;
  `,
  // 2: revocations by time, read by every node's sweep.
  `CREATE INDEX revocations_at ON revocations (revoked_at);`,
];
