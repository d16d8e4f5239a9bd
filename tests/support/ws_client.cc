#include "support/ws_client.h"

#include <sodium.h>

#include <chrono>
#include <cstdlib>

namespace outpost::testing {
namespace {

using Clock = std::chrono::steady_clock;
namespace ws = net::ws;

int MsLeft(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

ws::ParserLimits ClientLimits() {
  ws::ParserLimits l;
  l.max_frame_bytes = 64 << 20;
  l.max_message_bytes = 64 << 20;
  l.expect_masked = false;  // servers never mask
  return l;
}

}  // namespace

WsClient::WsClient(std::string host, int port, std::string ca_pem, std::string server_name)
    : http_(std::move(host), port, std::move(ca_pem), std::move(server_name)),
      limits_(ClientLimits()),
      parser_(&limits_) {}

Result<HttpResponse> WsClient::Connect(std::string_view path, const Headers& headers,
                                       std::string_view early) {
  if (!http_.connected()) OUTPOST_RETURN_IF_ERROR(http_.Connect());
  buffer_.clear();
  parser_ = ws::FrameParser(&limits_);
  close_sent_ = false;
  unsigned char raw_key[16];
  randombytes_buf(raw_key, sizeof(raw_key));
  char key[sodium_base64_ENCODED_LEN(16, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(key, sizeof(key), raw_key, sizeof(raw_key), sodium_base64_VARIANT_ORIGINAL);

  std::string req = "GET " + std::string(path) + " HTTP/1.1\r\n";
  bool has_host = false;
  for (const auto& [k, v] : headers) has_host |= k == "Host" || k == "host";
  if (!has_host) req += "Host: localhost\r\n";
  req += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
  req += "Sec-WebSocket-Key: " + std::string(key) + "\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  req += "\r\n";
  req += early;
  OUTPOST_RETURN_IF_ERROR(http_.Send(req));

  const auto deadline = Clock::now() + std::chrono::seconds(10);
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (Clock::now() >= deadline) return Status::Unavailable("no answer to the upgrade");
    OUTPOST_RETURN_IF_ERROR(http_.Receive(&buffer_, MsLeft(deadline)).status());
  }
  const std::string head = buffer_.substr(0, end + 2);
  buffer_.erase(0, end + 4);
  HttpResponse res;
  size_t line_end = head.find("\r\n");
  const std::string status_line = head.substr(0, line_end);
  if (status_line.rfind("HTTP/1.1 ", 0) != 0) return Status::Corruption("bad status line");
  res.status = std::atoi(status_line.c_str() + 9);
  for (size_t pos = line_end + 2; pos < head.size();) {
    const size_t eol = head.find("\r\n", pos);
    const std::string line = head.substr(pos, eol - pos);
    pos = eol + 2;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) return Status::Corruption("bad header '" + line + "'");
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t v = colon + 1;
    while (v < line.size() && line[v] == ' ') ++v;
    res.headers.emplace_back(name, line.substr(v));
  }
  if (res.status == 101) {
    if (res.Header("sec-websocket-accept") != ws::AcceptKey(key)) {
      return Status::Corruption("wrong Sec-WebSocket-Accept");
    }
    return res;
  }
  const size_t length = std::strtoull(res.Header("content-length").c_str(), nullptr, 10);
  while (buffer_.size() < length && Clock::now() < deadline) {
    Result<size_t> got = http_.Receive(&buffer_, MsLeft(deadline));
    if (!got.ok()) break;
  }
  res.body = buffer_.substr(0, length);
  buffer_.clear();
  return res;
}

Status WsClient::SendFrame(ws::Opcode opcode, std::string_view payload, bool fin, uint8_t rsv) {
  uint8_t mask[4];
  randombytes_buf(mask, sizeof(mask));
  return http_.Send(ws::EncodeMaskedFrame(opcode, payload, mask, fin, rsv));
}

Status WsClient::Close(uint16_t code, std::string_view reason) {
  close_sent_ = true;
  return SendFrame(ws::Opcode::kClose, ws::ClosePayload(code, reason));
}

Result<WsMessage> WsClient::Next(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    std::string_view in(buffer_);
    const ws::FrameEvent ev = parser_.Next(&in);
    buffer_.erase(0, buffer_.size() - in.size());
    WsMessage m;
    switch (ev.kind) {
      case ws::FrameEvent::Kind::kNeedMore: {
        Result<size_t> got = http_.Receive(&buffer_, MsLeft(deadline));
        if (!got.ok()) {
          m.kind = WsMessage::Kind::kDisconnected;
          return m;
        }
        if (*got == 0 && MsLeft(deadline) == 0) return m;  // kTimeout
        continue;
      }
      case ws::FrameEvent::Kind::kError:
        return Status::Corruption(std::string("bad frame from the server: ") + ev.error);
      case ws::FrameEvent::Kind::kMessage:
        m.kind = ev.opcode == ws::Opcode::kText ? WsMessage::Kind::kText : WsMessage::Kind::kBinary;
        break;
      case ws::FrameEvent::Kind::kPing:
        m.kind = WsMessage::Kind::kPing;
        if (auto_pong_) OUTPOST_RETURN_IF_ERROR(SendFrame(ws::Opcode::kPong, ev.payload));
        break;
      case ws::FrameEvent::Kind::kPong:
        m.kind = WsMessage::Kind::kPong;
        break;
      case ws::FrameEvent::Kind::kClose:
        m.kind = WsMessage::Kind::kClose;
        m.close_code = ev.close_code;
        if (!close_sent_) {
          close_sent_ = true;
          const std::string echo =
              ev.close_code == ws::kCloseNoStatus ? "" : ws::ClosePayload(ev.close_code, "");
          // Best effort: the server may already have gone.
          (void)SendFrame(ws::Opcode::kClose, echo);
        }
        break;
    }
    m.payload = std::string(ev.payload);
    return m;
  }
}

Result<WsMessage> WsClient::NextText(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    OUTPOST_ASSIGN_OR_RETURN(WsMessage m, Next(MsLeft(deadline)));
    if (m.kind != WsMessage::Kind::kPing && m.kind != WsMessage::Kind::kPong) return m;
  }
}

Result<WsMessage> WsClient::WaitForClose(int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    OUTPOST_ASSIGN_OR_RETURN(WsMessage m, Next(MsLeft(deadline)));
    if (m.kind == WsMessage::Kind::kClose || m.kind == WsMessage::Kind::kTimeout ||
        m.kind == WsMessage::Kind::kDisconnected) {
      return m;
    }
  }
}

}  // namespace outpost::testing
