// The realtime transport end to end over loopback TLS: net::HttpsServer hands WebSocket
// upgrades to a net::Hub, driven by real WebSocket clients. The upgrade callback here is a
// stand-in for the API layer's: "Cookie: sid=<user id>" or "Authorization: Bearer u<user id>".
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "net/https_server.h"
#include "net/hub.h"
#include "support/https_client.h"
#include "support/ws_client.h"

namespace outpost::testing {
namespace {

using net::Hub;
using net::HubOptions;
using Kind = WsMessage::Kind;
using Clock = std::chrono::steady_clock;
namespace ws = net::ws;

constexpr const char* kPath = "/api/v1/ws";
constexpr int kWaitMs = 5000;

bool Eventually(const std::function<bool()>& pred, int ms = kWaitMs) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pred();
}

std::shared_ptr<const std::string> Text(std::string s) {
  return std::make_shared<const std::string>(std::move(s));
}

// An HttpsServer with a WebSocket endpoint and one plain route, and its hub.
class RealtimeServer {
 public:
  explicit RealtimeServer(HubOptions options = {}, int worker_threads = 4)
      : hub(std::move(options)) {
    auto ca = net::GenerateCa("Realtime Test CA", 30);
    REQUIRE(ca.ok());
    auto cert = net::IssueServerCert(*ca, "localhost", {"localhost"}, {"127.0.0.1"}, 30);
    REQUIRE(cert.ok());
    ca_pem = ca->cert_pem;
    auto tls = net::TlsContext::Create(cert->cert_pem, cert->key_pem);
    REQUIRE(tls.ok());
    server = std::make_unique<net::HttpsServer>(*tls);
    server->new_task_queue = [worker_threads] {
      return new httplib::ThreadPool(static_cast<size_t>(worker_threads));
    };
    server->Get("/hello", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hello", "text/plain");
    });
    server->EnableWebSockets(kPath, &hub,
                             [this](const net::UpgradeRequest& r) { return Decide(r); });
    hub.set_message_handler([this](net::ConnId conn, int64_t user, int64_t, std::string_view text) {
      std::lock_guard<std::mutex> lock(mu);
      received.push_back(std::to_string(user) + ":" + std::string(text));
      if (text.rfind("echo ", 0) == 0) hub.Send(conn, Text(std::string(text.substr(5))));
    });
    REQUIRE(hub.Start().ok());
    port = server->bind_to_any_port("127.0.0.1");
    REQUIRE(port > 0);
    thread_ = std::thread([this] { server->listen_after_bind(); });
    REQUIRE(Eventually([this] { return server->is_running(); }));
  }

  ~RealtimeServer() {
    server->stop();
    thread_.join();
    hub.Stop();
  }

  std::unique_ptr<WsClient> Client() {
    return std::make_unique<WsClient>("127.0.0.1", port, ca_pem);
  }

  // A client upgraded as `user`; fails the test when the upgrade is refused.
  std::unique_ptr<WsClient> Connect(int64_t user) {
    auto c = Client();
    auto res = c->Connect(kPath, {{"Cookie", "theme=dark; sid=" + std::to_string(user)}});
    REQUIRE(res.ok());
    REQUIRE(res->status == 101);
    return c;
  }

  // Waits until the hub has registered `n` connections (Adopt is asynchronous).
  void WaitForConnections(uint64_t n) {
    REQUIRE(Eventually([&] { return hub.Stats().connections == n; }));
  }

  std::vector<std::string> Received() {
    std::lock_guard<std::mutex> lock(mu);
    return received;
  }

  Hub hub;
  std::unique_ptr<net::HttpsServer> server;
  std::string ca_pem;
  int port = 0;
  std::mutex mu;
  std::vector<std::string> received;  // "user:text", guarded by mu

 private:
  net::UpgradeDecision Decide(const net::UpgradeRequest& r) {
    net::UpgradeDecision d;
    const auto origin = r.headers.find("origin");
    if (origin != r.headers.end() && origin->second != "https://localhost") {
      d.status = 403;
      d.body = R"({"error":{"code":"permission_denied","message":"bad origin"}})";
      return d;
    }
    std::string cred;
    if (auto c = r.headers.find("cookie"); c != r.headers.end()) {
      const size_t at = c->second.find("sid=");
      if (at != std::string::npos) cred = c->second.substr(at + 4);
    } else if (auto a = r.headers.find("authorization");
               a != r.headers.end() && a->second.rfind("Bearer u", 0) == 0) {
      cred = a->second.substr(8);
    }
    if (cred.empty()) {
      d.status = 401;
      d.body = R"({"error":{"code":"unauthenticated","message":"sign in first"}})";
      return d;
    }
    d.accept = true;
    d.user_id = std::stoll(cred);
    return d;
  }

  std::thread thread_;
};

void ExpectText(WsClient& c, const std::string& text) {
  auto m = c.NextText(kWaitMs);
  REQUIRE(m.ok());
  CHECK(m->kind == Kind::kText);
  CHECK(m->payload == text);
}

void ExpectNothing(WsClient& c, int ms = 300) {
  auto m = c.NextText(ms);
  REQUIRE(m.ok());
  CHECK(m->kind == Kind::kTimeout);
  CHECK(m->payload.empty());
}

void ExpectClose(WsClient& c, uint16_t code) {
  auto m = c.WaitForClose(kWaitMs);
  REQUIRE(m.ok());
  CHECK(m->kind == Kind::kClose);
  CHECK(m->close_code == code);
}

TEST_CASE("published messages reach the topic's subscribers and no one else",
          "[integration][realtime]") {
  RealtimeServer s;
  auto alice = s.Connect(1);
  auto alice_phone = s.Connect(1);
  auto bob = s.Connect(2);
  auto carol = s.Connect(3);
  s.WaitForConnections(4);
  s.hub.SubscribeUser(1, 10);
  s.hub.SubscribeUser(2, 10);
  s.hub.SubscribeUser(3, 11);
  s.hub.Publish(10, Text(R"({"type":"message.created","room":10})"), "7");
  ExpectText(*alice, R"({"type":"message.created","room":10})");
  ExpectText(*alice_phone, R"({"type":"message.created","room":10})");
  ExpectText(*bob, R"({"type":"message.created","room":10})");
  ExpectNothing(*carol);

  s.hub.PublishToUser(3, Text("just carol"), "8");
  ExpectText(*carol, "just carol");
  ExpectNothing(*bob, 100);

  // A subscription made before the user connects applies to the new connection.
  s.hub.SubscribeUser(4, 10);
  auto dave = s.Connect(4);
  s.WaitForConnections(5);
  s.hub.Publish(10, Text("hello dave"), "9");
  for (WsClient* c : {dave.get(), alice.get(), alice_phone.get(), bob.get()}) {
    ExpectText(*c, "hello dave");
  }
  ExpectNothing(*carol, 100);

  // Client to server: the handler sees the text and the user; Send answers one connection.
  REQUIRE(alice_phone->SendText("echo just me").ok());
  ExpectText(*alice_phone, "just me");
  ExpectNothing(*alice, 100);
  CHECK(Eventually([&] { return s.Received().size() == 1; }));
  CHECK(s.Received() == std::vector<std::string>{"1:echo just me"});
  CHECK(s.hub.Stats().messages_in == 1);
}

TEST_CASE("unsubscribing cuts delivery at once", "[integration][realtime]") {
  RealtimeServer s;
  auto bob = s.Connect(2);
  s.WaitForConnections(1);
  s.hub.SubscribeUser(2, 10);
  s.hub.SubscribeUser(2, 20);
  s.hub.Publish(10, Text("before"), "1");
  ExpectText(*bob, "before");
  // No pause between the calls: the unsubscribe is applied before the next publish.
  s.hub.UnsubscribeUser(2, 10);
  s.hub.Publish(10, Text("after removal"), "2");
  s.hub.Publish(20, Text("other room"), "3");
  ExpectText(*bob, "other room");  // had "after removal" been sent, it would come first
  ExpectNothing(*bob);
}

TEST_CASE("a slow consumer is cut off with its resume cursor while a fast one keeps receiving",
          "[integration][realtime]") {
  HubOptions o;
  o.max_queued_bytes = 64 * 1024;
  o.socket_send_buffer = 8 * 1024;
  o.close_grace = std::chrono::seconds(20);
  o.ping_interval = std::chrono::seconds(60);
  RealtimeServer s(o);
  auto slow = s.Client();
  slow->set_receive_buffer(4096);
  REQUIRE(slow->Connect(kPath, {{"Cookie", "sid=1"}})->status == 101);
  auto fast = s.Connect(2);
  s.WaitForConnections(2);
  s.hub.SubscribeUser(1, 10);
  s.hub.SubscribeUser(2, 10);

  constexpr int kMessages = 600;
  const std::string filler(1000, 'm');
  std::atomic<int> fast_got{0};
  std::atomic<bool> fast_in_order{true};
  std::thread reader([&] {
    for (int i = 0; i < kMessages; ++i) {
      auto m = fast->NextText(kWaitMs);
      if (!m.ok() || m->kind != Kind::kText) return;
      if (m->payload != std::to_string(i) + filler) fast_in_order = false;
      ++fast_got;
    }
  });
  for (int i = 0; i < kMessages; ++i) {
    s.hub.Publish(10, Text(std::to_string(i) + filler), "c" + std::to_string(i));
    // Batches of 20 KB, each once the fast reader has the previous one: it is never more than
    // a third of its queue behind, however busy the machine, while the slow one never reads.
    if (i % 20 == 19 && !Eventually([&] { return fast_got == i + 1; })) break;
  }
  reader.join();
  CHECK(fast_got == kMessages);
  CHECK(fast_in_order);
  CHECK(Eventually([&] { return s.hub.Stats().overflow_closes == 1; }));

  // The slow client reads now: a prefix of the messages, in order, then the overflow note
  // naming the last one it got, then Close 4000.
  int next = 0;
  std::string note;
  for (;;) {
    auto m = slow->NextText(kWaitMs);
    REQUIRE(m.ok());
    REQUIRE(m->kind == Kind::kText);
    if (m->payload.rfind("{", 0) == 0) {
      note = m->payload;
      break;
    }
    REQUIRE(m->payload == std::to_string(next) + filler);
    ++next;
  }
  CHECK(next > 0);
  CHECK(next < kMessages);
  const auto j = nlohmann::json::parse(note);
  CHECK(j["type"] == "overflow");
  CHECK(j["resume"] == "c" + std::to_string(next - 1));
  ExpectClose(*slow, ws::kCloseOverflow);
  CHECK(Eventually([&] { return s.hub.Stats().connections == 1; }));
  CHECK(s.hub.Stats().bytes_queued == 0);

  s.hub.Publish(10, Text("still here"), "x");
  ExpectText(*fast, "still here");
}

TEST_CASE("a frame announcing more than the limit is refused before its payload (1009)",
          "[integration][realtime]") {
  HubOptions o;
  o.limits.max_frame_bytes = 4096;
  RealtimeServer s(o);
  auto c = s.Connect(1);
  // Header only: masked text, 64-bit length 2^32, mask key. No payload ever follows.
  const std::string header("\x81\xff\x00\x00\x00\x01\x00\x00\x00\x00\x01\x02\x03\x04", 14);
  REQUIRE(c->SendRaw(header).ok());
  ExpectClose(*c, ws::kCloseTooBig);
  auto other = s.Connect(2);
  auto huge = s.Connect(3);
  const std::string top_bit("\x81\xff\x80\x00\x00\x00\x00\x00\x00\x00\x01\x02\x03\x04", 14);
  REQUIRE(huge->SendRaw(top_bit).ok());
  ExpectClose(*huge, ws::kCloseProtocolError);
  REQUIRE(other->SendText("echo fine").ok());
  ExpectText(*other, "fine");
  CHECK(s.hub.Stats().protocol_closes == 2);
}

TEST_CASE("an unmasked client frame is closed with 1002", "[integration][realtime]") {
  RealtimeServer s;
  auto c = s.Connect(1);
  REQUIRE(c->SendRaw(ws::EncodeFrame(ws::Opcode::kText, "not masked")).ok());
  ExpectClose(*c, ws::kCloseProtocolError);
  CHECK(s.Received().empty());
}

TEST_CASE("invalid UTF-8 is closed with 1007 and the hub keeps serving others",
          "[integration][realtime]") {
  RealtimeServer s;
  auto bad = s.Connect(1);
  auto good = s.Connect(2);
  REQUIRE(bad->SendText("caf\xc3").ok());
  ExpectClose(*bad, ws::kCloseInvalidPayload);
  REQUIRE(good->SendText("echo still fine").ok());
  ExpectText(*good, "still fine");
  CHECK(s.Received() == std::vector<std::string>{"2:echo still fine"});
}

TEST_CASE("a client flooding past its message rate is closed with 1008",
          "[integration][realtime]") {
  HubOptions o;
  o.messages_per_second = 10;
  o.message_burst = 10;
  RealtimeServer s(o);
  auto flood = s.Connect(1);
  auto calm = s.Connect(2);
  for (int i = 0; i < 100; ++i) {
    if (!flood->SendText("spam " + std::to_string(i)).ok()) break;  // closed under us
  }
  ExpectClose(*flood, ws::kClosePolicyViolation);
  CHECK(s.hub.Stats().rate_limit_closes == 1);
  const size_t handled = s.Received().size();
  CHECK(handled >= 10);
  CHECK(handled <= 12);  // the burst, plus what refilled while the flood was read
  REQUIRE(calm->SendText("echo calm").ok());
  ExpectText(*calm, "calm");
}

TEST_CASE("connections per user and per address are limited at the upgrade (429)",
          "[integration][realtime]") {
  HubOptions o;
  o.max_connections_per_user = 2;
  o.max_connections_per_ip = 4;
  RealtimeServer s(o);
  auto a1 = s.Connect(1);
  auto a2 = s.Connect(1);
  auto a3 = s.Client();
  auto refused = a3->Connect(kPath, {{"Cookie", "sid=1"}});
  REQUIRE(refused.ok());
  CHECK(refused->status == 429);
  CHECK(refused->body.find("resource_exhausted") != std::string::npos);
  CHECK(s.hub.Stats().refused_user_limit == 1);

  // Closing one frees its slot.
  REQUIRE(a2->Close().ok());
  ExpectClose(*a2, ws::kCloseNormal);
  s.WaitForConnections(1);
  auto a4 = s.Connect(1);

  auto b1 = s.Connect(2);
  auto c1 = s.Connect(3);  // four from 127.0.0.1 now
  auto d1 = s.Client();
  auto by_ip = d1->Connect(kPath, {{"Authorization", "Bearer u4"}});
  REQUIRE(by_ip.ok());
  CHECK(by_ip->status == 429);
  CHECK(s.hub.Stats().refused_ip_limit == 1);
}

TEST_CASE("refused upgrades get the callback's answer or 400/426, and never reach the hub",
          "[integration][realtime]") {
  RealtimeServer s;
  auto c = s.Client();
  auto anon = c->Connect(kPath);
  REQUIRE(anon.ok());
  CHECK(anon->status == 401);
  CHECK(anon->body.find("unauthenticated") != std::string::npos);
  auto cross = s.Client()->Connect(kPath, {{"Cookie", "sid=1"}, {"Origin", "https://evil"}});
  REQUIRE(cross.ok());
  CHECK(cross->status == 403);
  // A bad version and a bad key, sent by hand.
  HttpsClient raw("127.0.0.1", s.port, s.ca_pem);
  auto v8 = raw.Request("GET", kPath,
                        {{"Upgrade", "websocket"},
                         {"Connection", "Upgrade"},
                         {"Sec-WebSocket-Version", "8"},
                         {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                         {"Cookie", "sid=1"}});
  REQUIRE(v8.ok());
  CHECK(v8->status == 426);
  CHECK(v8->Header("sec-websocket-version") == "13");
  auto bad_key = raw.Request("GET", kPath,
                             {{"Upgrade", "websocket"},
                              {"Connection", "Upgrade"},
                              {"Sec-WebSocket-Version", "13"},
                              {"Sec-WebSocket-Key", "short"},
                              {"Cookie", "sid=1"}});
  REQUIRE(bad_key.ok());
  CHECK(bad_key->status == 400);
  CHECK(s.hub.Stats().adopted == 0);
  CHECK(s.server->upgrades() == 0);
  // Ordinary requests, including to the WebSocket path without Upgrade, are httplib's.
  auto plain = raw.Request("GET", kPath);
  REQUIRE(plain.ok());
  CHECK(plain->status == 404);
}

TEST_CASE("the HTTP worker pool stays free while 50 WebSockets are open",
          "[integration][realtime]") {
  RealtimeServer s({}, /*worker_threads=*/2);
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < 50; ++i) clients.push_back(s.Connect(100 + i));
  s.WaitForConnections(50);
  CHECK(Eventually([&] { return s.server->open_connections() == 0; }));
  CHECK(s.server->upgrades() == 50);
  HttpsClient http("127.0.0.1", s.port, s.ca_pem);
  http.set_timeout_ms(2000);
  auto res = http.Request("GET", "/hello");
  REQUIRE(res.ok());
  CHECK(res->body == "hello");
  // And every one of the 50 is live.
  s.hub.SubscribeUser(149, 1);
  s.hub.Publish(1, Text("to the last one"), "1");
  ExpectText(*clients.back(), "to the last one");
}

TEST_CASE("an upgrade on a keep-alive connection after ordinary requests works",
          "[integration][realtime]") {
  RealtimeServer s;
  auto c = s.Client();
  auto hello = c->http().Request("GET", "/hello");
  REQUIRE(hello.ok());
  CHECK(hello->body == "hello");
  auto up = c->Connect(kPath, {{"Cookie", "sid=5"}});
  REQUIRE(up.ok());
  CHECK(up->status == 101);
  CHECK(c->http().handshakes() == 1);
  REQUIRE(c->SendText("echo same connection").ok());
  ExpectText(*c, "same connection");
}

TEST_CASE("frames sent right behind the upgrade request are not lost", "[integration][realtime]") {
  RealtimeServer s;
  auto c = s.Client();
  const uint8_t mask[4] = {1, 2, 3, 4};
  const std::string early = ws::EncodeMaskedFrame(ws::Opcode::kText, "echo early", mask) +
                            ws::EncodeMaskedFrame(ws::Opcode::kText, "echo bird", mask);
  auto up = c->Connect(kPath, {{"Cookie", "sid=6"}}, early);
  REQUIRE(up.ok());
  REQUIRE(up->status == 101);
  ExpectText(*c, "early");
  ExpectText(*c, "bird");
}

TEST_CASE("CloseUser closes every connection of that user and no other",
          "[integration][realtime]") {
  RealtimeServer s;
  auto a1 = s.Connect(1);
  auto a2 = s.Connect(1);
  auto b = s.Connect(2);
  s.WaitForConnections(3);
  s.hub.CloseUser(1, 4001, "session revoked");
  for (WsClient* c : {a1.get(), a2.get()}) {
    auto m = c->WaitForClose(kWaitMs);
    REQUIRE(m.ok());
    CHECK(m->kind == Kind::kClose);
    CHECK(m->close_code == 4001);
    CHECK(m->payload == "session revoked");
  }
  s.WaitForConnections(1);
  s.hub.PublishToUser(2, Text("still on"), "");
  ExpectText(*b, "still on");
}

TEST_CASE("a client that does not answer pings is closed; one that does stays",
          "[integration][realtime]") {
  HubOptions o;
  o.ping_interval = std::chrono::milliseconds(200);
  o.pong_timeout = std::chrono::milliseconds(300);
  RealtimeServer s(o);
  auto mute = s.Client();
  mute->set_auto_pong(false);
  REQUIRE(mute->Connect(kPath, {{"Cookie", "sid=1"}})->status == 101);
  auto alive = s.Connect(2);
  s.WaitForConnections(2);
  // The live client must keep reading to see (and answer) the pings.
  const auto until = Clock::now() + std::chrono::milliseconds(1500);
  int pings = 0;
  while (Clock::now() < until) {
    auto m = alive->Next(50);
    REQUIRE(m.ok());
    if (m->kind == Kind::kPing) ++pings;
  }
  CHECK(pings >= 2);
  CHECK(s.hub.Stats().ping_timeouts == 1);
  CHECK(s.hub.Stats().connections == 1);
  auto m = mute->Next(kWaitMs);  // a ping, then the end of the connection
  REQUIRE(m.ok());
  CHECK(m->kind == Kind::kPing);
  CHECK(mute->Next(kWaitMs)->kind == Kind::kDisconnected);
}

TEST_CASE("a client's close is echoed and stopping the hub says 1001 to the rest",
          "[integration][realtime]") {
  RealtimeServer s;
  auto a = s.Connect(1);
  auto b = s.Connect(2);
  s.WaitForConnections(2);
  REQUIRE(a->Close(3001, "done").ok());
  ExpectClose(*a, 3001);
  s.WaitForConnections(1);
  s.hub.Stop();
  ExpectClose(*b, ws::kCloseGoingAway);
  CHECK(s.hub.Stats().connections == 0);
  CHECK(s.hub.Stats().closed == 2);
}

}  // namespace
}  // namespace outpost::testing
