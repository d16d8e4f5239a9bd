// The admin console's routes against the real binary: who may call them, the system status
// figures, the list of every channel (private ones the administrator is not in included), and
// an administrator's password reset with the policy's refusal and its audit record.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/appliance.h"
#include "util/fs.h"

namespace outpost::testing {
namespace {

using Json = nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kBobPassword = "bob's long enough passphrase";

struct Admin {
  TestAppliance app;
  std::unique_ptr<HttpsClient> client;
  BrowserSession admin;
  BrowserSession bob;

  Admin() {
    WriteTestFile(app.dir().Sub("bob"), std::string(kBobPassword) + "\n");
    REQUIRE(app.Cli({"user", "add", "bob", "--password-file", app.dir().Sub("bob")}).exit_code ==
            0);
    REQUIRE(app.Start().ok());
    client = std::make_unique<HttpsClient>(app.NewClient());
    admin = Login(*client, "admin", kAdminPassword);
    bob = Login(*client, "bob", kBobPassword);
  }

  HttpResponse Raw(const BrowserSession& who, const std::string& method, const std::string& path,
                   const Json& body = nullptr) {
    return JsonRequest(*client, who.Headers(method != "GET"), method, path, body);
  }

  Json Call(const BrowserSession& who, const std::string& method, const std::string& path,
            const Json& body, int expect) {
    return ExpectStatus(Raw(who, method, path, body), expect, method + " " + path);
  }
};

const Json* FindRoom(const Json& list, int64_t id) {
  for (const Json& r : list["rooms"]) {
    if (r["id"] == id) return &r;
  }
  return nullptr;
}

TEST_CASE("admin routes refuse a signed-in user who is not an administrator",
          "[integration][admin]") {
  Admin w;
  for (const char* path : {"/api/v1/admin/status", "/api/v1/admin/rooms"}) {
    HttpResponse r = w.Raw(w.bob, "GET", path);
    INFO(path << " -> " << r.body);
    CHECK(r.status == 403);
    CHECK(Json::parse(r.body)["error"]["code"] == "permission_denied");
  }
  HttpResponse reset = w.Raw(w.bob, "POST", "/api/v1/users/admin/password",
                             {{"password", "a takeover passphrase of some length"}});
  CHECK(reset.status == 403);
  // The administrator's password was not changed by the refused call.
  HttpsClient other = w.app.NewClient();
  Login(other, "admin", kAdminPassword);
}

TEST_CASE("the status page's figures are present and plausible", "[integration][admin]") {
  Admin w;
  w.Call(w.bob, "POST", "/api/v1/rooms", {{"name", "hidden"}, {"kind", "private"}}, 201);
  Json site = w.Call(w.admin, "GET", "/api/v1/site", nullptr, 200);
  Json s = w.Call(w.admin, "GET", "/api/v1/admin/status", nullptr, 200);
  INFO(s.dump(2));
  CHECK(s["version"] == site["version"]);
  CHECK(!s["version"].get<std::string>().empty());
  CHECK(s["uptime_seconds"].get<int64_t>() >= 0);
  CHECK(s["uptime_seconds"].get<int64_t>() < 3600);  // started by this test
  CHECK(s["started_at"].is_string());
  // This request's own connection is open.
  CHECK(s["connections"]["https"].get<int64_t>() >= 1);
  CHECK(s["connections"]["websockets"] == 0);
  CHECK(s["connections"]["online_users"] == 0);
  // The database is the one in the data folder, and not empty.
  CHECK(s["database"]["path"] == w.app.data_dir() + "/outpost.db");
  CHECK(s["database"]["file_bytes"].get<int64_t>() > 4096);
  CHECK(s["database"]["wal_bytes"].get<int64_t>() >= 0);
  CHECK(s["disk"]["path"] == w.app.data_dir());
  const int64_t free_bytes = s["disk"]["free_bytes"], total = s["disk"]["total_bytes"];
  CHECK(free_bytes > 0);
  CHECK(free_bytes <= total);
  CHECK(s["files"]["blobs"] == 0);
  CHECK(s["files"]["stored_bytes"] == 0);
  // Logins and the user's creation were audited: the audit tables hold pages.
  CHECK(s["audit"]["bytes"].get<int64_t>() > 0);
  CHECK(s["audit"]["last_seq"].get<int64_t>() >= 3);
  CHECK(s["users"]["total"] == 2);
  CHECK(s["users"]["disabled"] == 0);
  CHECK(s["rooms"]["private"] == 1);
  CHECK(s["rooms"]["public"].get<int64_t>() >= 1);  // the default room
  CHECK(s["rooms"]["direct"] == 0);
  CHECK(s["rooms"]["archived"] == 0);
  // No backup key configured: the scheduler is there but has never run.
  REQUIRE(s["backup"].is_object());
  CHECK(s["backup"]["configured"] == false);
  CHECK(s["backup"]["scheduled"] == false);
  CHECK(s["backup"]["last_result"].is_null());
  CHECK(s["backup"]["runs"] == 0);

  // Disabling someone shows at once.
  w.Call(w.admin, "POST", "/api/v1/users/bob/disable", Json::object(), 200);
  Json after = w.Call(w.admin, "GET", "/api/v1/admin/status", nullptr, 200);
  CHECK(after["users"]["disabled"] == 1);
}

TEST_CASE("the rooms list holds private channels the administrator is not in, never DMs",
          "[integration][admin]") {
  Admin w;
  Json secret = w.Call(w.bob, "POST", "/api/v1/rooms",
                       {{"name", "secret_plans"}, {"kind", "private"}, {"topic", "100% hush"}},
                       201);
  const int64_t id = secret["room"]["id"];
  w.Call(w.bob, "POST", "/api/v1/dms", {{"users", {"admin"}}}, 200);
  // The administrator's own room list does not show it...
  Json mine = w.Call(w.admin, "GET", "/api/v1/rooms", nullptr, 200);
  CHECK(FindRoom(mine, id) == nullptr);
  // ...the admin list does, with its owner and members.
  Json all = w.Call(w.admin, "GET", "/api/v1/admin/rooms", nullptr, 200);
  INFO(all.dump(2));
  const Json* room = FindRoom(all, id);
  REQUIRE(room != nullptr);
  CHECK((*room)["kind"] == "private");
  CHECK((*room)["name"] == "secret_plans");
  CHECK((*room)["member_count"] == 1);
  CHECK((*room)["archived"] == false);
  REQUIRE((*room)["owners"].size() == 1);
  CHECK((*room)["owners"][0]["username"] == "bob");
  for (const Json& r : all["rooms"]) CHECK((r["kind"] == "public" || r["kind"] == "private"));
  CHECK(all["next_after_id"].is_null());

  SECTION("search and the archived filter") {
    // '%' in the query is a literal, not a wildcard.
    Json hit = w.Call(w.admin, "GET", "/api/v1/admin/rooms?q=100%25", nullptr, 200);
    REQUIRE(hit["rooms"].size() == 1);
    CHECK(hit["rooms"][0]["id"] == id);
    Json none = w.Call(w.admin, "GET", "/api/v1/admin/rooms?q=%25%25%25", nullptr, 200);
    CHECK(none["rooms"].empty());
    w.Call(w.admin, "POST", "/api/v1/rooms/" + std::to_string(id) + "/archive", Json::object(),
           204);
    Json archived = w.Call(w.admin, "GET", "/api/v1/admin/rooms?archived=only", nullptr, 200);
    REQUIRE(archived["rooms"].size() == 1);
    CHECK(archived["rooms"][0]["archived"] == true);
    Json active = w.Call(w.admin, "GET", "/api/v1/admin/rooms?archived=none", nullptr, 200);
    CHECK(FindRoom(active, id) == nullptr);
    w.Call(w.admin, "GET", "/api/v1/admin/rooms?archived=maybe", nullptr, 400);
  }
  SECTION("paging by id") {
    for (int i = 0; i < 3; ++i) {
      w.Call(w.bob, "POST", "/api/v1/rooms", {{"name", "page" + std::to_string(i)}}, 201);
    }
    std::vector<int64_t> seen;
    std::string after = "0";
    for (int pages = 0; pages < 10; ++pages) {
      Json page =
          w.Call(w.admin, "GET", "/api/v1/admin/rooms?limit=2&after_id=" + after, nullptr, 200);
      CHECK(page["rooms"].size() <= 2);
      for (const Json& r : page["rooms"]) seen.push_back(r["id"]);
      if (page["next_after_id"].is_null()) break;
      after = std::to_string(page["next_after_id"].get<int64_t>());
    }
    // general, secret_plans, page0..2: each once, in id order.
    CHECK(seen.size() == 5);
    CHECK(std::is_sorted(seen.begin(), seen.end()));
    CHECK(std::adjacent_find(seen.begin(), seen.end()) == seen.end());
    w.Call(w.admin, "GET", "/api/v1/admin/rooms?limit=0", nullptr, 400);
    w.Call(w.admin, "GET", "/api/v1/admin/rooms?after_id=x", nullptr, 400);
  }
}

TEST_CASE("an administrator's password reset: policy refusal, sessions ended, audited",
          "[integration][admin]") {
  Admin w;
  HttpResponse weak = w.Raw(w.admin, "POST", "/api/v1/users/bob/password", {{"password", "short"}});
  CHECK(weak.status == 400);
  CHECK(!Json::parse(weak.body)["error"]["message"].get<std::string>().empty());
  // Refused: bob's session and password still work.
  w.Call(w.bob, "GET", "/api/v1/me", nullptr, 200);
  w.Call(w.admin, "POST", "/api/v1/users/nobody/password",
         {{"password", "a perfectly fine passphrase"}}, 404);
  w.Call(w.admin, "POST", "/api/v1/users/bob/password", {{"password", 42}}, 400);

  w.Call(w.admin, "POST", "/api/v1/users/bob/password",
         {{"password", "a brand new passphrase for bob"}}, 204);
  CHECK(w.Raw(w.bob, "GET", "/api/v1/me").status == 401);
  HttpsClient other = w.app.NewClient();
  Login(other, "bob", "a brand new passphrase for bob");

  Json audit = w.Call(w.admin, "GET", "/api/v1/audit?action=user.password_reset", nullptr, 200);
  REQUIRE(audit["records"].size() == 3);  // newest first: the success, then two failures
  CHECK(audit["records"][0]["outcome"] == "success");
  CHECK(audit["records"][0]["actor"] == "admin");
  CHECK(audit["records"][0]["target"] == "user:bob");
  CHECK(audit["records"][1]["target"] == "user:nobody");
  CHECK(audit["records"][1]["outcome"] == "failure");
  CHECK(audit["records"][2]["outcome"] == "failure");
  // The password itself is never in a record.
  CHECK(audit.dump().find("brand new") == std::string::npos);
  CHECK(audit.dump().find("short") == std::string::npos);
}

TEST_CASE("runtime settings: applied at once, kept across restarts, audited, reset to the file",
          "[integration][admin][settings]") {
  TestAppliance app(
      "[site]\nbanner_text = \"FILE BANNER\"\nbanner_color = \"blue\"\n"
      "login_notice = \"You consent.\"\nrequire_consent = true\n");
  WriteTestFile(app.dir().Sub("bob"), std::string(kBobPassword) + "\n");
  REQUIRE(app.Cli({"user", "add", "bob", "--password-file", app.dir().Sub("bob")}).exit_code ==
          0);
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  auto login = [&](const std::string& user, const std::string& password) {
    // Like Login(), with the consent this site requires.
    auto r = client.Request("POST", "/api/v1/auth/login", {{"Content-Type", "application/json"}},
                            Json{{"username", user}, {"password", password}, {"consent", true}}
                                .dump());
    REQUIRE(r.ok());
    INFO(r->body);
    REQUIRE(r->status == 200);
    BrowserSession s;
    const std::string set_cookie = r->Header("set-cookie");
    s.cookie = set_cookie.substr(0, set_cookie.find(';'));
    s.csrf = Json::parse(r->body)["csrf_token"].get<std::string>();
    return s;
  };
  BrowserSession admin = login("admin", kAdminPassword);
  BrowserSession bob = login("bob", kBobPassword);
  auto call = [&](const BrowserSession& who, const std::string& method, const Json& body,
                  int expect) {
    Headers h = who.Headers(method != "GET");
    std::string text;
    if (!body.is_null()) {
      h.push_back({"Content-Type", "application/json"});
      text = body.dump();
    }
    auto r = client.Request(method, "/api/v1/admin/settings", h, text);
    REQUIRE(r.ok());
    INFO(method << " -> " << r->status << " " << r->body);
    REQUIRE(r->status == expect);
    return Json::parse(r->body);
  };
  auto site = [&]() {
    auto r = client.Request("GET", "/api/v1/site", {});
    REQUIRE(r.ok());
    return Json::parse(r->body);
  };

  call(bob, "GET", nullptr, 403);
  call(bob, "PATCH", {{"banner_text", "HIJACKED"}}, 403);
  Json s = call(admin, "GET", nullptr, 200);
  CHECK(s["settings"]["banner_text"]["value"] == "FILE BANNER");
  CHECK(s["settings"]["banner_text"]["overridden"] == false);
  CHECK(s["settings"]["banner_color"]["value"] == "blue");

  // Refusals change nothing.
  call(admin, "PATCH", {{"banner_color", "pink"}}, 400);
  call(admin, "PATCH", {{"banner_text", "two\nlines"}}, 400);
  call(admin, "PATCH", {{"banner_text", std::string(201, 'x')}}, 400);
  call(admin, "PATCH", {{"site_name", "Elsewhere"}}, 400);
  call(admin, "PATCH", {{"banner_text", 7}}, 400);
  call(admin, "PATCH", Json::object(), 400);
  // Consent is required: the notice may not disappear.
  call(admin, "PATCH", {{"login_notice", ""}}, 400);
  // A valid change in the same request as an invalid one is not applied either.
  call(admin, "PATCH", {{"banner_text", "HALF"}, {"banner_color", "pink"}}, 400);
  CHECK(site()["banner"] == Json({{"text", "FILE BANNER"}, {"color", "blue"}}));

  Json changed = call(admin, "PATCH",
                      {{"banner_text", "SECRET//EXERCISE"}, {"banner_color", "red"}}, 200);
  CHECK(changed["settings"]["banner_text"]["value"] == "SECRET//EXERCISE");
  CHECK(changed["settings"]["banner_text"]["default"] == "FILE BANNER");
  CHECK(changed["settings"]["banner_text"]["overridden"] == true);
  CHECK(changed["settings"]["login_notice"]["overridden"] == false);
  // Served at once, to anyone, without a restart.
  CHECK(site()["banner"] == Json({{"text", "SECRET//EXERCISE"}, {"color", "red"}}));
  CHECK(site()["login_notice"] == "You consent.");

  // Audited with the key names, never the values.
  Json audit = Json::parse(
      client.Request("GET", "/api/v1/audit?action=settings.", admin.Headers())->body);
  REQUIRE(audit["records"].size() == 1);
  CHECK(audit["records"][0]["action"] == "settings.update");
  CHECK(audit["records"][0]["actor"] == "admin");
  CHECK(audit["records"][0]["details"]["keys"] == Json({"banner_text", "banner_color"}));
  CHECK(audit.dump().find("EXERCISE") == std::string::npos);

  // Kept across a restart.
  REQUIRE(app.Stop() == 0);
  REQUIRE(app.Start().ok());
  client = app.NewClient();
  CHECK(site()["banner"] == Json({{"text", "SECRET//EXERCISE"}, {"color", "red"}}));

  // null goes back to the configuration file's value.
  admin = login("admin", kAdminPassword);
  Json reset = call(admin, "PATCH", {{"banner_text", nullptr}}, 200);
  CHECK(reset["settings"]["banner_text"]["overridden"] == false);
  CHECK(site()["banner"] == Json({{"text", "FILE BANNER"}, {"color", "red"}}));
}

}  // namespace
}  // namespace outpost::testing
