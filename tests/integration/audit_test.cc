// The audit log end to end: a real server and the operator's commands write it, `outpost audit
// export` hands it out, `outpost audit verify` proves it intact and names a corrupted record,
// and an audit log that cannot be written makes actions refused rather than unaudited.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "storage/db.h"
#include "support/appliance.h"
#include "util/crypto.h"
#include "util/fs.h"

namespace outpost::testing {
namespace {

using Json = nlohmann::json;
const std::vector<std::pair<std::string, std::string>> kJson = {
    {"Content-Type", "application/json"}};

std::vector<Json> JsonLines(const std::string& text) {
  std::vector<Json> out;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    Json j = Json::parse(text.substr(pos, end - pos), nullptr, false);
    INFO(text.substr(pos, end - pos));
    REQUIRE(j.is_object());
    out.push_back(j);
    pos = end + 1;
  }
  return out;
}

// The one record with `action`; fails the test when there is not exactly one.
Json Only(const std::vector<Json>& records, const std::string& action) {
  std::vector<Json> hits;
  for (const Json& r : records) {
    if (r["action"] == action) hits.push_back(r);
  }
  INFO(action);
  REQUIRE(hits.size() == 1);
  return hits[0];
}

// Runs SQL on the appliance's database as someone with the file would, past the triggers that
// keep the audit tables append-only.
void Sql(const TestAppliance& app, const std::string& sql) {
  auto conn = storage::Connection::Open(app.data_dir() + "/outpost.db", storage::OpenOptions{});
  REQUIRE(conn.ok());
  Status st = (*conn)->Exec(sql);
  INFO(st.ToString());
  REQUIRE(st.ok());
}

constexpr const char* kDropTriggers =
    "DROP TRIGGER IF EXISTS audit_records_no_update; DROP TRIGGER IF EXISTS "
    "audit_records_no_delete;"
    "DROP TRIGGER IF EXISTS audit_checkpoints_no_update;"
    "DROP TRIGGER IF EXISTS audit_checkpoints_no_delete;";

TEST_CASE(
    "sign-ins and sign-outs are exported with actor, address and outcome, and verify "
    "names a corrupted record",
    "[integration][audit]") {
  TestAppliance app;
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  const std::string wrong = "not the admin passphrase";
  auto failed = client.Request("POST", "/api/v1/auth/login", kJson,
                               Json{{"username", "admin"}, {"password", wrong}}.dump());
  REQUIRE(failed.ok());
  CHECK(failed->status == 401);
  BrowserSession s = Login(client, "admin", kAdminPassword);
  auto out = client.Request("POST", "/api/v1/auth/logout", s.Headers(true));
  REQUIRE(out.ok());
  CHECK(out->status == 204);
  CHECK(app.Stop() == 0);

  // init (2 records), start, the three sign-in events, stop; the clean stop signed them all.
  CliResult verify = app.Cli({"audit", "verify"});
  INFO(verify.err);
  CHECK(verify.exit_code == 0);
  CHECK_THAT(verify.out, Catch::StartsWith("audit log intact: 7 records"));
  CHECK(verify.out.find("not yet signed") == std::string::npos);

  CliResult exported = app.Cli({"audit", "export"});
  INFO(exported.err);
  REQUIRE(exported.exit_code == 0);
  CHECK(exported.out.find(kAdminPassword) == std::string::npos);
  CHECK(exported.out.find(wrong) == std::string::npos);
  std::vector<Json> records = JsonLines(exported.out);
  CHECK(Only(records, "appliance.init")["actor"].get<std::string>().rfind("cli", 0) == 0);
  CHECK(Only(records, "server.start")["actor"] == "system");
  CHECK(Only(records, "server.stop")["details"]["reason"] == "SIGTERM");

  Json bad = Only(records, "auth.login_failed");
  CHECK(bad["actor"] == "admin");
  CHECK(bad["source_ip"] == "127.0.0.1");
  CHECK(bad["outcome"] == "failure");
  CHECK(bad["details"]["reason"] == "unauthenticated");
  Json good = Only(records, "auth.login");
  CHECK(good["actor"] == "admin");
  CHECK(good["actor_id"] == 1);
  CHECK(good["source_ip"] == "127.0.0.1");
  CHECK(good["outcome"] == "success");
  CHECK(good["target"] == "user:admin");
  Json logout = Only(records, "auth.logout");
  CHECK(logout["actor"] == "admin");
  CHECK(logout["source_ip"] == "127.0.0.1");
  CHECK(logout["outcome"] == "success");
  CHECK(bad["seq"].get<int64_t>() < good["seq"].get<int64_t>());
  CHECK(good["seq"].get<int64_t>() < logout["seq"].get<int64_t>());

  CliResult auth = app.Cli({"audit", "export", "--action", "auth.", "--format", "cef"});
  REQUIRE(auth.exit_code == 0);
  std::vector<std::string> lines;
  for (size_t pos = 0, end; pos < auth.out.size(); pos = end + 1) {
    end = auth.out.find('\n', pos);
    lines.push_back(auth.out.substr(pos, end - pos));
  }
  REQUIRE(lines.size() == 3);
  for (const std::string& line : lines) {
    CHECK_THAT(line, Catch::StartsWith("CEF:0|Outpost|Outpost|"));
    CHECK_THAT(line, Catch::Contains(" src=127.0.0.1 ") && Catch::Contains(" suser=admin "));
  }
  CHECK_THAT(lines[0], Catch::Contains("|auth.login_failed|auth.login_failed|5|"));

  CHECK(app.Cli({"audit", "verify"}).exit_code == 0);  // exports are audited, not harmful
  Sql(app, std::string(kDropTriggers) +
               "UPDATE audit_records SET outcome = 'success' WHERE action = 'auth.login_failed'");
  CliResult broken = app.Cli({"audit", "verify"});
  CHECK(broken.exit_code == 8);
  CHECK_THAT(broken.err,
             Catch::Contains("at record " + std::to_string(bad["seq"].get<int64_t>()) + ":"));
}

TEST_CASE("a checkpoint exported to separate media exposes records cut off the end",
          "[integration][audit]") {
  TestAppliance app;
  const std::string file = app.dir().Sub("checkpoint.json");
  CliResult made = app.Cli({"audit", "checkpoint", "export", "--out", file});
  INFO(made.err);
  REQUIRE(made.exit_code == 0);
  Json cp = Json::parse(ReadFile(file).value());
  const int64_t seq = cp["seq"].get<int64_t>();
  CHECK(cp["format"] == "outpost-audit-checkpoint/1");
  CHECK(cp["public_key"] == HexEncode(ReadFile(app.data_dir() + "/keys/signing.pub").value()));
  CHECK(seq >= 3);  // init, the administrator, the export itself

  CliResult intact = app.Cli({"audit", "verify", "--checkpoint", file});
  INFO(intact.err);
  CHECK(intact.exit_code == 0);
  CHECK_THAT(intact.out, Catch::Contains("matches the exported checkpoint"));

  // Cut the newest record and every checkpoint that covered it: the appliance alone cannot tell.
  Sql(app, std::string(kDropTriggers) +
               "DELETE FROM audit_records WHERE seq = " + std::to_string(seq) +
               "; DELETE FROM audit_checkpoints WHERE seq >= " + std::to_string(seq));
  CHECK(app.Cli({"audit", "verify"}).exit_code == 0);
  CliResult cut = app.Cli({"audit", "verify", "--checkpoint", file});
  CHECK(cut.exit_code == 8);
  CHECK_THAT(cut.err, Catch::Contains("at record " + std::to_string(seq) + ":"));
  CHECK(app.Cli({"audit", "verify", "--checkpoint", app.dir().Sub("missing.json")}).exit_code == 4);
}

TEST_CASE("operator commands are audited with the cli actor and never with a secret",
          "[integration][audit]") {
  TestAppliance app;
  const std::string pw = "erin's own passphrase";
  WriteTestFile(app.dir().Sub("pw"), pw + "\n");
  REQUIRE(app.Cli({"user", "add", "erin", "--password-file", app.dir().Sub("pw")}).exit_code == 0);
  REQUIRE(app.Cli({"user", "disable", "erin"}).exit_code == 0);
  REQUIRE(app.Cli({"user", "enable", "erin"}).exit_code == 0);
  REQUIRE(
      app.Cli({"user", "reset-password", "erin", "--password-file", "-"}, pw + " v2\n").exit_code ==
      0);
  CHECK(app.Cli({"user", "disable", "nobody"}).exit_code == 4);
  CliResult token = app.Cli({"user", "token", "create", "erin", "--label", "backup script"});
  REQUIRE(token.exit_code == 0);
  REQUIRE(app.Cli({"user", "token", "revoke", "erin", "1"}).exit_code == 0);

  CliResult exported = app.Cli({"audit", "export"});
  REQUIRE(exported.exit_code == 0);
  CHECK(exported.out.find(pw) == std::string::npos);
  CHECK(exported.out.find(token.out.substr(0, 20)) == std::string::npos);
  std::vector<std::string> actions;
  for (const Json& r : JsonLines(exported.out)) {
    CHECK(r["actor"].get<std::string>().rfind("cli", 0) == 0);
    CHECK(r["source_ip"] == "");
    actions.push_back(r["action"]);
    if (r["action"] == "user.disable" && r["target"] == "user:nobody") {
      CHECK(r["outcome"] == "failure");
      CHECK(r["details"]["reason"] == "not_found");
    }
  }
  CHECK(actions == std::vector<std::string>{"appliance.init", "user.create", "user.create",
                                            "user.disable", "user.enable", "user.password_reset",
                                            "user.disable", "token.create", "token.revoke"});
  CHECK(app.Cli({"audit", "verify"}).exit_code == 0);
}

TEST_CASE("when audit records cannot be written, actions are refused and not performed",
          "[integration][audit]") {
  TestAppliance app;
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  BrowserSession s = Login(client, "admin", kAdminPassword);
  Sql(app,
      "CREATE TRIGGER audit_full BEFORE INSERT ON audit_records BEGIN "
      "SELECT RAISE(ABORT, 'audit storage full'); END;");

  auto create = [&] {
    return client.Request(
        "POST", "/api/v1/users",
        {{"Content-Type", "application/json"}, {"Cookie", s.cookie}, {"X-CSRF-Token", s.csrf}},
        Json{{"username", "carol"}, {"password", "a long passphrase for the new account"}}.dump());
  };
  auto refused = create();
  REQUIRE(refused.ok());
  CHECK(refused->status == 503);
  CHECK_THAT(refused->body, Catch::Contains("audit"));
  auto users = client.Request("GET", "/api/v1/users", s.Headers());
  REQUIRE(users.ok());
  CHECK(users->body.find("carol") == std::string::npos);

  auto login = client.Request("POST", "/api/v1/auth/login", kJson,
                              Json{{"username", "admin"}, {"password", kAdminPassword}}.dump());
  REQUIRE(login.ok());
  CHECK(login->status == 503);
  CHECK(login->Header("set-cookie").empty());

  WriteTestFile(app.dir().Sub("pw"), "dave's own passphrase\n");
  CliResult cli = app.Cli({"user", "add", "dave", "--password-file", app.dir().Sub("pw")});
  CHECK(cli.exit_code == 9);
  CHECK(app.Cli({"user", "list"}).out.find("dave") == std::string::npos);

  Sql(app, "DROP TRIGGER audit_full");
  auto created = create();
  REQUIRE(created.ok());
  CHECK(created->status == 201);
  auto page = client.Request("GET", "/api/v1/audit?action=user.create&limit=1", s.Headers());
  REQUIRE(page.ok());
  REQUIRE(page->status == 200);
  Json body = Json::parse(page->body);
  REQUIRE(body["records"].size() == 1);
  CHECK(body["records"][0]["target"] == "user:carol");
  CHECK(body["records"][0]["actor"] == "admin");
  CHECK(body["records"][0]["source_ip"] == "127.0.0.1");
  CHECK(app.Cli({"audit", "verify"}).exit_code == 0);
}

TEST_CASE("the auditor view pages through the log newest first, with filters",
          "[integration][audit]") {
  TestAppliance app;
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  BrowserSession s = Login(client, "admin", kAdminPassword);
  for (int i = 0; i < 3; ++i) {
    auto r = client.Request(
        "POST", "/api/v1/auth/login", kJson,
        Json{{"username", "admin"}, {"password", "wrong " + std::to_string(i)}}.dump());
    REQUIRE(r.ok());
  }
  auto get = [&](const std::string& query) {
    auto r = client.Request("GET", "/api/v1/audit" + query, s.Headers());
    REQUIRE(r.ok());
    INFO(r->body);
    REQUIRE(r->status == 200);
    return Json::parse(r->body);
  };
  Json first = get("?action=auth.login_failed&limit=2");
  REQUIRE(first["records"].size() == 2);
  int64_t newest = first["records"][0]["seq"].get<int64_t>();
  CHECK(first["records"][1]["seq"].get<int64_t>() < newest);
  REQUIRE(first["next_before_seq"].is_number());
  Json second = get("?action=auth.login_failed&limit=2&before_seq=" +
                    std::to_string(first["next_before_seq"].get<int64_t>()));
  REQUIRE(second["records"].size() == 1);
  CHECK(second["next_before_seq"].is_null());
  CHECK(get("?actor=nobody")["records"].empty());
  CHECK(get("?since=2000-01-01&until=2000-01-02")["records"].empty());

  auto bad = client.Request("GET", "/api/v1/audit?since=yesterday", s.Headers());
  REQUIRE(bad.ok());
  CHECK(bad->status == 400);
  auto anonymous = client.Request("GET", "/api/v1/audit");
  REQUIRE(anonymous.ok());
  CHECK(anonymous->status == 401);
}

TEST_CASE("room changes, membership changes by others, moderators' edits and refusals are audited",
          "[integration][audit]") {
  TestAppliance app;
  WriteTestFile(app.dir().Sub("pw"), "bob's long passphrase\n");
  REQUIRE(app.Cli({"user", "add", "bob", "--password-file", app.dir().Sub("pw")}).exit_code == 0);
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  BrowserSession admin = Login(client, "admin", kAdminPassword);
  BrowserSession bob = Login(client, "bob", "bob's long passphrase");
  auto call = [&](const BrowserSession& who, const std::string& method, const std::string& path,
                  const std::string& body, int expect) {
    auto headers = who.Headers(true);
    headers.push_back({"Content-Type", "application/json"});
    auto r = client.Request(method, path, headers, body);
    REQUIRE(r.ok());
    INFO(method << " " << path << " -> " << r->status << " " << r->body);
    REQUIRE(r->status == expect);
    return r->body.empty() ? Json() : Json::parse(r->body);
  };
  const int64_t room =
      call(admin, "POST", "/api/v1/rooms", R"({"name":"ops"})", 201)["room"]["id"];
  const std::string in_room = "/api/v1/rooms/" + std::to_string(room);
  call(admin, "POST", in_room + "/members", R"({"username":"bob"})", 204);
  call(admin, "PUT", in_room + "/members/bob/role", R"({"role":"moderator"})", 204);
  const int64_t mine = call(bob, "POST", in_room + "/messages", R"({"body":"mine"})",
                            201)["message"]["id"];
  const int64_t other = call(bob, "POST", in_room + "/messages", R"({"body":"secret text"})",
                             201)["message"]["id"];
  call(bob, "DELETE", "/api/v1/messages/" + std::to_string(mine), "", 204);  // own: not audited
  call(admin, "PATCH", "/api/v1/messages/" + std::to_string(other), R"({"body":"fixed"})", 200);
  call(admin, "DELETE", "/api/v1/messages/" + std::to_string(other), "", 204);
  call(bob, "DELETE", in_room, "", 403);  // a room moderator may not delete the room
  call(admin, "DELETE", in_room + "/members/bob", "", 204);
  call(admin, "POST", in_room + "/archive", "", 204);
  call(admin, "POST", in_room + "/unarchive", "", 204);
  call(admin, "DELETE", in_room, "", 204);
  REQUIRE(app.Stop() == 0);

  CliResult exported = app.Cli({"audit", "export"});
  REQUIRE(exported.exit_code == 0);
  CHECK(exported.out.find("secret text") == std::string::npos);  // never a message's text
  std::vector<Json> records = JsonLines(exported.out);
  const std::string target = "room:" + std::to_string(room);
  Json created = Only(records, "room.create");
  CHECK(created["actor"] == "admin");
  CHECK(created["target"] == target);
  CHECK(created["details"]["name"] == "ops");
  CHECK(Only(records, "member.add")["details"]["user"] == "bob");
  CHECK(Only(records, "member.role_change")["details"]["role"] == "moderator");
  CHECK(Only(records, "member.remove")["details"]["user"] == "bob");
  Json edit = Only(records, "message.edit");
  CHECK(edit["target"] == "message:" + std::to_string(other));
  CHECK(edit["details"]["author"] == "bob");
  CHECK(Only(records, "message.delete")["target"] == "message:" + std::to_string(other));
  CHECK(Only(records, "room.archive")["target"] == target);
  CHECK(Only(records, "room.unarchive")["target"] == target);
  std::vector<Json> deletes;
  for (const Json& r : records) {
    if (r["action"] == "room.delete") deletes.push_back(r);
  }
  // Bob's attempt was refused by the route's permission check before the handler ran: it is
  // an access.denied record, not a room.delete one.
  REQUIRE(deletes.size() == 1);
  CHECK(deletes[0]["actor"] == "admin");
  CHECK(deletes[0]["outcome"] == "success");
  Json denied = Only(records, "access.denied");
  CHECK(denied["actor"] == "bob");
  CHECK(denied["outcome"] == "denied");
  CHECK(denied["target"] == "route:DELETE " + in_room);
  CHECK(denied["details"]["permission"].is_string());
  CHECK(denied["details"]["route"].get<std::string>().find("rooms") != std::string::npos);
  CHECK(app.Cli({"audit", "verify"}).exit_code == 0);
}

}  // namespace
}  // namespace outpost::testing
