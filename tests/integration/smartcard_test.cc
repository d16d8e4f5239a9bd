// Smart-card login (CAC/PIV) end to end: the real binary with mutual TLS, a test PKI made here
// (a CA, good, expired, revoked, foreign and unbound cards, CRLs), bindings made with the CLI,
// and the audit trail read back with `outpost audit export`.
#include <signal.h>

#include <catch2/catch.hpp>
#include <ctime>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "support/appliance.h"
#include "support/test_pki.h"

namespace outpost::testing {
namespace {

int64_t Now() { return static_cast<int64_t>(std::time(nullptr)); }

std::string Hex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  }
  return out;
}

// The test PKI and its files, made once per test.
struct Pki {
  TempDir dir;
  TestCa ca;
  TestCa other;
  TestCert good, admin_card, expired, revoked, foreign, unbound;
  std::string ca_file = dir.Sub("cas.pem");
  std::string crl_file = dir.Sub("card-ca.crl");

  static TestCert Issue(const TestCa& ca, UserCertSpec spec) {
    Result<TestCert> c = IssueUserCert(ca, spec);
    INFO(c.status().ToString());
    REQUIRE(c.ok());
    return *c;
  }

  Pki() {
    Result<TestCa> a = MakeTestCa("Card CA");
    Result<TestCa> b = MakeTestCa("Unknown CA");
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    ca = *a;
    other = *b;
    good = Issue(ca, {"SMITH.ALICE.1001", {"1001@test.mil"}, {"alice@test.mil"}});
    admin_card = Issue(ca, {"ADMIN.ANN.1002", {"1002@test.mil"}, {}});
    expired =
        Issue(ca, {"OLD.CARD.1003", {"1003@test.mil"}, {}, Now() - 30 * 86400, Now() - 86400});
    revoked = Issue(ca, {"LOST.CARD.1004", {"1004@test.mil"}, {}});
    foreign = Issue(other, {"SMITH.ALICE.1001", {"1001@test.mil"}, {}});
    unbound = Issue(ca, {"NEW.PERSON.1005", {"1005@test.mil"}, {}});
    WriteTestFile(ca_file, ca.cert_pem);
    WriteCrl({revoked.serial}, Now() + 7 * 86400);
  }

  void WriteCrl(const std::vector<std::string>& serials, int64_t next_update) {
    Result<std::string> crl = MakeCrl(ca, serials, Now() - 3600, next_update, true);
    REQUIRE(crl.ok());
    WriteTestFile(crl_file, *crl);
  }

  std::string Toml(const std::string& client_auth, const std::string& extra_tls = "",
                   const std::string& auth = "") const {
    std::string toml = "[tls]\nclient_auth = \"" + client_auth + "\"\nclient_ca_file = \"" +
                       ca_file + "\"\ncrl_files = [\"" + crl_file + "\"]\nmap_by = \"upn\"\n" +
                       extra_tls;
    if (!auth.empty()) toml += "[auth]\n" + auth;
    return toml;
  }
};

// A browser with `card` in its reader.
HttpsClient CardClient(const TestAppliance& app, const TestCert* card) {
  HttpsClient client("127.0.0.1", app.port(), app.ca_pem());
  if (card != nullptr) client.set_client_certificate(card->cert_pem, card->key_pem);
  return client;
}

Result<HttpResponse> CardLogin(HttpsClient& client, const std::string& body = "{}") {
  return client.Request("POST", "/api/v1/auth/certificate", {{"Content-Type", "application/json"}},
                        body);
}

// "reason" of a refused card sign-in, or "" when it was not a 401 certificate_refused.
std::string RefusalReason(const Result<HttpResponse>& r) {
  if (!r.ok() || r->status != 401) return "";
  nlohmann::json j = nlohmann::json::parse(r->body, nullptr, false);
  if (j.is_discarded() || j["error"]["code"] != "certificate_refused") return "";
  return j["error"]["reason"].get<std::string>();
}

HttpResponse PasswordLogin(HttpsClient& client, const std::string& user,
                           const std::string& password) {
  nlohmann::json body = {{"username", user}, {"password", password}};
  auto r = client.Request("POST", "/api/v1/auth/login", {{"Content-Type", "application/json"}},
                          body.dump());
  REQUIRE(r.ok());
  return *r;
}

std::vector<nlohmann::json> AuditRecords(const TestAppliance& app, const std::string& action) {
  CliResult r = app.Cli({"audit", "export", "--action", action});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<nlohmann::json> out;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

void AddUser(TestAppliance& app, const std::string& name) {
  WriteTestFile(app.dir().Sub(name + "-pw"), "a long enough passphrase for " + name + "\n");
  CliResult r = app.Cli({"user", "add", name, "--password-file", app.dir().Sub(name + "-pw")});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

void Bind(TestAppliance& app, const std::string& name, const std::string& upn) {
  CliResult r = app.Cli({"user", "cert-bind", name, "--upn", upn});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

TEST_CASE("a good card signs in as its bound account; bad cards are refused with their reason",
          "[integration][smartcard]") {
  Pki pki;
  TestAppliance app(pki.Toml("optional"));
  AddUser(app, "alice");
  // Bound from the certificate file itself, as an administrator would with an exported cert.
  WriteTestFile(app.dir().Sub("alice.pem"), pki.good.cert_pem);
  CliResult bound = app.Cli({"user", "cert-bind", "alice", "--cert", app.dir().Sub("alice.pem")});
  INFO(bound.err);
  REQUIRE(bound.exit_code == 0);
  CliResult list = app.Cli({"user", "cert-list", "alice"});
  CHECK(list.out.find("upn\t1001@test.mil") != std::string::npos);
  REQUIRE(app.Start().ok());

  HttpsClient good = CardClient(app, &pki.good);
  auto r = CardLogin(good);
  REQUIRE(r.ok());
  INFO(r->body);
  REQUIRE(r->status == 200);
  auto me = nlohmann::json::parse(r->body);
  CHECK(me["user"]["username"] == "alice");
  const std::string set_cookie = r->Header("set-cookie");
  REQUIRE(set_cookie.find("__Host-outpost=") == 0);
  auto who =
      good.Request("GET", "/api/v1/me", {{"Cookie", set_cookie.substr(0, set_cookie.find(';'))}});
  REQUIRE(who.ok());
  CHECK(who->status == 200);
  CHECK(nlohmann::json::parse(who->body)["user"]["username"] == "alice");

  std::map<std::string, const TestCert*> refused = {{"expired", &pki.expired},
                                                    {"revoked", &pki.revoked},
                                                    {"untrusted", &pki.foreign},
                                                    {"unknown_identity", &pki.unbound},
                                                    {"no_certificate", nullptr}};
  for (const auto& [reason, card] : refused) {
    HttpsClient client = CardClient(app, card);
    // Nothing a request says can stand in for the handshake's certificate.
    auto res = client.Request("POST", "/api/v1/auth/certificate",
                              {{"Content-Type", "application/json"},
                               {"X-Client-Cert", pki.good.cert_pem.substr(0, 64)},
                               {"X-SSL-Client-Verify", "SUCCESS"}},
                              "{}");
    INFO(reason);
    REQUIRE(res.ok());
    CHECK(RefusalReason(res) == reason);
    CHECK(res->Header("set-cookie").empty());
  }

  // Optional mode: a browser without a card still gets the page and password sign-in.
  HttpsClient plain = CardClient(app, nullptr);
  auto site = plain.Request("GET", "/api/v1/site");
  REQUIRE(site.ok());
  CHECK(site->status == 200);
  // The sign-in page learns from /site to offer the card button.
  const nlohmann::json site_json = nlohmann::json::parse(site->body);
  CHECK(site_json["smart_card"] == true);
  CHECK(site_json["password_login"] == "all");
  CHECK(PasswordLogin(plain, "admin", kAdminPassword).status == 200);

  std::set<std::string> reasons;
  for (const auto& rec : AuditRecords(app, "auth.login_failed")) {
    if (rec["details"].value("method", "") == "certificate") {
      reasons.insert(rec["details"]["reason"].get<std::string>());
    }
  }
  CHECK(reasons == std::set<std::string>{"expired", "revoked", "untrusted", "unknown_identity",
                                         "no_certificate"});
  bool card_login_audited = false;
  for (const auto& rec : AuditRecords(app, "auth.login")) {
    if (rec["action"] != "auth.login" || rec["details"].value("method", "") != "certificate") {
      continue;
    }
    card_login_audited = true;
    CHECK(rec["actor"] == "alice");
    CHECK(rec["details"]["serial"] == Hex(pki.good.serial));
    CHECK(rec["details"]["issuer"] == "CN=Card CA, O=Outpost Test");
  }
  CHECK(card_login_audited);
}

TEST_CASE("a disabled account cannot sign in with its card; removing the card ends its session",
          "[integration][smartcard]") {
  Pki pki;
  TestAppliance app(pki.Toml("optional"));
  AddUser(app, "alice");
  Bind(app, "alice", "1001@TEST.MIL");  // case does not matter for a UPN
  REQUIRE(app.Cli({"user", "disable", "alice"}).exit_code == 0);
  REQUIRE(app.Start().ok());
  HttpsClient client = CardClient(app, &pki.good);
  CHECK(RefusalReason(CardLogin(client)) == "disabled");
  REQUIRE(app.Cli({"user", "enable", "alice"}).exit_code == 0);
  HttpsClient again = CardClient(app, &pki.good);
  auto r = CardLogin(again);
  REQUIRE(r.ok());
  CHECK(r->status == 200);

  // The card is taken away (lost, or its holder left): the session it opened ends at once.
  const std::string set_cookie = r->Header("set-cookie");
  const std::string cookie = set_cookie.substr(0, set_cookie.find(';'));
  auto me = again.Request("GET", "/api/v1/me", {{"Cookie", cookie}});
  REQUIRE(me.ok());
  CHECK(me->status == 200);
  REQUIRE(app.Cli({"user", "cert-unbind", "alice", "--upn", "1001@test.mil"}).exit_code == 0);
  auto gone = again.Request("GET", "/api/v1/me", {{"Cookie", cookie}});
  REQUIRE(gone.ok());
  CHECK(gone->status == 401);
  CHECK(RefusalReason(CardLogin(again)) == "unknown_identity");
}

TEST_CASE("client_auth required refuses a handshake without a valid certificate",
          "[integration][smartcard]") {
  Pki pki;
  TestAppliance app(pki.Toml("required"));
  AddUser(app, "alice");
  Bind(app, "alice", "1001@test.mil");
  app.SetClientCertificate(pki.good.cert_pem, pki.good.key_pem);
  REQUIRE(app.Start().ok());

  HttpsClient without = CardClient(app, nullptr);
  CHECK(without.Connect().code() == Code::kUnavailable);
  HttpsClient revoked = CardClient(app, &pki.revoked);
  CHECK(revoked.Connect().code() == Code::kUnavailable);
  HttpsClient foreign = CardClient(app, &pki.foreign);
  CHECK(foreign.Connect().code() == Code::kUnavailable);
  // The server logs after its alert is on the wire: give the line a moment to arrive.
  bool logged = false;
  for (int i = 0; i < 100 && !logged; ++i) {
    logged = app.Log().find("client certificate refused in the handshake") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  CHECK(logged);

  HttpsClient good = CardClient(app, &pki.good);
  auto r = CardLogin(good);
  REQUIRE(r.ok());
  CHECK(r->status == 200);
}

TEST_CASE("password_login none refuses every password sign-in; the card still works",
          "[integration][smartcard]") {
  Pki pki;
  TestAppliance app(pki.Toml("optional", "", "password_login = \"none\"\n"));
  Bind(app, "admin", "1002@test.mil");
  REQUIRE(app.Start().ok());
  HttpsClient client = CardClient(app, nullptr);
  HttpResponse refused = PasswordLogin(client, "admin", kAdminPassword);
  CHECK(refused.status == 403);
  CHECK(nlohmann::json::parse(refused.body)["error"]["code"] == "password_login_disabled");
  CHECK(refused.Header("set-cookie").empty());

  HttpsClient card = CardClient(app, &pki.admin_card);
  auto r = CardLogin(card);
  REQUIRE(r.ok());
  CHECK(r->status == 200);

  bool audited = false;
  for (const auto& rec : AuditRecords(app, "auth.login_failed")) {
    audited |=
        rec["details"].value("reason", "") == "password_login_disabled" && rec["actor"] == "admin";
  }
  CHECK(audited);
}

TEST_CASE("password_login unprivileged refuses privileged roles only, after the password",
          "[integration][smartcard]") {
  Pki pki;
  TestAppliance app(pki.Toml("optional", "", "password_login = \"unprivileged\"\n"));
  AddUser(app, "alice");
  REQUIRE(app.Start().ok());
  HttpsClient client = CardClient(app, nullptr);
  CHECK(PasswordLogin(client, "alice", "a long enough passphrase for alice").status == 200);
  HttpsClient admin = CardClient(app, nullptr);
  HttpResponse refused = PasswordLogin(admin, "admin", kAdminPassword);
  CHECK(refused.status == 403);
  CHECK(nlohmann::json::parse(refused.body)["error"]["code"] == "password_login_disabled");
  // A wrong password gets the usual answer: the rule never tells who is privileged.
  HttpResponse wrong = PasswordLogin(admin, "admin", "not the admin passphrase at all");
  CHECK(wrong.status == 401);
}

TEST_CASE("a card sign-in is not asked for a TOTP code even when require_2fa is all",
          "[integration][smartcard]") {
  Pki pki;
  TestAppliance app(pki.Toml("optional", "", "require_2fa = \"all\"\n"));
  AddUser(app, "alice");
  Bind(app, "alice", "1001@test.mil");
  REQUIRE(app.Start().ok());
  HttpsClient card = CardClient(app, &pki.good);
  auto r = CardLogin(card);
  REQUIRE(r.ok());
  INFO(r->body);
  CHECK(r->status == 200);
  auto j = nlohmann::json::parse(r->body);
  CHECK_FALSE(j.contains("second_factor"));
  CHECK(j["user"]["username"] == "alice");
}

TEST_CASE("a stale CRL refuses its cards by default and is accepted with a warning when set",
          "[integration][smartcard]") {
  Pki pki;
  pki.WriteCrl({pki.revoked.serial}, Now() - 60);
  {
    TestAppliance app(pki.Toml("optional"));
    AddUser(app, "alice");
    Bind(app, "alice", "1001@test.mil");
    REQUIRE(app.Start().ok());
    CHECK(app.Log().find("past its nextUpdate") != std::string::npos);
    HttpsClient card = CardClient(app, &pki.good);
    CHECK(RefusalReason(CardLogin(card)) == "crl_expired");
  }
  TestAppliance app(pki.Toml("optional", "crl_stale = \"accept\"\n"));
  AddUser(app, "alice");
  Bind(app, "alice", "1001@test.mil");
  REQUIRE(app.Start().ok());
  HttpsClient card = CardClient(app, &pki.good);
  auto r = CardLogin(card);
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  // A revoked card stays revoked on a stale list.
  HttpsClient lost = CardClient(app, &pki.revoked);
  CHECK(RefusalReason(CardLogin(lost)) == "revoked");
  bool stale_noted = false;
  for (const auto& rec : AuditRecords(app, "auth.login")) {
    stale_noted |= rec["action"] == "auth.login" && rec["details"].value("crl_stale", false);
  }
  CHECK(stale_noted);
}

TEST_CASE("a CRL copied in and reloaded with SIGHUP revokes a card at once",
          "[integration][smartcard]") {
  Pki pki;
  TestAppliance app(pki.Toml("optional"));
  AddUser(app, "alice");
  Bind(app, "alice", "1001@test.mil");
  REQUIRE(app.Start().ok());
  HttpsClient before = CardClient(app, &pki.good);
  auto r = CardLogin(before);
  REQUIRE(r.ok());
  CHECK(r->status == 200);

  pki.WriteCrl({pki.revoked.serial, pki.good.serial}, Now() + 86400);
  REQUIRE(kill(app.pid(), SIGHUP) == 0);
  std::string reason;
  for (int i = 0; i < 200 && reason != "revoked"; ++i) {
    HttpsClient after = CardClient(app, &pki.good);
    reason = RefusalReason(CardLogin(after));
    if (reason != "revoked") std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  CHECK(reason == "revoked");
}

TEST_CASE("with client_auth off the server asks for no certificate and the route says so",
          "[integration][smartcard]") {
  TestAppliance app;
  REQUIRE(app.Start().ok());
  Pki pki;
  HttpsClient card = CardClient(app, &pki.good);
  auto r = CardLogin(card);
  REQUIRE(r.ok());
  CHECK(r->status == 403);
  CHECK(nlohmann::json::parse(r->body)["error"]["code"] == "failed_precondition");
  CHECK(PasswordLogin(card, "admin", kAdminPassword).status == 200);
}

TEST_CASE("a smart-card configuration with a missing CA bundle is refused at load",
          "[integration][smartcard]") {
  Pki pki;
  TestAppliance app;
  WriteTestFile(app.dir().Sub("bad.toml"),
                "[tls]\nclient_auth = \"optional\"\nclient_ca_file = \"" +
                    pki.dir.Sub("missing.pem") + "\"\n");
  CliResult r = RunOutpost({"config", "check", "--config", app.dir().Sub("bad.toml")});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("missing.pem") != std::string::npos);
  WriteTestFile(app.dir().Sub("none.toml"), "[auth]\npassword_login = \"none\"\n");
  r = RunOutpost({"config", "check", "--config", app.dir().Sub("none.toml")});
  CHECK(r.exit_code == 3);
  CHECK(r.err.find("auth.password_login") != std::string::npos);
}

}  // namespace
}  // namespace outpost::testing
