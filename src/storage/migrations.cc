#include "storage/migrations.h"

#include <string>

namespace outpost::storage {
namespace {

// Append only: a released migration is never edited; a change is a new entry. Times are
// milliseconds since the Unix epoch (UTC); secrets are stored only as hashes.
constexpr const char* kMigrations[] = {
    // 1: accounts, sessions, API tokens, settings.
    R"sql(
CREATE TABLE users (
  id INTEGER PRIMARY KEY,
  username TEXT NOT NULL COLLATE NOCASE UNIQUE,
  display_name TEXT NOT NULL,
  role TEXT NOT NULL,
  password_hash TEXT,
  disabled INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  password_changed_at INTEGER
);
CREATE TABLE sessions (
  id INTEGER PRIMARY KEY,
  token_hash BLOB NOT NULL UNIQUE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  csrf_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  remote_addr TEXT NOT NULL DEFAULT '',
  user_agent TEXT NOT NULL DEFAULT ''
);
CREATE INDEX sessions_by_user ON sessions(user_id);
CREATE TABLE api_tokens (
  id INTEGER PRIMARY KEY,
  token_hash BLOB NOT NULL UNIQUE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER,
  expires_at INTEGER
);
CREATE INDEX api_tokens_by_user ON api_tokens(user_id);
CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE health (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  checked_at INTEGER NOT NULL
);
)sql",
    // 2: chat: rooms, members, messages with per-room sequence, edits, reactions, pins,
    // threads, notifications, full-text index, and the event log clients resume from.
    R"sql(
CREATE TABLE rooms (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('public', 'private', 'dm', 'group')),
  name TEXT COLLATE NOCASE,
  topic TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  read_only INTEGER NOT NULL DEFAULT 0,
  archived INTEGER NOT NULL DEFAULT 0,
  is_default INTEGER NOT NULL DEFAULT 0,
  dm_key TEXT UNIQUE,
  created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  last_seq INTEGER NOT NULL DEFAULT 0,
  last_message_at INTEGER
);
CREATE UNIQUE INDEX rooms_by_name ON rooms(name) WHERE name IS NOT NULL;
CREATE TABLE room_members (
  room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  role TEXT NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'moderator', 'member')),
  joined_at INTEGER NOT NULL,
  last_read_seq INTEGER NOT NULL DEFAULT 0,
  starred INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
CREATE INDEX room_members_by_user ON room_members(user_id, room_id);
CREATE TABLE messages (
  id INTEGER PRIMARY KEY,
  room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  author_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
  thread_root_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
  body TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  edited_at INTEGER,
  deleted_at INTEGER,
  client_id TEXT,
  reply_count INTEGER NOT NULL DEFAULT 0,
  last_reply_at INTEGER,
  has_file INTEGER NOT NULL DEFAULT 0,
  pinned_at INTEGER,
  pinned_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
  UNIQUE (room_id, seq)
);
CREATE INDEX messages_timeline ON messages(room_id, seq) WHERE thread_root_id IS NULL;
CREATE INDEX messages_thread ON messages(thread_root_id, seq) WHERE thread_root_id IS NOT NULL;
CREATE INDEX messages_pinned ON messages(room_id, pinned_at) WHERE pinned_at IS NOT NULL;
CREATE INDEX messages_by_author ON messages(author_id, id);
CREATE UNIQUE INDEX messages_idempotency ON messages(author_id, client_id)
  WHERE client_id IS NOT NULL;
CREATE TABLE message_edits (
  id INTEGER PRIMARY KEY,
  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('edit', 'delete')),
  old_body TEXT NOT NULL,
  changed_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
  changed_at INTEGER NOT NULL
);
CREATE INDEX message_edits_by_message ON message_edits(message_id, id);
CREATE TABLE reactions (
  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  emoji TEXT NOT NULL,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (message_id, emoji, user_id)
) WITHOUT ROWID;
CREATE TABLE thread_follows (
  root_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  following INTEGER NOT NULL,
  PRIMARY KEY (root_id, user_id)
) WITHOUT ROWID;
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  seq INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('user', 'here', 'all', 'dm', 'thread')),
  created_at INTEGER NOT NULL
);
CREATE INDEX notifications_by_user ON notifications(user_id, id);
CREATE INDEX notifications_unread ON notifications(user_id, room_id, seq);
CREATE VIRTUAL TABLE messages_fts USING fts5(
  body, content = 'messages', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2',
  prefix = '2 3 4'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages WHEN new.deleted_at IS NULL BEGIN
  INSERT INTO messages_fts(rowid, body) VALUES (new.id, new.body);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF body, deleted_at ON messages BEGIN
  INSERT INTO messages_fts(messages_fts, rowid, body)
    SELECT 'delete', old.id, old.body WHERE old.deleted_at IS NULL;
  INSERT INTO messages_fts(rowid, body) SELECT new.id, new.body WHERE new.deleted_at IS NULL;
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages WHEN old.deleted_at IS NULL BEGIN
  INSERT INTO messages_fts(messages_fts, rowid, body) VALUES ('delete', old.id, old.body);
END;
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  room_id INTEGER NOT NULL DEFAULT 0,
  user_id INTEGER NOT NULL DEFAULT 0,
  also_user_id INTEGER NOT NULL DEFAULT 0,
  type TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX events_by_room ON events(room_id, seq);
CREATE INDEX events_by_user ON events(user_id, seq) WHERE user_id != 0;
)sql",
    // 3: the tamper-evident audit log (domain/audit.h): hash-chained records and signed
    // checkpoints. Triggers make both append-only for everything that goes through SQLite
    // politely; the chain and the signatures catch everything else.
    R"sql(
CREATE TABLE audit_records (
  seq INTEGER PRIMARY KEY,
  ts_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  actor_id INTEGER NOT NULL DEFAULT 0,
  source_ip TEXT NOT NULL DEFAULT '',
  action TEXT NOT NULL,
  target TEXT NOT NULL DEFAULT '',
  outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
  details TEXT NOT NULL DEFAULT '{}',
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL
);
CREATE INDEX audit_records_by_actor ON audit_records(actor COLLATE NOCASE, seq);
CREATE INDEX audit_records_by_time ON audit_records(ts_ms);
CREATE TABLE audit_checkpoints (
  seq INTEGER PRIMARY KEY,
  hash BLOB NOT NULL,
  ts_ms INTEGER NOT NULL,
  signature BLOB NOT NULL,
  key_id TEXT NOT NULL
);
CREATE TRIGGER audit_records_no_update BEFORE UPDATE ON audit_records BEGIN
  SELECT RAISE(ABORT, 'audit records are append-only');
END;
CREATE TRIGGER audit_records_no_delete BEFORE DELETE ON audit_records BEGIN
  SELECT RAISE(ABORT, 'audit records are append-only');
END;
CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints BEGIN
  SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;
CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints BEGIN
  SELECT RAISE(ABORT, 'audit checkpoints are append-only');
END;
)sql",
    // 4: files. A blob is stored once per content (name: keyed BLAKE2b of the plaintext); its
    // own key is kept only wrapped by the master key. A files row is one upload, attached to
    // the message it created; deleting the message removes its files rows (the trigger), and
    // the blob goes from disk when no row refers to it (domain/files.cc).
    R"sql(
CREATE TABLE blobs (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  wrapped_key BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE files (
  id INTEGER PRIMARY KEY,
  message_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
  room_id INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
  uploader_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
  name TEXT NOT NULL,
  size INTEGER NOT NULL,
  content_type TEXT NOT NULL,
  blob_id INTEGER NOT NULL REFERENCES blobs(id),
  width INTEGER,
  height INTEGER,
  created_at INTEGER NOT NULL
);
CREATE INDEX files_by_room ON files(room_id, id);
CREATE INDEX files_by_message ON files(message_id);
CREATE INDEX files_by_uploader ON files(uploader_id);
CREATE INDEX files_by_blob ON files(blob_id);
CREATE TRIGGER files_follow_message_delete AFTER UPDATE OF deleted_at ON messages
WHEN NEW.deleted_at IS NOT NULL BEGIN
  DELETE FROM files WHERE message_id = NEW.id;
END;
)sql",
    // 5: per-room retention (domain/retention.h). A NULL column follows the global [retention]
    // setting; 0 keeps that room's content forever.
    R"sql(
CREATE TABLE room_retention (
  room_id INTEGER PRIMARY KEY REFERENCES rooms(id) ON DELETE CASCADE,
  messages_days INTEGER CHECK (messages_days BETWEEN 0 AND 36500),
  files_days INTEGER CHECK (files_days BETWEEN 0 AND 36500),
  updated_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
  updated_at INTEGER NOT NULL
);
)sql",
    // 6: roles (domain/permissions.h). Built-in roles are rows too, so that users.role always
    // names a row, but their permission sets live in code; role_permissions holds those of
    // custom roles, by catalogue name. The triggers keep built-in roles as they are, refuse to
    // delete a role that accounts hold, and refuse an account an unknown role.
    R"sql(
CREATE TABLE roles (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  built_in INTEGER NOT NULL DEFAULT 0 CHECK (built_in IN (0, 1)),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE role_permissions (
  role_id TEXT NOT NULL REFERENCES roles(id) ON DELETE CASCADE,
  permission TEXT NOT NULL,
  PRIMARY KEY (role_id, permission)
) WITHOUT ROWID;
INSERT INTO roles (id, name, description, built_in, created_at, updated_at) VALUES
  ('admin', 'Administrator', '', 1, 0, 0),
  ('user-manager', 'User manager', '', 1, 0, 0),
  ('moderator', 'Moderator', '', 1, 0, 0),
  ('user', 'User', '', 1, 0, 0),
  ('guest', 'Guest', '', 1, 0, 0),
  ('auditor', 'Auditor', '', 1, 0, 0),
  ('bot', 'Bot', '', 1, 0, 0);
CREATE TRIGGER roles_built_in_kept_on_update BEFORE UPDATE ON roles WHEN OLD.built_in = 1
BEGIN SELECT RAISE(ABORT, 'built-in roles cannot be changed'); END;
CREATE TRIGGER roles_built_in_kept_on_delete BEFORE DELETE ON roles WHEN OLD.built_in = 1
BEGIN SELECT RAISE(ABORT, 'built-in roles cannot be deleted'); END;
CREATE TRIGGER roles_in_use_kept BEFORE DELETE ON roles
WHEN EXISTS (SELECT 1 FROM users WHERE role = OLD.id)
BEGIN SELECT RAISE(ABORT, 'a role that accounts hold cannot be deleted'); END;
CREATE TRIGGER role_permissions_not_for_built_in BEFORE INSERT ON role_permissions
WHEN (SELECT built_in FROM roles WHERE id = NEW.role_id) = 1
BEGIN SELECT RAISE(ABORT, 'built-in roles cannot be changed'); END;
CREATE TRIGGER users_role_known_on_insert BEFORE INSERT ON users
WHEN NOT EXISTS (SELECT 1 FROM roles WHERE id = NEW.role)
BEGIN SELECT RAISE(ABORT, 'unknown role'); END;
CREATE TRIGGER users_role_known_on_update BEFORE UPDATE OF role ON users
WHEN NOT EXISTS (SELECT 1 FROM roles WHERE id = NEW.role)
BEGIN SELECT RAISE(ABORT, 'unknown role'); END;
)sql",
    // 7: two-factor authentication (domain/totp.h): the TOTP secret sealed under a key derived
    // from the master key, the last time step used (replay refusal), and recovery codes as
    // keyed hashes.
    R"sql(
CREATE TABLE user_totp (
  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  secret_sealed BLOB NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
  last_step INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  enabled_at INTEGER
);
CREATE TABLE recovery_codes (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  code_hash BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  used_at INTEGER
);
CREATE INDEX recovery_codes_by_user ON recovery_codes(user_id);
)sql",
    // 8: lockout and password history (domain/accounts.h). login_failures keeps the failed
    // sign-ins of the last hour (the lockout window and the hourly cap count them); its ids
    // only grow (AUTOINCREMENT), so a lock row's counted_after_id makes every failure before an
    // unlock or a good sign-in stop counting, even within the same millisecond;
    // password_history keeps the argon2id hashes of replaced passwords (stig: no reuse).
    R"sql(
CREATE TABLE login_failures (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  at INTEGER NOT NULL
);
CREATE INDEX login_failures_by_user ON login_failures(user_id, at);
CREATE TABLE account_lockouts (
  user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
  counted_after_id INTEGER NOT NULL DEFAULT 0,
  locked_at INTEGER,
  locked_until INTEGER
);
CREATE TABLE password_history (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  password_hash TEXT NOT NULL,
  replaced_at INTEGER NOT NULL
);
CREATE INDEX password_history_by_user ON password_history(user_id, id);
)sql",
    // 9: smart-card identities (domain/cert_identity.h): a certificate identity (UPN, email or
    // subject DN) bound by an administrator to one account. upn and email values are stored in
    // lower case; one identity maps to at most one account.
    R"sql(
CREATE TABLE cert_identities (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('upn', 'email', 'subject')),
  value TEXT NOT NULL CHECK (length(value) BETWEEN 1 AND 1024),
  created_at INTEGER NOT NULL,
  UNIQUE (kind, value)
);
CREATE INDEX cert_identities_by_user ON cert_identities(user_id);
)sql",
    // 10: a password set by an administrator under the stig profile is temporary: the account
    // may only change it at its next sign-in (domain/accounts.h, PasswordChangeRequired).
    R"sql(
ALTER TABLE users ADD COLUMN password_temporary INTEGER NOT NULL DEFAULT 0;
)sql",
};

}  // namespace

int LatestSchemaVersion() { return static_cast<int>(std::size(kMigrations)); }

Result<int> SchemaVersion(Connection* conn) {
  OUTPOST_ASSIGN_OR_RETURN(Statement stmt, conn->Prepare("PRAGMA user_version"));
  OUTPOST_ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return Status::Internal("PRAGMA user_version returned no row");
  return static_cast<int>(stmt.ColumnInt64(0));
}

Status Migrate(Connection* conn) {
  Transaction txn(conn);
  OUTPOST_RETURN_IF_ERROR(txn.Begin());
  OUTPOST_ASSIGN_OR_RETURN(int version, SchemaVersion(conn));
  const int latest = LatestSchemaVersion();
  if (version > latest) {
    return Status::FailedPrecondition(
        "database " + conn->path() + " has schema version " + std::to_string(version) +
        ", newer than this outpost understands (" + std::to_string(latest) +
        "): run the newer outpost binary, or restore a backup made by this version");
  }
  if (version == latest) return Status::Ok();
  for (int v = version; v < latest; ++v) {
    Status st = conn->Exec(kMigrations[v]);
    if (!st.ok()) return st.WithContext("migration " + std::to_string(v + 1));
  }
  OUTPOST_RETURN_IF_ERROR(conn->Exec("PRAGMA user_version=" + std::to_string(latest)));
  return txn.Commit();
}

}  // namespace outpost::storage
