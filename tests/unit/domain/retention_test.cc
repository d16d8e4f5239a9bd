// Retention policies and the purge: what expires, what the schema takes with it, what stays.
#include "domain/retention.h"

#include <unistd.h>

#include <catch2/catch.hpp>

#include "config/config.h"
#include "domain/file_store.h"
#include "unit/domain/lifecycle_fixture.h"
#include "util/fs.h"

namespace outpost::domain {
namespace {

const std::string kThumbsUp = "\xf0\x9f\x91\x8d";

struct RetentionFixture : LifecycleFixture {
  std::unique_ptr<Retention> retention;
  explicit RetentionFixture(RetentionPolicy global = {7, 0}) { SetPolicy(global); }
  void SetPolicy(RetentionPolicy global) {
    retention = std::make_unique<Retention>(db.get(), &clock, files.get(), audit.get(), global);
  }
  int64_t Matches(const std::string& word) {
    return Count("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH '" + word + "'");
  }
};

TEST_CASE("expired messages go with their reactions, edits, search entries and events",
          "[unit][retention]") {
  RetentionFixture f;
  int64_t old_id = f.Post(f.alice, "ancient zebra plans");
  REQUIRE(f.messages->React(f.bob, old_id, kThumbsUp, true).ok());
  REQUIRE(f.messages->Edit(f.alice, old_id, "ancient zebra plans, edited").ok());
  f.clock.Advance(8 * kDay);
  int64_t new_id = f.Post(f.bob, "fresh zebra news");
  REQUIRE(f.messages->React(f.alice, old_id, kThumbsUp, true).ok());  // a late reaction
  REQUIRE(f.Matches("zebra") == 2);
  REQUIRE(f.Count("SELECT count(*) FROM message_edits") == 1);

  Result<PurgeCounts> purged = f.retention->Purge(false);
  REQUIRE(purged.ok());
  CHECK(purged->messages == 1);
  CHECK(f.Count("SELECT count(*) FROM messages") == 1);
  CHECK(f.Count("SELECT id FROM messages") == new_id);
  CHECK(f.Count("SELECT count(*) FROM reactions") == 0);
  CHECK(f.Count("SELECT count(*) FROM message_edits") == 0);
  CHECK(f.Matches("zebra") == 1);
  CHECK(f.Matches("ancient") == 0);
  // No event shows the purged message any more, not even the late reaction's.
  CHECK(f.Count("SELECT count(*) FROM events WHERE payload LIKE '%ancient%'") == 0);
  CHECK(f.Count("SELECT count(*) FROM events WHERE json_extract(payload, '$.message_id') = " +
                std::to_string(old_id)) == 0);
  CHECK(f.Count("SELECT count(*) FROM events WHERE payload LIKE '%fresh zebra%'") == 1);
  CHECK(purged->events >= 3);

  // Audited with counts, never content.
  std::vector<AuditRecord> records = f.Audited("retention.purge");
  REQUIRE(records.size() == 1);
  CHECK(records[0].outcome == "success");
  auto details = nlohmann::json::parse(records[0].details);
  CHECK(details["messages"] == 1);
  CHECK(records[0].details.find("zebra") == std::string::npos);

  // Nothing more has expired: a second purge deletes nothing.
  Result<PurgeCounts> again = f.retention->Purge(false);
  REQUIRE(again.ok());
  CHECK(again->messages == 0);
  CHECK(f.Count("SELECT count(*) FROM messages") == 1);
}

TEST_CASE("a thread keeps its first message while a reply lives; the reply count follows",
          "[unit][retention]") {
  RetentionFixture f;
  int64_t root = f.Post(f.alice, "thread start");
  f.Post(f.bob, "early reply", root);
  f.clock.Advance(8 * kDay);
  int64_t late = f.Post(f.bob, "late reply", root);
  REQUIRE(f.Count("SELECT reply_count FROM messages WHERE id = " + std::to_string(root)) == 2);

  Result<PurgeCounts> purged = f.retention->Purge(false);
  REQUIRE(purged.ok());
  CHECK(purged->messages == 1);  // the early reply
  CHECK(f.Count("SELECT count(*) FROM messages WHERE id IN (" + std::to_string(root) + ", " +
                std::to_string(late) + ")") == 2);
  CHECK(f.Count("SELECT reply_count FROM messages WHERE id = " + std::to_string(root)) == 1);

  f.clock.Advance(8 * kDay);  // now the late reply has expired too: the whole thread goes
  purged = f.retention->Purge(false);
  REQUIRE(purged.ok());
  CHECK(purged->messages == 2);
  CHECK(f.Count("SELECT count(*) FROM messages") == 0);
}

TEST_CASE("expired files go as rows and then as blobs; their message stays", "[unit][retention]") {
  RetentionFixture f({0, 2});
  FileInfo old_file = f.Upload(f.alice, "old.txt", "old file contents\n");
  std::string blob = BlobPath(f.dir.Sub("blobs"), old_file.blob_name);
  REQUIRE(PathExists(blob));
  f.clock.Advance(3 * kDay);
  FileInfo new_file = f.Upload(f.bob, "new.txt", "new file contents\n");

  Result<PurgeCounts> dry = f.retention->Purge(true);
  REQUIRE(dry.ok());
  CHECK(dry->files == 1);
  CHECK(dry->file_bytes == old_file.size);
  CHECK(dry->blobs == 1);
  CHECK(f.Count("SELECT count(*) FROM files") == 2);  // a dry run deletes nothing
  CHECK(PathExists(blob));
  CHECK(f.Audited("retention.purge").empty());  // and audits nothing

  Result<PurgeCounts> purged = f.retention->Purge(false);
  REQUIRE(purged.ok());
  CHECK(purged->messages == 0);
  CHECK(purged->files == 1);
  CHECK(purged->blobs == 1);
  CHECK_FALSE(PathExists(blob));
  CHECK(PathExists(BlobPath(f.dir.Sub("blobs"), new_file.blob_name)));
  CHECK(f.Count("SELECT count(*) FROM files") == 1);
  CHECK(f.Count("SELECT count(*) FROM messages WHERE id = " +
                std::to_string(old_file.message_id)) == 1);
}

TEST_CASE("files that go with an expired message are counted and their blobs removed",
          "[unit][retention]") {
  RetentionFixture f({5, 0});
  FileInfo file = f.Upload(f.alice, "notes.txt", "meeting notes\n");
  f.clock.Advance(6 * kDay);
  Result<PurgeCounts> purged = f.retention->Purge(false);
  REQUIRE(purged.ok());
  CHECK(purged->messages == 1);
  CHECK(purged->files == 1);
  CHECK(purged->blobs == 1);
  CHECK_FALSE(PathExists(BlobPath(f.dir.Sub("blobs"), file.blob_name)));
}

TEST_CASE("a dry run counts exactly what the purge then deletes", "[unit][retention]") {
  RetentionFixture f;
  for (int i = 0; i < 30; ++i) f.Post(i % 2 ? f.alice : f.bob, "message " + std::to_string(i));
  f.clock.Advance(10 * kDay);
  f.Post(f.alice, "recent");
  Result<PurgeCounts> dry = f.retention->Purge(true);
  REQUIRE(dry.ok());
  CHECK(dry->messages == 30);
  CHECK(f.Count("SELECT count(*) FROM messages") == 31);
  Result<PurgeCounts> real = f.retention->Purge(false);
  REQUIRE(real.ok());
  CHECK(real->messages == dry->messages);
  CHECK(real->events == dry->events);
  CHECK(f.Count("SELECT count(*) FROM messages") == 1);
}

TEST_CASE("a room's own retention overrides the global one; owners may only shorten it",
          "[unit][retention]") {
  RetentionFixture f({30, 0});
  Room other = *f.rooms->CreateChannel(f.alice, RoomKind::kPublic, "lobby", "", "", false);

  SECTION("who may set it") {
    CHECK(f.retention->Set(f.alice, f.room.id, 7, std::nullopt).ok());
    CHECK(f.retention->Set(f.alice, f.room.id, 30, 10).ok());
    CHECK(f.retention->Set(f.alice, f.room.id, 0, std::nullopt).status().code() ==
          Code::kPermissionDenied);  // forever is longer than the site's 30 days
    CHECK(f.retention->Set(f.alice, f.room.id, 60, std::nullopt).status().code() ==
          Code::kPermissionDenied);
    CHECK(f.retention->Set(f.bob, f.room.id, 7, std::nullopt).status().code() ==
          Code::kPermissionDenied);  // a member
    CHECK(f.retention->Set(f.carol, f.room.id, 7, std::nullopt).status().code() ==
          Code::kNotFound);  // not even a member of the private room
    CHECK(f.retention->Set(f.alice, f.room.id, -1, std::nullopt).status().code() ==
          Code::kInvalidArgument);
    CHECK(f.retention->Set(f.admin, f.room.id, kMaxRetentionDays + 1, std::nullopt)
              .status()
              .code() == Code::kInvalidArgument);
    Result<RoomRetention> by_admin = f.retention->Set(f.admin, f.room.id, 0, std::nullopt);
    REQUIRE(by_admin.ok());
    CHECK(by_admin->effective.messages_days == 0);
    Result<RoomRetention> got = f.retention->Get(f.bob, f.room.id);
    REQUIRE(got.ok());
    CHECK(got->messages_days == 0);
    CHECK_FALSE(got->files_days.has_value());
    CHECK(f.Audited("retention.set").size() == 3);
  }

  SECTION("what the purge does with it") {
    REQUIRE(f.retention->Set(f.alice, f.room.id, 3, std::nullopt).ok());   // shorter
    REQUIRE(f.retention->Set(f.admin, other.id, 0, std::nullopt).ok());     // forever
    f.Post(f.alice, "private, old");
    f.Post(f.alice, "lobby, old", 0, other.id);
    f.clock.Advance(5 * kDay);
    Result<PurgeCounts> purged = f.retention->Purge(false);
    REQUIRE(purged.ok());
    CHECK(purged->messages == 1);  // 5 days > the room's 3, and the lobby keeps forever
    f.clock.Advance(100 * kDay);
    purged = f.retention->Purge(false);
    REQUIRE(purged.ok());
    CHECK(purged->messages == 0);
    CHECK(f.Count("SELECT count(*) FROM messages") == 1);
    // Back to the global policy: null for both removes the room's own setting.
    REQUIRE(f.retention->Set(f.admin, other.id, std::nullopt, std::nullopt).ok());
    CHECK(f.Count("SELECT count(*) FROM room_retention WHERE room_id = " +
                  std::to_string(other.id)) == 0);
    purged = f.retention->Purge(false);
    REQUIRE(purged.ok());
    CHECK(purged->messages == 1);
  }
}

TEST_CASE("with no policy at all, a purge deletes nothing", "[unit][retention]") {
  RetentionFixture f({0, 0});
  f.Upload(f.alice, "keep.txt", "kept forever\n");
  f.Post(f.bob, "kept forever too");
  f.clock.Advance(36500 * kDay);
  Result<PurgeCounts> purged = f.retention->Purge(false);
  REQUIRE(purged.ok());
  CHECK(purged->messages == 0);
  CHECK(purged->files == 0);
  CHECK(f.Count("SELECT count(*) FROM messages") == 2);
}

TEST_CASE("the purge is active only when some policy expires something", "[unit][retention]") {
  RetentionFixture f({0, 0});
  CHECK_FALSE(*f.retention->Active());
  REQUIRE(f.retention->Set(f.admin, f.room.id, 0, std::nullopt).ok());  // forever: still off
  CHECK_FALSE(*f.retention->Active());
  REQUIRE(f.retention->Set(f.alice, f.room.id, std::nullopt, 30).ok());
  CHECK(*f.retention->Active());
  f.SetPolicy({1, 0});
  CHECK(*f.retention->Active());
}

TEST_CASE("[retention] and [backup] values are checked when the configuration loads",
          "[unit][retention][config]") {
  auto load = [](const std::string& text) { return config::LoadString(text, "t.toml"); };
  Result<config::Config> ok = load(
      "[retention]\nmessages_days = 90\nfiles_days = 30\n"
      "[backup]\nschedule = \"02:30\"\nkey_file = \"/k\"\nkeep = 3\n");
  REQUIRE(ok.ok());
  CHECK(ok->retention.messages_days == 90);
  CHECK(ok->backup.keep == 3);
  CHECK(*config::ParseDailyTime(ok->backup.schedule) == 150);
  CHECK(config::BackupDir(*ok) == "/var/lib/outpost/backups");

  struct Bad {
    const char* text;
    const char* says;
  } bad[] = {
      {"[retention]\nmessages_days = -1\n",
       "retention.messages_days: must be between 0 and 36500, got -1"},
      {"[retention]\nfiles_days = 100000\n", "between 0 and 36500, got 100000"},
      {"[retention]\nmessages_days = \"30\"\n", "expected an integer"},
      {"[backup]\nschedule = \"25:00\"\nkey_file = \"/k\"\n", "from \"00:00\" to \"23:59\""},
      {"[backup]\nschedule = \"3am\"\nkey_file = \"/k\"\n", "\"HH:MM\""},
      {"[backup]\nschedule = \"03:00\"\n", "needs backup.key_file or backup.passphrase_file"},
      {"[backup]\nkey_file = \"/k\"\npassphrase_file = \"/p\"\n", "not be set together"},
      {"[backup]\nkeep = 0\n", "between 1 and 1000"},
      {"[backup]\ndir = \"relative\"\n", "must be an absolute path"},
  };
  for (const Bad& b : bad) {
    INFO(b.text);
    Result<config::Config> r = load(b.text);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.status().message(), Catch::Contains(b.says));
  }
}

}  // namespace
}  // namespace outpost::domain
