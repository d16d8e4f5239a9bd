// Forwarding the audit log to a SIEM, end to end: the real server sends RFC 5424 syslog over
// TCP and TLS to a receiver the test runs on loopback; a receiver that goes away loses nothing;
// the cursor survives a restart; a certificate that is not trusted sends nothing.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "net/tls.h"
#include "storage/db.h"
#include "support/appliance.h"
#include "support/syslog_receiver.h"
#include "support/temp_dir.h"

namespace outpost::testing {
namespace {

using Json = nlohmann::json;
constexpr int kWaitMs = 60000;  // a loaded machine; never a timing assertion

std::string SiemToml(const std::string& transport, int port, const std::string& ca_file = "") {
  std::string toml = "[siem]\nenabled = true\nhost = \"127.0.0.1\"\nport = " +
                     std::to_string(port) + "\ntransport = \"" + transport + "\"\n";
  if (!ca_file.empty()) toml += "ca_file = \"" + ca_file + "\"\nserver_name = \"siem.test\"\n";
  return toml;
}

std::vector<Json> Export(const TestAppliance& app) {
  CliResult r = app.Cli({"audit", "export"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::vector<Json> out;
  size_t pos = 0;
  while (pos < r.out.size()) {
    size_t end = r.out.find('\n', pos);
    out.push_back(Json::parse(r.out.substr(pos, end - pos)));
    pos = end + 1;
  }
  return out;
}

int Count(const std::vector<Json>& records, const std::string& action) {
  return static_cast<int>(std::count_if(records.begin(), records.end(),
                                        [&](const Json& r) { return r["action"] == action; }));
}

// seq -> parsed message, and each connection's seqs in arrival order.
struct Received {
  std::map<int64_t, ParsedSyslog> by_seq;
  std::map<int, std::vector<int64_t>> by_connection;
  std::vector<std::string> actions;
};

Received Parse(const std::vector<SyslogFrame>& frames) {
  Received out;
  for (const SyslogFrame& f : frames) {
    Result<ParsedSyslog> p = ParseSyslog(f.message);
    INFO(f.message);
    REQUIRE(p.ok());
    const int64_t seq = std::stoll(p->params.at("seq"));
    auto [it, fresh] = out.by_seq.emplace(seq, *p);
    if (!fresh) CHECK(it->second.params == p->params);  // a resend is the same record
    out.by_connection[f.connection].push_back(seq);
    out.actions.push_back(p->msgid);
  }
  return out;
}

bool HasAction(const std::vector<SyslogFrame>& frames, const std::string& action, int connection = 0) {
  for (const SyslogFrame& f : frames) {
    Result<ParsedSyslog> p = ParseSyslog(f.message);
    if (p.ok() && p->msgid == action && f.connection >= connection) return true;
  }
  return false;
}

// True when every seq from 1 to `head` has arrived.
bool Covers(const std::vector<SyslogFrame>& frames, int64_t head) {
  std::set<int64_t> seen;
  for (const SyslogFrame& f : frames) {
    Result<ParsedSyslog> p = ParseSyslog(f.message);
    if (p.ok()) seen.insert(std::stoll(p->params.at("seq")));
  }
  for (int64_t s = 1; s <= head; ++s) {
    if (seen.count(s) == 0) return false;
  }
  return true;
}

Json AuditStatus(HttpsClient& client, const BrowserSession& s) {
  auto r = client.Request("GET", "/api/v1/audit/status", s.Headers());
  REQUIRE(r.ok());
  INFO(r->body);
  REQUIRE(r->status == 200);
  return Json::parse(r->body);
}

bool EventuallyTrue(const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
  while (std::chrono::steady_clock::now() < until) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

std::string ForwardCursor(const TestAppliance& app) {
  auto conn = storage::Connection::Open(app.data_dir() + "/outpost.db", storage::OpenOptions{});
  REQUIRE(conn.ok());
  auto s = (*conn)->Prepare("SELECT value FROM settings WHERE key = 'audit.forward_cursor'");
  REQUIRE(s.ok());
  auto row = s->Step();
  REQUIRE(row.ok());
  return *row ? s->ColumnText(0) : "";
}

void AddUser(const TestAppliance& app, const std::string& name) {
  WriteTestFile(app.dir().Sub("pw-" + name), name + "'s long passphrase\n");
  CliResult r = app.Cli({"user", "add", name, "--password-file", app.dir().Sub("pw-" + name)});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

TEST_CASE("every audit record reaches a TCP syslog receiver with its fields, in order",
          "[integration][audit][siem]") {
  SyslogReceiver siem;
  REQUIRE(siem.Start().ok());
  TestAppliance app(SiemToml("tcp", siem.port()));
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  BrowserSession s = Login(client, "admin", kAdminPassword);
  REQUIRE(siem.WaitFor([](const auto& f) { return HasAction(f, "auth.login"); }, kWaitMs));
  CHECK(app.Stop() == 0);  // drains: server.stop is sent too
  std::vector<Json> records = Export(app);
  REQUIRE(records.back()["action"] == "server.stop");
  REQUIRE(siem.WaitFor([&](const auto& f) { return Covers(f, records.back()["seq"]); }, kWaitMs));
  CHECK(siem.error().empty());
  Received got = Parse(siem.Frames());
  for (const Json& r : records) {
    const int64_t seq = r["seq"];
    INFO("seq " << seq << " " << r.dump());
    REQUIRE(got.by_seq.count(seq) == 1);
    const ParsedSyslog& m = got.by_seq.at(seq);
    CHECK(m.sd_id == "outpost@32473");
    CHECK(m.app_name == "outpost");
    CHECK(m.msgid == r["action"].get<std::string>());
    CHECK(m.timestamp == r["time"].get<std::string>());
    CHECK(m.pri == 13 * 8 + (r["outcome"] == "success" ? 5 : 4));
    CHECK(m.params.at("actor") == r["actor"].get<std::string>());
    CHECK(m.params.at("actor_id") == std::to_string(r["actor_id"].get<int64_t>()));
    CHECK(m.params.at("source_ip") == r["source_ip"].get<std::string>());
    CHECK(m.params.at("action") == r["action"].get<std::string>());
    CHECK(m.params.at("target") == r["target"].get<std::string>());
    CHECK(m.params.at("outcome") == r["outcome"].get<std::string>());
    CHECK(m.params.at("hash") == r["hash"].get<std::string>());
    CHECK(m.bom);
    CHECK(Json::parse(m.msg) == r["details"]);
  }
  for (const auto& [connection, seqs] : got.by_connection) {
    CHECK(std::is_sorted(seqs.begin(), seqs.end()));
    CHECK(std::adjacent_find(seqs.begin(), seqs.end()) == seqs.end());
  }
  Json login = *std::find_if(records.begin(), records.end(),
                             [](const Json& r) { return r["action"] == "auth.login"; });
  CHECK(got.by_seq.at(login["seq"]).params.at("source_ip") == "127.0.0.1");
  CHECK(got.by_seq.at(login["seq"]).params.at("actor") == "admin");
}

TEST_CASE("records appended while the SIEM is down all arrive when it is back, and the cursor "
          "survives a restart",
          "[integration][audit][siem]") {
  SyslogReceiver siem;
  REQUIRE(siem.Start().ok());
  const int port = siem.port();
  TestAppliance app(SiemToml("tcp", port));
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  BrowserSession s = Login(client, "admin", kAdminPassword);
  REQUIRE(siem.WaitFor([](const auto& f) { return HasAction(f, "auth.login"); }, kWaitMs));

  siem.Stop();
  REQUIRE(EventuallyTrue([&] { return AuditStatus(client, s)["forward"]["down"] == true; }));
  AddUser(app, "ursula");  // written by the shell next to the server: forwarded all the same
  AddUser(app, "victor");
  Json status = AuditStatus(client, s);
  CHECK(status["forward"]["connected"] == false);
  CHECK(status["forward"]["lag_records"].get<int64_t>() >= 3);  // down, two users
  auto metrics = client.Request("GET", "/metrics", s.Headers());
  REQUIRE(metrics.ok());
  CHECK_THAT(metrics->body, Catch::Contains("outpost_audit_forward_down 1") &&
                                Catch::Contains("outpost_audit_forward_connected 0") &&
                                Catch::Contains("outpost_audit_forward_lag_records "));
  CliResult doctor = app.Cli({"doctor"});
  CHECK_THAT(doctor.out, Catch::Contains("siem") && Catch::Contains("unreachable since"));

  REQUIRE(siem.Start(port).ok());
  REQUIRE(siem.WaitFor([](const auto& f) { return HasAction(f, "audit.forward_resumed"); },
                       kWaitMs));
  std::vector<Json> records = Export(app);
  const int64_t head = records.back()["seq"];
  REQUIRE(siem.WaitFor([&](const auto& f) { return Covers(f, head); }, kWaitMs));
  CHECK(Count(records, "audit.forward_down") == 1);  // one per outage, not one per retry
  CHECK(Count(records, "audit.forward_resumed") == 1);
  CHECK(Count(records, "user.create") == 3);  // the administrator at init, ursula, victor
  REQUIRE(EventuallyTrue([&] { return AuditStatus(client, s)["forward"]["lag_records"] == 0; }));
  metrics = client.Request("GET", "/metrics", s.Headers());
  REQUIRE(metrics.ok());
  CHECK_THAT(metrics->body, Catch::Contains("outpost_audit_forward_lag_records 0") &&
                                Catch::Contains("outpost_audit_forward_down 0"));
  CHECK(metrics->body.find("outpost_audit_forward_last_success_timestamp_seconds 0\n") ==
        std::string::npos);

  // A restart resumes after the saved cursor, not from the first record.
  CHECK(app.Stop() == 0);
  const std::string cursor = ForwardCursor(app);
  REQUIRE_FALSE(cursor.empty());
  CHECK(std::stoll(cursor) > head);  // everything up to server.stop was acknowledged
  const int before = siem.connections();
  REQUIRE(app.Start().ok());
  REQUIRE(siem.WaitFor([&](const auto& f) { return HasAction(f, "server.start", before + 1); },
                       kWaitMs));
  Received got = Parse(siem.Frames());
  const std::vector<int64_t>& after = got.by_connection.at(before + 1);
  REQUIRE_FALSE(after.empty());
  CHECK(after.front() == std::stoll(cursor) + 1);
  // At least once: every seq arrived; copies are recognisable by seq and identical (Parse).
  for (int64_t seq = 1; seq <= after.back(); ++seq) CHECK(got.by_seq.count(seq) == 1);
}

TEST_CASE("over TLS the SIEM's certificate is verified, and an untrusted one gets nothing",
          "[integration][audit][siem]") {
  TempDir pki;
  auto ca = net::GenerateCa("SIEM test CA", 30);
  REQUIRE(ca.ok());
  auto cert = net::IssueServerCert(*ca, "siem.test", {"siem.test"}, {}, 30);
  REQUIRE(cert.ok());
  auto other_ca = net::GenerateCa("Some other CA", 30);
  REQUIRE(other_ca.ok());
  WriteTestFile(pki.Sub("ca.pem"), ca->cert_pem);
  WriteTestFile(pki.Sub("other-ca.pem"), other_ca->cert_pem);

  SyslogReceiver siem(cert->cert_pem, cert->key_pem);
  REQUIRE(siem.Start().ok());
  {
    TestAppliance wrong(SiemToml("tls", siem.port(), pki.Sub("other-ca.pem")));
    REQUIRE(wrong.Start().ok());
    HttpsClient client = wrong.NewClient();
    BrowserSession s = Login(client, "admin", kAdminPassword);
    REQUIRE(EventuallyTrue([&] { return AuditStatus(client, s)["forward"]["down"] == true; }));
    Json status = AuditStatus(client, s);
    CHECK_THAT(status["forward"]["last_error"].get<std::string>(),
               Catch::Contains("not trusted"));
    CHECK(wrong.Stop() == 0);
    CHECK(siem.Frames().empty());
    CHECK(siem.connections() == 0);
    CHECK(Count(Export(wrong), "audit.forward_down") == 1);
  }

  TestAppliance app(SiemToml("tls", siem.port(), pki.Sub("ca.pem")));
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  BrowserSession s = Login(client, "admin", kAdminPassword);
  REQUIRE(siem.WaitFor([](const auto& f) { return HasAction(f, "auth.login"); }, kWaitMs));
  Received got = Parse(siem.Frames());
  CHECK(got.by_seq.count(1) == 1);  // from the first record on
  CHECK(got.by_seq.at(1).msgid == "appliance.init");
  CHECK(siem.error().empty());
  CHECK(app.Stop() == 0);
}

}  // namespace
}  // namespace outpost::testing
