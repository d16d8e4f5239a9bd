// The appliance database: one write connection owned by a writer thread, and a small pool of
// read connections, so reads never wait for a writer (WAL).
//
// Writes are group-committed: callers queue their change and wait; the writer thread takes
// every change queued so far, runs each inside its own savepoint of one BEGIN IMMEDIATE
// transaction, commits once (one fsync with synchronous=FULL) and then wakes every caller with
// its own result. A write is therefore acknowledged only once it is on disk, and a hundred
// concurrent writers cost about one fsync, not a hundred. The front header of the storage layer.
#ifndef OUTPOST_STORAGE_DATABASE_H_
#define OUTPOST_STORAGE_DATABASE_H_

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
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

  // Runs `fn` on the writer thread inside a write transaction it may share with other callers'
  // changes, and returns once that transaction is durably committed (OK) or `fn`'s changes are
  // rolled back (its error, or the commit's). A failing `fn` undoes only its own changes.
  // `on_commit`, when given, runs on the writer thread right after the commit, in commit order
  // across all callers, before Write returns; it must be quick and must not write.
  // `fn` must not call Write (an Internal error). Thread-safe.
  Status Write(const std::function<Status(Connection&)>& fn,
               const std::function<void()>& on_commit = nullptr);

  // Runs `fn` on a read-only connection from the pool (opened on demand). Thread-safe.
  Status Read(const std::function<Status(Connection&)>& fn);

  // Proves the database accepts a write right now (for /readyz).
  Status CheckWritable();

  // Copies the WAL into the main file and truncates it (on shutdown).
  Status Checkpoint();

  // Bytes used by the database file and its WAL.
  int64_t SizeBytes() const;

  const std::string& path() const { return path_; }

  // Group commit counters, for /metrics.
  struct WriterStats {
    uint64_t commits = 0;    // transactions committed (one fsync each)
    uint64_t writes = 0;     // changes committed in them
    uint64_t failed = 0;     // changes rolled back
    uint64_t max_batch = 0;  // most changes in one transaction so far
  };
  WriterStats writer_stats() const;

 private:
  struct PendingWrite;

  Database(std::string path, OpenOptions options, std::unique_ptr<Connection> writer);
  void RunWriter();
  void CommitBatch(std::vector<PendingWrite*>& batch);

  const std::string path_;
  const OpenOptions options_;

  // The write connection: used by the writer thread, and by Checkpoint.
  std::mutex conn_mu_;
  std::unique_ptr<Connection> writer_;  // guarded by conn_mu_

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;  // the writer waits for work
  std::deque<PendingWrite*> queue_;   // guarded by queue_mu_
  bool stopping_ = false;             // guarded by queue_mu_
  std::atomic<uint64_t> commits_{0}, writes_{0}, failed_{0}, max_batch_{0};
  std::thread writer_thread_;

  std::mutex read_mu_;
  std::vector<std::unique_ptr<Connection>> idle_readers_;  // guarded by read_mu_
};

}  // namespace outpost::storage

#endif  // OUTPOST_STORAGE_DATABASE_H_
