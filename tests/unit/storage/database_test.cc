#include <catch2/catch.hpp>

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

}  // namespace
}  // namespace outpost::storage
