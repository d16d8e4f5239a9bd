// RAII wrappers over SQLite: a Connection owns a sqlite3*, a Statement owns a sqlite3_stmt*,
// a Transaction rolls back unless committed. Every failure comes back as a Status whose message
// names the database file and SQLite's reason.
#ifndef OUTPOST_STORAGE_DB_H_
#define OUTPOST_STORAGE_DB_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "util/status.h"

struct sqlite3;
struct sqlite3_stmt;

namespace outpost::storage {

struct OpenOptions {
  bool read_only = false;
  bool create = false;  // create the file when missing (otherwise NotFound)
  int busy_timeout_ms = 5000;
  int wal_autocheckpoint_pages = 1000;
};

class Statement;

// One SQLite connection. Not thread-safe: use one Connection per thread, or guard it.
class Connection {
 public:
  // Opens `path` in WAL mode with foreign keys on and synchronous=FULL. Errors: NotFound when
  // the file is missing and !create; Corruption when the file is not a database.
  static Result<std::unique_ptr<Connection>> Open(const std::string& path,
                                                  const OpenOptions& options);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one or more statements that return no rows.
  Status Exec(std::string_view sql);
  // Prepares one statement; the Statement must not outlive this Connection. A statement of
  // the same text used before on this connection is reused from a small cache (reset, its
  // bindings cleared), which saves compiling the SQL again on every call.
  Result<Statement> Prepare(std::string_view sql);

  int64_t LastInsertRowId() const;
  int Changes() const;
  // True inside BEGIN ... COMMIT (SQLite may end a transaction by itself on some errors).
  bool InTransaction() const;
  const std::string& path() const { return path_; }
  sqlite3* handle() { return db_; }

  // A Status for SQLite result code `rc` on this connection, mapped to our codes (constraint
  // violations become AlreadyExists or InvalidArgument, SQLITE_CORRUPT/NOTADB Corruption,
  // SQLITE_FULL/IOERR IoError, SQLITE_BUSY Unavailable).
  Status Error(int rc, std::string_view what) const;

 private:
  friend class Statement;
  Connection(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  // Takes back a statement that is no longer used: cached when there is room, else finalized.
  void Release(std::string sql, sqlite3_stmt* stmt);

  static constexpr size_t kMaxCachedStatements = 256;
  sqlite3* db_;
  std::string path_;
  std::unordered_multimap<std::string, sqlite3_stmt*> cache_;  // idle statements by text
};

// A prepared statement. Move-only. Bind indexes start at 1, column indexes at 0.
class Statement {
 public:
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  Statement& Bind(int index, int64_t value);
  Statement& Bind(int index, std::string_view text);  // copied by SQLite
  Statement& BindBlob(int index, std::string_view bytes);
  Statement& BindNull(int index);

  // Advances: true when a row is available, false when done, an error Status on failure.
  Result<bool> Step();
  // Runs a statement that returns no rows to completion.
  Status Run();
  void Reset();

  int64_t ColumnInt64(int col) const;
  std::string ColumnText(int col) const;  // "" for NULL
  std::string ColumnBlob(int col) const;
  bool ColumnIsNull(int col) const;

 private:
  friend class Connection;
  Statement(Connection* conn, sqlite3_stmt* stmt, std::string sql)
      : conn_(conn), stmt_(stmt), sql_(std::move(sql)) {}
  void Release();

  Connection* conn_;
  sqlite3_stmt* stmt_;
  std::string sql_;    // the text it was prepared from: its key in the connection's cache
  Status bind_error_;  // the first failed Bind, reported by Step/Run
};

// BEGIN IMMEDIATE ... COMMIT; rolls back in the destructor unless Commit() succeeded.
class Transaction {
 public:
  explicit Transaction(Connection* conn) : conn_(conn) {}
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  Status Begin();
  Status Commit();

 private:
  Connection* conn_;
  bool open_ = false;
};

}  // namespace outpost::storage

#endif  // OUTPOST_STORAGE_DB_H_
