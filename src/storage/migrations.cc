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
