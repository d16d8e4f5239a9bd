// Scheduled backups with a fake clock: they run when their local time comes and not before,
// prune to the newest `keep`, and report and audit every outcome.
#include "domain/backup_scheduler.h"

#include <ctime>

#include <catch2/catch.hpp>
#include <filesystem>

#include "storage/database.h"
#include "support/temp_dir.h"
#include "util/fs.h"

namespace outpost::domain {
namespace {

constexpr int64_t kDay = 86400LL * 1000;

struct SchedulerFixture {
  testing::TempDir dir;
  FakeClock clock;
  DataLayout layout{dir.Sub("data")};
  std::unique_ptr<storage::Database> db;
  ApplianceKeys keys;
  std::unique_ptr<AuditLog> audit;
  std::string key_file = dir.Sub("backup.key");

  SchedulerFixture() {
    REQUIRE(MakeDirs(layout.root, 0700).ok());
    REQUIRE(CreateKeys(layout).ok());
    keys = std::move(*LoadKeys(layout));
    storage::OpenOptions o;
    o.create = true;
    db = std::move(*storage::Database::Open(layout.database(), o));
    audit = std::make_unique<AuditLog>(db.get(), &clock, &keys);
    REQUIRE(CreateBackupKeyFile(key_file).ok());
  }

  BackupSchedule Schedule(int minute, int keep = 7) {
    BackupSchedule s;
    s.daily_minute = minute;
    s.dir = dir.Sub("archives");
    s.keep = keep;
    s.key_file = key_file;
    return s;
  }

  std::vector<std::string> Archives() {
    std::vector<std::string> out;
    if (!PathExists(dir.Sub("archives"))) return out;
    for (const auto& e : std::filesystem::directory_iterator(dir.Sub("archives"))) {
      out.push_back(e.path().filename());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<AuditRecord> Audited() {
    AuditQuery q;
    q.action_prefix = "backup.";
    return *audit->Query(q);
  }
};

int LocalMinute(UnixMillis t) {
  time_t secs = static_cast<time_t>(t / 1000);
  struct tm tm;
  localtime_r(&secs, &tm);
  return tm.tm_hour * 60 + tm.tm_min;
}

TEST_CASE("the next daily run is the next moment with that local time of day",
          "[unit][backup][scheduler]") {
  const UnixMillis now = 1'790'000'000'000;
  for (int minute : {0, 3 * 60, 12 * 60 + 30, 23 * 60 + 59}) {
    UnixMillis next = NextDailyRun(now, minute);
    INFO(minute);
    CHECK(next > now);
    CHECK(next - now <= kDay + 3600 * 1000);  // a day, plus an hour around a DST change
    CHECK(LocalMinute(next) == minute);
    CHECK(next % 60000 == 0);
    CHECK(NextDailyRun(next, minute) > next);  // at the moment itself: the next day's
    CHECK(NextDailyRun(next - 1, minute) == next);
  }
}

TEST_CASE("a scheduled backup runs when its time comes and not before",
          "[unit][backup][scheduler]") {
  SchedulerFixture f;
  BackupScheduler s(f.layout, &f.keys, f.audit.get(), &f.clock, f.Schedule(3 * 60));
  const UnixMillis due = s.status().next_run_at;
  REQUIRE(due > f.clock.NowMillis());
  CHECK_FALSE(s.RunIfDue());
  f.clock.Set(due - 1);
  CHECK_FALSE(s.RunIfDue());
  CHECK(f.Archives().empty());
  f.clock.Set(due);
  CHECK(s.RunIfDue());
  REQUIRE(f.Archives().size() == 1);
  CHECK(IsScheduledArchiveName(f.Archives()[0]));
  BackupRunStatus st = s.status();
  CHECK(st.runs == 1);
  CHECK(st.failures == 0);
  CHECK(st.last_success_at == due);
  CHECK(st.last_file == f.Archives()[0]);
  CHECK(st.last_bytes > 0);
  CHECK(st.last_error.empty());
  CHECK(st.next_run_at == NextDailyRun(due, 3 * 60));
  CHECK_FALSE(s.RunIfDue());  // once a day

  // The archive is a real one: it verifies with the configured key.
  Result<BackupSecret> secret = LoadBackupKeyFile(f.key_file);
  REQUIRE(secret.ok());
  Result<BackupSummary> verified = VerifyBackup(f.dir.Sub("archives/" + st.last_file), *secret);
  INFO(verified.status().ToString());
  CHECK(verified.ok());

  std::vector<AuditRecord> records = f.Audited();
  REQUIRE(records.size() == 1);
  CHECK(records[0].action == "backup.create");
  CHECK(records[0].actor == "system");
  CHECK(records[0].outcome == "success");
  auto details = nlohmann::json::parse(records[0].details);
  CHECK(details["file"] == st.last_file);
  CHECK(details["bytes"] == st.last_bytes);
}

TEST_CASE("after each success only the newest `keep` scheduled archives stay",
          "[unit][backup][scheduler]") {
  SchedulerFixture f;
  BackupScheduler s(f.layout, &f.keys, f.audit.get(), &f.clock, f.Schedule(3 * 60, 2));
  REQUIRE(MakeDirs(f.dir.Sub("archives"), 0700).ok());
  REQUIRE(WriteFileAtomic(f.dir.Sub("archives/operator-copy.obk"), "not ours").ok());
  REQUIRE(WriteFileAtomic(f.dir.Sub("archives/outpost-broken.obk"), "cut short").ok());
  std::vector<std::string> made;
  for (int i = 0; i < 4; ++i) {
    Result<BackupSummary> r = s.RunNow("root");
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    made.push_back(std::filesystem::path(r->path).filename());
    f.clock.Advance(kDay);
  }
  // The two newest of ours, and what is not ours (another name, an incomplete archive).
  std::vector<std::string> expected = {made[2], made[3], "operator-copy.obk",
                                       "outpost-broken.obk"};
  std::sort(expected.begin(), expected.end());
  CHECK(f.Archives() == expected);
  auto records = f.Audited();
  REQUIRE(records.size() == 4);
  CHECK(records[3].actor == "root");
  CHECK(nlohmann::json::parse(records[3].details)["pruned"].size() == 1);
}

TEST_CASE("two backups within one second get distinct names", "[unit][backup][scheduler]") {
  SchedulerFixture f;
  BackupScheduler s(f.layout, &f.keys, f.audit.get(), &f.clock, f.Schedule(0));
  Result<BackupSummary> a = s.RunNow();
  Result<BackupSummary> b = s.RunNow();
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->path != b->path);
  CHECK(f.Archives().size() == 2);
}

TEST_CASE("a failed backup is counted, explained, audited and leaves no archive",
          "[unit][backup][scheduler]") {
  SchedulerFixture f;
  BackupSchedule schedule = f.Schedule(3 * 60);
  schedule.key_file = f.dir.Sub("missing.key");
  BackupScheduler s(f.layout, &f.keys, f.audit.get(), &f.clock, schedule);
  Result<BackupSummary> r = s.RunNow();
  CHECK(r.status().code() == Code::kNotFound);
  BackupRunStatus st = s.status();
  CHECK(st.runs == 1);
  CHECK(st.failures == 1);
  CHECK(st.last_success_at == 0);
  CHECK_THAT(st.last_error, Catch::Contains("missing.key"));
  CHECK(st.last_error_reason == "not_found");
  CHECK(f.Archives().empty());
  auto records = f.Audited();
  REQUIRE(records.size() == 1);
  CHECK(records[0].outcome == "failure");

  SECTION("a short passphrase is refused, a long one works") {
    BackupSchedule p = f.Schedule(3 * 60);
    p.key_file.clear();
    p.passphrase_file = f.dir.Sub("pass");
    REQUIRE(WriteFileAtomic(p.passphrase_file, "short\n").ok());
    BackupScheduler sp(f.layout, &f.keys, nullptr, &f.clock, p);
    CHECK(sp.RunNow().status().code() == Code::kInvalidArgument);
    REQUIRE(WriteFileAtomic(p.passphrase_file, "a passphrase long enough\n").ok());
    Result<BackupSummary> ok = sp.RunNow();
    INFO(ok.status().ToString());
    CHECK(ok.ok());
    CHECK(sp.status().failures == 1);
    CHECK(sp.status().last_error.empty());
  }
  SECTION("without any key configured nothing is attempted") {
    BackupSchedule none = f.Schedule(-1);
    none.key_file.clear();
    BackupScheduler sn(f.layout, &f.keys, nullptr, &f.clock, none);
    CHECK_FALSE(sn.scheduled());
    CHECK_FALSE(sn.RunIfDue());
    CHECK(sn.RunNow().status().code() == Code::kFailedPrecondition);
    CHECK(sn.status().next_run_at == 0);
  }
}

}  // namespace
}  // namespace outpost::domain
