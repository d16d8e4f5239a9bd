// The audit log's writing side: the chain, checkpoints on schedule and on demand, the failure
// policy, append-only tables, searching, the size alert and the time parser.
#include <catch2/catch.hpp>

#include "unit/domain/audit_fixture.h"

namespace outpost::domain::audit_testing {
namespace {

TEST_CASE("appended records form a verified chain with a checkpoint every N records",
          "[unit][domain][audit]") {
  Fixture f;
  f.Append(10);
  std::vector<AuditRecord> all = f.Records();
  REQUIRE(all.size() == 10);
  CHECK(all[0].seq == 1);
  CHECK(all[0].prev_hash == std::string(32, '\0'));
  for (size_t i = 1; i < all.size(); ++i) {
    CHECK(all[i].seq == all[i - 1].seq + 1);
    CHECK(all[i].prev_hash == all[i - 1].hash);
    CHECK(all[i].hash == AuditRecordHash(all[i].prev_hash, all[i]));
  }
  CHECK(all[3].actor == "alice");
  CHECK(all[3].actor_id == 7);
  CHECK(all[3].source_ip == "10.0.0.9");
  CHECK(all[3].action == "user.create");
  CHECK(all[3].target == "user:bob");
  CHECK(all[3].outcome == "success");
  CHECK(all[3].details == R"({"role":"user"})");
  CHECK(all[3].ts_ms == all[2].ts_ms + 1000);

  VerifyReport r = f.Check();
  CHECK(r.ok());
  CHECK(r.records == 10);
  CHECK(r.checkpoints == 2);
  CHECK(r.last_checkpoint_seq == 8);
  CHECK(r.Summary() ==
        "audit log intact: 10 records, 2 signed checkpoints (the last at record "
        "8); 2 newer records not yet signed");
}

TEST_CASE(
    "the record encoding is length-prefixed, so moving bytes between fields changes the "
    "hash",
    "[unit][domain][audit]") {
  AuditRecord a;
  a.actor = "ab";
  a.target = "c";
  AuditRecord b = a;
  b.actor = "a";
  b.target = "bc";
  std::string prev(32, '\0');
  CHECK(AuditRecordHash(prev, a) != AuditRecordHash(prev, b));
  CHECK(AuditRecordHash(prev, a) == AuditRecordHash(prev, a));
  CHECK(AuditRecordHash(std::string(32, '\1'), a) != AuditRecordHash(prev, a));
}

TEST_CASE("checkpoints follow the clock: every T minutes while there is something to sign",
          "[unit][domain][audit]") {
  Fixture f(AuditOptions{AuditFailurePolicy::kRefuse, 1000, 10 * kMinute});
  REQUIRE(f.log->Append(f.Event("auth.login")).ok());
  f.clock.Advance(9 * kMinute);
  REQUIRE(f.log->Append(f.Event("auth.login")).ok());
  CHECK(f.Count("audit_checkpoints") == 0);
  f.clock.Advance(1 * kMinute);  // 10 minutes after the first record
  REQUIRE(f.log->Append(f.Event("auth.login")).ok());
  CHECK(f.Count("audit_checkpoints") == 1);

  f.clock.Advance(9 * kMinute);
  REQUIRE(f.log->Append(f.Event("auth.logout")).ok());
  REQUIRE(f.log->MaybeCheckpoint().ok());
  CHECK(f.Count("audit_checkpoints") == 1);  // only 9 minutes since the last one
  f.clock.Advance(1 * kMinute);
  REQUIRE(f.log->MaybeCheckpoint().ok());  // the timer covers a quiet log
  CHECK(f.Count("audit_checkpoints") == 2);
  f.clock.Advance(60 * kMinute);
  REQUIRE(f.log->MaybeCheckpoint().ok());
  CHECK(f.Count("audit_checkpoints") == 2);  // nothing new to sign
  VerifyReport r = f.Check();
  CHECK(r.ok());
  CHECK(r.last_checkpoint_seq == 4);
}

TEST_CASE("an on-demand checkpoint covers the newest record once, and needs the key",
          "[unit][domain][audit]") {
  Fixture f(AuditOptions{AuditFailurePolicy::kRefuse, 1000, 600 * kMinute});
  REQUIRE(f.log->Checkpoint().ok());  // empty log: nothing to sign
  CHECK(f.Count("audit_checkpoints") == 0);
  f.Append(3);
  REQUIRE(f.log->Checkpoint().ok());
  REQUIRE(f.log->Checkpoint().ok());
  CHECK(f.Count("audit_checkpoints") == 1);
  CHECK(f.Check().last_checkpoint_seq == 3);

  f.log = std::make_unique<AuditLog>(f.db.get(), &f.clock, nullptr, AuditOptions{});
  REQUIRE(f.log->Append(f.Event("auth.login")).ok());  // records without signing
  CHECK(f.log->Checkpoint().code() == Code::kFailedPrecondition);
  CHECK(f.log->ExportCheckpoint().status().code() == Code::kFailedPrecondition);
  CHECK(f.Check().ok());
}

TEST_CASE("when the audit insert fails, the refuse policy refuses and the action is undone",
          "[unit][domain][audit]") {
  Fixture f;
  f.Append(2);
  f.Write([](storage::Connection& c) {
    return c.Exec(
        "CREATE TRIGGER audit_full BEFORE INSERT ON audit_records BEGIN "
        "SELECT RAISE(ABORT, 'disk quota for audit reached'); END;");
  });
  auto insert_setting = [](storage::Connection& c) {
    return c.Exec("INSERT INTO settings(key, value) VALUES('motd', 'hello')");
  };

  SECTION("refuse") {
    auto seq = f.log->Append(f.Event("user.create"));
    CHECK(seq.status().code() == Code::kUnavailable);
    CHECK_THAT(seq.status().message(), Catch::Contains("disk quota for audit reached"));
    CHECK(f.log->Admit().code() == Code::kUnavailable);
    Status st = f.db->Write([&](storage::Connection& c) {
      OUTPOST_RETURN_IF_ERROR(insert_setting(c));
      return f.log->AppendIn(c, f.Event("settings.change"));
    });
    CHECK(st.code() == Code::kUnavailable);
    CHECK(f.Count("settings") == 0);  // the action rolled back with its record
  }
  SECTION("continue") {
    f.Reopen(AuditOptions{AuditFailurePolicy::kContinue, 4, 60 * kMinute});
    auto seq = f.log->Append(f.Event("user.create"));
    REQUIRE(seq.ok());
    CHECK(*seq == 0);
    CHECK(f.log->Admit().ok());
    Status st = f.db->Write([&](storage::Connection& c) {
      OUTPOST_RETURN_IF_ERROR(insert_setting(c));
      return f.log->AppendIn(c, f.Event("settings.change"));
    });
    CHECK(st.ok());
    CHECK(f.Count("settings") == 1);
  }
  CHECK(f.Count("audit_records") == 2);
  CHECK(f.Check().ok());
}

TEST_CASE("AppendIn commits the record with the caller's transaction", "[unit][domain][audit]") {
  Fixture f;
  f.Write([&](storage::Connection& c) {
    OUTPOST_RETURN_IF_ERROR(c.Exec("INSERT INTO settings(key, value) VALUES('a', '1')"));
    return f.log->AppendIn(c, f.Event("settings.change"));
  });
  CHECK(f.Count("audit_records") == 1);
  Status st = f.db->Write([&](storage::Connection& c) {
    OUTPOST_RETURN_IF_ERROR(f.log->AppendIn(c, f.Event("settings.change")));
    return Status::InvalidArgument("the action failed after its record");
  });
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(f.Count("audit_records") == 1);
  CHECK(f.Check().ok());
}

TEST_CASE("records and checkpoints are append-only through SQLite", "[unit][domain][audit]") {
  Fixture f;
  f.Append(4);  // one checkpoint
  for (const char* sql :
       {"UPDATE audit_records SET actor = 'x'", "DELETE FROM audit_records",
        "UPDATE audit_checkpoints SET ts_ms = 0", "DELETE FROM audit_checkpoints"}) {
    INFO(sql);
    Status st = f.db->Write([&](storage::Connection& c) { return c.Exec(sql); });
    CHECK_THAT(st.message(), Catch::Contains("append-only"));
  }
  CHECK(f.Count("audit_records") == 4);
  CHECK(f.Count("audit_checkpoints") == 1);
  CHECK(f.Check().ok());
}

TEST_CASE("the log is searched by actor, action prefix and time, newest first by cursor",
          "[unit][domain][audit]") {
  Fixture f(AuditOptions{AuditFailurePolicy::kRefuse, 1000, 600 * kMinute});
  const UnixMillis t0 = f.clock.NowMillis();
  for (int i = 0; i < 6; ++i) {
    REQUIRE(
        f.log->Append(f.Event(i % 2 ? "auth.login" : "user.create", i < 3 ? "alice" : "Bob")).ok());
    f.clock.Advance(kMinute);
  }
  auto by_actor = f.log->Query({.actor = "bob"});
  REQUIRE(by_actor.ok());
  CHECK(by_actor->size() == 3);
  auto logins = f.log->Query({.action_prefix = "auth."});
  REQUIRE(logins.ok());
  REQUIRE(logins->size() == 3);
  CHECK((*logins)[0].seq == 2);
  auto window = f.log->Query({.since = t0 + kMinute, .until = t0 + 3 * kMinute});
  REQUIRE(window.ok());
  REQUIRE(window->size() == 2);
  CHECK((*window)[0].seq == 2);
  CHECK((*window)[1].seq == 3);
  auto page = f.log->Query({.before_seq = 5, .limit = 2, .newest_first = true});
  REQUIRE(page.ok());
  REQUIRE(page->size() == 2);
  CHECK((*page)[0].seq == 4);
  CHECK((*page)[1].seq == 3);
  CHECK(AuditRecordJson((*page)[0])["details"]["role"] == "user");
}

TEST_CASE("the audit tables' size is measured and the alert fires at 75%",
          "[unit][domain][audit]") {
  Fixture f;
  f.Append(50);
  auto size = f.log->SizeBytes();
  REQUIRE(size.ok());
  CHECK(*size > 0);
  CHECK(f.log->OverThreshold(*size));                // 100%
  CHECK(f.log->OverThreshold(*size * 4 / 3));        // 75%
  CHECK_FALSE(f.log->OverThreshold(*size * 3 / 2));  // 67%
  CHECK_FALSE(f.log->OverThreshold(0));              // no limit configured
}

TEST_CASE("times are read as ISO 8601 in UTC or with an offset", "[unit][domain][audit]") {
  CHECK(*ParseIso8601("1970-01-01") == 0);
  CHECK(*ParseIso8601("2026-11-23T01:02:03Z") == 1795395723000);
  CHECK(*ParseIso8601("2026-11-23T01:02:03.456Z") == 1795395723456);
  CHECK(*ParseIso8601("2026-11-23T02:02:03+01:00") == 1795395723000);
  CHECK(*ParseIso8601("2026-11-23T01:02:03") == 1795395723000);
  CHECK(*ParseIso8601(FormatIso8601(1795395723456)) == 1795395723456);
  for (const char* bad : {"", "yesterday", "2026-02-30", "2026-11-23T25:00:00Z", "2026-11-23T01:02",
                          "2026-11-23T01:02:03Zjunk"}) {
    INFO(bad);
    CHECK(ParseIso8601(bad).status().code() == Code::kInvalidArgument);
  }
}

}  // namespace
}  // namespace outpost::domain::audit_testing
