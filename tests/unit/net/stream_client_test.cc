// The outbound stream the SIEM forwarder writes to, against the test syslog receiver on
// loopback: plain TCP and verified TLS, acknowledgement counting, and noticing a closed peer.
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "net/stream_client.h"
#include "net/tls.h"
#include "support/syslog_receiver.h"

namespace outpost::net {
namespace {

using testing::SyslogFrame;
using testing::SyslogReceiver;

bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 500; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

TEST_CASE("a plain TCP stream delivers frames, counts acknowledged bytes and sees the peer go",
          "[unit][net]") {
  SyslogReceiver siem;
  REQUIRE(siem.Start().ok());
  StreamClientOptions o;
  o.host = "127.0.0.1";
  o.port = siem.port();
  auto c = StreamClient::Connect(o);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  CHECK((*c)->CipherSuite().empty());
  REQUIRE((*c)->Write("5 hello3 abc").ok());
  CHECK((*c)->BytesWritten() == 12);
  REQUIRE(siem.WaitFor([](const std::vector<SyslogFrame>& f) { return f.size() == 2; }, 10000));
  CHECK(siem.Frames()[0].message == "hello");
  CHECK(siem.Frames()[1].message == "abc");
  CHECK(Eventually([&] { return (*c)->BytesUnacknowledged().value() == 0; }));
  CHECK_FALSE((*c)->PeerClosed());
  siem.Stop();
  CHECK(Eventually([&] { return (*c)->PeerClosed(); }));

  auto refused = StreamClient::Connect(o);  // nobody listens now
  CHECK(refused.status().code() == Code::kUnavailable);
  o.host = "siem.example";
  CHECK(StreamClient::Connect(o).status().code() == Code::kInvalidArgument);
}

TEST_CASE("a TLS stream verifies the receiver's CA and name before sending anything",
          "[unit][net]") {
  auto ca = GenerateCa("SIEM test CA", 30);
  REQUIRE(ca.ok());
  auto cert = IssueServerCert(*ca, "siem.test", {"siem.test"}, {}, 30);
  REQUIRE(cert.ok());
  auto other = GenerateCa("Other CA", 30);
  REQUIRE(other.ok());
  SyslogReceiver siem(cert->cert_pem, cert->key_pem);
  REQUIRE(siem.Start().ok());

  StreamClientOptions o;
  o.host = "127.0.0.1";
  o.port = siem.port();
  o.tls = true;
  o.ca_pem = other->cert_pem;
  o.server_name = "siem.test";
  auto untrusted = StreamClient::Connect(o);
  CHECK(untrusted.status().code() == Code::kUnauthenticated);
  CHECK_THAT(untrusted.status().message(), Catch::Contains("not trusted"));

  o.ca_pem = ca->cert_pem;
  o.server_name = "other.test";
  CHECK(StreamClient::Connect(o).status().code() == Code::kUnauthenticated);

  o.server_name = "siem.test";
  auto c = StreamClient::Connect(o);
  INFO(c.status().ToString());
  REQUIRE(c.ok());
  CHECK_THAT((*c)->CipherSuite(), Catch::StartsWith("TLS-ECDHE-"));
  const std::string big(100000, 'x');
  REQUIRE((*c)->Write("2 hi" + std::to_string(big.size()) + " " + big).ok());
  CHECK((*c)->BytesWritten() > static_cast<int64_t>(big.size()));  // TLS framing included
  REQUIRE(siem.WaitFor([](const std::vector<SyslogFrame>& f) { return f.size() == 2; }, 10000));
  CHECK(siem.Frames()[0].message == "hi");
  CHECK(siem.Frames()[1].message == big);
  CHECK(siem.connections() == 1);
  CHECK(Eventually([&] { return (*c)->BytesUnacknowledged().value() == 0; }));
}

}  // namespace
}  // namespace outpost::net
