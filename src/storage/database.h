// The appliance database: one write connection (writes are serialized, each in its own
// BEGIN IMMEDIATE transaction) and a small pool of read connections, so reads never wait for a
// writer (WAL). The front header of the storage layer.
#ifndef OUTPOST_STORAGE_DATABASE_H_
#define OUTPOST_STORAGE_DATABASE_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/db.h"

namespace outpost::storage {

class Database {
 public:
  // Opens (or with options.create, creates) the database at `path` and applies migrations.
  // Errors: NotFound (missing and !create), Corruption (not a database),
  // FailedPrecondition (schema from a newer version), IoError.
  static Result<std::unique_ptr<Database>> Open(const std::string& path,
                                                const OpenOptions& options);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  // Runs `fn` in a write transaction; commits when it returns OK, rolls back otherwise.
  // Thread-safe: writers run one at a time.
  Status Write(const std::function<Status(Connection&)>& fn);

  // Runs `fn` on a read-only connection from the pool (opened on demand). Thread-safe.
  Status Read(const std::function<Status(Connection&)>& fn);

  // Proves the database accepts a write right now (for /readyz).
  Status CheckWritable();

  // Copies the WAL into the main file and truncates it (on shutdown).
  Status Checkpoint();

  // Bytes used by the database file and its WAL.
  int64_t SizeBytes() const;

  const std::string& path() const { return path_; }

 private:
  Database(std::string path, OpenOptions options, std::unique_ptr<Connection> writer)
      : path_(std::move(path)), options_(options), writer_(std::move(writer)) {}

  const std::string path_;
  const OpenOptions options_;
  std::mutex write_mu_;
  std::unique_ptr<Connection> writer_;  // guarded by write_mu_
  std::mutex read_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;  // guarded by read_mu_
};

}  // namespace outpost::storage

#endif  // OUTPOST_STORAGE_DATABASE_H_
