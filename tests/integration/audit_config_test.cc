// The [audit] table end to end: the storage alert at 75% of max_size_mb (log, /metrics, admin
// status, doctor, one audit record per crossing), config.changed between starts, and
// on_failure = "continue" against the default "refuse" (audit_test.cc).
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "domain/audit.h"
#include "storage/database.h"
#include "support/appliance.h"
#include "util/clock.h"

namespace outpost::testing {
namespace {

using Json = nlohmann::json;

std::vector<Json> Export(const TestAppliance& app) {
  CliResult r = app.Cli({"audit", "export"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<Json> out;
  for (size_t pos = 0, end; pos < r.out.size(); pos = end + 1) {
    end = r.out.find('\n', pos);
    out.push_back(Json::parse(r.out.substr(pos, end - pos)));
  }
  return out;
}

std::vector<Json> WithAction(const std::vector<Json>& records, const std::string& action) {
  std::vector<Json> out;
  for (const Json& r : records) {
    if (r["action"] == action) out.push_back(r);
  }
  return out;
}

// Fills the stopped appliance's audit log with `n` valid, chained records of about 1 KiB.
void FillAuditLog(const TestAppliance& app, int n) {
  auto db = storage::Database::Open(app.data_dir() + "/outpost.db", storage::OpenOptions{});
  REQUIRE(db.ok());
  domain::AuditLog log(db->get(), SystemClock(), nullptr);
  Status st = (*db)->Write([&](storage::Connection& conn) {
    for (int i = 0; i < n; ++i) {
      domain::AuditEvent e{"cli:filler", 0, "", "test.filler", "", domain::AuditOutcome::kSuccess,
                           {{"padding", std::string(1000, 'x')}, {"i", i}}};
      OUTPOST_RETURN_IF_ERROR(log.AppendIn(conn, e));
    }
    return Status::Ok();
  });
  INFO(st.ToString());
  REQUIRE(st.ok());
}

TEST_CASE("audit storage over 75% of max_size_mb raises one alert per crossing, everywhere",
          "[integration][audit]") {
  TestAppliance app("[audit]\nmax_size_mb = 1\n");
  FillAuditLog(app, 800);  // about 1 MiB with the indexes
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  BrowserSession s = Login(client, "admin", kAdminPassword);

  auto metrics = client.Request("GET", "/metrics", s.Headers());
  REQUIRE(metrics.ok());
  CHECK_THAT(metrics->body, Catch::Contains("outpost_audit_storage_alert 1") &&
                                Catch::Contains("outpost_audit_storage_max_bytes 1048576") &&
                                Catch::Contains("outpost_audit_storage_ratio "));
  auto status = client.Request("GET", "/api/v1/admin/status", s.Headers());
  REQUIRE(status.ok());
  INFO(status->body);
  REQUIRE(status->status == 200);
  Json audit = Json::parse(status->body)["audit"];
  CHECK(audit["storage"]["alert"] == true);
  CHECK(audit["storage"]["ratio"].get<double>() >= 0.75);
  CHECK_THAT(app.Log(), Catch::Contains("audit storage is at or over 75%"));
  CHECK(app.Stop() == 0);

  REQUIRE(app.Start().ok());  // still over: not raised again
  CHECK(app.Stop() == 0);
  std::vector<Json> records = Export(app);
  std::vector<Json> alerts = WithAction(records, "audit.storage_alert");
  REQUIRE(alerts.size() == 1);
  CHECK(alerts[0]["actor"] == "system");
  CHECK(alerts[0]["outcome"] == "failure");
  CHECK(alerts[0]["details"]["max_bytes"] == 1048576);
  CHECK(alerts[0]["details"]["percent"].get<int>() >= 75);

  CliResult doctor = app.Cli({"doctor"});
  CHECK_THAT(doctor.out, Catch::Contains("audit log") && Catch::Contains("over the 75% alert"));
  CHECK(app.Cli({"audit", "verify"}).exit_code == 0);
}

TEST_CASE("a roomy audit log raises no alert and doctor says how full it is",
          "[integration][audit]") {
  TestAppliance app;
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  BrowserSession s = Login(client, "admin", kAdminPassword);
  auto metrics = client.Request("GET", "/metrics", s.Headers());
  REQUIRE(metrics.ok());
  CHECK_THAT(metrics->body, Catch::Contains("outpost_audit_storage_alert 0") &&
                                Catch::Contains("outpost_audit_forward_enabled 0"));
  CHECK(app.Stop() == 0);
  CHECK(WithAction(Export(app), "audit.storage_alert").empty());
  CliResult doctor = app.Cli({"doctor"});
  CHECK_THAT(doctor.out, Catch::Contains("of 1024 MiB ([audit] max_size_mb)"));
  CHECK_THAT(doctor.out, Catch::Contains("forwarding off"));
}

TEST_CASE("a start with a changed configuration records config.changed with the key names",
          "[integration][audit]") {
  TestAppliance app("[chat]\nposts_per_minute = 60\n");
  REQUIRE(app.Start().ok());
  CHECK(app.Stop() == 0);
  REQUIRE(app.Start().ok());  // same file: nothing to record
  CHECK(app.Stop() == 0);
  CHECK(WithAction(Export(app), "config.changed").empty());

  WriteTestFile(app.dir().Sub("config.toml"),
                "[chat]\nposts_per_minute = 61\n[backup]\nkeep = 3\n");
  REQUIRE(app.Start().ok());
  CHECK(app.Stop() == 0);
  std::vector<Json> changed = WithAction(Export(app), "config.changed");
  REQUIRE(changed.size() == 1);
  Json d = changed[0]["details"];
  std::set<std::string> keys(d["changed"].begin(), d["changed"].end());
  CHECK(keys == std::set<std::string>{"chat.posts_per_minute", "backup.keep"});
  CHECK(d["added"].empty());
  CHECK(d["removed"].empty());
  CHECK(d["config_hash"].get<std::string>().size() == 64);
  CHECK(changed[0]["actor"] == "system");
  Json names_only = d;
  names_only.erase("config_hash");
  CHECK(names_only.dump().find("61") == std::string::npos);  // names, never values
}

TEST_CASE("with on_failure = continue, an action goes ahead when its record cannot be written",
          "[integration][audit]") {
  TestAppliance app("[audit]\non_failure = \"continue\"\n");
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  BrowserSession s = Login(client, "admin", kAdminPassword);
  {
    auto conn = storage::Connection::Open(app.data_dir() + "/outpost.db", storage::OpenOptions{});
    REQUIRE(conn.ok());
    REQUIRE((*conn)
                ->Exec("CREATE TRIGGER audit_full BEFORE INSERT ON audit_records BEGIN "
                       "SELECT RAISE(ABORT, 'audit storage full'); END;")
                .ok());
  }
  auto headers = s.Headers(true);
  headers.push_back({"Content-Type", "application/json"});
  auto created = client.Request(
      "POST", "/api/v1/users", headers,
      Json{{"username", "carol"}, {"password", "carol's long passphrase"}}.dump());
  REQUIRE(created.ok());
  INFO(created->body);
  CHECK(created->status == 201);
  auto users = client.Request("GET", "/api/v1/users", s.Headers());
  REQUIRE(users.ok());
  CHECK_THAT(users->body, Catch::Contains("carol"));
  CHECK_THAT(app.Log(), Catch::Contains("audit record lost"));
  CHECK(app.Stop() == 0);
  // The shell honours the policy too.
  WriteTestFile(app.dir().Sub("pw"), "dave's long passphrase\n");
  CHECK(app.Cli({"user", "add", "dave", "--password-file", app.dir().Sub("pw")}).exit_code == 0);
}

}  // namespace
}  // namespace outpost::testing
