// Rate limits on posting and uploading ([chat] posts_per_minute, [files] uploads_per_minute),
// and no secret in the server's log, the command output or the audit log.
#include <sodium.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/appliance.h"
#include "support/temp_dir.h"
#include "util/crypto.h"
#include "util/fs.h"

namespace outpost::testing {
namespace {

using Json = nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

Headers JsonHeaders(const BrowserSession& s) {
  Headers h = s.Headers(true);
  h.push_back({"Content-Type", "application/json"});
  return h;
}

int64_t GeneralRoom(HttpsClient& client, const BrowserSession& s) {
  auto r = client.Request("GET", "/api/v1/rooms", s.Headers());
  REQUIRE(r.ok());
  REQUIRE(r->status == 200);
  INFO(r->body);
  const Json body = Json::parse(r->body);
  for (const Json& room : body["rooms"]) {
    if (room["name"] == "general") return room["id"];
  }
  FAIL("no general room");
  return 0;
}

void RequireRateLimited(const HttpResponse& r) {
  INFO(r.body);
  CHECK(r.status == 429);
  const std::string retry = r.Header("retry-after");
  REQUIRE_FALSE(retry.empty());
  CHECK(std::stoi(retry) >= 1);
  CHECK(std::stoi(retry) <= 60);
  CHECK(Json::parse(r.body)["error"]["code"] == "rate_limited");
}

TEST_CASE("posting and uploading over the per-account limit get 429 rate_limited",
          "[integration][chat]") {
  TestAppliance app("[chat]\nposts_per_minute = 3\n[files]\nuploads_per_minute = 2\n");
  WriteTestFile(app.dir().Sub("pw"), "oscar's long passphrase\n");
  REQUIRE(app.Cli({"user", "add", "oscar", "--password-file", app.dir().Sub("pw")}).exit_code ==
          0);
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  BrowserSession admin = Login(client, "admin", kAdminPassword);
  BrowserSession oscar = Login(client, "oscar", "oscar's long passphrase");
  // oscar, added on the shell, is in the default room; the administrator joins it.
  const std::string room = std::to_string(GeneralRoom(client, oscar));
  auto joined = client.Request("POST", "/api/v1/rooms/" + room + "/join", admin.Headers(true));
  REQUIRE(joined.ok());
  INFO(joined->body);
  REQUIRE(joined->status < 300);
  auto post = [&](const BrowserSession& s, int i) {
    auto r = client.Request("POST", "/api/v1/rooms/" + room + "/messages", JsonHeaders(s),
                            Json{{"body", "post " + std::to_string(i)}}.dump());
    REQUIRE(r.ok());
    return *r;
  };
  for (int i = 0; i < 3; ++i) CHECK(post(admin, i).status == 201);
  RequireRateLimited(post(admin, 3));
  CHECK(post(oscar, 0).status == 201);  // each account has its own allowance

  auto history = client.Request("GET", "/api/v1/rooms/" + room + "/messages?limit=50",
                                admin.Headers());
  REQUIRE(history.ok());
  CHECK(history->body.find("post 3") == std::string::npos);  // the refused post was not kept

  auto upload = [&](int i) {
    Headers h = admin.Headers(true);
    h.push_back({"Content-Type", "application/octet-stream"});
    auto r = client.Request("POST",
                            "/api/v1/rooms/" + room + "/files?name=f" + std::to_string(i) + ".txt",
                            h, "file " + std::to_string(i) + "\n");
    REQUIRE(r.ok());
    return *r;
  };
  CHECK(upload(0).status == 201);
  CHECK(upload(1).status == 201);
  RequireRateLimited(upload(2));
}

TEST_CASE("no password, token, session or backup secret reaches the log or the audit log",
          "[integration][audit]") {
  TempDir keys;
  const std::string key_file = keys.Sub("backup.key");
  TestAppliance app("[backup]\nkey_file = \"" + key_file + "\"\n");
  REQUIRE(app.Cli({"backup", "keygen", "--out", key_file}).exit_code == 0);
  const std::string passphrase = "a backup passphrase nobody guesses 4711";
  WriteTestFile(app.dir().Sub("passphrase"), passphrase + "\n");
  std::string cli_output;
  {
    CliResult made = app.Cli({"backup", "create", "--passphrase-file", app.dir().Sub("passphrase"),
                              "--out", app.dir().Sub("cli.obk")});
    INFO(made.err);
    REQUIRE(made.exit_code == 0);
    cli_output += made.out + made.err;
  }
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  const std::string wrong = "wrong horse battery staple 99";
  auto failed = client.Request("POST", "/api/v1/auth/login", {{"Content-Type", "application/json"}},
                               Json{{"username", "admin"}, {"password", wrong}}.dump());
  REQUIRE(failed.ok());
  CHECK(failed->status == 401);
  BrowserSession s = Login(client, "admin", kAdminPassword);
  auto token = client.Request("POST", "/api/v1/me/tokens", JsonHeaders(s),
                              Json{{"name", "ci"}}.dump());
  REQUIRE(token.ok());
  REQUIRE(token->status == 201);
  const std::string secret = Json::parse(token->body)["secret"];
  REQUIRE(secret.size() >= 20);
  auto me = client.Request("GET", "/api/v1/me", {{"Authorization", "Bearer " + secret}});
  REQUIRE(me.ok());
  CHECK(me->status == 200);
  auto backup = client.Request("POST", "/api/v1/admin/backups", s.Headers(true));
  REQUIRE(backup.ok());
  INFO(backup->body);
  CHECK(backup->status == 201);
  CHECK(app.Stop() == 0);

  CliResult exported = app.Cli({"audit", "export"});
  REQUIRE(exported.exit_code == 0);
  CHECK_THAT(exported.out, Catch::Contains("token.create") && Catch::Contains("auth.login") &&
                               Catch::Contains("backup."));
  const std::string log = app.Log();
  REQUIRE_FALSE(log.empty());
  const std::string raw_key = ReadFile(key_file).value();
  const std::string session = s.cookie.substr(s.cookie.find('=') + 1);
  const std::vector<std::pair<std::string, std::string>> secrets = {
      {"admin password", kAdminPassword},
      {"mistyped password", wrong},
      {"API token", secret},
      {"session token", session},
      {"CSRF token", s.csrf},
      {"backup passphrase", passphrase},
      {"backup key (hex)", HexEncode(raw_key)},
      {"backup key (raw)", raw_key}};
  for (const auto& [what, value] : secrets) {
    INFO(what);
    REQUIRE(value.size() >= 16);
    CHECK(log.find(value) == std::string::npos);
    CHECK(exported.out.find(value) == std::string::npos);
    CHECK(cli_output.find(value) == std::string::npos);
  }
}

}  // namespace
}  // namespace outpost::testing
