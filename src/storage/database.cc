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

Database::~Database() = default;

Status Database::Write(const std::function<Status(Connection&)>& fn) {
  std::lock_guard<std::mutex> lock(write_mu_);
  Transaction txn(writer_.get());
  OUTPOST_RETURN_IF_ERROR(txn.Begin());
  OUTPOST_RETURN_IF_ERROR(fn(*writer_));
  return txn.Commit();
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
  std::lock_guard<std::mutex> lock(write_mu_);
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
