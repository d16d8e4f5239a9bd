// Two-factor sign-in, sessions and the consent banner over real HTTPS and WebSockets. The API
// server, hub and realtime bridge run in this process on a fake clock, so that TOTP steps and
// idle timeouts move only when the test says; the sockets are real TLS connections.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "api/server.h"
#include "domain/permissions.h"
#include "domain/totp.h"
#include "net/hub.h"
#include "support/https_client.h"
#include "support/temp_dir.h"
#include "support/test_database.h"
#include "support/ws_client.h"

namespace outpost::testing {
namespace {

using Json = nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;
constexpr const char* kPassword = "a long enough passphrase";
constexpr int64_t kStepMs = domain::kTotpStepSeconds * 1000;
constexpr int kWaitMs = 5000;

struct Signed {
  std::string cookie;
  std::string csrf;
};

// One appliance in this process.
class AuthServer {
 public:
  explicit AuthServer(api::ApiOptions options = {}, domain::AccountPolicy policy = {})
      : hub_(net::HubOptions{}) {
    db_ = testing::NewTestDatabase(dir_.Sub("o.db"));
    roles_ = std::make_unique<domain::Roles>(db_.get());
    REQUIRE(roles_->Load().ok());
    accounts_ = std::make_unique<domain::Accounts>(db_.get(), &clock, std::move(policy));
    domain::SessionPolicy sp;  // 15 minutes idle for users, 10 for privileged roles
    sp.is_privileged = [this](std::string_view role) { return roles_->IsPrivileged(role); };
    sessions_ = std::make_unique<domain::Sessions>(db_.get(), &clock, sp);
    tokens_ = std::make_unique<domain::ApiTokens>(db_.get(), &clock);
    two_factor = std::make_unique<domain::TwoFactor>(db_.get(), &clock, std::string(32, 'k'),
                                                     "Outpost Test");
    pending_ = std::make_unique<domain::PendingLogins>(&clock);
    audit_ = std::make_unique<domain::AuditLog>(db_.get(), &clock, nullptr);
    accounts_->SetAuditLog(audit_.get());  // auth.lockout
    throttle_ = std::make_unique<api::LoginThrottle>(&clock, 1000);
    bridge = std::make_unique<api::RealtimeBridge>(db_.get(), &hub_, &clock, 2,
                                                   std::chrono::milliseconds(0));
    bridge->AttachCredentials(sessions_.get(), tokens_.get());
    hub_.set_message_handler([this](net::ConnId c, int64_t u, int64_t s, std::string_view t) {
      bridge->OnMessage(c, u, s, t);
    });
    hub_.set_connection_handler(
        [this](net::ConnId c, int64_t u, bool open) { bridge->OnConnection(c, u, open); });
    REQUIRE(hub_.Start().ok());

    auto ca = net::GenerateCa("Auth Test CA", 30);
    REQUIRE(ca.ok());
    auto cert = net::IssueServerCert(*ca, "localhost", {"localhost"}, {"127.0.0.1"}, 30);
    REQUIRE(cert.ok());
    ca_pem_ = ca->cert_pem;
    auto tls = net::TlsContext::Create(cert->cert_pem, cert->key_pem);
    REQUIRE(tls.ok());

    api::Services svc;
    svc.db = db_.get();
    svc.accounts = accounts_.get();
    svc.sessions = sessions_.get();
    svc.api_tokens = tokens_.get();
    svc.two_factor = two_factor.get();
    svc.pending_logins = pending_.get();
    svc.roles = roles_.get();
    svc.audit = audit_.get();
    svc.metrics = &metrics_;
    svc.realtime = bridge.get();
    svc.login_throttle = throttle_.get();
    svc.clock = &clock;
    svc.started_at = clock.NowMillis();
    options.log_requests = false;
    api::ListenOptions listen;
    listen.port = 0;
    listen.worker_threads = 4;
    server_ = std::make_unique<api::ApiServer>(std::move(svc), options, listen, *tls);
    server_->EnableRealtime(&hub_, bridge.get());
    REQUIRE(server_->Start().ok());
  }
  ~AuthServer() {
    server_->Stop();
    server_->Wait();
    hub_.Stop();
    bridge.reset();  // its workers may still call the hub: before the hub goes
  }

  domain::Accounts& accounts() { return *accounts_; }
  domain::User MakeUser(const std::string& name, const char* role = domain::kRoleUser) {
    auto u = accounts_->Create(name, name, role, kPassword);
    REQUIRE(u.ok());
    return *u;
  }
  HttpsClient Client() const { return HttpsClient("127.0.0.1", server_->port(), ca_pem_); }
  std::string Host() const { return "localhost:" + std::to_string(server_->port()); }

  Json Post(HttpsClient& c, const std::string& path, const Json& body, int expect,
            const Headers& extra = {}) {
    Headers h = {{"Content-Type", "application/json"}};
    h.insert(h.end(), extra.begin(), extra.end());
    auto r = c.Request("POST", path, h, body.dump());
    REQUIRE(r.ok());
    INFO(path << " -> " << r->status << " " << r->body);
    REQUIRE(r->status == expect);
    last_cookie = r->Header("set-cookie");
    return r->body.empty() ? Json() : Json::parse(r->body);
  }
  Json Call(HttpsClient& c, const Signed& s, const std::string& method, const std::string& path,
            int expect, const Json& body = nullptr) {
    Headers h = {{"Cookie", s.cookie}, {"X-CSRF-Token", s.csrf}};
    if (!body.is_null()) h.push_back({"Content-Type", "application/json"});
    auto r = c.Request(method, path, h, body.is_null() ? "" : body.dump());
    REQUIRE(r.ok());
    INFO(method << " " << path << " -> " << r->status << " " << r->body);
    REQUIRE(r->status == expect);
    return r->body.empty() ? Json() : Json::parse(r->body);
  }
  // The session from a 200 answer that set the cookie.
  Signed SessionFrom(const Json& answer) const {
    REQUIRE(last_cookie.rfind("__Host-outpost=", 0) == 0);
    return Signed{last_cookie.substr(0, last_cookie.find(';')),
                  answer.at("csrf_token").get<std::string>()};
  }
  // Signs in without a second factor.
  Signed Login(HttpsClient& c, const std::string& name) {
    Json j = Post(c, "/api/v1/auth/login", {{"username", name}, {"password", kPassword}}, 200);
    REQUIRE_FALSE(j.contains("second_factor"));
    return SessionFrom(j);
  }
  std::unique_ptr<WsClient> Socket(const Signed& s) {
    auto ws = std::make_unique<WsClient>("127.0.0.1", server_->port(), ca_pem_, "localhost");
    auto r = ws->Connect("/api/v1/ws", {{"Cookie", s.cookie},
                                        {"Origin", "https://" + Host()},
                                        {"Host", Host()}});
    REQUIRE(r.ok());
    REQUIRE(r->status == 101);
    return ws;
  }
  // The code the user's app shows now (`steps` away).
  std::string Code(int64_t user_id, int64_t steps = 0) {
    auto secret = two_factor->SecretForTest(user_id);
    REQUIRE(secret.ok());
    return domain::Hotp(secret->value(),
                        static_cast<uint64_t>(domain::TotpStep(clock.NowMillis()) + steps));
  }
  // Audit records of `action`, oldest first, as JSON objects.
  std::vector<Json> AuditOf(const std::string& action) {
    std::vector<Json> out;
    REQUIRE(db_->Read([&](storage::Connection& conn) {
                  auto s = conn.Prepare(
                      "SELECT actor, target, outcome, details FROM audit_records "
                      "WHERE action = ? ORDER BY seq");
                  REQUIRE(s.ok());
                  s->Bind(1, action);
                  while (*s->Step()) {
                    out.push_back({{"actor", s->ColumnText(0)},
                                   {"target", s->ColumnText(1)},
                                   {"outcome", s->ColumnText(2)},
                                   {"details", Json::parse(s->ColumnText(3))}});
                  }
                  return Status::Ok();
                })
                .ok());
    return out;
  }

  FakeClock clock{1'790'000'000'000};
  std::unique_ptr<domain::TwoFactor> two_factor;
  std::unique_ptr<api::RealtimeBridge> bridge;
  std::string last_cookie;

 private:
  TempDir dir_;
  std::unique_ptr<storage::Database> db_;
  std::unique_ptr<domain::Roles> roles_;
  std::unique_ptr<domain::Accounts> accounts_;
  std::unique_ptr<domain::Sessions> sessions_;
  std::unique_ptr<domain::ApiTokens> tokens_;
  std::unique_ptr<domain::PendingLogins> pending_;
  std::unique_ptr<domain::AuditLog> audit_;
  std::unique_ptr<api::LoginThrottle> throttle_;
  api::Metrics metrics_;
  net::Hub hub_;
  std::string ca_pem_;
  std::unique_ptr<api::ApiServer> server_;
};

// Enrols `s`'s user from the Security page's routes; returns the recovery codes.
std::vector<std::string> EnrolFromSettings(AuthServer& app, HttpsClient& c, const Signed& s,
                                           int64_t user_id) {
  Json e = app.Call(c, s, "POST", "/api/v1/me/2fa/enrol", 200);
  CHECK(e["otpauth_uri"].get<std::string>().rfind("otpauth://totp/Outpost%20Test:", 0) == 0);
  std::string secret;
  REQUIRE(domain::Base32Decode(e["secret"].get<std::string>(), &secret));
  CHECK(secret == app.two_factor->SecretForTest(user_id)->value());
  Json done = app.Call(c, s, "POST", "/api/v1/me/2fa/confirm", 200, {{"code", app.Code(user_id)}});
  app.clock.Advance(kStepMs);  // that step is spent
  return done["recovery_codes"].get<std::vector<std::string>>();
}

TEST_CASE("with two-factor on, sign-in takes a code; wrong codes and replays are refused",
          "[integration][auth]") {
  AuthServer app;
  domain::User bob = app.MakeUser("bob");
  HttpsClient c = app.Client();
  Signed first = app.Login(c, "bob");
  std::vector<std::string> recovery = EnrolFromSettings(app, c, first, bob.id);
  REQUIRE(recovery.size() == 10);
  REQUIRE(app.AuditOf("auth.2fa_enrol").size() == 1);

  // The password alone gives a pending token and no cookie.
  Json step1 = app.Post(c, "/api/v1/auth/login", {{"username", "bob"}, {"password", kPassword}},
                        200);
  CHECK(step1["second_factor"] == "totp");
  CHECK(app.last_cookie.empty());
  const std::string pending = step1["pending"];
  // The pending token is not a session.
  auto me = c.Request("GET", "/api/v1/me", {{"Cookie", "__Host-outpost=" + pending}});
  REQUIRE(me.ok());
  CHECK(me->status == 401);
  const std::string good = app.Code(bob.id);
  const std::string wrong = good == "000000" ? "111111" : "000000";
  Json refused = app.Post(c, "/api/v1/auth/login/totp", {{"pending", pending}, {"code", wrong}},
                          401);
  CHECK(refused["error"]["code"] == "unauthenticated");
  CHECK(app.last_cookie.empty());
  auto failed = app.AuditOf("auth.2fa_failed");
  REQUIRE(failed.size() == 1);
  CHECK(failed[0]["actor"] == "bob");
  CHECK(failed[0]["outcome"] == "failure");
  // The right code finishes the same pending sign-in.
  Json done = app.Post(c, "/api/v1/auth/login/totp", {{"pending", pending}, {"code", good}}, 200);
  Signed s = app.SessionFrom(done);
  CHECK(app.Call(c, s, "GET", "/api/v1/me", 200)["user"]["username"] == "bob");
  CHECK(app.AuditOf("auth.login").back()["details"]["second_factor"] == "totp");
  // The pending token was spent, and the code cannot be used again with a new one.
  app.Post(c, "/api/v1/auth/login/totp", {{"pending", pending}, {"code", good}}, 401);
  Json again = app.Post(c, "/api/v1/auth/login", {{"username", "bob"}, {"password", kPassword}},
                        200);
  app.Post(c, "/api/v1/auth/login/totp", {{"pending", again["pending"]}, {"code", good}}, 401);
  // A recovery code finishes a sign-in once.
  Json third = app.Post(c, "/api/v1/auth/login", {{"username", "bob"}, {"password", kPassword}},
                        200);
  Json by_code = app.Post(c, "/api/v1/auth/login/totp",
                          {{"pending", third["pending"]}, {"recovery_code", recovery[3]}}, 200);
  CHECK(app.AuditOf("auth.recovery_code_used").size() == 1);
  CHECK(app.AuditOf("auth.recovery_code_used")[0]["details"]["left"] == 9);
  Json fourth = app.Post(c, "/api/v1/auth/login", {{"username", "bob"}, {"password", kPassword}},
                         200);
  app.Post(c, "/api/v1/auth/login/totp",
           {{"pending", fourth["pending"]}, {"recovery_code", recovery[3]}}, 401);
  // No audit record carries a code or the secret.
  for (const char* action : {"auth.2fa_failed", "auth.login", "auth.2fa_enrol"}) {
    for (const Json& r : app.AuditOf(action)) {
      CHECK(r.dump().find(good) == std::string::npos);
      CHECK(r.dump().find(recovery[3]) == std::string::npos);
    }
  }
}

TEST_CASE("five wrong codes end a pending sign-in", "[integration][auth]") {
  domain::AccountPolicy no_lockout;
  no_lockout.lockout_attempts = 0;  // the lock would end it first (next test)
  AuthServer app({}, no_lockout);
  domain::User bob = app.MakeUser("bob");
  HttpsClient c = app.Client();
  EnrolFromSettings(app, c, app.Login(c, "bob"), bob.id);
  Json step1 = app.Post(c, "/api/v1/auth/login", {{"username", "bob"}, {"password", kPassword}},
                        200);
  const std::string good = app.Code(bob.id);
  const std::string wrong = good == "000000" ? "111111" : "000000";
  for (int i = 0; i < domain::PendingLogins::kMaxFailures; ++i) {
    app.Post(c, "/api/v1/auth/login/totp", {{"pending", step1["pending"]}, {"code", wrong}}, 401);
  }
  Json gone = app.Post(c, "/api/v1/auth/login/totp",
                       {{"pending", step1["pending"]}, {"code", good}}, 401);
  CHECK_THAT(gone["error"]["message"].get<std::string>(), Catch::Contains("sign in again"));
}

TEST_CASE("wrong codes count toward the lockout with wrong passwords; a full sign-in resets it",
          "[integration][auth][lockout]") {
  AuthServer app;  // three failures in 15 minutes lock
  domain::User bob = app.MakeUser("bob");
  HttpsClient c = app.Client();
  EnrolFromSettings(app, c, app.Login(c, "bob"), bob.id);
  const Json right = {{"username", "bob"}, {"password", kPassword}};
  auto wrong_code = [&] { return app.Code(bob.id) == "000000" ? "111111" : "000000"; };

  // A wrong password, then the right one and two wrong codes: three failures, a lock.
  app.Post(c, "/api/v1/auth/login", {{"username", "bob"}, {"password", "not the passphrase"}}, 401);
  Json step1 = app.Post(c, "/api/v1/auth/login", right, 200);
  app.Post(c, "/api/v1/auth/login/totp", {{"pending", step1["pending"]}, {"code", wrong_code()}},
           401);
  CHECK(app.AuditOf("auth.lockout").empty());
  app.Post(c, "/api/v1/auth/login/totp", {{"pending", step1["pending"]}, {"code", wrong_code()}},
           401);
  REQUIRE(app.AuditOf("auth.lockout").size() == 1);
  // The pending sign-in ended with the lock, and the password no longer opens a step.
  app.Post(c, "/api/v1/auth/login/totp",
           {{"pending", step1["pending"]}, {"code", app.Code(bob.id)}}, 401);
  app.Post(c, "/api/v1/auth/login", right, 401);
  CHECK(app.accounts().GetLockState("bob")->locked);

  // Unlocked: two wrong codes, then a complete sign-in starts the count afresh, so two more
  // wrong codes do not lock.
  REQUIRE(app.accounts().Unlock("bob").ok());
  Json step2 = app.Post(c, "/api/v1/auth/login", right, 200);
  app.Post(c, "/api/v1/auth/login/totp", {{"pending", step2["pending"]}, {"code", wrong_code()}},
           401);
  app.Post(c, "/api/v1/auth/login/totp", {{"pending", step2["pending"]}, {"code", wrong_code()}},
           401);
  CHECK(app.accounts().GetLockState("bob")->recent_failures == 2);
  app.clock.Advance(kStepMs);  // a fresh code: the last one was used
  app.Post(c, "/api/v1/auth/login/totp",
           {{"pending", step2["pending"]}, {"code", app.Code(bob.id)}}, 200);
  CHECK(app.accounts().GetLockState("bob")->recent_failures == 0);
  Json step3 = app.Post(c, "/api/v1/auth/login", right, 200);
  app.Post(c, "/api/v1/auth/login/totp", {{"pending", step3["pending"]}, {"code", wrong_code()}},
           401);
  app.Post(c, "/api/v1/auth/login/totp", {{"pending", step3["pending"]}, {"code", wrong_code()}},
           401);
  CHECK_FALSE(app.accounts().GetLockState("bob")->locked);
  CHECK(app.AuditOf("auth.lockout").size() == 1);
}

TEST_CASE("disabling two-factor needs the password and a code", "[integration][auth]") {
  AuthServer app;
  domain::User bob = app.MakeUser("bob");
  HttpsClient c = app.Client();
  Signed s = app.Login(c, "bob");
  EnrolFromSettings(app, c, s, bob.id);
  app.Call(c, s, "POST", "/api/v1/me/2fa/disable", 401,
           {{"password", "not the password"}, {"code", app.Code(bob.id)}});
  app.Call(c, s, "POST", "/api/v1/me/2fa/disable", 401,
           {{"password", kPassword}, {"code", "12345"}});
  CHECK(app.Call(c, s, "GET", "/api/v1/me/2fa", 200)["enabled"] == true);
  app.Call(c, s, "POST", "/api/v1/me/2fa/disable", 204,
           {{"password", kPassword}, {"code", app.Code(bob.id)}});
  CHECK(app.Call(c, s, "GET", "/api/v1/me/2fa", 200)["enabled"] == false);
  CHECK(app.AuditOf("auth.2fa_disable").back()["outcome"] == "success");
  app.Login(c, "bob");  // one step again
}

TEST_CASE("require_2fa all: a user without it must enrol before any session exists",
          "[integration][auth]") {
  api::ApiOptions options;
  options.require_2fa = domain::TwoFactorRequirement::kAll;
  AuthServer app(options);
  domain::User bob = app.MakeUser("bob");
  HttpsClient c = app.Client();
  Json step1 = app.Post(c, "/api/v1/auth/login", {{"username", "bob"}, {"password", kPassword}},
                        200);
  CHECK(step1["second_factor"] == "enrol");
  CHECK(app.last_cookie.empty());
  const std::string pending = step1["pending"];
  // The enrolment token cannot be used as a code step.
  app.Post(c, "/api/v1/auth/login/totp", {{"pending", pending}, {"code", "123456"}}, 403);
  Json e = app.Post(c, "/api/v1/auth/login/enrol", {{"pending", pending}}, 200);
  CHECK(e["otpauth_uri"].get<std::string>().find("secret=" + e["secret"].get<std::string>()) !=
        std::string::npos);
  const std::string good = app.Code(bob.id);
  const std::string wrong = good == "000000" ? "111111" : "000000";
  app.Post(c, "/api/v1/auth/login/enrol/confirm", {{"pending", pending}, {"code", wrong}}, 401);
  CHECK(app.last_cookie.empty());
  Json done =
      app.Post(c, "/api/v1/auth/login/enrol/confirm", {{"pending", pending}, {"code", good}}, 200);
  CHECK(done["recovery_codes"].size() == 10);
  Signed s = app.SessionFrom(done);
  Json me = app.Call(c, s, "GET", "/api/v1/me", 200);
  CHECK(me["two_factor"]["enabled"] == true);
  CHECK(me["two_factor"]["required"] == true);
  // Required: it cannot be turned off.
  app.clock.Advance(kStepMs);
  app.Call(c, s, "POST", "/api/v1/me/2fa/disable", 403,
           {{"password", kPassword}, {"code", app.Code(bob.id)}});
  // The next sign-in asks for a code.
  Json next = app.Post(c, "/api/v1/auth/login", {{"username", "bob"}, {"password", kPassword}},
                       200);
  CHECK(next["second_factor"] == "totp");
}

TEST_CASE("an administrator resets a user's two-factor; users cannot", "[integration][auth]") {
  AuthServer app;
  domain::User bob = app.MakeUser("bob");
  app.MakeUser("root", domain::kRoleAdmin);
  HttpsClient c = app.Client();
  Signed b = app.Login(c, "bob");
  EnrolFromSettings(app, c, b, bob.id);
  app.Call(c, b, "POST", "/api/v1/users/bob/2fa/reset", 403);
  Signed root = app.Login(c, "root");
  Json r = app.Call(c, root, "POST", "/api/v1/users/bob/2fa/reset", 200);
  CHECK(r["had_2fa"] == true);
  auto audited = app.AuditOf("auth.2fa_reset");
  REQUIRE(audited.size() == 1);
  CHECK(audited[0]["actor"] == "root");
  CHECK(audited[0]["target"] == "user:bob");
  app.Login(c, "bob");  // the password alone again
  app.Call(c, root, "POST", "/api/v1/users/nobody/2fa/reset", 404);
}

TEST_CASE("consent required: a sign-in without it is refused with consent_required",
          "[integration][auth]") {
  api::ApiOptions options;
  options.login_notice = "You are accessing a U.S. Government information system.";
  options.require_consent = true;
  AuthServer app(options);
  app.MakeUser("bob");
  HttpsClient c = app.Client();
  Json no = app.Post(c, "/api/v1/auth/login", {{"username", "bob"}, {"password", kPassword}},
                     403);
  CHECK(no["error"]["code"] == "consent_required");
  CHECK(app.last_cookie.empty());
  app.Post(c, "/api/v1/auth/login",
           {{"username", "bob"}, {"password", kPassword}, {"consent", "yes"}}, 403);
  Json yes = app.Post(c, "/api/v1/auth/login",
                      {{"username", "bob"}, {"password", kPassword}, {"consent", true}}, 200);
  app.SessionFrom(yes);
  auto logins = app.AuditOf("auth.login");
  REQUIRE(logins.size() == 1);
  CHECK(logins[0]["details"]["consent"] == true);
  auto site = c.Request("GET", "/api/v1/site");
  REQUIRE(site.ok());
  CHECK(Json::parse(site->body)["require_consent"] == true);
  // Without client certificates the page offers no card button.
  CHECK(Json::parse(site->body)["smart_card"] == false);
}

TEST_CASE("revoking a session closes its WebSocket with 1008; another session's stays open",
          "[integration][auth][realtime]") {
  AuthServer app;
  app.MakeUser("bob");
  app.MakeUser("root", domain::kRoleAdmin);
  HttpsClient c = app.Client();
  Signed laptop = app.Login(c, "bob");
  Signed phone = app.Login(c, "bob");
  Signed desk = app.Login(c, "bob");
  auto laptop_ws = app.Socket(laptop);
  auto phone_ws = app.Socket(phone);
  auto desk_ws = app.Socket(desk);
  // A frame answered proves the hub has adopted each socket (it does so just after the 101).
  for (WsClient* ws : {laptop_ws.get(), phone_ws.get(), desk_ws.get()}) {
    REQUIRE(ws->SendText(R"({"type":"resume","cursor":0})").ok());
    REQUIRE(ws->NextText(kWaitMs)->kind == WsMessage::Kind::kText);
  }

  Json list = app.Call(c, laptop, "GET", "/api/v1/me/sessions", 200);
  REQUIRE(list["sessions"].size() == 3);
  int64_t phone_id = 0, desk_id = 0, laptop_id = 0;
  for (const Json& s : list["sessions"]) {
    CHECK(s["remote_addr"] == "127.0.0.1");
    if (s["current"] == true) laptop_id = s["id"];
  }
  REQUIRE(laptop_id != 0);
  phone_id = list["sessions"][1]["id"];  // newest first: desk, phone, laptop
  desk_id = list["sessions"][0]["id"];
  REQUIRE(phone_id != laptop_id);

  app.Call(c, laptop, "DELETE", "/api/v1/me/sessions/" + std::to_string(phone_id), 204);
  auto closed = phone_ws->WaitForClose(kWaitMs);
  REQUIRE(closed.ok());
  CHECK(closed->kind == WsMessage::Kind::kClose);
  CHECK(closed->close_code == 1008);
  app.Call(c, phone, "GET", "/api/v1/me", 401);
  // The other sessions' sockets are still open: they answer a frame.
  for (WsClient* ws : {laptop_ws.get(), desk_ws.get()}) {
    REQUIRE(ws->SendText(R"({"type":"resume","cursor":0})").ok());
    auto m = ws->NextText(kWaitMs);
    REQUIRE(m.ok());
    CHECK(m->kind == WsMessage::Kind::kText);
  }
  CHECK(app.AuditOf("session.revoke").back()["details"]["session_id"] == phone_id);

  // An administrator ends the desk session; the laptop keeps going.
  Signed root = app.Login(c, "root");
  Json bobs = app.Call(c, root, "GET", "/api/v1/users/bob/sessions", 200);
  CHECK(bobs["sessions"].size() == 2);
  app.Call(c, laptop, "GET", "/api/v1/users/bob/sessions", 403);
  app.Call(c, root, "DELETE", "/api/v1/users/bob/sessions/" + std::to_string(desk_id), 204);
  auto desk_closed = desk_ws->WaitForClose(kWaitMs);
  REQUIRE(desk_closed.ok());
  CHECK(desk_closed->close_code == 1008);
  REQUIRE(laptop_ws->SendText(R"({"type":"resume","cursor":0})").ok());
  CHECK(laptop_ws->NextText(kWaitMs)->kind == WsMessage::Kind::kText);
  // Another user's session id is not found through one's own list.
  Json roots = app.Call(c, root, "GET", "/api/v1/me/sessions", 200);
  const int64_t root_id = roots["sessions"][0]["id"];
  app.Call(c, laptop, "DELETE", "/api/v1/me/sessions/" + std::to_string(root_id), 404);
  // "Sign out everywhere else" ends all but the caller's.
  Signed extra = app.Login(c, "bob");
  auto extra_ws = app.Socket(extra);
  REQUIRE(extra_ws->SendText(R"({"type":"resume","cursor":0})").ok());
  REQUIRE(extra_ws->NextText(kWaitMs)->kind == WsMessage::Kind::kText);
  Json ended = app.Call(c, laptop, "DELETE", "/api/v1/me/sessions", 200);
  CHECK(ended["revoked"] == 1);
  CHECK(extra_ws->WaitForClose(kWaitMs)->close_code == 1008);
  app.Call(c, laptop, "GET", "/api/v1/me", 200);
}

TEST_CASE("an idle session ends and the sweep closes its WebSocket; an active one stays",
          "[integration][auth][realtime]") {
  AuthServer app;
  app.MakeUser("bob");
  app.MakeUser("root", domain::kRoleAdmin);
  HttpsClient c = app.Client();
  Signed bob = app.Login(c, "bob");
  Signed root = app.Login(c, "root");
  auto bob_ws = app.Socket(bob);
  auto root_ws = app.Socket(root);
  // A frame answered proves the hub has adopted each socket (it does so just after the 101).
  for (WsClient* ws : {bob_ws.get(), root_ws.get()}) {
    REQUIRE(ws->SendText(R"({"type":"resume","cursor":0})").ok());
    REQUIRE(ws->NextText(kWaitMs)->kind == WsMessage::Kind::kText);
  }
  // Ten minutes later the administrator's session has idled out (privileged: 10 minutes) and
  // the user's has not (15).
  app.clock.Advance(10 * 60 * 1000);
  app.bridge->SweepNow();
  auto closed = root_ws->WaitForClose(kWaitMs);
  REQUIRE(closed.ok());
  CHECK(closed->close_code == 1008);
  app.Call(c, root, "GET", "/api/v1/me", 401);
  Json me = app.Call(c, bob, "GET", "/api/v1/me", 200);  // activity: bob's idle clock restarts
  CHECK(me["session"]["idle_timeout_seconds"] == 15 * 60);
  app.clock.Advance(15 * 60 * 1000 - 1000);
  app.bridge->SweepNow();
  REQUIRE(bob_ws->SendText(R"({"type":"resume","cursor":0})").ok());
  CHECK(bob_ws->NextText(kWaitMs)->kind == WsMessage::Kind::kText);
  app.clock.Advance(1000);
  app.bridge->SweepNow();
  CHECK(bob_ws->WaitForClose(kWaitMs)->close_code == 1008);
  app.Call(c, bob, "GET", "/api/v1/me", 401);
}

TEST_CASE("what a person does on the socket alone keeps the session from idling out",
          "[integration][auth][realtime]") {
  AuthServer app;
  app.MakeUser("bob");
  HttpsClient c = app.Client();
  Signed bob = app.Login(c, "bob");
  auto ws = app.Socket(bob);
  // A resume answered: every frame sent before it has been handled (one strand per socket).
  // Bob's own presence changes reach him too; they are skipped.
  auto sync = [&] {
    REQUIRE(ws->SendText(R"({"type":"resume","cursor":0})").ok());
    for (int i = 0; i < 10; ++i) {
      auto frame = ws->NextText(kWaitMs);
      REQUIRE(frame.ok());
      REQUIRE(frame->kind == WsMessage::Kind::kText);
      const Json j = Json::parse(frame->payload);
      if (j["type"] == "resumed") return;
      REQUIRE(j["type"] == "presence");
    }
    FAIL("no answer to resume");
  };
  sync();
  // Forty minutes on the page with the socket only (no HTTP request): the page's activity
  // reports, or its coming back to the foreground, every ten minutes keep the 15-minute idle
  // timeout from running out.
  for (int i = 0; i < 4; ++i) {
    app.clock.Advance(10 * 60 * 1000);
    if (i % 2 == 0) {
      REQUIRE(ws->SendText(R"({"type":"active"})").ok());
    } else {
      REQUIRE(ws->SendText(R"({"type":"presence","status":"away"})").ok());
      REQUIRE(ws->SendText(R"({"type":"presence","status":"online"})").ok());
    }
    sync();
    app.bridge->SweepNow();
  }
  sync();  // still open
  // Reconnect resumes are not activity: fifteen quiet minutes end the session.
  app.clock.Advance(15 * 60 * 1000);
  sync();
  app.bridge->SweepNow();
  auto closed = ws->WaitForClose(kWaitMs);
  REQUIRE(closed.ok());
  CHECK(closed->close_code == 1008);
  app.Call(c, bob, "GET", "/api/v1/me", 401);
}

}  // namespace
}  // namespace outpost::testing
