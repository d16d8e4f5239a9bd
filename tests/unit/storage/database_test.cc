#include <catch2/catch.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "storage/database.h"
#include "storage/migrations.h"
#include "support/temp_dir.h"
#include "util/fs.h"

namespace outpost::storage {
namespace {

using testing::TempDir;

OpenOptions Create() {
  OpenOptions o;
  o.create = true;
  return o;
}

TEST_CASE("a new database is created in WAL mode with foreign keys and the latest schema",
          "[unit][storage]") {
  TempDir dir;
  auto db = Database::Open(dir.Sub("o.db"), Create());
  REQUIRE(db.ok());
  REQUIRE((*db)->Read([](Connection& c) {
    auto mode = c.Prepare("PRAGMA journal_mode");
    REQUIRE(mode.ok());
    REQUIRE(*mode->Step());
    CHECK(mode->ColumnText(0) == "wal");
    auto fk = c.Prepare("PRAGMA foreign_keys");
    REQUIRE(*fk->Step());
    CHECK(fk->ColumnInt64(0) == 1);
    auto v = SchemaVersion(&c);
    REQUIRE(v.ok());
    CHECK(*v == LatestSchemaVersion());
    return Status::Ok();
  }).ok());
}

TEST_CASE("opening a missing database without create is NotFound", "[unit][storage]") {
  TempDir dir;
  auto db = Database::Open(dir.Sub("missing.db"), OpenOptions{});
  REQUIRE_FALSE(db.ok());
  CHECK(db.status().IsNotFound());
}

TEST_CASE("a database from a newer version is refused and left untouched", "[unit][storage]") {
  TempDir dir;
  {
    auto db = Database::Open(dir.Sub("o.db"), Create());
    REQUIRE(db.ok());
    REQUIRE((*db)->Write([](Connection& c) {
      return c.Exec("PRAGMA user_version=" + std::to_string(LatestSchemaVersion() + 5));
    }).ok());
  }
  auto again = Database::Open(dir.Sub("o.db"), OpenOptions{});
  REQUIRE_FALSE(again.ok());
  CHECK(again.status().code() == Code::kFailedPrecondition);
  CHECK_THAT(again.status().message(), Catch::Contains("newer than this outpost"));
  auto conn = Connection::Open(dir.Sub("o.db"), OpenOptions{});
  REQUIRE(conn.ok());
  auto v = SchemaVersion(conn->get());
  REQUIRE(v.ok());
  CHECK(*v == LatestSchemaVersion() + 5);
}

TEST_CASE("a file that is not a database is reported as corrupt", "[unit][storage]") {
  TempDir dir;
  std::string junk(8192, 'x');
  testing::WriteTestFile(dir.Sub("o.db"), junk);
  auto db = Database::Open(dir.Sub("o.db"), OpenOptions{});
  REQUIRE_FALSE(db.ok());
  CHECK(db.status().code() == Code::kCorruption);
  CHECK_THAT(db.status().message(), Catch::Contains("restore it from a backup"));
  // Nothing was written over the damaged file.
  auto bytes = ReadFile(dir.Sub("o.db"));
  REQUIRE(bytes.ok());
  CHECK(*bytes == junk);
}

TEST_CASE("a failed write transaction rolls back everything it did", "[unit][storage]") {
  TempDir dir;
  auto db = Database::Open(dir.Sub("o.db"), Create());
  REQUIRE(db.ok());
  Status st = (*db)->Write([](Connection& c) {
    OUTPOST_RETURN_IF_ERROR(c.Exec("INSERT INTO settings(key, value) VALUES('a', '1')"));
    return Status::InvalidArgument("changed my mind");
  });
  CHECK(st.code() == Code::kInvalidArgument);
  int64_t count = -1;
  REQUIRE((*db)->Read([&](Connection& c) {
    auto s = c.Prepare("SELECT count(*) FROM settings");
    REQUIRE(*s->Step());
    count = s->ColumnInt64(0);
    return Status::Ok();
  }).ok());
  CHECK(count == 0);
}

TEST_CASE("a unique constraint violation is AlreadyExists", "[unit][storage]") {
  TempDir dir;
  auto db = Database::Open(dir.Sub("o.db"), Create());
  REQUIRE(db.ok());
  auto insert = [&] {
    return (*db)->Write(
        [](Connection& c) { return c.Exec("INSERT INTO settings(key, value) VALUES('k', 'v')"); });
  };
  REQUIRE(insert().ok());
  CHECK(insert().code() == Code::kAlreadyExists);
}

TEST_CASE("reads see committed writes and the database reports its size", "[unit][storage]") {
  TempDir dir;
  auto db = Database::Open(dir.Sub("o.db"), Create());
  REQUIRE(db.ok());
  REQUIRE((*db)->CheckWritable().ok());
  std::string value;
  REQUIRE((*db)->Write([](Connection& c) {
    auto s = c.Prepare("INSERT INTO settings(key, value) VALUES(?, ?)");
    s->Bind(1, "greeting").Bind(2, std::string_view("h\0llo", 5));
    return s->Run();
  }).ok());
  REQUIRE((*db)->Read([&](Connection& c) {
    auto s = c.Prepare("SELECT value FROM settings WHERE key = ?");
    s->Bind(1, "greeting");
    REQUIRE(*s->Step());
    value = s->ColumnText(0);
    return Status::Ok();
  }).ok());
  CHECK(value == std::string("h\0llo", 5));
  CHECK((*db)->SizeBytes() > 0);
  REQUIRE((*db)->Checkpoint().ok());
}

// Holds the writer thread inside a first change until `waiting` more callers have started, so
// that their changes queue up behind it and are committed together.
class WriterGate {
 public:
  explicit WriterGate(Database* db) : db_(db) {
    holder_ = std::thread([this] {
      (void)db_->Write([this](Connection&) {
        entered_ = true;
        while (started_.load() < expected_.load() || expected_.load() == 0) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
        }
        // The callers have started; give them time to reach the queue.
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return Status::Ok();
      });
    });
    // Only once the writer is held are the other changes queued behind it.
    while (!entered_.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~WriterGate() { holder_.join(); }
  void Expect(int n) { expected_ = n; }
  void Started() { ++started_; }

 private:
  Database* db_;
  std::atomic<int> expected_{0}, started_{0};
  std::atomic<bool> entered_{false};
  std::thread holder_;
};

Status InsertSetting(Connection& c, const std::string& key) {
  auto s = c.Prepare("INSERT INTO settings(key, value) VALUES(?, 'v')");
  if (!s.ok()) return s.status();
  s->Bind(1, key);
  return s->Run();
}

int CountSettings(Database* db, const std::string& like) {
  int n = 0;
  REQUIRE(db->Read([&](Connection& c) {
    auto s = c.Prepare("SELECT count(*) FROM settings WHERE key LIKE ?");
    s->Bind(1, like);
    REQUIRE(*s->Step());
    n = static_cast<int>(s->ColumnInt64(0));
    return Status::Ok();
  }).ok());
  return n;
}

TEST_CASE("concurrent writes are committed together, each with its own result",
          "[unit][storage]") {
  TempDir dir;
  auto db = Database::Open(dir.Sub("o.db"), Create());
  REQUIRE(db.ok());
  Database* d = db->get();
  constexpr int kWriters = 40;
  std::vector<Status> results(kWriters, Status::Ok());
  std::vector<int> commit_order;
  std::mutex order_mu;
  {
    WriterGate gate(d);
    gate.Expect(kWriters);
    std::vector<std::thread> threads;
    for (int i = 0; i < kWriters; ++i) {
      threads.emplace_back([&, i] {
        gate.Started();
        results[i] = d->Write(
            [&, i](Connection& c) {
              OUTPOST_RETURN_IF_ERROR(InsertSetting(c, "k" + std::to_string(i)));
              // Every fifth change fails after writing: only its own row must go.
              if (i % 5 == 0) return Status::InvalidArgument("refused");
              return Status::Ok();
            },
            [&, i] {
              std::lock_guard<std::mutex> lock(order_mu);
              commit_order.push_back(i);
            });
      });
    }
    for (auto& t : threads) t.join();
  }
  int ok = 0;
  for (int i = 0; i < kWriters; ++i) {
    if (i % 5 == 0) {
      CHECK(results[i].code() == Code::kInvalidArgument);
    } else {
      CHECK(results[i].ok());
      ++ok;
    }
  }
  CHECK(CountSettings(d, "k%") == ok);
  CHECK(static_cast<int>(commit_order.size()) == ok);  // on_commit only for committed changes
  Database::WriterStats stats = d->writer_stats();
  CHECK(stats.writes == static_cast<uint64_t>(ok) + 1);  // and the gate's own change
  CHECK(stats.failed == static_cast<uint64_t>(kWriters - ok));
  CHECK(stats.max_batch > 1);
  CHECK(stats.commits < stats.writes);
}

TEST_CASE("on_commit runs in commit order and a write inside a write is refused",
          "[unit][storage]") {
  TempDir dir;
  auto db = Database::Open(dir.Sub("o.db"), Create());
  REQUIRE(db.ok());
  Database* d = db->get();
  std::vector<int64_t> seen;
  for (int i = 0; i < 5; ++i) {
    int64_t rowid = 0;
    REQUIRE(d->Write(
                 [&](Connection& c) {
                   OUTPOST_RETURN_IF_ERROR(InsertSetting(c, "o" + std::to_string(i)));
                   rowid = c.LastInsertRowId();
                   return Status::Ok();
                 },
                 [&] { seen.push_back(rowid); })
                .ok());
  }
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  CHECK(seen.size() == 5);
  Status inner = Status::Ok();
  REQUIRE(d->Write([&](Connection&) {
    inner = d->Write([](Connection&) { return Status::Ok(); });
    return Status::Ok();
  }).ok());
  CHECK(inner.code() == Code::kInternal);
}

TEST_CASE("a change whose error ends the transaction fails the changes batched with it",
          "[unit][storage]") {
  TempDir dir;
  auto db = Database::Open(dir.Sub("o.db"), Create());
  REQUIRE(db.ok());
  Database* d = db->get();
  Status before = Status::Ok(), breaker = Status::Ok(), after = Status::Ok();
  {
    WriterGate gate(d);
    gate.Expect(1);
    std::thread first([&] {
      gate.Started();
      before = d->Write([](Connection& c) { return InsertSetting(c, "b1"); });
    });
    first.join();
  }
  CHECK(before.ok());
  {
    WriterGate gate(d);
    gate.Expect(3);
    std::thread t1([&] {
      gate.Started();
      before = d->Write([](Connection& c) { return InsertSetting(c, "b2"); });
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // queued first
    std::thread t2([&] {
      gate.Started();
      // ROLLBACK inside a change ends the whole transaction, as a full disk does.
      breaker = d->Write([](Connection& c) {
        OUTPOST_RETURN_IF_ERROR(c.Exec("ROLLBACK"));
        return Status::IoError("disk full");
      });
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    std::thread t3([&] {
      gate.Started();
      after = d->Write([](Connection& c) { return InsertSetting(c, "b3"); });
    });
    t1.join();
    t2.join();
    t3.join();
  }
  CHECK(breaker.code() == Code::kIoError);
  // b2 ran in the transaction that was lost: it must not claim success.
  CHECK(before.code() == Code::kIoError);
  CHECK(after.ok());
  CHECK(CountSettings(d, "b1") == 1);
  CHECK(CountSettings(d, "b2") == 0);
  CHECK(CountSettings(d, "b3") == 1);
}

}  // namespace
}  // namespace outpost::storage
