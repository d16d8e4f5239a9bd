// The operator's backup, db and doctor commands run as a script would: the restore drill
// (backup while the server serves, wipe, restore, everything back) and every refusal with its
// exit code and nothing written.
#include "domain/backup.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "net/tls.h"
#include "support/appliance.h"
#include "util/fs.h"

namespace outpost::testing {
namespace {

namespace fs = std::filesystem;

std::string Read(const std::string& path) { return ReadFile(path).value(); }

// Every row of every table but `health` (which /readyz rewrites on each probe), sorted.
std::map<std::string, std::vector<std::string>> Dump(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  std::vector<std::string> tables;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type='table' AND name != 'health'",
                     -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  }
  sqlite3_finalize(st);
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& t : tables) {
    REQUIRE(sqlite3_prepare_v2(db, ("SELECT * FROM \"" + t + "\"").c_str(), -1, &st, nullptr) ==
            SQLITE_OK);
    auto& rows = out[t];
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const char* p = static_cast<const char*>(sqlite3_column_blob(st, c));
        row += std::string(p ? p : "", sqlite3_column_bytes(st, c)) + "|";
      }
      rows.push_back(row);
    }
    sqlite3_finalize(st);
    std::sort(rows.begin(), rows.end());
  }
  sqlite3_close(db);
  return out;
}

// name -> contents of every file under `root`.
std::map<std::string, std::string> Files(const std::string& root) {
  std::map<std::string, std::string> out;
  if (!fs::exists(root)) return out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) out[fs::relative(e.path(), root).string()] = Read(e.path());
  }
  return out;
}

std::vector<std::string> Entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

TEST_CASE("restore drill: backup while serving, wipe, restore, everything is back",
          "[integration][backup]") {
  TestAppliance app;
  const std::string data = app.data_dir();
  WriteTestFile(app.dir().Sub("pw"), "bob's long passphrase\n");
  REQUIRE(app.Cli({"user", "add", "bob", "--password-file", app.dir().Sub("pw")}).exit_code == 0);
  REQUIRE(app.Cli({"user", "add", "carol", "--password-file", app.dir().Sub("pw")}).exit_code == 0);
  auto token = app.Cli({"user", "token", "create", "admin", "--label", "drill"});
  REQUIRE(token.exit_code == 0);
  std::string secret = token.out.substr(0, token.out.find('\n'));
  REQUIRE(MakeDirs(data + "/blobs/3f/a9", 0700).ok());
  std::map<std::string, std::string> blobs = {{"blobs/3f/a9/3fa9e1", RandomBytes(5 << 20)},
                                              {"blobs/3f/a9/3fa9e2", RandomBytes(1000)},
                                              {"blobs/00", RandomBytes(70000)},
                                              {"blobs/empty", ""}};
  for (const auto& [name, bytes] : blobs) WriteTestFile(data + "/" + name, bytes);
  REQUIRE(app.Cli({"backup", "keygen", "--out", app.dir().Sub("backup.key")}).exit_code == 0);

  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  BrowserSession bob = Login(client, "bob", "bob's long passphrase");
  REQUIRE(client.Request("GET", "/metrics", {{"Authorization", "Bearer " + secret}})->status ==
          200);
  // Chat content of every kind, made through the API by the administrator's token: channels
  // (public with a topic, private), a DM, messages, a thread reply, an edit, a reaction, a pin,
  // a room retention rule, an uploaded file (encrypted by the file store), and with them the
  // search index, read markers and the audit records they leave.
  auto call = [&](const std::string& method, const std::string& path, const std::string& body,
                  int expect, const std::string& type = "application/json") {
    auto r = client.Request(method, path,
                            {{"Authorization", "Bearer " + secret}, {"Content-Type", type}}, body);
    REQUIRE(r.ok());
    INFO(method << " " << path << " -> " << r->status << " " << r->body);
    REQUIRE(r->status == expect);
    return r->body.empty() ? nlohmann::json() : nlohmann::json::parse(r->body);
  };
  const int64_t ops =
      call("POST", "/api/v1/rooms", R"({"name":"ops","topic":"drill topic"})", 201)["room"]["id"];
  const int64_t hush =
      call("POST", "/api/v1/rooms", R"({"name":"hush","kind":"private"})", 201)["room"]["id"];
  const std::string in_ops = "/api/v1/rooms/" + std::to_string(ops);
  call("POST", in_ops + "/members", R"({"username":"bob"})", 204);
  const int64_t root =
      call("POST", in_ops + "/messages", R"({"body":"the drill keeps zebra words"})",
           201)["message"]["id"];
  const std::string on_root = "/api/v1/messages/" + std::to_string(root);
  call("POST", in_ops + "/messages",
       R"({"body":"a reply in the thread","thread_root_id":)" + std::to_string(root) + "}", 201);
  call("PATCH", on_root, R"({"body":"the drill keeps zebra words, edited"})", 200);
  call("POST", on_root + "/reactions", R"({"emoji":"\u2705"})", 204);
  call("PUT", on_root + "/pin", R"({"pinned":true})", 204);
  call("PUT", in_ops + "/retention", R"({"messages_days":365})", 200);
  call("PUT", in_ops + "/read", R"({"seq":2})", 204);
  call("POST", "/api/v1/rooms/" + std::to_string(hush) + "/messages", R"({"body":"quiet"})", 201);
  const int64_t dm = call("POST", "/api/v1/dms", R"({"users":["carol"]})", 200)["room"]["id"];
  call("POST", "/api/v1/rooms/" + std::to_string(dm) + "/messages", R"({"body":"hello carol"})",
       201);
  const std::string report = RandomBytes(200000);
  const int64_t file_id = call("POST", in_ops + "/files?name=report.bin", report, 201,
                               "application/octet-stream")["id"];
  std::atomic<bool> stop{false};
  std::atomic<int> served{0}, failed{0};
  std::thread load([&] {
    HttpsClient c = app.NewClient();
    while (!stop) {
      for (const char* path : {"/api/v1/me", "/readyz", "/api/v1/site"}) {
        auto r = c.Request("GET", path, bob.Headers());
        (r.ok() && r->status == 200 ? served : failed)++;
      }
    }
  });
  while (served < 10) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  int before = served;
  auto made = app.Cli({"backup", "create", "--key-file", app.dir().Sub("backup.key"), "--json"});
  int during = served - before;
  stop = true;
  load.join();
  INFO(made.err);
  REQUIRE(made.exit_code == 0);
  CHECK(during > 0);
  CHECK(failed == 0);
  auto summary = nlohmann::json::parse(made.out);
  std::string archive = summary["path"];
  CHECK(archive.rfind(data + "/backups/outpost-", 0) == 0);
  CHECK(summary["members"] == 1 + 3 + 4 + 5);  // db, keys, tls, blobs (4 + the upload)
  CHECK(made.err.empty());                     // no progress line without a terminal

  auto db_before = Dump(data + "/outpost.db");
  auto keys_before = Files(data + "/keys");
  auto tls_before = Files(data + "/tls");
  CHECK(app.Stop() == 0);
  fs::rename(archive, app.dir().Sub("drill.obk"));
  fs::remove_all(data);

  auto restored = app.Cli(
      {"backup", "restore", app.dir().Sub("drill.obk"), "--key-file", app.dir().Sub("backup.key")});
  INFO(restored.err);
  REQUIRE(restored.exit_code == 0);
  CHECK_THAT(restored.out, Catch::Contains("restored"));
  // The audit log goes on: backup.create is written after the snapshot it describes, and the
  // restore is the restored log's next record. Everything else is byte for byte the same.
  auto db_after = Dump(data + "/outpost.db");
  auto without = [](std::vector<std::string> rows, const std::string& action) {
    std::erase_if(rows, [&](const std::string& row) {
      return row.find("|" + action + "|") != std::string::npos;
    });
    return rows;
  };
  CHECK(without(db_before.at("audit_records"), "backup.create").size() ==
        db_before.at("audit_records").size() - 1);
  CHECK(without(db_after.at("audit_records"), "backup.restore").size() ==
        db_after.at("audit_records").size() - 1);
  db_before["audit_records"] = without(db_before.at("audit_records"), "backup.create");
  db_after["audit_records"] = without(db_after.at("audit_records"), "backup.restore");
  CHECK(db_after == db_before);
  CHECK(db_before.at("users").size() == 3);
  CHECK(db_before.at("sessions").size() == 1);
  CHECK(db_before.at("api_tokens").size() == 1);
  CHECK(Files(data + "/keys") == keys_before);
  CHECK(Files(data + "/tls") == tls_before);
  auto blobs_after = Files(data + "/blobs");
  REQUIRE(blobs_after.size() == blobs.size() + 1);
  for (const auto& [name, bytes] : blobs) CHECK(blobs_after[name.substr(6)] == bytes);
  for (const char* table : {"rooms", "messages", "reactions", "room_members", "files",
                            "room_retention", "audit_records"}) {
    INFO(table);
    CHECK(!db_before.at(table).empty());
  }
  CHECK(app.Cli({"db", "check"}).exit_code == 0);
  CHECK(app.Cli({"audit", "verify"}).exit_code == 0);
  CHECK(app.Cli({"files", "verify"}).exit_code == 0);

  REQUIRE(app.Start().ok());
  HttpsClient after = app.NewClient();
  Login(after, "carol", "bob's long passphrase");
  CHECK(after.Request("GET", "/api/v1/me", bob.Headers())->status == 200);  // same session
  CHECK(after.Request("GET", "/metrics", {{"Authorization", "Bearer " + secret}})->status == 200);
  // What the users see is back: the search index, the thread, the file's bytes.
  auto found = after.Request("GET", "/api/v1/search?q=zebra", bob.Headers());
  REQUIRE(found.ok());
  REQUIRE(found->status == 200);
  CHECK_THAT(found->body, Catch::Contains("zebra words, edited"));
  auto thread = after.Request("GET", on_root + "/thread", bob.Headers());
  REQUIRE(thread.ok());
  CHECK_THAT(thread->body, Catch::Contains("a reply in the thread"));
  auto file = after.Request("GET", "/api/v1/files/" + std::to_string(file_id), bob.Headers());
  REQUIRE(file.ok());
  CHECK(file->status == 200);
  CHECK(file->body == report);
}

// An appliance with a blob big enough for several 64 KiB chunks, and a key file.
struct Fixture {
  TestAppliance app;
  std::string key = app.dir().Sub("k");
  Fixture() {
    REQUIRE(MakeDirs(app.data_dir() + "/blobs", 0700).ok());
    WriteTestFile(app.data_dir() + "/blobs/big", RandomBytes(300000));
    REQUIRE(app.Cli({"backup", "keygen", "--out", key}).exit_code == 0);
  }
  std::string Create(const std::string& name) {
    auto r = app.Cli({"backup", "create", "--key-file", key, "--out", app.dir().Sub(name)});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return app.dir().Sub(name);
  }
  // Runs verify and a restore into a fresh folder; both must exit `code` and the restore must
  // leave its parent folder empty.
  void ExpectRefused(const std::string& archive, int code, const std::string& key_args_file) {
    auto v = RunOutpost({"backup", "verify", archive, "--key-file", key_args_file});
    CHECK(v.exit_code == code);
    TempDir target;
    auto r = RunOutpost(
        {"backup", "restore", archive, "--key-file", key_args_file, "--data", target.Sub("data")});
    CHECK(r.exit_code == code);
    CHECK(Entries(target.path()).empty());
  }
};

TEST_CASE("tampered, cut, spliced and wrongly keyed archives are refused, writing nothing",
          "[integration][backup]") {
  Fixture f;
  const std::string a = f.Create("a.obk"), b = f.Create("b.obk");
  const std::string good = Read(a);
  auto ok = RunOutpost({"backup", "verify", a, "--key-file", f.key, "--json"});
  REQUIRE(ok.exit_code == 0);
  CHECK(nlohmann::json::parse(ok.out)["members"] == 9);

  SECTION("a changed byte in the middle") {
    std::string bad = good;
    bad[bad.size() / 2] ^= 0x01;
    WriteTestFile(f.app.dir().Sub("x.obk"), bad);
    f.ExpectRefused(f.app.dir().Sub("x.obk"), 8, f.key);
  }
  SECTION("cut at every 4 KiB boundary and at random lengths") {
    std::vector<size_t> lengths;
    for (size_t len = 0; len < good.size(); len += 4096) lengths.push_back(len);
    std::mt19937 rng(42);
    for (int i = 0; i < 12; ++i) lengths.push_back(rng() % good.size());
    for (size_t len : lengths) {
      INFO("cut at " << len);
      WriteTestFile(f.app.dir().Sub("x.obk"), good.substr(0, len));
      CHECK(RunOutpost({"backup", "verify", f.app.dir().Sub("x.obk"), "--key-file", f.key})
                .exit_code == 8);
    }
    f.ExpectRefused(f.app.dir().Sub("x.obk"), 8, f.key);
  }
  SECTION("a chunk swapped in from another archive made with the same key") {
    const size_t chunk = 65536 + 17;
    std::string spliced = good;
    spliced.replace(100 + chunk, chunk, Read(b), 100 + chunk, chunk);
    WriteTestFile(f.app.dir().Sub("x.obk"), spliced);
    f.ExpectRefused(f.app.dir().Sub("x.obk"), 8, f.key);
  }
  SECTION("a wrong key") {
    REQUIRE(RunOutpost({"backup", "keygen", "--out", f.app.dir().Sub("k2")}).exit_code == 0);
    auto v = RunOutpost({"backup", "verify", a, "--key-file", f.app.dir().Sub("k2")});
    CHECK(v.exit_code == 6);
    CHECK_THAT(v.err, Catch::Contains("wrong key or passphrase, or not an Outpost backup"));
    f.ExpectRefused(a, 6, f.app.dir().Sub("k2"));
  }
  SECTION("a manifest whose signature does not verify") {
    domain::DataLayout layout{f.app.data_dir()};
    auto keys = domain::LoadKeys(layout);
    REQUIRE(keys.ok());
    domain::DataLayout other{f.app.dir().Sub("other")};
    REQUIRE(domain::CreateKeys(other).ok());
    keys->signing_secret = SecretString(Read(other.signing_key()));
    auto secret = domain::LoadBackupKeyFile(f.key);
    REQUIRE(secret.ok());
    domain::CreateBackupOptions options;
    options.out_path = f.app.dir().Sub("x.obk");
    REQUIRE(domain::CreateBackup(layout, *keys, *secret, options).ok());
    f.ExpectRefused(f.app.dir().Sub("x.obk"), 8, f.key);
  }
}

TEST_CASE("passphrase archives: from a file, refused when wrong, never asked without a tty",
          "[integration][backup]") {
  TestAppliance app;
  WriteTestFile(app.dir().Sub("pass"), "a long backup passphrase\n");
  WriteTestFile(app.dir().Sub("wrong"), "a long backup passphrase.\n");
  WriteTestFile(app.dir().Sub("short"), "short\n");
  auto made = app.Cli({"backup", "create", "--passphrase-file", app.dir().Sub("pass"), "--out",
                       app.dir().Sub("p.obk")});
  INFO(made.err);
  REQUIRE(made.exit_code == 0);
  CHECK(RunOutpost({"backup", "verify", app.dir().Sub("p.obk"), "--passphrase-file", "-"},
                   "a long backup passphrase\n")
            .exit_code == 0);
  auto wrong = RunOutpost(
      {"backup", "verify", app.dir().Sub("p.obk"), "--passphrase-file", app.dir().Sub("wrong")});
  CHECK(wrong.exit_code == 6);
  CHECK_THAT(wrong.err, Catch::Contains("wrong key or passphrase"));
  auto none = app.Cli({"backup", "create"});
  CHECK(none.exit_code == 6);
  CHECK_THAT(none.err, Catch::Contains("--key-file") && Catch::Contains("--passphrase-file"));
  CHECK(app.Cli({"backup", "create", "--passphrase-file", app.dir().Sub("short")}).exit_code == 6);
  CHECK(app.Cli({"backup", "create", "--passphrase-file", app.dir().Sub("pass"), "--out",
                 app.dir().Sub("p.obk")})
            .exit_code == 5);
  // The database snapshots made on the way were all removed, failed attempts included.
  CHECK(Entries(app.data_dir() + "/backups").empty());
}

TEST_CASE("restore into a folder with data needs --force and keeps the old folder",
          "[integration][backup]") {
  Fixture f;
  std::string a = f.Create("a.obk");
  TempDir t;
  REQUIRE(MakeDirs(t.Sub("data")).ok());
  WriteTestFile(t.Sub("data/keep"), "operator's file");
  auto refused = RunOutpost({"backup", "restore", a, "--key-file", f.key, "--data", t.Sub("data")});
  CHECK(refused.exit_code == 6);
  CHECK_THAT(refused.err, Catch::Contains("--force"));
  CHECK(Entries(t.Sub("data")) == std::vector<std::string>{"keep"});
  CHECK(Entries(t.path()) == std::vector<std::string>{"data"});
  auto forced =
      RunOutpost({"backup", "restore", a, "--key-file", f.key, "--data", t.Sub("data"), "--force"});
  REQUIRE(forced.exit_code == 0);
  auto entries = Entries(t.path());
  REQUIRE(entries.size() == 2);
  CHECK_THAT(forced.out, Catch::Contains(t.Sub(entries[1])));
  CHECK(Read(t.Sub(entries[1]) + "/keep") == "operator's file");
  CHECK(Read(t.Sub("data/blobs/big")) == Read(f.app.data_dir() + "/blobs/big"));
}

TEST_CASE("backup list shows name, size, time and completeness", "[integration][backup]") {
  Fixture f;
  auto made = f.app.Cli({"backup", "create", "--key-file", f.key, "--json"});
  REQUIRE(made.exit_code == 0);
  std::string path = nlohmann::json::parse(made.out)["path"];
  std::string bytes = Read(path);
  WriteTestFile(f.app.data_dir() + "/backups/cut.obk", bytes.substr(0, bytes.size() / 2));
  auto list = f.app.Cli({"backup", "list", "--json"});
  REQUIRE(list.exit_code == 0);
  auto j = nlohmann::json::parse(list.out);
  REQUIRE(j.size() == 2);
  CHECK(j[0]["name"] == "cut.obk");
  CHECK(j[0]["complete"] == false);
  CHECK(j[1]["complete"] == true);
  CHECK(j[1]["size"] == bytes.size());
  CHECK(j[1]["created_at"] == nlohmann::json::parse(made.out)["created_at"]);
  auto text = f.app.Cli({"backup", "list"});
  CHECK_THAT(text.out, Catch::Contains("INCOMPLETE") && Catch::Contains("complete"));
}

TEST_CASE("db check finds broken foreign keys; vacuum waits for the server to stop",
          "[integration][backup][db]") {
  TestAppliance app("[database]\nbusy_timeout_ms = 300\n");
  CHECK(app.Cli({"db", "check"}).exit_code == 0);
  REQUIRE(app.Start().ok());
  auto busy = app.Cli({"db", "vacuum"});
  CHECK(busy.exit_code == 9);
  CHECK_THAT(busy.err, Catch::Contains("outpost serve"));
  CHECK(app.Stop() == 0);
  CHECK(app.Cli({"db", "vacuum"}).exit_code == 0);
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open((app.data_dir() + "/outpost.db").c_str(), &db) == SQLITE_OK);
  REQUIRE(sqlite3_exec(db,
                       "PRAGMA foreign_keys=OFF; INSERT INTO api_tokens(token_hash, user_id, "
                       "name, created_at) VALUES(x'00', 999, 'orphan', 0)",
                       nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(db);
  auto bad = app.Cli({"db", "check"});
  CHECK(bad.exit_code == 8);
  CHECK_THAT(bad.out, Catch::Contains("api_tokens"));
}

TEST_CASE("doctor reports each check and fails on an exposed key", "[integration][backup][db]") {
  TestAppliance app;
  auto fine = app.Cli({"doctor"});
  INFO(fine.out);
  CHECK(fine.exit_code == 0);
  for (const char* name :
       {"permissions", "keys", "tls key", "certificate", "disk", "database", "clock"}) {
    CHECK_THAT(fine.out, Catch::Contains(name));
  }
  CHECK(fine.out.find("FAIL") == std::string::npos);

  // A server certificate that expires in 10 days is a warning, not a failure.
  std::string d = app.data_dir();
  net::KeyAndCert ca{Read(d + "/tls/ca.key"), Read(d + "/tls/ca.pem")};
  auto soon = net::IssueServerCert(ca, "localhost", {"localhost"}, {}, 10);
  REQUIRE(soon.ok());
  WriteTestFile(d + "/tls/server.pem", soon->cert_pem);
  WriteTestFile(d + "/tls/server.key", soon->key_pem);
  auto warn = app.Cli({"doctor"});
  CHECK(warn.exit_code == 0);
  CHECK_THAT(warn.out, Catch::Contains("WARN  certificate"));

  chmod((d + "/keys/master.key").c_str(), 0644);
  auto exposed = app.Cli({"doctor"});
  CHECK(exposed.exit_code == 6);
  CHECK_THAT(exposed.out, Catch::Contains("FAIL  permissions") && Catch::Contains("master.key"));
}

}  // namespace
}  // namespace outpost::testing
