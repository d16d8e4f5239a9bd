// The storage alert (once per crossing, remembered across restarts) and config.changed (key
// names only, never values) of domain/audit_watch.h.
#include <catch2/catch.hpp>

#include "domain/audit_watch.h"
#include "unit/domain/audit_fixture.h"

namespace outpost::domain {
namespace {

using audit_testing::Fixture;

std::vector<AuditRecord> WithAction(Fixture& f, const std::string& action) {
  std::vector<AuditRecord> out;
  for (const AuditRecord& r : f.Records()) {
    if (r.action == action) out.push_back(r);
  }
  return out;
}

TEST_CASE("the storage alert is raised once per crossing of 75%, and cleared once",
          "[unit][domain][audit]") {
  Fixture f;
  f.Append(20);
  auto size = f.log->SizeBytes();
  REQUIRE(size.ok());

  AuditStorageMonitor roomy(f.db.get(), f.log.get(), &f.clock, *size * 2);  // 50%
  REQUIRE(roomy.Check().ok());
  CHECK_FALSE(roomy.status().alert);
  CHECK(roomy.status().measured);
  CHECK(roomy.status().ratio == Approx(0.5).margin(0.01));
  CHECK(WithAction(f, "audit.storage_alert").empty());

  AuditStorageMonitor tight(f.db.get(), f.log.get(), &f.clock, *size * 5 / 4);  // 80%
  REQUIRE(tight.Check().ok());
  CHECK(tight.status().alert);
  REQUIRE(tight.Check().ok());  // a second look, and a restarted server's first look
  AuditStorageMonitor restarted(f.db.get(), f.log.get(), &f.clock, *size * 5 / 4);
  REQUIRE(restarted.Check().ok());
  CHECK(restarted.status().alert);
  std::vector<AuditRecord> alerts = WithAction(f, "audit.storage_alert");
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0].actor == "system");
  CHECK(alerts[0].outcome == "failure");
  auto details = nlohmann::json::parse(alerts[0].details);
  CHECK(details["max_bytes"] == *size * 5 / 4);
  CHECK(details["percent"].get<int>() >= 75);

  // The limit raised: back under, recorded once.
  AuditStorageMonitor raised(f.db.get(), f.log.get(), &f.clock, *size * 100);
  REQUIRE(raised.Check().ok());
  REQUIRE(raised.Check().ok());
  CHECK_FALSE(raised.status().alert);
  CHECK(WithAction(f, "audit.storage_ok").size() == 1);
  CHECK(WithAction(f, "audit.storage_alert").size() == 1);
  CHECK(f.Check().ok());
}

TEST_CASE("config.changed names the keys that changed since the last start, never values",
          "[unit][domain][audit]") {
  Fixture f;
  const std::string key(32, 'k');
  ConfigEntries first = {{"server.listen", "\"127.0.0.1:8443\""},
                         {"backup.key_file", "\"/secret/path/backup.key\""},
                         {"chat.posts_per_minute", "120"}};
  auto r1 = AuditConfigChanges(f.db.get(), f.log.get(), first, key);
  REQUIRE(r1.ok());
  CHECK(r1->first);
  CHECK(WithAction(f, "config.changed").empty());

  auto same = AuditConfigChanges(f.db.get(), f.log.get(), first, key);
  REQUIRE(same.ok());
  CHECK_FALSE(same->first);
  CHECK(same->changed.empty());
  CHECK(same->config_hash == r1->config_hash);
  CHECK(WithAction(f, "config.changed").empty());

  ConfigEntries second = first;
  second[1].second = "\"/other/backup.key\"";
  second[2].second = "5";
  second.push_back({"siem.enabled", "true"});
  auto r2 = AuditConfigChanges(f.db.get(), f.log.get(), second, key);
  REQUIRE(r2.ok());
  CHECK(r2->changed == std::vector<std::string>{"backup.key_file", "chat.posts_per_minute"});
  CHECK(r2->added == std::vector<std::string>{"siem.enabled"});
  CHECK(r2->config_hash != r1->config_hash);
  std::vector<AuditRecord> changed = WithAction(f, "config.changed");
  REQUIRE(changed.size() == 1);
  auto details = nlohmann::json::parse(changed[0].details);
  CHECK(details["changed"] == nlohmann::json({"backup.key_file", "chat.posts_per_minute"}));
  CHECK(details["added"] == nlohmann::json({"siem.enabled"}));
  CHECK(details["removed"].empty());
  CHECK(details["config_hash"] == r2->config_hash);
  CHECK(changed[0].details.find("/other/") == std::string::npos);
  CHECK(changed[0].details.find("/secret/") == std::string::npos);

  // The fingerprint in the database holds keyed hashes, not the values.
  f.Read([&](storage::Connection& c) {
    auto stored = ReadAuditState(c, "audit.config_fingerprint");
    OUTPOST_RETURN_IF_ERROR(stored.status());
    REQUIRE_FALSE(stored->empty());
    CHECK(stored->find("/other/") == std::string::npos);
    CHECK(stored->find("/secret/") == std::string::npos);
    CHECK(stored->find("backup.key_file") != std::string::npos);  // the key names are there
    return Status::Ok();
  });
  // A removed key is named too.
  second.pop_back();
  auto r3 = AuditConfigChanges(f.db.get(), f.log.get(), second, key);
  REQUIRE(r3.ok());
  CHECK(r3->removed == std::vector<std::string>{"siem.enabled"});
  CHECK(WithAction(f, "config.changed").size() == 2);
}

}  // namespace
}  // namespace outpost::domain
