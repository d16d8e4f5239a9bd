// The data lifecycle against the real binary: backups made by the running server (on demand
// through the admin API, the same path as the scheduled run), the retention purge on the CLI,
// and the personal-data export and erasure commands, with their refusals and exit codes.
#include <sqlite3.h>
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "support/appliance.h"
#include "util/fs.h"

namespace outpost::testing {
namespace {

using Json = nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

// Runs statements on the database of a stopped (or idle) appliance.
void Sql(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(db_path.c_str(), &db) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  sqlite3_close(db);
  REQUIRE(rc == SQLITE_OK);
}

int64_t SqlInt(const std::string& db_path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
  int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_finalize(st);
  sqlite3_close(db);
  return v;
}

struct Api {
  HttpsClient client;
  BrowserSession session;

  Json Call(const std::string& method, const std::string& path, const Json& body, int expect) {
    Headers h = session.Headers(method != "GET");
    std::string text;
    if (!body.is_null()) {
      h.push_back({"Content-Type", "application/json"});
      text = body.dump();
    }
    auto r = client.Request(method, path, h, text);
    REQUIRE(r.ok());
    INFO(method << " " << path << " -> " << r->status << " " << r->body);
    REQUIRE(r->status == expect);
    return r->body.empty() || r->body[0] != '{' ? Json() : Json::parse(r->body);
  }
  std::string Text(const std::string& path) {
    auto r = client.Request("GET", path, session.Headers());
    REQUIRE(r.ok());
    REQUIRE(r->status == 200);
    return r->body;
  }
};

TEST_CASE("backups made by the running server: pruned, listed, in /metrics and the audit log",
          "[integration][lifecycle][backup]") {
  TempDir keys;
  const std::string key = keys.Sub("backup.key");
  REQUIRE(RunOutpost({"backup", "keygen", "--out", key}).exit_code == 0);
  TempDir archives_dir;
  const std::string archives = archives_dir.Sub("nightly");
  TestAppliance app("[backup]\nschedule = \"03:00\"\nkeep = 2\ndir = \"" + archives +
                    "\"\nkey_file = \"" + key + "\"\n");
  REQUIRE(app.Start().ok());
  Api admin{app.NewClient(), {}};
  admin.session = Login(admin.client, "admin", kAdminPassword);

  Json listed = admin.Call("GET", "/api/v1/admin/backups", nullptr, 200);
  CHECK(listed["scheduler"]["schedule"] == "03:00");
  CHECK(listed["scheduler"]["keep"] == 2);
  CHECK(listed["scheduler"]["runs"] == 0);
  CHECK_FALSE(listed["scheduler"]["next_run_at"].is_null());
  CHECK(listed["backups"].empty());

  std::vector<std::string> made;
  for (int i = 0; i < 3; ++i) {
    Json r = admin.Call("POST", "/api/v1/admin/backups", nullptr, 201);
    made.push_back(r["name"]);
    CHECK(r["size"].get<int64_t>() > 0);
  }
  listed = admin.Call("GET", "/api/v1/admin/backups", nullptr, 200);
  CHECK(listed["scheduler"]["runs"] == 3);
  CHECK(listed["scheduler"]["failures"] == 0);
  CHECK(listed["scheduler"]["last_file"] == made[2]);
  CHECK(listed["scheduler"]["last_error"].is_null());
  REQUIRE(listed["backups"].size() == 2);  // keep = 2
  CHECK(listed["backups"][0]["name"] == made[2]);
  CHECK(listed["backups"][1]["name"] == made[1]);
  CHECK(listed["backups"][0]["status"] == "complete");
  CHECK_FALSE(PathExists(archives + "/" + made[0]));

  // The archive is the one `outpost backup create` makes: it verifies with the key.
  auto verified = RunOutpost({"backup", "verify", archives + "/" + made[2], "--key-file", key});
  INFO(verified.err);
  CHECK(verified.exit_code == 0);

  std::string metrics = admin.Text("/metrics");
  CHECK_THAT(metrics, Catch::Contains("outpost_backup_scheduled 1\n") &&
                          Catch::Contains("outpost_backup_runs_total 3\n") &&
                          Catch::Contains("outpost_backup_failures_total 0\n") &&
                          Catch::Contains("outpost_backup_last_failed 0\n"));
  CHECK_THAT(metrics, !Catch::Contains("outpost_backup_last_size_bytes 0\n"));

  Json audit = admin.Call("GET", "/api/v1/audit?action=backup.", nullptr, 200);
  REQUIRE(audit["records"].size() == 3);
  CHECK(audit["records"][0]["actor"] == "admin");
  CHECK(audit["records"][0]["outcome"] == "success");
  CHECK(audit["records"][0]["details"]["file"] == made[2]);

  // A failure (the key file is gone) is answered, counted, shown and audited.
  std::filesystem::remove(key);
  auto r = admin.client.Request("POST", "/api/v1/admin/backups", admin.session.Headers(true), "");
  REQUIRE(r.ok());
  CHECK(r->status == 404);
  listed = admin.Call("GET", "/api/v1/admin/backups", nullptr, 200);
  CHECK(listed["scheduler"]["failures"] == 1);
  CHECK_THAT(listed["scheduler"]["last_error"].get<std::string>(), Catch::Contains("backup.key"));
  CHECK(listed["backups"].size() == 2);
  metrics = admin.Text("/metrics");
  CHECK_THAT(metrics, Catch::Contains("outpost_backup_failures_total 1\n") &&
                          Catch::Contains("outpost_backup_last_failed 1\n") &&
                          Catch::Contains("outpost_backup_last_error_info{reason=\"not_found\"} 1"));
  audit = admin.Call("GET", "/api/v1/audit?action=backup.", nullptr, 200);
  CHECK(audit["records"][0]["outcome"] == "failure");
}

TEST_CASE("without a backup key the admin route explains, and config check refuses bad values",
          "[integration][lifecycle][backup]") {
  TestAppliance app;
  REQUIRE(app.Start().ok());
  Api admin{app.NewClient(), {}};
  admin.session = Login(admin.client, "admin", kAdminPassword);
  Json listed = admin.Call("GET", "/api/v1/admin/backups", nullptr, 200);
  CHECK(listed["scheduler"]["schedule"].is_null());
  CHECK(listed["scheduler"]["dir"] == app.data_dir() + "/backups");
  auto r = admin.client.Request("POST", "/api/v1/admin/backups", admin.session.Headers(true), "");
  REQUIRE(r.ok());
  CHECK(r->status == 503);
  CHECK_THAT(r->body, Catch::Contains("key_file"));
  CHECK_THAT(admin.Text("/metrics"), Catch::Contains("outpost_backup_scheduled 0\n"));

  TempDir t;
  struct Bad {
    std::string toml;
    std::string says;
  } bad[] = {
      {"[retention]\nmessages_days = -5\n", "retention.messages_days: must be between 0 and"},
      {"[retention]\nfiles_days = 99999999\n", "retention.files_days: must be between 0 and"},
      {"[backup]\nschedule = \"24:00\"\nkey_file = \"/k\"\n", "backup.schedule"},
      {"[backup]\nschedule = \"02:00\"\n", "needs backup.key_file or backup.passphrase_file"},
      {"[backup]\nkeep = -1\n", "backup.keep"},
  };
  for (const Bad& b : bad) {
    INFO(b.toml);
    WriteTestFile(t.Sub("c.toml"), b.toml);
    auto check = RunOutpost({"config", "check", "--config", t.Sub("c.toml")});
    CHECK(check.exit_code == 3);
    CHECK_THAT(check.err, Catch::Contains(b.says));
  }
}

TEST_CASE("retention purge on the CLI: a dry run changes nothing, a purge deletes and audits",
          "[integration][lifecycle][retention]") {
  TestAppliance app("[retention]\nmessages_days = 30\n");
  WriteTestFile(app.dir().Sub("pw"), "bob's long passphrase\n");
  REQUIRE(app.Cli({"user", "add", "bob", "--password-file", app.dir().Sub("pw")}).exit_code == 0);
  REQUIRE(app.Start().ok());
  Api bob{app.NewClient(), {}};
  bob.session = Login(bob.client, "bob", "bob's long passphrase");
  Json room = bob.Call("POST", "/api/v1/rooms", {{"name", "ops"}, {"kind", "private"}}, 201);
  const std::string base = "/api/v1/rooms/" + std::to_string(room["room"]["id"].get<int64_t>());
  for (int i = 0; i < 5; ++i) {
    bob.Call("POST", base + "/messages", {{"body", "old secret " + std::to_string(i)}}, 201);
  }
  bob.Call("POST", base + "/messages", {{"body", "recent news"}}, 201);
  // The room's owner may shorten the site's 30 days, and not lengthen them.
  bob.Call("PUT", base + "/retention", {{"messages_days", 10}}, 200);
  Json refused = bob.Call("PUT", base + "/retention", {{"messages_days", 0}}, 403);
  bob.Call("PUT", base + "/retention", {{"messages_days", -1}}, 400);
  bob.Call("PUT", base + "/retention", {{"messages_days", "ten"}}, 400);
  bob.Call("PUT", base + "/retention", {{"keep", 1}}, 400);
  CHECK(app.Stop() == 0);

  const std::string db = app.data_dir() + "/outpost.db";
  Sql(db, "UPDATE messages SET created_at = created_at - 20 * 86400000 WHERE body LIKE 'old %'");
  const int64_t before = SqlInt(db, "SELECT count(*) FROM messages");

  auto dry = app.Cli({"retention", "purge", "--dry-run", "--json"});
  INFO(dry.err);
  REQUIRE(dry.exit_code == 0);
  Json d = Json::parse(dry.out);
  CHECK(d["dry_run"] == true);
  CHECK(d["messages"] == 5);  // 20 days > the room's 10
  CHECK(SqlInt(db, "SELECT count(*) FROM messages") == before);

  auto purged = app.Cli({"retention", "purge"});
  INFO(purged.err);
  REQUIRE(purged.exit_code == 0);
  CHECK_THAT(purged.out, Catch::Contains("5 messages"));
  CHECK(SqlInt(db, "SELECT count(*) FROM messages") == before - 5);
  CHECK(SqlInt(db, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'secret'") == 0);
  CHECK(SqlInt(db, "SELECT count(*) FROM events WHERE payload LIKE '%old secret%'") == 0);
  CHECK(SqlInt(db, "SELECT count(*) FROM audit_records WHERE action = 'retention.purge' AND "
                   "actor LIKE 'cli%' AND json_extract(details, '$.messages') = 5") == 1);
  CHECK(SqlInt(db, "SELECT count(*) FROM audit_records WHERE action = 'retention.purge' AND "
                   "details LIKE '%secret%'") == 0);
  auto again = app.Cli({"retention", "purge", "--json"});
  REQUIRE(again.exit_code == 0);
  CHECK(Json::parse(again.out)["messages"] == 0);
}

TEST_CASE("user export and erase on the CLI, with every refusal", "[integration][lifecycle][gdpr]") {
  TestAppliance app;
  for (const char* name : {"bob", "carol"}) {
    WriteTestFile(app.dir().Sub("pw"), std::string(name) + "'s long passphrase\n");
    REQUIRE(app.Cli({"user", "add", name, "--password-file", app.dir().Sub("pw")}).exit_code ==
            0);
  }
  REQUIRE(app.Start().ok());
  Api bob{app.NewClient(), {}}, carol{app.NewClient(), {}};
  bob.session = Login(bob.client, "bob", "bob's long passphrase");
  carol.session = Login(carol.client, "carol", "carol's long passphrase");
  Json room = carol.Call("POST", "/api/v1/rooms", {{"name", "ops"}, {"kind", "public"}}, 201);
  const std::string base = "/api/v1/rooms/" + std::to_string(room["room"]["id"].get<int64_t>());
  bob.Call("POST", base + "/join", nullptr, 204);
  Json q = carol.Call("POST", base + "/messages", {{"body", "carol asks"}}, 201);
  Json a = bob.Call("POST", base + "/messages", {{"body", "bob's personal answer"}}, 201);
  const int64_t answer = a["message"]["id"];
  const std::string upload = "bob's upload\nline two\n";
  Headers h = bob.session.Headers(true);
  h.push_back({"Content-Type", "application/octet-stream"});
  auto up = bob.client.Request("POST", base + "/files?name=notes.txt", h, upload);
  REQUIRE(up.ok());
  REQUIRE(up->status == 201);

  const std::string out = app.dir().Sub("bob-export.tar");
  auto exported = app.Cli({"user", "export", "bob", "--out", out});
  INFO(exported.err);
  REQUIRE(exported.exit_code == 0);
  struct stat st;
  REQUIRE(stat(out.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  std::string tar = ReadFile(out).value();
  CHECK(tar.find("bob's personal answer") != std::string::npos);
  CHECK(tar.find(upload) != std::string::npos);  // the file, decrypted
  CHECK(tar.find("carol asks") == std::string::npos);

  auto again = app.Cli({"user", "export", "bob", "--out", out});
  CHECK(again.exit_code == 5);
  CHECK_THAT(again.err, Catch::Contains("--force"));
  CHECK(app.Cli({"user", "export", "bob", "--out", out, "--force"}).exit_code == 0);
  CHECK(app.Cli({"user", "export", "nobody", "--out", app.dir().Sub("n.tar")}).exit_code == 4);
  CHECK_FALSE(PathExists(app.dir().Sub("n.tar")));

  // Without --yes and without a terminal nothing is erased.
  auto unconfirmed = app.Cli({"user", "erase", "bob"});
  CHECK(unconfirmed.exit_code == 6);
  CHECK_THAT(unconfirmed.err, Catch::Contains("--yes"));
  CHECK(app.Cli({"user", "erase", "admin", "--yes"}).exit_code == 6);  // the last administrator
  auto erased = app.Cli({"user", "erase", "bob", "--yes"});
  INFO(erased.err);
  REQUIRE(erased.exit_code == 0);
  CHECK(app.Cli({"user", "erase", "bob", "--yes"}).exit_code == 4);
  CHECK(app.Cli({"user", "erase", "nobody", "--yes"}).exit_code == 4);

  // Bob is gone: his session no longer works, he cannot sign in.
  auto me = bob.client.Request("GET", "/api/v1/me", bob.session.Headers());
  REQUIRE(me.ok());
  CHECK(me->status == 401);
  // Carol still reads the conversation; bob's message has no author now.
  Json history = carol.Call("GET", base + "/messages", nullptr, 200);
  bool seen = false;
  for (const auto& m : history["messages"]) {
    if (m["id"] == answer) {
      seen = true;
      CHECK(m["body"] == "bob's personal answer");
      CHECK(m["author"].is_null());
    }
  }
  CHECK(seen);
  (void)q;
  const std::string db = app.data_dir() + "/outpost.db";
  CHECK(SqlInt(db, "SELECT count(*) FROM files") == 0);
  CHECK(SqlInt(db, "SELECT count(*) FROM blobs") == 0);
  CHECK(SqlInt(db, "SELECT count(*) FROM audit_records WHERE action IN ('user.export', "
                   "'user.erase') AND outcome = 'success'") == 3);
}

}  // namespace
}  // namespace outpost::testing
