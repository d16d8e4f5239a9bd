#include "storage/database.h"

#include <sys/stat.h>

#include "storage/migrations.h"
#include "util/clock.h"

namespace outpost::storage {
namespace {

// Read connections kept open between requests; more are opened under load and closed after.
constexpr size_t kMaxIdleReaders = 8;

}  // namespace

Result<std::unique_ptr<Database>> Database::Open(const std::string& path,
                                                 const OpenOptions& options) {
  OpenOptions write_options = options;
  write_options.read_only = false;
  OUTPOST_ASSIGN_OR_RETURN(std::unique_ptr<Connection> writer,
                           Connection::Open(path, write_options));
  OUTPOST_RETURN_IF_ERROR(Migrate(writer.get()));
  return std::unique_ptr<Database>(new Database(path, options, std::move(writer)));
}

struct Database::PendingWrite {
  const std::function<Status(Connection&)>* fn;
  const std::function<void()>* on_commit;  // null or empty: nothing to run
  Status result = Status::Ok();
  bool done = false;                  // guarded by queue_mu_
  std::condition_variable done_cv;    // its caller waits here: a commit wakes only its own
};

namespace {

// Runs one statement through the connection's statement cache (no parsing after the first).
Status RunCached(Connection& conn, const char* sql) {
  OUTPOST_ASSIGN_OR_RETURN(Statement stmt, conn.Prepare(sql));
  return stmt.Run();
}

// The writer thread's id, so that a Write from inside a write fails instead of waiting forever.
thread_local const Database* tls_writing_for = nullptr;

}  // namespace

Database::Database(std::string path, OpenOptions options, std::unique_ptr<Connection> writer)
    : path_(std::move(path)), options_(options), writer_(std::move(writer)) {
  writer_thread_ = std::thread([this] { RunWriter(); });
}

Database::~Database() {
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  writer_thread_.join();
}

Status Database::Write(const std::function<Status(Connection&)>& fn,
                       const std::function<void()>& on_commit) {
  if (tls_writing_for == this) return Status::Internal("a database write inside a write");
  PendingWrite w{&fn, &on_commit};
  std::unique_lock<std::mutex> lock(queue_mu_);
  if (stopping_) return Status::Unavailable("the database is closing");
  queue_.push_back(&w);
  if (queue_.size() == 1) queue_cv_.notify_one();
  w.done_cv.wait(lock, [&w] { return w.done; });
  return w.result;
}

void Database::RunWriter() {
  tls_writing_for = this;
  std::vector<PendingWrite*> batch;
  while (true) {
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      // Pending writes are finished before stopping: their callers are waiting.
      if (queue_.empty()) return;
      batch.assign(queue_.begin(), queue_.end());
      queue_.clear();
    }
    {
      std::lock_guard<std::mutex> lock(conn_mu_);
      CommitBatch(batch);
    }
    std::lock_guard<std::mutex> lock(queue_mu_);
    for (PendingWrite* w : batch) {
      w->done = true;
      w->done_cv.notify_one();  // under the lock: `w` lives on its caller's stack
    }
  }
}

// Runs each change in its own savepoint so that one failing change undoes only itself, then
// commits them all at once. Some SQLite errors (a full disk, I/O errors) roll back the whole
// transaction by themselves; the changes already run in it are then lost too and are answered
// with that error, and the rest of the batch goes on in a new transaction.
void Database::CommitBatch(std::vector<PendingWrite*>& batch) {
  Connection& conn = *writer_;
  std::vector<PendingWrite*> in_txn;  // changes that succeeded in the open transaction
  bool open = false;

  auto fail_open = [&](const Status& st) {
    for (PendingWrite* w : in_txn) w->result = st;
    in_txn.clear();
    open = false;
  };
  for (PendingWrite* w : batch) {
    if (!open) {
      Status begin = RunCached(conn, "BEGIN IMMEDIATE");
      if (!begin.ok()) {
        w->result = begin;
        continue;
      }
      open = true;
    }
    Status st = RunCached(conn, "SAVEPOINT w");
    if (st.ok()) st = (*w->fn)(conn);
    if (st.ok()) st = RunCached(conn, "RELEASE w");
    if (st.ok()) {
      in_txn.push_back(w);
      continue;
    }
    w->result = st;
    if (conn.InTransaction()) {
      Status undo = conn.Exec("ROLLBACK TO w; RELEASE w");
      if (undo.ok()) continue;
      (void)conn.Exec("ROLLBACK");
      fail_open(undo);
    } else {
      fail_open(st);  // SQLite rolled back everything already
    }
  }
  if (open) {
    Status commit = RunCached(conn, "COMMIT");
    if (!commit.ok()) {
      if (conn.InTransaction()) (void)conn.Exec("ROLLBACK");
      fail_open(commit);
    }
  }
  uint64_t ok = 0;
  for (PendingWrite* w : in_txn) {
    ++ok;
    if (*w->on_commit) (*w->on_commit)();
  }
  if (ok > 0) {
    commits_.fetch_add(1, std::memory_order_relaxed);
    writes_.fetch_add(ok, std::memory_order_relaxed);
    if (ok > max_batch_.load(std::memory_order_relaxed)) {
      max_batch_.store(ok, std::memory_order_relaxed);
    }
  }
  failed_.fetch_add(batch.size() - ok, std::memory_order_relaxed);
}

Database::WriterStats Database::writer_stats() const {
  WriterStats s;
  s.commits = commits_.load(std::memory_order_relaxed);
  s.writes = writes_.load(std::memory_order_relaxed);
  s.failed = failed_.load(std::memory_order_relaxed);
  s.max_batch = max_batch_.load(std::memory_order_relaxed);
  return s;
}

Status Database::Read(const std::function<Status(Connection&)>& fn) {
  std::unique_ptr<Connection> conn;
  {
    std::lock_guard<std::mutex> lock(read_mu_);
    if (!idle_readers_.empty()) {
      conn = std::move(idle_readers_.back());
      idle_readers_.pop_back();
    }
  }
  if (conn == nullptr) {
    OpenOptions ro = options_;
    ro.read_only = true;
    ro.create = false;
    OUTPOST_ASSIGN_OR_RETURN(conn, Connection::Open(path_, ro));
  }
  // Each read runs in its own snapshot so that a multi-statement read is consistent.
  Status st = conn->Exec("BEGIN");
  if (st.ok()) {
    st = fn(*conn);
    Status end = conn->Exec("COMMIT");
    if (st.ok()) st = end;
  }
  std::lock_guard<std::mutex> lock(read_mu_);
  if (idle_readers_.size() < kMaxIdleReaders) idle_readers_.push_back(std::move(conn));
  return st;
}

Status Database::CheckWritable() {
  return Write([](Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        Statement stmt,
        conn.Prepare("INSERT INTO health(id, checked_at) VALUES(1, ?) "
                     "ON CONFLICT(id) DO UPDATE SET checked_at=excluded.checked_at"));
    stmt.Bind(1, SystemClock()->NowMillis());
    return stmt.Run();
  });
}

Status Database::Checkpoint() {
  std::lock_guard<std::mutex> lock(conn_mu_);
  return writer_->Exec("PRAGMA wal_checkpoint(TRUNCATE)");
}

int64_t Database::SizeBytes() const {
  int64_t total = 0;
  struct stat st;
  if (stat(path_.c_str(), &st) == 0) total += st.st_size;
  if (stat((path_ + "-wal").c_str(), &st) == 0) total += st.st_size;
  return total;
}

}  // namespace outpost::storage
