// A small blocking WebSocket client over TLS, for tests: HttpsClient's connection, an upgrade
// request with whatever headers the test wants (cookie, Bearer token, Origin), masked frames
// out, frames in through the production codec in client mode. It can also send what a
// well-behaved client never would (unmasked frames, reserved bits, raw bytes) to probe the
// server.
#ifndef OUTPOST_TESTS_SUPPORT_WS_CLIENT_H_
#define OUTPOST_TESTS_SUPPORT_WS_CLIENT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "net/websocket.h"
#include "support/https_client.h"
#include "util/status.h"

namespace outpost::testing {

// One frame (or what happened instead) as the client saw it.
struct WsMessage {
  enum class Kind { kText, kBinary, kPing, kPong, kClose, kTimeout, kDisconnected };
  Kind kind = Kind::kTimeout;
  std::string payload;      // message, ping/pong payload, or the close reason
  uint16_t close_code = 0;  // kClose only; 1005 when the server sent none
};

// Not thread-safe: one client per thread.
class WsClient {
 public:
  using Headers = std::vector<std::pair<std::string, std::string>>;

  WsClient(std::string host, int port, std::string ca_pem, std::string server_name = "localhost");
  WsClient(const WsClient&) = delete;  // the parser points at limits_
  WsClient& operator=(const WsClient&) = delete;

  // Sends the upgrade request for `path` with `headers` added, and `early` (frames, say) in the
  // same write right behind it; on the current connection when http() has one open (an upgrade
  // after ordinary keep-alive requests), else on a new one. Returns the server's answer: 101
  // when upgraded (the Sec-WebSocket-Accept was checked: Corruption when it is wrong), else the
  // refusal with its body. Unavailable on I/O errors.
  Result<HttpResponse> Connect(std::string_view path, const Headers& headers = {},
                               std::string_view early = "");

  Status SendText(std::string_view text) { return SendFrame(net::ws::Opcode::kText, text); }
  // One masked frame (random mask); `rsv` sets reserved bits.
  Status SendFrame(net::ws::Opcode opcode, std::string_view payload, bool fin = true,
                   uint8_t rsv = 0);
  // Bytes exactly as given (hand-made frames: unmasked, oversized, truncated).
  Status SendRaw(std::string_view bytes) { return http_.Send(bytes); }
  Status Ping(std::string_view payload = "") { return SendFrame(net::ws::Opcode::kPing, payload); }
  Status Close(uint16_t code = net::ws::kCloseNormal, std::string_view reason = "");

  // The next frame within `timeout_ms`. Pings are answered first when auto_pong is on (the
  // default) and then returned too; a Close is answered with the same code, as browsers do,
  // unless this client sent one first. Errors only for a malformed stream from the server.
  Result<WsMessage> Next(int timeout_ms);
  // The next text message, answering pings and skipping pings and pongs; a close, a timeout
  // or a disconnection is returned as such.
  Result<WsMessage> NextText(int timeout_ms);
  // Waits for the Close frame (skipping everything else) and returns it, or kTimeout or
  // kDisconnected.
  Result<WsMessage> WaitForClose(int timeout_ms);

  void set_auto_pong(bool on) { auto_pong_ = on; }
  // SO_RCVBUF for the next Connect; see HttpsClient::set_receive_buffer.
  void set_receive_buffer(int bytes) { http_.set_receive_buffer(bytes); }
  HttpsClient& http() { return http_; }

 private:
  HttpsClient http_;
  net::ws::ParserLimits limits_;
  net::ws::FrameParser parser_;
  std::string buffer_;  // received bytes not parsed yet
  bool auto_pong_ = true;
  bool close_sent_ = false;
};

}  // namespace outpost::testing

#endif  // OUTPOST_TESTS_SUPPORT_WS_CLIENT_H_
