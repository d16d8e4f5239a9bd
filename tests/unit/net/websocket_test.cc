// The RFC 6455 codec on its own: handshake checks, the frame parser against well-formed and
// hostile input (fed whole and one byte at a time), UTF-8 validation and the encoder.
#include "net/websocket.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace outpost::net::ws {
namespace {

using Kind = FrameEvent::Kind;
constexpr uint8_t kMask[4] = {0x37, 0xfa, 0x21, 0x3d};

// A frame header written by hand, for lengths and bits no encoder would produce.
std::string RawHeader(uint8_t b0, uint8_t len7, const std::vector<uint8_t>& ext, bool masked) {
  std::string h;
  h.push_back(static_cast<char>(b0));
  h.push_back(static_cast<char>((masked ? 0x80 : 0) | len7));
  for (uint8_t b : ext) h.push_back(static_cast<char>(b));
  if (masked) h.append(reinterpret_cast<const char*>(kMask), 4);
  return h;
}

std::string Masked(Opcode op, std::string_view payload, bool fin = true) {
  return EncodeMaskedFrame(op, payload, kMask, fin);
}

// What the parser reports for `input`, as "kind:payload" strings; stops at the first error.
struct Seen {
  std::vector<std::string> events;
  uint16_t error_code = 0;
  uint16_t close_code = 0;
};

std::string Describe(const FrameEvent& ev) {
  switch (ev.kind) {
    case Kind::kMessage:
      return (ev.opcode == Opcode::kText ? "text:" : "binary:") + std::string(ev.payload);
    case Kind::kPing:
      return "ping:" + std::string(ev.payload);
    case Kind::kPong:
      return "pong:" + std::string(ev.payload);
    case Kind::kClose:
      return "close:" + std::to_string(ev.close_code) + ":" + std::string(ev.payload);
    default:
      return "?";
  }
}

Seen Parse(const std::string& input, bool byte_at_a_time, ParserLimits limits = {}) {
  FrameParser parser(&limits);
  Seen seen;
  const size_t step = byte_at_a_time ? 1 : input.size();
  for (size_t pos = 0; pos < input.size() && seen.error_code == 0; pos += step) {
    std::string_view in = std::string_view(input).substr(pos, step);
    for (;;) {
      const FrameEvent ev = parser.Next(&in);
      if (ev.kind == Kind::kNeedMore) break;
      if (ev.kind == Kind::kError) {
        seen.error_code = ev.close_code;
        break;
      }
      if (ev.kind == Kind::kClose) seen.close_code = ev.close_code;
      seen.events.push_back(Describe(ev));
    }
  }
  return seen;
}

// Runs `input` both whole and byte by byte; the two must agree.
Seen ParseBothWays(const std::string& input, ParserLimits limits = {}) {
  Seen whole = Parse(input, false, limits);
  Seen bytes = Parse(input, true, limits);
  CHECK(whole.events == bytes.events);
  CHECK(whole.error_code == bytes.error_code);
  return whole;
}

TEST_CASE("the accept key is the RFC 6455 example's", "[unit][net][websocket]") {
  CHECK(AcceptKey("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("a browser's upgrade request parses and passes the handshake checks",
          "[unit][net][websocket]") {
  const std::string head =
      "GET /api/v1/ws?resume=42 HTTP/1.1\r\nHost: localhost:8443\r\n"
      "Connection: keep-alive, Upgrade\r\nUpgrade: WebSocket\r\n"
      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
      "Cookie: a=1\r\nCookie: b=2\r\nOrigin: https://localhost:8443\r\n\r\n";
  RequestHead h;
  REQUIRE(ParseRequestHead(head, &h));
  CHECK(h.method == "GET");
  CHECK(h.target == "/api/v1/ws?resume=42");
  CHECK(h.Header("host") == "localhost:8443");
  CHECK(h.Header("cookie") == "a=1; b=2");
  CHECK(IsUpgradeRequest(h));
  CHECK(HandshakeProblem(h).empty());
}

TEST_CASE("upgrade requests with a wrong version, key, method or protocol are told apart",
          "[unit][net][websocket]") {
  auto head = [](const std::string& first_line, const std::string& fields) {
    RequestHead h;
    REQUIRE(ParseRequestHead(first_line + "\r\n" + fields + "\r\n", &h));
    return h;
  };
  const std::string upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n";
  const std::string good_key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  CHECK_FALSE(IsUpgradeRequest(head("POST /ws HTTP/1.1", upgrade)));
  CHECK_FALSE(IsUpgradeRequest(head("GET /ws HTTP/1.0", upgrade)));
  CHECK_FALSE(IsUpgradeRequest(head("GET /ws HTTP/1.1", "Upgrade: websocket\r\n")));
  CHECK_FALSE(
      IsUpgradeRequest(head("GET /ws HTTP/1.1", "Connection: Upgrade\r\nUpgrade: h2c\r\n")));
  CHECK(HandshakeProblem(head("GET /ws HTTP/1.1", upgrade + good_key)) ==
        "Sec-WebSocket-Version must be 13");
  CHECK(HandshakeProblem(
            head("GET /ws HTTP/1.1", upgrade + good_key + "Sec-WebSocket-Version: 8\r\n"))
            .find("Version") != std::string::npos);
  const std::string v13 = upgrade + "Sec-WebSocket-Version: 13\r\n";
  CHECK(HandshakeProblem(head("GET /ws HTTP/1.1", v13)).find("Key") != std::string::npos);
  // 15 bytes, and a key that is not base64 at all.
  CHECK(HandshakeProblem(
            head("GET /ws HTTP/1.1", v13 + "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n"))
            .find("Key") != std::string::npos);
  CHECK(HandshakeProblem(
            head("GET /ws HTTP/1.1", v13 + "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n"))
            .find("Key") != std::string::npos);
  CHECK(HandshakeProblem(head("GET /ws HTTP/1.1", v13 + good_key)).empty());
}

TEST_CASE("malformed request heads are refused", "[unit][net][websocket]") {
  RequestHead h;
  CHECK_FALSE(ParseRequestHead("GET / HTTP/1.1\nHost: x\r\n\r\n", &h));     // bare LF
  CHECK_FALSE(ParseRequestHead("GET / HTTP/1.1\r\nHost : x\r\n\r\n", &h));  // space before :
  CHECK_FALSE(ParseRequestHead("GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n", &h));
  CHECK_FALSE(ParseRequestHead("GET / HTTP/1.1\r\nNoColon\r\n\r\n", &h));
  CHECK_FALSE(ParseRequestHead("GET  / HTTP/1.1\r\n\r\n", &h));             // two spaces
  CHECK_FALSE(ParseRequestHead("GET / HTTP/1.1\r\nA: b\x01\r\n\r\n", &h));  // control char
  CHECK_FALSE(ParseRequestHead("GET / HTTP/1.1\r\n\r\nextra", &h));         // bytes after
  CHECK_FALSE(ParseRequestHead("", &h));
  CHECK(ParseRequestHead("GET / HTTP/1.1\r\nA: b\r\n\r\n", &h));
}

TEST_CASE("header tokens match case-insensitively within comma lists", "[unit][net][websocket]") {
  CHECK(HeaderHasToken("keep-alive, Upgrade", "upgrade"));
  CHECK(HeaderHasToken("UPGRADE", "upgrade"));
  CHECK_FALSE(HeaderHasToken("upgraded", "upgrade"));
  CHECK_FALSE(HeaderHasToken("", "upgrade"));
}

TEST_CASE("masked frames parse the same whole and one byte at a time", "[unit][net][websocket]") {
  const std::string stream =
      Masked(Opcode::kText, "hello") + Masked(Opcode::kPing, "p1") +
      Masked(Opcode::kText, "frag", false) + Masked(Opcode::kPong, "in between") +
      Masked(Opcode::kContinuation, "mented", false) + Masked(Opcode::kContinuation, "", true) +
      Masked(Opcode::kBinary, std::string("\0\xff", 2)) +
      Masked(Opcode::kText, std::string(70000, 'x')) +
      Masked(Opcode::kClose, ClosePayload(1000, "bye"));
  ParserLimits limits;
  limits.max_frame_bytes = limits.max_message_bytes = 1 << 20;
  const Seen seen = ParseBothWays(stream, limits);
  CHECK(seen.error_code == 0);
  REQUIRE(seen.events.size() == 7);
  CHECK(seen.events[0] == "text:hello");
  CHECK(seen.events[1] == "ping:p1");
  CHECK(seen.events[2] == "pong:in between");
  CHECK(seen.events[3] == "text:fragmented");
  CHECK(seen.events[4] == std::string("binary:\0\xff", 9));
  CHECK(seen.events[5] == "text:" + std::string(70000, 'x'));
  CHECK(seen.events[6] == "close:1000:bye");
}

TEST_CASE("an unmasked client frame is a protocol error", "[unit][net][websocket]") {
  CHECK(ParseBothWays(EncodeFrame(Opcode::kText, "hi")).error_code == kCloseProtocolError);
  // And the other way round: a client refuses masked frames from a server.
  ParserLimits client;
  client.expect_masked = false;
  CHECK(Parse(Masked(Opcode::kText, "hi"), false, client).error_code == kCloseProtocolError);
  CHECK(Parse(EncodeFrame(Opcode::kText, "hi"), false, client).events ==
        std::vector<std::string>{"text:hi"});
}

TEST_CASE("reserved bits and unknown opcodes are protocol errors", "[unit][net][websocket]") {
  for (uint8_t rsv = 1; rsv <= 7; ++rsv) {
    CHECK(ParseBothWays(EncodeMaskedFrame(Opcode::kText, "x", kMask, true, rsv)).error_code ==
          kCloseProtocolError);
  }
  for (uint8_t op : {3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF}) {
    CHECK(ParseBothWays(RawHeader(0x80 | op, 0, {}, true)).error_code == kCloseProtocolError);
  }
}

TEST_CASE("oversized lengths are refused from the header alone, before any payload",
          "[unit][net][websocket]") {
  ParserLimits limits;
  limits.max_frame_bytes = 1000;
  limits.max_message_bytes = 1500;
  // Only the header is fed: the verdict cannot depend on payload that never comes.
  const std::vector<uint8_t> two_pow_63 = {0x80, 0, 0, 0, 0, 0, 0, 0};
  CHECK(ParseBothWays(RawHeader(0x81, 127, two_pow_63, true), limits).error_code ==
        kCloseProtocolError);
  const std::vector<uint8_t> max_u64 = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  CHECK(ParseBothWays(RawHeader(0x81, 127, max_u64, true), limits).error_code ==
        kCloseProtocolError);
  const std::vector<uint8_t> two_pow_63_minus_1 = {0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  CHECK(ParseBothWays(RawHeader(0x81, 127, two_pow_63_minus_1, true), limits).error_code ==
        kCloseTooBig);
  const std::vector<uint8_t> four_gib = {0, 0, 0, 1, 0, 0, 0, 0};
  CHECK(ParseBothWays(RawHeader(0x82, 127, four_gib, true), limits).error_code == kCloseTooBig);
  CHECK(ParseBothWays(RawHeader(0x81, 126, {0x03, 0xe9}, true), limits).error_code ==
        kCloseTooBig);  // 1001 > 1000
  CHECK(ParseBothWays(Masked(Opcode::kText, std::string(1000, 'a')), limits).events.size() == 1);
  // A message of several frames, each within the frame limit, past the message limit: refused
  // at the header of the fragment that crosses it.
  const std::string first = Masked(Opcode::kText, std::string(1000, 'a'), false);
  CHECK(ParseBothWays(first + RawHeader(0x80, 126, {0x01, 0xf5}, true), limits).error_code ==
        kCloseTooBig);  // 1000 + 501 > 1500
}

TEST_CASE("lengths must use their shortest encoding", "[unit][net][websocket]") {
  CHECK(ParseBothWays(RawHeader(0x81, 126, {0x00, 0x05}, true) + "abcde").error_code ==
        kCloseProtocolError);
  CHECK(ParseBothWays(RawHeader(0x81, 127, {0, 0, 0, 0, 0, 0, 0xff, 0xff}, true)).error_code ==
        kCloseProtocolError);
}

TEST_CASE("control frames are short and never fragmented", "[unit][net][websocket]") {
  CHECK(ParseBothWays(Masked(Opcode::kPing, std::string(125, 'p'))).events.size() == 1);
  CHECK(ParseBothWays(RawHeader(0x89, 126, {0x00, 0x7e}, true)).error_code == kCloseProtocolError);
  CHECK(ParseBothWays(Masked(Opcode::kPing, "x", /*fin=*/false)).error_code == kCloseProtocolError);
  CHECK(ParseBothWays(Masked(Opcode::kClose, "x")).error_code == kCloseProtocolError);
}

TEST_CASE("continuation frames must continue a message, and messages must not nest",
          "[unit][net][websocket]") {
  CHECK(ParseBothWays(Masked(Opcode::kContinuation, "x")).error_code == kCloseProtocolError);
  CHECK(ParseBothWays(Masked(Opcode::kText, "a", false) + Masked(Opcode::kText, "b")).error_code ==
        kCloseProtocolError);
  CHECK(
      ParseBothWays(Masked(Opcode::kText, "a", false) + Masked(Opcode::kBinary, "b")).error_code ==
      kCloseProtocolError);
}

TEST_CASE("text must be UTF-8, checked across fragments and as soon as it goes wrong",
          "[unit][net][websocket]") {
  // U+20AC split between fragments is fine.
  const Seen euro = ParseBothWays(Masked(Opcode::kText, "\xe2\x82", false) +
                                  Masked(Opcode::kContinuation, "\xac"));
  CHECK(euro.error_code == 0);
  CHECK(euro.events == std::vector<std::string>{"text:\xe2\x82\xac"});
  for (const char* bad :
       {"\xc0\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xff", "\x80", "ok\xe2\x82"}) {
    INFO(bad);
    CHECK(ParseBothWays(Masked(Opcode::kText, bad)).error_code == kCloseInvalidPayload);
  }
  // Fail fast: the bad byte is reported while the fragmented message is still open.
  CHECK(ParseBothWays(Masked(Opcode::kText, "\xff", false)).error_code == kCloseInvalidPayload);
  // Binary messages are not text.
  CHECK(ParseBothWays(Masked(Opcode::kBinary, "\xff")).error_code == 0);
}

TEST_CASE("close frames carry a valid code and a UTF-8 reason", "[unit][net][websocket]") {
  Seen none = ParseBothWays(Masked(Opcode::kClose, ""));
  CHECK(none.close_code == kCloseNoStatus);
  for (uint16_t code : {1000, 1001, 1003, 1007, 1011, 3000, 4000, 4999}) {
    CHECK(ParseBothWays(Masked(Opcode::kClose, ClosePayload(code, "r"))).close_code == code);
  }
  for (uint16_t code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535}) {
    INFO(code);
    CHECK(ParseBothWays(Masked(Opcode::kClose, ClosePayload(code, ""))).error_code ==
          kCloseProtocolError);
  }
  CHECK(ParseBothWays(Masked(Opcode::kClose, ClosePayload(1000, "\xff"))).error_code ==
        kCloseInvalidPayload);
}

TEST_CASE("after an error the parser keeps reporting it", "[unit][net][websocket]") {
  ParserLimits limits;
  FrameParser parser(&limits);
  std::string bad = EncodeFrame(Opcode::kText, "unmasked");
  std::string_view in(bad);
  CHECK(parser.Next(&in).kind == Kind::kError);
  std::string good = Masked(Opcode::kText, "fine");
  std::string_view in2(good);
  const FrameEvent again = parser.Next(&in2);
  CHECK(again.kind == Kind::kError);
  CHECK(again.close_code == kCloseProtocolError);
}

TEST_CASE("server frames round-trip through a client-side parser at every length boundary",
          "[unit][net][websocket]") {
  ParserLimits client;
  client.expect_masked = false;
  client.max_frame_bytes = client.max_message_bytes = 1 << 20;
  for (size_t len : {0, 1, 125, 126, 127, 65535, 65536, 70000}) {
    INFO(len);
    const std::string payload(len, 'z');
    const std::string frame = EncodeFrame(Opcode::kText, payload);
    CHECK(frame.size() == len + (len < 126 ? 2 : len <= 65535 ? 4 : 10));
    const Seen seen = Parse(frame, false, client);
    REQUIRE(seen.events.size() == 1);
    CHECK(seen.events[0] == "text:" + payload);
  }
}

TEST_CASE("the UTF-8 validator agrees with itself at every split point", "[unit][net][websocket]") {
  const std::string text = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";  // a é € 😀 z
  CHECK(IsValidUtf8(text));
  for (size_t split = 0; split <= text.size(); ++split) {
    Utf8Validator v;
    CHECK(v.Feed(std::string_view(text).substr(0, split)));
    CHECK(v.complete() ==
          (split == 0 || split == 1 || split == 3 || split == 6 || split == 10 || split == 11));
    CHECK(v.Feed(std::string_view(text).substr(split)));
    CHECK(v.complete());
  }
}

TEST_CASE("a close reason is cut to fit at a character boundary", "[unit][net][websocket]") {
  std::string reason;
  for (int i = 0; i < 62; ++i) reason += "\xc3\xa9";  // 124 bytes; 123 fit, mid-character
  const std::string payload = ClosePayload(1000, reason);
  CHECK(payload.size() == 2 + 122);
  CHECK(IsValidUtf8(payload.substr(2)));
  CHECK(ClosePayload(1000, "short") == std::string("\x03\xe8short", 7));
}

}  // namespace
}  // namespace outpost::net::ws
