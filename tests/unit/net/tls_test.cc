// Certificates (generation, inspection, key checks) and the HTTPS server end to end over
// loopback, driven by the test HttpsClient.
#include "net/tls.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <functional>
#include <thread>

#include "net/https_server.h"
#include "support/https_client.h"

namespace outpost::net {
namespace {

using outpost::testing::HttpsClient;
using outpost::testing::PlainRequest;
using Clock = std::chrono::steady_clock;

struct Pki {
  KeyAndCert ca;
  KeyAndCert server;
};

Pki MakePki(const std::string& ca_name = "Outpost Test CA") {
  Result<KeyAndCert> ca = GenerateCa(ca_name, 30);
  REQUIRE(ca.ok());
  Result<KeyAndCert> server = IssueServerCert(*ca, "localhost", {"localhost"}, {"127.0.0.1"}, 30);
  REQUIRE(server.ok());
  return Pki{*ca, *server};
}

std::shared_ptr<const TlsContext> ContextFor(const KeyAndCert& kc) {
  auto ctx = TlsContext::Create(kc.cert_pem, kc.key_pem);
  REQUIRE(ctx.ok());
  return *ctx;
}

// Polls `pred` until it holds or `ms` pass; for values another thread updates.
bool Eventually(const std::function<bool()>& pred, int ms = 5000) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

int64_t SecondsSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::seconds>(Clock::now() - start).count();
}

// An HttpsServer on 127.0.0.1 and a free port, with a few routes. Configure `server`, then
// Start(); the destructor stops it and joins the listener.
class TestServer {
 public:
  explicit TestServer(std::shared_ptr<const TlsContext> tls) : server(std::move(tls)) {
    server.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hello", "text/plain");
    });
    server.Get("/host", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.get_header_value("Host"), "text/plain");
    });
    server.Get("/whoami", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.remote_addr + ":" + std::to_string(req.remote_port), "text/plain");
    });
    server.Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.body, "application/octet-stream");
    });
    server.Get("/chunked", [](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("text/plain", [](size_t offset, httplib::DataSink& sink) {
        if (offset >= 30) {
          sink.done();
        } else {
          sink.write("0123456789", 10);
        }
        return true;
      });
    });
    server.Get("/big", [](const httplib::Request&, httplib::Response& res) {
      std::string body(1 << 20, '\0');
      for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
      res.set_content(body, "application/octet-stream");
    });
  }
  ~TestServer() { Stop(); }

  void Start() {
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread_ = std::thread([this] { server.listen_after_bind(); });
    REQUIRE(Eventually([this] { return server.is_running(); }));
  }

  // Stops listening and joins the listener, which waits for every worker. Idempotent:
  // httplib's stop() asserts when called again before the listener has finished.
  void Stop() {
    if (!thread_.joinable()) return;
    server.stop();
    thread_.join();
  }

  HttpsServer server;
  int port = 0;

 private:
  std::thread thread_;
};

TEST_CASE("a generated CA certificate is a CA with the requested name and validity",
          "[unit][net]") {
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  Result<KeyAndCert> ca = GenerateCa("Outpost Test CA", 3650);
  REQUIRE(ca.ok());
  CHECK(ca->key_pem.rfind("-----BEGIN EC PRIVATE KEY-----", 0) == 0);
  CHECK(ca->cert_pem.rfind("-----BEGIN CERTIFICATE-----", 0) == 0);

  Result<CertInfo> info = InspectCertificate(ca->cert_pem);
  REQUIRE(info.ok());
  CHECK(info->subject == "CN=Outpost Test CA");
  CHECK(info->issuer == "CN=Outpost Test CA");
  CHECK(info->is_ca);
  CHECK(info->dns_names.empty());
  CHECK(info->not_before >= now - 3600 - 5);
  CHECK(info->not_before <= now - 3600 + 5);
  CHECK(info->not_after - info->not_before == int64_t{3650} * 86400 + 3600);
  CHECK(CheckKeyMatchesCert(ca->cert_pem, ca->key_pem).ok());

  Result<KeyAndCert> other = GenerateCa("Outpost Test CA", 3650);
  REQUIRE(other.ok());
  CHECK(other->key_pem != ca->key_pem);
}

TEST_CASE("a generated server certificate carries the configured host names and addresses",
          "[unit][net]") {
  Result<KeyAndCert> ca = GenerateCa("Outpost Test CA", 30);
  REQUIRE(ca.ok());
  Result<KeyAndCert> server =
      IssueServerCert(*ca, "chat.example", {"chat.example", "localhost", "*.chat.example"},
                      {"127.0.0.1", "10.1.2.3", "::1", "fd00::42"}, 397);
  REQUIRE(server.ok());

  Result<CertInfo> info = InspectCertificate(server->cert_pem);
  REQUIRE(info.ok());
  CHECK(info->subject == "CN=chat.example");
  CHECK(info->issuer == "CN=Outpost Test CA");
  CHECK_FALSE(info->is_ca);
  CHECK(info->dns_names == std::vector<std::string>{"chat.example", "localhost", "*.chat.example"});
  CHECK(info->ip_addresses == std::vector<std::string>{"127.0.0.1", "10.1.2.3", "::1", "fd00::42"});
  CHECK(info->not_after - info->not_before == int64_t{397} * 86400 + 3600);
  CHECK(CheckKeyMatchesCert(server->cert_pem, server->key_pem).ok());
  // A chain (leaf then CA) is described by its first certificate.
  Result<CertInfo> chain = InspectCertificate(server->cert_pem + ca->cert_pem);
  REQUIRE(chain.ok());
  CHECK(chain->subject == "CN=chat.example");
}

TEST_CASE("a CA name with a comma survives into the issuer of its server certificates",
          "[unit][net]") {
  Result<KeyAndCert> ca = GenerateCa("Outpost, Site A", 30);
  REQUIRE(ca.ok());
  Result<KeyAndCert> server = IssueServerCert(*ca, "chat", {"chat"}, {}, 30);
  REQUIRE(server.ok());
  Result<CertInfo> info = InspectCertificate(server->cert_pem);
  REQUIRE(info.ok());
  CHECK(info->issuer == "CN=Outpost\\, Site A");  // mbedTLS prints the comma escaped
  CHECK(info->issuer == InspectCertificate(ca->cert_pem)->subject);
}

TEST_CASE("certificate requests with bad names, addresses or validity are refused", "[unit][net]") {
  Result<KeyAndCert> ca = GenerateCa("Outpost Test CA", 30);
  REQUIRE(ca.ok());
  CHECK(GenerateCa("", 30).status().code() == Code::kInvalidArgument);
  CHECK(GenerateCa("back\\slash", 30).status().code() == Code::kInvalidArgument);
  CHECK(GenerateCa("ok", 0).status().code() == Code::kInvalidArgument);

  auto bad_dns = IssueServerCert(*ca, "s", {"bad name"}, {}, 30);
  CHECK(bad_dns.status().code() == Code::kInvalidArgument);
  CHECK(bad_dns.status().message().find("'bad name'") != std::string::npos);
  auto bad_ip = IssueServerCert(*ca, "s", {}, {"300.1.2.3"}, 30);
  CHECK(bad_ip.status().code() == Code::kInvalidArgument);
  CHECK(bad_ip.status().message().find("'300.1.2.3'") != std::string::npos);
  CHECK(IssueServerCert(*ca, "s", {}, {}, 30).status().code() == Code::kInvalidArgument);

  // A server certificate cannot act as a CA.
  auto leaf = IssueServerCert(*ca, "s", {"s"}, {}, 30);
  REQUIRE(leaf.ok());
  auto from_leaf = IssueServerCert(*leaf, "t", {"t"}, {}, 30);
  CHECK(from_leaf.status().code() == Code::kInvalidArgument);
  CHECK(from_leaf.status().message().find("not a CA") != std::string::npos);
}

TEST_CASE("a key that does not belong to the certificate is refused with a clear message",
          "[unit][net]") {
  Pki a = MakePki();
  Pki b = MakePki();
  Status st = CheckKeyMatchesCert(a.server.cert_pem, b.server.key_pem);
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message().find("does not match") != std::string::npos);
  CHECK(st.message().find("CN=localhost") != std::string::npos);

  auto ctx = TlsContext::Create(a.server.cert_pem, b.server.key_pem);
  CHECK(ctx.status().code() == Code::kInvalidArgument);
  CHECK(ctx.status().message().find("does not match") != std::string::npos);
  CHECK(TlsContext::Create(a.server.cert_pem, a.server.key_pem).ok());
}

TEST_CASE("garbage PEM is refused with a clear message", "[unit][net]") {
  Pki a = MakePki();
  CHECK(InspectCertificate("").status().code() == Code::kInvalidArgument);
  CHECK(InspectCertificate("not a certificate").status().code() == Code::kInvalidArgument);
  const std::string truncated = a.server.cert_pem.substr(0, a.server.cert_pem.size() / 2);
  CHECK(InspectCertificate(truncated).status().code() == Code::kInvalidArgument);

  Status bad_cert = CheckKeyMatchesCert("-----BEGIN CERTIFICATE-----\nAAAA\n", a.server.key_pem);
  CHECK(bad_cert.code() == Code::kInvalidArgument);
  CHECK(bad_cert.message().find("certificate does not parse") != std::string::npos);
  Status bad_key = CheckKeyMatchesCert(a.server.cert_pem, "garbage");
  CHECK(bad_key.code() == Code::kInvalidArgument);
  CHECK(bad_key.message().find("private key does not parse") != std::string::npos);
  CHECK_FALSE(TlsContext::Create("garbage", a.server.key_pem).ok());
  CHECK_FALSE(TlsContext::Create(a.server.cert_pem, "").ok());
}

TEST_CASE("an expired certificate is reported as expired", "[unit][net]") {
  Pki a = MakePki();
  Result<CertInfo> info = InspectCertificate(a.server.cert_pem);
  REQUIRE(info.ok());
  CHECK(CheckKeyMatchesCert(a.server.cert_pem, a.server.key_pem, info->not_after - 1).ok());
  Status st = CheckKeyMatchesCert(a.server.cert_pem, a.server.key_pem, info->not_after + 1);
  CHECK(st.code() == Code::kFailedPrecondition);
  CHECK(st.message().find("expired") != std::string::npos);
}

TEST_CASE("the HTTPS server speaks TLS 1.2 with a CHACHA20-POLY1305 suite", "[unit][net]") {
  Pki pki = MakePki();
  TestServer ts(ContextFor(pki.server));
  ts.Start();
  HttpsClient client("127.0.0.1", ts.port, pki.ca.cert_pem);
  Status st = client.Connect();
  REQUIRE(st.ok());
  CHECK(client.TlsVersion() == "TLSv1.2");
  CHECK(client.CipherSuite() == "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256");
  auto res = client.Request("GET", "/hello");
  REQUIRE(res.ok());
  CHECK(res->status == 200);
  CHECK(res->body == "hello");
  CHECK(res->Header("Content-Type") == "text/plain");
  auto host = client.Request("GET", "/host");
  REQUIRE(host.ok());
  CHECK(host->body == "localhost:" + std::to_string(ts.port));
  CHECK(ts.server.handshake_failures() == 0);
}

TEST_CASE("the server's suite order wins, and only AEAD suites over TLS 1.2 are accepted",
          "[unit][net]") {
  Pki pki = MakePki();
  TestServer ts(ContextFor(pki.server));
  ts.Start();

  HttpsClient gcm_first("127.0.0.1", ts.port, pki.ca.cert_pem);
  gcm_first.set_ciphersuites({"TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256",
                              "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384",
                              "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256"});
  REQUIRE(gcm_first.Connect().ok());
  CHECK(gcm_first.CipherSuite() == "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256");

  HttpsClient gcm_only("127.0.0.1", ts.port, pki.ca.cert_pem);
  gcm_only.set_ciphersuites({"TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384"});
  REQUIRE(gcm_only.Connect().ok());
  CHECK(gcm_only.CipherSuite() == "TLS-ECDHE-ECDSA-WITH-AES-256-GCM-SHA384");
  auto res = gcm_only.Request("GET", "/hello");
  REQUIRE(res.ok());
  CHECK(res->body == "hello");
  CHECK(ts.server.handshake_failures() == 0);

  HttpsClient cbc_only("127.0.0.1", ts.port, pki.ca.cert_pem);
  cbc_only.set_ciphersuites({"TLS-ECDHE-ECDSA-WITH-AES-128-CBC-SHA256"});
  CHECK(cbc_only.Connect().code() == Code::kUnavailable);
  CHECK(Eventually([&] { return ts.server.handshake_failures() == 1; }));

  HttpsClient tls11("127.0.0.1", ts.port, pki.ca.cert_pem);
  tls11.set_max_tls_version("TLSv1.1");
  CHECK(tls11.Connect().code() == Code::kUnavailable);
  CHECK(Eventually([&] { return ts.server.handshake_failures() == 2; }));
}

TEST_CASE("requests on one TLS connection are served with keep-alive", "[unit][net]") {
  Pki pki = MakePki();
  TestServer ts(ContextFor(pki.server));
  ts.server.set_keep_alive_max_count(10);
  ts.Start();
  HttpsClient client("127.0.0.1", ts.port, pki.ca.cert_pem);
  auto first = client.Request("GET", "/whoami");
  auto second = client.Request("GET", "/whoami");
  REQUIRE(first.ok());
  REQUIRE(second.ok());
  CHECK(first->body.rfind("127.0.0.1:", 0) == 0);
  CHECK(first->body == second->body);  // same client port: same TCP connection
  auto echo = client.Request("POST", "/echo", {}, "ping\r\n\r\npong");
  REQUIRE(echo.ok());
  CHECK(echo->body == "ping\r\n\r\npong");
  auto chunked = client.Request("GET", "/chunked");
  REQUIRE(chunked.ok());
  CHECK(chunked->Header("transfer-encoding") == "chunked");
  CHECK(chunked->body == "012345678901234567890123456789");
  auto big = client.Request("GET", "/big");
  REQUIRE(big.ok());
  REQUIRE(big->body.size() == (1u << 20));
  CHECK(big->body[0] == 'a');
  CHECK(big->body[(1 << 20) - 1] == static_cast<char>('a' + ((1 << 20) - 1) % 26));
  CHECK(client.handshakes() == 1);

  auto closing = client.Request("GET", "/hello", {{"Connection", "close"}});
  REQUIRE(closing.ok());
  CHECK(closing->Header("connection") == "close");
  CHECK_FALSE(client.connected());
  auto after = client.Request("GET", "/whoami");
  REQUIRE(after.ok());
  CHECK(client.handshakes() == 2);
  CHECK(after->body != first->body);
}

TEST_CASE("raw bytes over TLS reach httplib's parser: good requests served, bad ones get 400",
          "[unit][net]") {
  Pki pki = MakePki();
  TestServer ts(ContextFor(pki.server));
  ts.Start();
  HttpsClient client("127.0.0.1", ts.port, pki.ca.cert_pem);
  auto good = client.SendRaw("GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  REQUIRE(good.ok());
  CHECK(good->rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(good->substr(good->size() - 5) == "hello");
  CHECK_FALSE(client.connected());

  auto bad = client.SendRaw("NONSENSE\r\n\r\n");
  REQUIRE(bad.ok());
  CHECK(bad->rfind("HTTP/1.1 400 Bad Request\r\n", 0) == 0);
  CHECK(client.handshakes() == 2);
  CHECK(Eventually([&] { return ts.server.open_connections() == 0; }));
}

TEST_CASE("the server closes a connection after keep_alive_max_count requests", "[unit][net]") {
  Pki pki = MakePki();
  TestServer ts(ContextFor(pki.server));
  ts.server.set_keep_alive_max_count(3);
  ts.Start();
  HttpsClient client("127.0.0.1", ts.port, pki.ca.cert_pem);
  for (int i = 1; i <= 3; ++i) {
    auto res = client.Request("GET", "/hello");
    REQUIRE(res.ok());
    CHECK(res->Header("connection") == (i < 3 ? "" : "close"));
  }
  CHECK(client.handshakes() == 1);
  CHECK(Eventually([&] { return ts.server.open_connections() == 0; }));
}

TEST_CASE("a client that trusts another CA or asks for another name fails the handshake",
          "[unit][net]") {
  Pki pki = MakePki();
  Pki stranger = MakePki("Some Other CA");
  TestServer ts(ContextFor(pki.server));
  ts.Start();

  HttpsClient distrusting("127.0.0.1", ts.port, stranger.ca.cert_pem);
  Status st = distrusting.Connect();
  CHECK(st.code() == Code::kUnauthenticated);
  CHECK(st.message().find("not trusted") != std::string::npos);
  CHECK(Eventually([&] { return ts.server.handshake_failures() == 1; }));

  HttpsClient wrong_name("127.0.0.1", ts.port, pki.ca.cert_pem, "evil.example");
  CHECK(wrong_name.Connect().code() == Code::kUnauthenticated);
  CHECK(Eventually([&] { return ts.server.handshake_failures() == 2; }));

  HttpsClient good("127.0.0.1", ts.port, pki.ca.cert_pem);
  auto res = good.Request("GET", "/hello");
  REQUIRE(res.ok());
  CHECK(res->body == "hello");
}

TEST_CASE("plain HTTP sent to the TLS port gets the connection closed and serving goes on",
          "[unit][net]") {
  Pki pki = MakePki();
  TestServer ts(ContextFor(pki.server));
  ts.Start();
  const auto start = Clock::now();
  auto reply = PlainRequest("127.0.0.1", ts.port, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", 20000);
  REQUIRE(reply.ok());
  CHECK(SecondsSince(start) < 10);  // closed by the server, not our 20 s timeout
  CHECK(reply->find("HTTP/1.1") == std::string::npos);
  CHECK(reply->find("hello") == std::string::npos);
  CHECK(Eventually([&] { return ts.server.handshake_failures() == 1; }));
  CHECK(Eventually([&] { return ts.server.open_connections() == 0; }));

  HttpsClient client("127.0.0.1", ts.port, pki.ca.cert_pem);
  auto res = client.Request("GET", "/hello");
  REQUIRE(res.ok());
  CHECK(res->body == "hello");
}

TEST_CASE("a client that connects and stays silent is cut off at the handshake timeout",
          "[unit][net]") {
  Pki pki = MakePki();
  TestServer ts(ContextFor(pki.server));
  ts.server.set_handshake_timeout(std::chrono::milliseconds(300));
  ts.Start();
  const auto start = Clock::now();
  auto reply = PlainRequest("127.0.0.1", ts.port, "", 20000);
  REQUIRE(reply.ok());
  CHECK(reply->empty());
  CHECK(SecondsSince(start) < 10);
  CHECK(Eventually([&] { return ts.server.handshake_failures() == 1; }));
}

TEST_CASE("open_connections counts live TLS connections and returns to zero", "[unit][net]") {
  Pki pki = MakePki();
  TestServer ts(ContextFor(pki.server));
  ts.Start();
  CHECK(ts.server.open_connections() == 0);
  HttpsClient a("127.0.0.1", ts.port, pki.ca.cert_pem);
  HttpsClient b("127.0.0.1", ts.port, pki.ca.cert_pem);
  REQUIRE(a.Request("GET", "/hello").ok());
  REQUIRE(b.Request("GET", "/hello").ok());
  CHECK(Eventually([&] { return ts.server.open_connections() == 2; }));
  a.Close();
  CHECK(Eventually([&] { return ts.server.open_connections() == 1; }));
  b.Close();
  CHECK(Eventually([&] { return ts.server.open_connections() == 0; }));
}

TEST_CASE("SetTlsContext serves the new certificate to new connections only", "[unit][net]") {
  Pki old_pki = MakePki("Old CA");
  Pki new_pki = MakePki("New CA");
  auto new_ctx = ContextFor(new_pki.server);
  TestServer ts(ContextFor(old_pki.server));
  ts.Start();
  HttpsClient existing("127.0.0.1", ts.port, old_pki.ca.cert_pem);
  REQUIRE(existing.Request("GET", "/hello").ok());

  ts.server.SetTlsContext(new_ctx);
  CHECK(ts.server.tls_context() == new_ctx);
  auto again = existing.Request("GET", "/hello");  // the open connection is left alone
  REQUIRE(again.ok());
  CHECK(existing.handshakes() == 1);

  HttpsClient old_trust("127.0.0.1", ts.port, old_pki.ca.cert_pem);
  CHECK(old_trust.Connect().code() == Code::kUnauthenticated);
  HttpsClient new_trust("127.0.0.1", ts.port, new_pki.ca.cert_pem);
  auto res = new_trust.Request("GET", "/hello");
  REQUIRE(res.ok());
  CHECK(res->body == "hello");
}

TEST_CASE("a request is served while the process holds more than 1024 descriptors", "[unit][net]") {
  rlimit lim{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &lim) == 0);
  if (lim.rlim_cur < 1300) {
    if (lim.rlim_max != RLIM_INFINITY && lim.rlim_max < 1300) {
      WARN("RLIMIT_NOFILE hard limit below 1300; cannot test descriptors above 1024");
      return;
    }
    lim.rlim_cur = 1300;
    REQUIRE(setrlimit(RLIMIT_NOFILE, &lim) == 0);
  }
  Pki pki = MakePki();
  TestServer ts(ContextFor(pki.server));
  ts.Start();

  struct Fds {
    std::vector<int> fds;
    ~Fds() {
      for (int fd : fds) ::close(fd);
    }
  } held;
  for (int i = 0; i < 1100; ++i) {
    const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    held.fds.push_back(fd);
  }
  // Descriptors are allocated lowest first, so both ends of the next connection land higher.
  REQUIRE(held.fds.back() > 1024);
  HttpsClient client("127.0.0.1", ts.port, pki.ca.cert_pem);
  auto res = client.Request("GET", "/hello");
  REQUIRE(res.ok());
  CHECK(res->status == 200);
  CHECK(res->body == "hello");
}

TEST_CASE("concurrent handshakes on one shared context all succeed", "[unit][net]") {
  Pki pki = MakePki();
  TestServer ts(ContextFor(pki.server));
  ts.Start();
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 4; ++i) {
        HttpsClient client("127.0.0.1", ts.port, pki.ca.cert_pem);
        auto res = client.Request("GET", "/hello");
        if (res.ok() && res->body == "hello") ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok.load() == 32);
  CHECK(ts.server.handshake_failures() == 0);
}

TEST_CASE("stop() is not held up by an idle keep-alive connection", "[unit][net]") {
  Pki pki = MakePki();
  TestServer ts(ContextFor(pki.server));
  ts.server.set_keep_alive_timeout(60);
  ts.Start();
  HttpsClient client("127.0.0.1", ts.port, pki.ca.cert_pem);
  REQUIRE(client.Request("GET", "/hello").ok());
  REQUIRE(Eventually([&] { return ts.server.open_connections() == 1; }));
  const auto start = Clock::now();
  ts.Stop();
  CHECK(SecondsSince(start) < 10);  // far below the 60 s keep-alive timeout
  CHECK(ts.server.open_connections() == 0);
}

}  // namespace
}  // namespace outpost::net
