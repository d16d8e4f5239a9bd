// Client certificates on the HTTPS server: what the handshake verifies, and what it publishes
// to the request handler (CurrentPeerCertificate), over loopback with the test PKI.
#include <mbedtls/x509.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <ctime>
#include <thread>

#include "net/client_cert.h"
#include "net/https_server.h"
#include "net/tls.h"
#include "support/https_client.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace outpost::net {
namespace {

using outpost::testing::HttpsClient;

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

// The route /peer answers "none", or "<flags>|<serial>|<crl_stale>" of the connection's
// client certificate ("-" as serial when the client sent none).
class PeerServer {
 public:
  explicit PeerServer(std::shared_ptr<const TlsContext> tls) : server(std::move(tls)) {
    server.Get("/peer", [](const httplib::Request&, httplib::Response& res) {
      const PeerCertificate* peer = CurrentPeerCertificate();
      if (peer == nullptr) return res.set_content("none", "text/plain");
      std::string serial = "-";
      if (!peer->der.empty()) {
        Result<ClientCertIdentity> id = DescribeClientCertificate(peer->der);
        serial = id.ok() ? id->serial : "unparsable";
      }
      res.set_content(std::to_string(peer->verify_flags) + "|" + serial + "|" +
                          (peer->crl_stale ? "stale" : "fresh"),
                      "text/plain");
    });
    port = server.bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread_ = std::thread([this] { server.listen_after_bind(); });
    for (int i = 0; i < 500 && !server.is_running(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    REQUIRE(server.is_running());
  }
  ~PeerServer() {
    server.stop();
    thread_.join();
  }

  HttpsServer server;
  int port = 0;

 private:
  std::thread thread_;
};

// A server certificate, a card CA with a CRL that revokes one card, and the cards.
struct Setup {
  testing::TempDir dir;
  KeyAndCert server_ca;
  KeyAndCert server;
  testing::TestCa card_ca;
  testing::TestCa other_ca;
  testing::TestCert good, revoked, foreign;
  ClientAuthOptions options;

  Setup() {
    Result<KeyAndCert> ca = GenerateCa("Server CA", 30);
    REQUIRE(ca.ok());
    server_ca = *ca;
    Result<KeyAndCert> s = IssueServerCert(server_ca, "localhost", {"localhost"}, {}, 30);
    REQUIRE(s.ok());
    server = *s;
    card_ca = *testing::MakeTestCa("Card CA");
    other_ca = *testing::MakeTestCa("Other CA");
    good = *testing::IssueUserCert(card_ca, {"GOOD", {"g@x"}, {}});
    revoked = *testing::IssueUserCert(card_ca, {"LOST", {"l@x"}, {}});
    foreign = *testing::IssueUserCert(other_ca, {"GOOD", {"g@x"}, {}});
    options.mode = ClientAuthMode::kOptional;
    options.ca_file = dir.Sub("cas.pem");
    testing::WriteTestFile(options.ca_file, card_ca.cert_pem);
    WriteCrl(Now() + 86400);
    options.crl_files = {dir.Sub("card.crl")};
  }

  void WriteCrl(int64_t next_update) {
    Result<std::string> crl =
        testing::MakeCrl(card_ca, {revoked.serial}, Now() - 3600, next_update, false);
    REQUIRE(crl.ok());
    testing::WriteTestFile(dir.Sub("card.crl"), *crl);
  }

  std::shared_ptr<const TlsContext> Context() {
    std::shared_ptr<const ClientTrust> trust;
    if (options.mode != ClientAuthMode::kOff) {
      Result<std::shared_ptr<const ClientTrust>> loaded =
          ClientTrust::Load(options, Now(), nullptr);
      INFO(loaded.status().ToString());
      REQUIRE(loaded.ok());
      trust = *loaded;
    }
    auto ctx = TlsContext::Create(server.cert_pem, server.key_pem, trust);
    REQUIRE(ctx.ok());
    return *ctx;
  }

  HttpsClient Client(int port, const testing::TestCert* card) const {
    HttpsClient client("127.0.0.1", port, server_ca.cert_pem);
    if (card != nullptr) client.set_client_certificate(card->cert_pem, card->key_pem);
    return client;
  }
};

std::string Peer(HttpsClient& client) {
  auto r = client.Request("GET", "/peer");
  REQUIRE(r.ok());
  REQUIRE(r->status == 200);
  return r->body;
}

TEST_CASE("with client certificates off no peer certificate reaches the handler",
          "[unit][net][client_auth]") {
  Setup s;
  s.options.mode = ClientAuthMode::kOff;
  PeerServer ps(s.Context());
  HttpsClient with_card = s.Client(ps.port, &s.good);
  CHECK(Peer(with_card) == "none");
}

TEST_CASE("optional client auth publishes the verified card and its flags to the handler",
          "[unit][net][client_auth]") {
  Setup s;
  PeerServer ps(s.Context());
  HttpsClient good = s.Client(ps.port, &s.good);
  CHECK(Peer(good) == "0|" + Hex(s.good.serial) + "|fresh");
  HttpsClient none = s.Client(ps.port, nullptr);
  CHECK(Peer(none) == std::to_string(MBEDTLS_X509_BADCERT_MISSING) + "|-|fresh");
  HttpsClient revoked = s.Client(ps.port, &s.revoked);
  CHECK(Peer(revoked) ==
        std::to_string(MBEDTLS_X509_BADCERT_REVOKED) + "|" + Hex(s.revoked.serial) + "|fresh");
  HttpsClient foreign = s.Client(ps.port, &s.foreign);
  const std::string answer = Peer(foreign);
  const uint32_t flags = static_cast<uint32_t>(std::stoul(answer.substr(0, answer.find('|'))));
  CHECK((flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) != 0);
  CHECK(CertificateRefusal(flags, true) == "untrusted");
  // The value belongs to the connection: a new one without a card sees none again.
  HttpsClient after = s.Client(ps.port, nullptr);
  CHECK(Peer(after).rfind(std::to_string(MBEDTLS_X509_BADCERT_MISSING) + "|-|", 0) == 0);
}

TEST_CASE("required client auth ends the handshake of a client without a valid card",
          "[unit][net][client_auth]") {
  Setup s;
  s.options.mode = ClientAuthMode::kRequired;
  PeerServer ps(s.Context());
  HttpsClient none = s.Client(ps.port, nullptr);
  CHECK_FALSE(none.Connect().ok());
  HttpsClient revoked = s.Client(ps.port, &s.revoked);
  CHECK_FALSE(revoked.Connect().ok());
  HttpsClient good = s.Client(ps.port, &s.good);
  CHECK(Peer(good) == "0|" + Hex(s.good.serial) + "|fresh");
}

TEST_CASE("a stale CRL is a verification failure unless accepted, then it is reported",
          "[unit][net][client_auth]") {
  Setup s;
  s.WriteCrl(Now() - 60);
  {
    PeerServer ps(s.Context());
    HttpsClient good = s.Client(ps.port, &s.good);
    CHECK(Peer(good) ==
          std::to_string(MBEDTLS_X509_BADCRL_EXPIRED) + "|" + Hex(s.good.serial) + "|stale");
  }
  s.options.accept_stale_crl = true;
  s.options.mode = ClientAuthMode::kRequired;  // accepted: the handshake must not fail on it
  PeerServer ps(s.Context());
  HttpsClient good = s.Client(ps.port, &s.good);
  CHECK(Peer(good) == "0|" + Hex(s.good.serial) + "|stale");
  HttpsClient revoked = s.Client(ps.port, &s.revoked);
  CHECK_FALSE(revoked.Connect().ok());  // still revoked on the stale list
}

TEST_CASE("concurrent card handshakes against one shared trust all verify",
          "[unit][net][client_auth]") {
  Setup s;
  PeerServer ps(s.Context());
  const std::string expected = "0|" + Hex(s.good.serial) + "|fresh";
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 4; ++i) {
        HttpsClient client = s.Client(ps.port, &s.good);
        auto r = client.Request("GET", "/peer");
        if (r.ok() && r->body == expected) ok.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(ok.load() == 32);
}

}  // namespace
}  // namespace outpost::net
