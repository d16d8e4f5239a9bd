// Passwords and lockout against the real binary over HTTPS: a lockout after three wrong
// passwords with the one generic answer, the unlock route and `outpost user unlock`, the audit
// records, the spraying guard, changing one's own password (other sessions and their sockets
// end), and the stig profile's must-change state after the maximum age.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "storage/database.h"
#include "support/appliance.h"
#include "support/ws_client.h"

namespace outpost::testing {
namespace {

using Json = nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kBobPassword = "Bob's long passphrase 2024";
constexpr const char* kGeneric = "wrong user name or password, or the account is locked";

struct World {
  TestAppliance app;
  std::unique_ptr<HttpsClient> client;

  explicit World(const std::string& config = "") : app(config) {
    WriteTestFile(app.dir().Sub("bob"), std::string(kBobPassword) + "\n");
    REQUIRE(app.Cli({"user", "add", "bob", "--password-file", app.dir().Sub("bob")}).exit_code ==
            0);
  }
  void Start() {
    REQUIRE(app.Start().ok());
    client = std::make_unique<HttpsClient>(app.NewClient());
  }

  HttpResponse LoginRaw(const std::string& user, const std::string& password) {
    auto r = client->Request("POST", "/api/v1/auth/login",
                             {{"Content-Type", "application/json"}},
                             Json{{"username", user}, {"password", password}}.dump());
    REQUIRE(r.ok());
    return *r;
  }

  HttpResponse Raw(const BrowserSession& who, const std::string& method, const std::string& path,
                   const Json& body = nullptr) {
    return JsonRequest(*client, who.Headers(method != "GET"), method, path, body);
  }

  Json Call(const BrowserSession& who, const std::string& method, const std::string& path,
            const Json& body, int expect) {
    return ExpectStatus(Raw(who, method, path, body), expect, method + " " + path);
  }

  // The audit records with `action`, newest first.
  std::vector<Json> Audit(const BrowserSession& admin, const std::string& action) {
    Json page = Call(admin, "GET", "/api/v1/audit?action=" + action + "&limit=200", nullptr, 200);
    std::vector<Json> out;
    for (const Json& r : page["records"]) {
      if (r["action"] == action) out.push_back(r);
    }
    return out;
  }

  std::string Host() const { return "localhost:" + std::to_string(app.port()); }
};

TEST_CASE("three wrong passwords lock an account over HTTPS, and the unlock route and the CLI "
          "end the lock",
          "[integration][lockout]") {
  World w;
  w.Start();
  BrowserSession admin = Login(*w.client, "admin", kAdminPassword);
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = w.LoginRaw("bob", "not bob's password " + std::to_string(i));
    CHECK(r.status == 401);
    CHECK(Json::parse(r.body)["error"]["message"] == kGeneric);
  }
  // Locked: the right password gets the very same answer as a wrong one and an unknown name.
  HttpResponse locked = w.LoginRaw("bob", kBobPassword);
  HttpResponse unknown = w.LoginRaw("nobody-here", kBobPassword);
  CHECK(locked.status == 401);
  CHECK(locked.body == unknown.body);

  // Only holders of users.unlock may unlock: not bob's peers.
  WriteTestFile(w.app.dir().Sub("carol"), "Carol's long passphrase 77\n");
  REQUIRE(w.app.Cli({"user", "add", "carol", "--password-file", w.app.dir().Sub("carol")})
              .exit_code == 0);
  BrowserSession carol = Login(*w.client, "carol", "Carol's long passphrase 77");
  CHECK(w.Raw(carol, "POST", "/api/v1/users/bob/unlock").status == 403);
  CHECK(w.LoginRaw("bob", kBobPassword).status == 401);

  Json unlocked = w.Call(admin, "POST", "/api/v1/users/bob/unlock", nullptr, 200);
  CHECK(unlocked["was_locked"] == true);
  CHECK(w.Call(admin, "POST", "/api/v1/users/nobody/unlock", nullptr, 404)["error"]["code"] ==
        "not_found");
  Login(*w.client, "bob", kBobPassword);

  // Locked again, and unlocked from the appliance's shell this time.
  for (int i = 0; i < 3; ++i) {
    CHECK(w.LoginRaw("bob", "still not it " + std::to_string(i)).status == 401);
  }
  CHECK(w.LoginRaw("bob", kBobPassword).status == 401);
  CliResult cli = w.app.Cli({"user", "unlock", "bob"});
  INFO(cli.err);
  REQUIRE(cli.exit_code == 0);
  CHECK_THAT(cli.out, Catch::Contains("unlocked bob"));
  Login(*w.client, "bob", kBobPassword);
  CliResult again = w.app.Cli({"user", "unlock", "bob"});
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.out, Catch::Contains("was not locked"));
  CHECK(w.app.Cli({"user", "unlock", "nobody"}).exit_code != 0);

  // The audit log says precisely what the client was not told.
  std::vector<Json> lockouts = w.Audit(admin, "auth.lockout");
  REQUIRE(lockouts.size() == 2);
  CHECK(lockouts[0]["target"] == "user:bob");
  CHECK(lockouts[0]["source_ip"] == "127.0.0.1");
  std::vector<Json> unlocks = w.Audit(admin, "auth.unlock");
  REQUIRE(unlocks.size() >= 2);
  bool by_route = false, by_cli = false;
  for (const Json& u : unlocks) {
    if (u["target"] != "user:bob" || u["details"]["reason"] != "administrator") continue;
    if (u["actor"] == "admin") by_route = true;
    if (u["actor"].get<std::string>().rfind("cli", 0) == 0) by_cli = true;
  }
  CHECK(by_route);
  CHECK(by_cli);
  std::vector<Json> failed = w.Audit(admin, "auth.login_failed");
  std::set<std::string> reasons;
  for (const Json& f : failed) reasons.insert(f["details"].value("failure", ""));
  CHECK(reasons.count("wrong_password") == 1);
  CHECK(reasons.count("locked") == 1);
  CHECK(reasons.count("unknown_user") == 1);
}

TEST_CASE("one address trying many user names is refused (password spraying)",
          "[integration][lockout]") {
  World w("[auth]\nlogin_user_names_per_ip = 3\n");
  w.Start();
  for (const char* name : {"alpha", "bravo", "charlie"}) {
    CHECK(w.LoginRaw(name, "Spring2024 spray!").status == 401);
  }
  HttpResponse sprayed = w.LoginRaw("delta", "Spring2024 spray!");
  CHECK(sprayed.status == 429);
  CHECK_THAT(sprayed.body, Catch::Contains("different user names"));
  // A name already tried from this address is still answered.
  CHECK(w.LoginRaw("alpha", "Spring2024 spray!").status == 401);
}

TEST_CASE("changing one's own password ends the other sessions and their sockets, and keeps "
          "this one",
          "[integration][lockout]") {
  World w;
  w.Start();
  BrowserSession here = Login(*w.client, "bob", kBobPassword);
  HttpsClient other_client = w.app.NewClient();
  BrowserSession there = Login(other_client, "bob", kBobPassword);
  WsClient socket("127.0.0.1", w.app.port(), w.app.ca_pem(), "localhost");
  auto up = socket.Connect("/api/v1/ws", {{"Cookie", there.cookie},
                                          {"Origin", "https://" + w.Host()},
                                          {"Host", w.Host()}});
  REQUIRE(up.ok());
  REQUIRE(up->status == 101);

  Json wrong = w.Call(here, "POST", "/api/v1/me/password",
                      {{"current_password", "not the password"},
                       {"new_password", "A brand new passphrase 9"}},
                      403);
  CHECK_THAT(wrong["error"]["message"].get<std::string>(), Catch::Contains("current password"));
  Json weak = w.Call(here, "POST", "/api/v1/me/password",
                     {{"current_password", kBobPassword}, {"new_password", "password"}}, 400);
  CHECK_THAT(weak["error"]["message"].get<std::string>(), Catch::Contains("at least 15"));
  Json breached = w.Call(here, "POST", "/api/v1/me/password",
                         {{"current_password", kBobPassword}, {"new_password", "Password123456!"}},
                         400);
  CHECK_THAT(breached["error"]["message"].get<std::string>(), Catch::Contains("breach"));
  w.Call(here, "POST", "/api/v1/me/password", {{"current_password", kBobPassword}}, 400);

  Json done = w.Call(here, "POST", "/api/v1/me/password",
                     {{"current_password", kBobPassword},
                      {"new_password", "A brand new passphrase 9"}},
                     200);
  CHECK(done["sessions_ended"] == 1);
  Result<WsMessage> closed = socket.WaitForClose(10000);
  REQUIRE(closed.ok());
  CHECK(closed->kind == WsMessage::Kind::kClose);
  CHECK(w.Raw(here, "GET", "/api/v1/me").status == 200);
  auto gone = other_client.Request("GET", "/api/v1/me", there.Headers());
  REQUIRE(gone.ok());
  CHECK(gone->status == 401);
  CHECK(w.LoginRaw("bob", kBobPassword).status == 401);
  Login(*w.client, "bob", "A brand new passphrase 9");

  BrowserSession admin = Login(*w.client, "admin", kAdminPassword);
  std::vector<Json> changes = w.Audit(admin, "user.password_change");
  REQUIRE(changes.size() >= 2);
  CHECK(changes[0]["outcome"] == "success");
  CHECK(changes[0]["actor"] == "bob");
  CHECK(changes[0]["details"]["sessions_ended"] == 1);
  bool refused_recorded = false;
  for (const Json& c : changes) refused_recorded |= c["outcome"] == "failure";
  CHECK(refused_recorded);
}

TEST_CASE("stig: past the maximum age a sign-in leads only to changing the password",
          "[integration][lockout]") {
  World w;
  // The stig profile after init (the first administrator's password predates it).
  WriteTestFile(w.app.dir().Sub("config.toml"), "[auth]\npassword_profile = \"stig\"\n");
  w.Start();
  {
    // Bob's password was set long ago: 61 days before now, as the server's clock sees it.
    storage::OpenOptions o;
    auto db = storage::Database::Open(w.app.data_dir() + "/outpost.db", o);
    REQUIRE(db.ok());
    REQUIRE((*db)->Write([](storage::Connection& c) {
      return c.Exec("UPDATE users SET password_changed_at = "
                    "CAST(strftime('%s','now') AS INTEGER) * 1000 - 61 * 86400000 "
                    "WHERE username = 'bob'");
    }).ok());
  }
  HttpResponse login = w.LoginRaw("bob", kBobPassword);
  REQUIRE(login.status == 200);
  CHECK(Json::parse(login.body)["password_change_required"] == true);
  BrowserSession bob = Login(*w.client, "bob", kBobPassword);
  HttpResponse rooms = w.Raw(bob, "GET", "/api/v1/rooms");
  CHECK(rooms.status == 403);
  CHECK(Json::parse(rooms.body)["error"]["code"] == "password_change_required");
  CHECK(w.Call(bob, "GET", "/api/v1/me", nullptr, 200)["password_change_required"] == true);
  WsClient socket("127.0.0.1", w.app.port(), w.app.ca_pem(), "localhost");
  auto up = socket.Connect("/api/v1/ws", {{"Cookie", bob.cookie},
                                          {"Origin", "https://" + w.Host()},
                                          {"Host", w.Host()}});
  REQUIRE(up.ok());
  CHECK(up->status != 101);
  // The stig rules apply to the new password: composition first.
  Json lax = w.Call(bob, "POST", "/api/v1/me/password",
                    {{"current_password", kBobPassword},
                     {"new_password", "all lower case and long"}},
                    400);
  CHECK_THAT(lax["error"]["message"].get<std::string>(), Catch::Contains("upper-case"));
  w.Call(bob, "POST", "/api/v1/me/password",
         {{"current_password", kBobPassword}, {"new_password", "Fresh Passphrase 2025!"}}, 200);
  CHECK(w.Raw(bob, "GET", "/api/v1/rooms").status == 200);
  CHECK(w.Call(bob, "GET", "/api/v1/me", nullptr, 200)["password_change_required"] == false);
  // The minimum age holds the next change back a day.
  Json soon = w.Call(bob, "POST", "/api/v1/me/password",
                     {{"current_password", "Fresh Passphrase 2025!"},
                      {"new_password", "Another Passphrase 2026!"}},
                     403);
  CHECK_THAT(soon["error"]["message"].get<std::string>(), Catch::Contains("day"));

  // An administrator's reset gives a temporary password: the owner may only change it, and
  // the minimum age does not hold that change back.
  BrowserSession admin = Login(*w.client, "admin", kAdminPassword);
  HttpResponse reset = w.Raw(admin, "POST", "/api/v1/users/bob/password",
                             Json{{"password", "Temporary Passphrase 7!"}});
  REQUIRE(reset.status == 204);
  HttpResponse temp_login = w.LoginRaw("bob", "Temporary Passphrase 7!");
  REQUIRE(temp_login.status == 200);
  CHECK(Json::parse(temp_login.body)["password_change_required"] == true);
  BrowserSession temp = Login(*w.client, "bob", "Temporary Passphrase 7!");
  CHECK(w.Raw(temp, "GET", "/api/v1/rooms").status == 403);
  w.Call(temp, "POST", "/api/v1/me/password",
         {{"current_password", "Temporary Passphrase 7!"},
          {"new_password", "Chosen Passphrase 2027!"}},
         200);
  CHECK(w.Raw(temp, "GET", "/api/v1/rooms").status == 200);
  CHECK(w.Call(temp, "GET", "/api/v1/me", nullptr, 200)["password_change_required"] == false);
}

}  // namespace
}  // namespace outpost::testing
