// The real binary over real TLS: sign-in, sessions, CSRF, the refusals of bad input, security
// headers, metrics, the web client, and a clean stop.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "api/routes.h"
#include "support/appliance.h"
#include "util/fs.h"

namespace outpost::testing {
namespace {

using Json = nlohmann::json;
const std::vector<std::pair<std::string, std::string>> kJson = {
    {"Content-Type", "application/json"}};

Json ErrorOf(const HttpResponse& r) {
  Json j = Json::parse(r.body, nullptr, false);
  REQUIRE(j.is_object());
  REQUIRE(j.contains("error"));
  REQUIRE(j["error"]["code"].is_string());
  REQUIRE(j["error"]["message"].is_string());
  return j["error"];
}

auto With(std::vector<std::pair<std::string, std::string>> a,
          const std::vector<std::pair<std::string, std::string>>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

TEST_CASE("a user signs in over TLS 1.2, uses the session and signs out", "[integration]") {
  TestAppliance app;
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  auto me = client.Request("GET", "/api/v1/me");
  REQUIRE(me.ok());
  CHECK(me->status == 401);
  CHECK(ErrorOf(*me)["code"] == "unauthenticated");
  CHECK(client.TlsVersion() == "TLSv1.2");
  CHECK_THAT(client.CipherSuite(), Catch::Contains("ECDHE") && Catch::Contains("CHACHA20"));

  BrowserSession s = Login(client, "admin", kAdminPassword);
  CHECK(s.cookie.rfind("__Host-outpost=", 0) == 0);
  me = client.Request("GET", "/api/v1/me", s.Headers());
  REQUIRE(me.ok());
  REQUIRE(me->status == 200);
  Json body = Json::parse(me->body);
  CHECK(body["user"]["username"] == "admin");
  CHECK(body["user"]["role"] == "admin");
  CHECK(body["csrf_token"] == s.csrf);
  CHECK(client.handshakes() == 1);  // one keep-alive connection for all of it

  // Logging out needs the CSRF token; without it nothing happens.
  auto refused = client.Request("POST", "/api/v1/auth/logout", s.Headers(false));
  REQUIRE(refused.ok());
  CHECK(refused->status == 403);
  CHECK(client.Request("GET", "/api/v1/me", s.Headers())->status == 200);
  auto out = client.Request("POST", "/api/v1/auth/logout", s.Headers(true));
  REQUIRE(out.ok());
  CHECK(out->status == 204);
  CHECK_THAT(out->Header("set-cookie"), Catch::Contains("Max-Age=0"));
  CHECK(client.Request("GET", "/api/v1/me", s.Headers())->status == 401);
}

TEST_CASE("the login cookie is __Host-, Secure, HttpOnly and SameSite=Strict", "[integration]") {
  TestAppliance app;
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  Json creds = {{"username", "admin"}, {"password", kAdminPassword}};
  auto r = client.Request("POST", "/api/v1/auth/login", kJson, creds.dump());
  REQUIRE(r.ok());
  REQUIRE(r->status == 200);
  std::string c = r->Header("set-cookie");
  CHECK_THAT(c, Catch::StartsWith("__Host-outpost="));
  for (const char* attr : {"; Secure", "; HttpOnly", "; SameSite=Strict", "; Path=/"}) {
    CHECK_THAT(c, Catch::Contains(attr));
  }
  CHECK_THAT(c, !Catch::Contains("Domain="));
  // The password and the session token never reach the log.
  std::string token = c.substr(c.find('=') + 1, 43);
  CHECK(app.Log().find(kAdminPassword) == std::string::npos);
  CHECK(app.Log().find(token) == std::string::npos);
}

TEST_CASE("wrong passwords, unknown users and disabled accounts are refused", "[integration]") {
  TestAppliance app;
  WriteTestFile(app.dir().Sub("pw"), "bob's long passphrase\n");
  REQUIRE(app.Cli({"user", "add", "bob", "--password-file", app.dir().Sub("pw")}).exit_code == 0);
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  auto login = [&](const std::string& u, const std::string& p) {
    return client.Request("POST", "/api/v1/auth/login", kJson,
                          Json{{"username", u}, {"password", p}}.dump());
  };
  auto wrong = login("bob", "not bob's passphrase");
  auto unknown = login("nobody", "bob's long passphrase");
  REQUIRE(wrong.ok());
  REQUIRE(unknown.ok());
  CHECK(wrong->status == 401);
  CHECK(unknown->status == 401);
  CHECK(wrong->body == unknown->body);
  CHECK(wrong->Header("set-cookie").empty());
  BrowserSession bob = Login(client, "bob", "bob's long passphrase");
  CHECK(client.Request("GET", "/api/v1/me", bob.Headers())->status == 200);
  REQUIRE(app.Cli({"user", "disable", "bob"}).exit_code == 0);
  // Disabling ends the session at once and refuses new sign-ins.
  CHECK(client.Request("GET", "/api/v1/me", bob.Headers())->status == 401);
  auto disabled = login("bob", "bob's long passphrase");
  REQUIRE(disabled.ok());
  CHECK(disabled->status == 403);
  CHECK(ErrorOf(*disabled)["message"] == "this account is disabled");
}

TEST_CASE("state-changing requests from another origin or without CSRF token are refused",
          "[integration]") {
  TestAppliance app;
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  BrowserSession s = Login(client, "admin", kAdminPassword);
  Json token = {{"name", "ci"}};
  auto create = [&](std::vector<std::pair<std::string, std::string>> headers) {
    return client.Request("POST", "/api/v1/me/tokens", With(kJson, headers), token.dump());
  };
  auto no_csrf = create(s.Headers(false));
  REQUIRE(no_csrf.ok());
  CHECK(no_csrf->status == 403);
  auto wrong_csrf = create({{"Cookie", s.cookie}, {"X-CSRF-Token", std::string(43, 'A')}});
  CHECK(wrong_csrf->status == 403);
  auto cross = create(With(s.Headers(true), {{"Origin", "https://evil.example"}}));
  CHECK(cross->status == 403);
  CHECK_THAT(ErrorOf(*cross)["message"].get<std::string>(), Catch::Contains("Origin"));
  auto fetch_cross = create(With(s.Headers(true), {{"Sec-Fetch-Site", "cross-site"}}));
  CHECK(fetch_cross->status == 403);
  // A login forged from another site is refused too.
  auto forged_login = client.Request(
      "POST", "/api/v1/auth/login", With(kJson, {{"Origin", "https://evil.example"}}),
      Json{{"username", "admin"}, {"password", kAdminPassword}}.dump());
  CHECK(forged_login->status == 403);
  // None of the refused requests created a token.
  auto list = client.Request("GET", "/api/v1/me/tokens", s.Headers());
  REQUIRE(list.ok());
  CHECK(Json::parse(list->body)["tokens"].empty());
  auto ok = create(With(s.Headers(true), {{"Origin", "https://localhost:" +
                                                         std::to_string(app.port())}}));
  REQUIRE(ok.ok());
  INFO(ok->body);
  CHECK(ok->status == 201);
}

TEST_CASE("API tokens authenticate scripts without cookies or CSRF, and can be revoked",
          "[integration]") {
  TestAppliance app;
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  BrowserSession s = Login(client, "admin", kAdminPassword);
  auto created = client.Request("POST", "/api/v1/me/tokens", With(kJson, s.Headers(true)),
                                Json{{"name", "backup script"}, {"expires_in_days", 30}}.dump());
  REQUIRE(created.ok());
  REQUIRE(created->status == 201);
  Json j = Json::parse(created->body);
  std::string secret = j["secret"];
  int64_t id = j["token"]["id"];
  CHECK(secret.rfind("opt_", 0) == 0);
  HttpsClient script = app.NewClient();
  auto me = script.Request("GET", "/api/v1/me", {{"Authorization", "Bearer " + secret}});
  REQUIRE(me.ok());
  CHECK(me->status == 200);
  CHECK(Json::parse(me->body)["user"]["username"] == "admin");
  // A token is enough for state changes: no cookie is sent, so there is nothing to forge.
  auto users = script.Request("POST", "/api/v1/users",
                              With(kJson, {{"Authorization", "Bearer " + secret}}),
                              Json{{"username", "carol"}, {"password", "carol's long passphrase!"}}
                                  .dump());
  REQUIRE(users.ok());
  CHECK(users->status == 201);
  // The list never shows the secret.
  auto list = client.Request("GET", "/api/v1/me/tokens", s.Headers());
  CHECK(list->body.find(secret.substr(4)) == std::string::npos);
  auto revoked = client.Request("DELETE", "/api/v1/me/tokens/" + std::to_string(id),
                                s.Headers(true));
  CHECK(revoked->status == 204);
  CHECK(script.Request("GET", "/api/v1/me", {{"Authorization", "Bearer " + secret}})->status ==
        401);
  CHECK(script.Request("GET", "/api/v1/me", {{"Authorization", "Basic abc"}})->status == 401);
}

TEST_CASE("every non-public route refuses anonymous callers and admin routes refuse users",
          "[integration]") {
  TestAppliance app;
  WriteTestFile(app.dir().Sub("pw"), "plain user passphrase\n");
  REQUIRE(app.Cli({"user", "add", "dave", "--password-file", app.dir().Sub("pw")}).exit_code == 0);
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  BrowserSession user = Login(client, "dave", "plain user passphrase");
  BrowserSession admin = Login(client, "admin", kAdminPassword);
  int walked = 0;
  for (const api::Route& route : api::RouteTable()) {
    // Fill path parameters with plausible values.
    std::string path(route.pattern);
    auto fill = [&](const std::string& group, const std::string& value) {
      size_t at = path.find(group);
      if (at != std::string::npos) path.replace(at, group.size(), value);
    };
    fill(R"((\d{1,18}))", "1");
    fill(R"(([A-Za-z0-9._-]{1,64}))", "dave");
    fill(R"(([^/]{1,64}))", "%F0%9F%91%8D");
    fill(R"(([a-z][a-z0-9-]{1,31}))", "moderator");  // a role id
    std::string method(route.method);
    std::string body = route.json_body ? "{}" : "";
    INFO(method << " " << path);
    auto anon = client.Request(method, path, kJson, body);
    REQUIRE(anon.ok());
    auto as_user = client.Request(method, path, With(kJson, user.Headers(true)), body);
    REQUIRE(as_user.ok());
    auto as_admin = client.Request(method, path, With(kJson, admin.Headers(true)), body);
    REQUIRE(as_admin.ok());
    // The session routes may just have ended dave's session (the admin's current one stays).
    if (path.find("/sessions") != std::string::npos &&
        client.Request("GET", "/api/v1/me", user.Headers())->status == 401) {
      user = Login(client, "dave", "plain user passphrase");
    }
    switch (route.access) {
      case api::Access::kPublic:
        CHECK(anon->status != 401);
        break;
      case api::Access::kUser:
        // Room-level permissions may still refuse (403, 404): chat_api_test walks those.
        CHECK(anon->status == 401);
        CHECK(as_user->status != 401);
        break;
      case api::Access::kAdmin:
        CHECK(anon->status == 401);
        CHECK(as_user->status == 403);
        CHECK(as_admin->status != 401);
        CHECK(as_admin->status != 403);
        break;
    }
    if (path == "/api/v1/auth/logout") {
      user = Login(client, "dave", "plain user passphrase");
      admin = Login(client, "admin", kAdminPassword);
    }
    if (path.find("/disable") != std::string::npos) {
      REQUIRE(app.Cli({"user", "enable", "dave"}).exit_code == 0);
      user = Login(client, "dave", "plain user passphrase");
    }
    ++walked;
  }
  CHECK(walked == static_cast<int>(api::RouteTable().size()));
}

TEST_CASE("bad requests get a clear JSON error and change nothing", "[integration]") {
  TestAppliance app("[server]\nmax_body_bytes = 4096\nmax_header_bytes = 2048\n");
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  BrowserSession s = Login(client, "admin", kAdminPassword);

  SECTION("invalid JSON") {
    auto r = client.Request("POST", "/api/v1/auth/login", kJson, "{\"username\": ");
    REQUIRE(r.ok());
    CHECK(r->status == 400);
    CHECK(ErrorOf(*r)["message"] == "the body is not valid JSON");
    auto arr = client.Request("POST", "/api/v1/auth/login", kJson, "[1,2]");
    CHECK(arr->status == 400);
    auto missing = client.Request("POST", "/api/v1/auth/login", kJson, "{\"username\":\"admin\"}");
    CHECK(missing->status == 400);
    CHECK_THAT(ErrorOf(*missing)["message"].get<std::string>(), Catch::Contains("password"));
  }
  SECTION("wrong content type") {
    auto r = client.Request("POST", "/api/v1/auth/login",
                            {{"Content-Type", "application/x-www-form-urlencoded"}},
                            "username=admin&password=x");
    REQUIRE(r.ok());
    CHECK(r->status == 415);
    CHECK(ErrorOf(*r)["code"] == "unsupported_media_type");
  }
  SECTION("a body over the limit") {
    std::string big = "{\"name\":\"" + std::string(8000, 'x') + "\"}";
    auto r = client.Request("POST", "/api/v1/me/tokens", With(kJson, s.Headers(true)), big);
    REQUIRE(r.ok());
    CHECK(r->status == 413);
    CHECK(ErrorOf(*r)["code"] == "too_large");
    HttpsClient again = app.NewClient();
    auto list = again.Request("GET", "/api/v1/me/tokens", s.Headers());
    CHECK(Json::parse(list->body)["tokens"].empty());
  }
  SECTION("headers over the limit") {
    auto r = client.Request("GET", "/api/v1/me",
                            With(s.Headers(), {{"X-Padding", std::string(3000, 'p')}}));
    REQUIRE(r.ok());
    CHECK(r->status == 431);
    CHECK(ErrorOf(*r)["code"] == "too_large");
  }
  SECTION("an unknown API route") {
    auto r = client.Request("GET", "/api/v1/no/such/thing", s.Headers());
    REQUIRE(r.ok());
    CHECK(r->status == 404);
    CHECK(ErrorOf(*r)["code"] == "not_found");
    auto post = client.Request("POST", "/api/v1/nothing", With(kJson, s.Headers(true)), "{}");
    CHECK(post->status == 404);
    ErrorOf(*post);
  }
  SECTION("a chunked body to a route that does not stream") {
    // Sent without an end: the server must answer from the headers, not wait for the body.
    auto raw = client.SendRaw(
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: localhost\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        "4000\r\n" + std::string(100, 'x'));
    REQUIRE(raw.ok());
    CHECK_THAT(*raw, Catch::StartsWith("HTTP/1.1 411"));
    CHECK_THAT(*raw, Catch::Contains("length_required"));
  }
  SECTION("a malformed request line") {
    auto raw = client.SendRaw("BLAH\r\n\r\n");
    REQUIRE(raw.ok());
    CHECK_THAT(*raw, Catch::StartsWith("HTTP/1.1 400"));
    CHECK_THAT(*raw, Catch::Contains("\"error\""));
  }
  SECTION("a request for a host name the server does not serve") {
    auto r = client.Request("GET", "/api/v1/site", {{"Host", "attacker.example"}});
    REQUIRE(r.ok());
    CHECK(r->status == 421);
  }
  SECTION("plain HTTP on the TLS port") {
    auto raw = PlainRequest("127.0.0.1", app.port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK((!raw.ok() || raw->find("200 OK") == std::string::npos));
  }
  // Whatever was refused, the server keeps serving.
  HttpsClient after = app.NewClient();
  CHECK(after.Request("GET", "/api/v1/me", s.Headers())->status == 200);
}

TEST_CASE("every response carries the security headers", "[integration]") {
  TestAppliance app;
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  for (const char* path : {"/", "/api/v1/site", "/api/v1/me", "/api/v1/nothing", "/healthz"}) {
    INFO(path);
    auto r = client.Request("GET", path);
    REQUIRE(r.ok());
    CHECK_THAT(r->Header("strict-transport-security"), Catch::Contains("max-age="));
    CHECK(r->Header("x-content-type-options") == "nosniff");
    CHECK_THAT(r->Header("content-security-policy"),
               Catch::Contains("frame-ancestors 'none'") && Catch::Contains("script-src 'self'") &&
                   !Catch::Contains("unsafe-inline"));
    CHECK(r->Header("referrer-policy") == "no-referrer");
    CHECK(r->Header("x-request-id").size() == 16);
  }
}

TEST_CASE("the web client is served precompressed with ETags and cache lifetimes",
          "[integration]") {
  TestAppliance app;
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  auto index = client.Request("GET", "/", {{"Accept-Encoding", "identity"}});
  REQUIRE(index.ok());
  REQUIRE(index->status == 200);
  CHECK_THAT(index->Header("content-type"), Catch::StartsWith("text/html"));
  CHECK(index->Header("cache-control") == "no-cache");
  CHECK_THAT(index->body, Catch::Contains("<script") && !Catch::Contains("http://") &&
                              !Catch::Contains("https://"));
  std::string etag = index->Header("etag");
  REQUIRE(!etag.empty());
  auto again = client.Request("GET", "/", {{"If-None-Match", etag}});
  CHECK(again->status == 304);
  CHECK(again->body.empty());
  // The hashed script is immutable and offered compressed.
  size_t src = index->body.find("src=\"/");
  REQUIRE(src != std::string::npos);
  std::string js = index->body.substr(src + 5, index->body.find('"', src + 5) - src - 5);
  auto gz = client.Request("GET", js, {{"Accept-Encoding", "gzip"}});
  REQUIRE(gz.ok());
  CHECK(gz->status == 200);
  CHECK(gz->Header("content-encoding") == "gzip");
  CHECK_THAT(gz->Header("cache-control"), Catch::Contains("immutable"));
  auto plain = client.Request("GET", js, {{"Accept-Encoding", "identity"}});
  CHECK(plain->Header("content-encoding").empty());
  CHECK(plain->body.size() > gz->body.size());
  // Client-side routes get the page; missing files do not.
  CHECK(client.Request("GET", "/rooms/general")->status == 200);
  CHECK(client.Request("GET", "/missing.js")->status == 404);
}

TEST_CASE("health, readiness and metrics answer", "[integration]") {
  TestAppliance app;
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  CHECK(client.Request("GET", "/healthz")->body == "ok\n");
  CHECK(client.Request("GET", "/readyz")->status == 200);
  CHECK(client.Request("GET", "/metrics")->status == 401);
  BrowserSession s = Login(client, "admin", kAdminPassword);
  REQUIRE(client.Request("GET", "/api/v1/nothing").ok());
  auto m = client.Request("GET", "/metrics", s.Headers());
  REQUIRE(m.ok());
  REQUIRE(m->status == 200);
  CHECK_THAT(m->body,
             Catch::Contains("outpost_http_requests_total{route=\"/api/v1/auth/login\","
                             "method=\"POST\",status=\"200\"} 1"));
  CHECK_THAT(m->body, Catch::Contains("outpost_http_requests_total{route=\"/healthz\","
                                      "method=\"GET\",status=\"200\"}"));
  CHECK_THAT(m->body, Catch::Contains("outpost_http_request_duration_seconds_bucket{route="));
  CHECK_THAT(m->body, Catch::Contains("outpost_open_connections 1"));
  CHECK_THAT(m->body, Catch::Contains("outpost_db_size_bytes "));
  // Raw paths never become label values.
  CHECK(m->body.find("/api/v1/nothing") == std::string::npos);
}

TEST_CASE("the access log is one JSON object per line with request id, route, status and time",
          "[integration]") {
  TestAppliance app;
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  auto r = client.Request("GET", "/api/v1/site");
  REQUIRE(r.ok());
  std::string id = r->Header("x-request-id");
  REQUIRE(app.Stop() == 0);
  bool found = false;
  std::string log = app.Log();
  size_t pos = 0;
  while (pos < log.size()) {
    size_t end = log.find('\n', pos);
    std::string line = log.substr(pos, end - pos);
    pos = end == std::string::npos ? log.size() : end + 1;
    Json j = Json::parse(line, nullptr, false);
    INFO(line);
    REQUIRE(j.is_object());
    CHECK(j.contains("ts"));
    if (j.value("request_id", "") == id) {
      found = true;
      CHECK(j["route"] == "/api/v1/site");
      CHECK(j["status"] == 200);
      CHECK(j["method"] == "GET");
      CHECK(j["duration_ms"].is_number());
    }
  }
  CHECK(found);
}

TEST_CASE("SIGTERM finishes in-flight work, checkpoints the WAL and exits 0", "[integration]") {
  TestAppliance app;
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  BrowserSession s = Login(client, "admin", kAdminPassword);
  CHECK(client.Request("GET", "/api/v1/me", s.Headers())->status == 200);
  CHECK(app.Stop(SIGTERM) == 0);
  CHECK_THAT(app.Log(), Catch::Contains("\"msg\":\"stopped\""));
  auto wal = ReadFile(app.data_dir() + "/outpost.db-wal");
  CHECK((!wal.ok() || wal->empty()));
  // The session survived the restart: it was on disk.
  REQUIRE(app.Start().ok());
  HttpsClient again = app.NewClient();
  CHECK(again.Request("GET", "/api/v1/me", s.Headers())->status == 200);
  CHECK(app.Stop(SIGINT) == 0);
}

TEST_CASE("the plain-HTTP listener only redirects to HTTPS", "[integration]") {
  int http_port = FreePort();
  TestAppliance app("[server]\nhttp_redirect_listen = \"127.0.0.1:" + std::to_string(http_port) +
                    "\"\n");
  REQUIRE(app.Start().ok());
  auto r = PlainRequest("127.0.0.1", http_port,
                        "GET /api/v1/me?x=1 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
  REQUIRE(r.ok());
  CHECK_THAT(*r, Catch::StartsWith("HTTP/1.1 308"));
  CHECK_THAT(*r, Catch::Contains("Location: https://localhost:" + std::to_string(app.port()) +
                                 "/api/v1/me?x=1"));
  CHECK(r->find("\"user\"") == std::string::npos);
  auto evil = PlainRequest("127.0.0.1", http_port,
                           "GET / HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
  REQUIRE(evil.ok());
  CHECK_THAT(*evil, Catch::Contains("Location: https://localhost:"));
}

}  // namespace
}  // namespace outpost::testing
