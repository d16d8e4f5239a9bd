#include "net/websocket.h"

#include <mbedtls/sha1.h>
#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace outpost::net::ws {
namespace {

constexpr std::string_view kGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// A delivered message buffer larger than this is released rather than kept for the next one:
// an idle connection must not keep the capacity of the largest message it ever received.
constexpr size_t kKeepCapacity = 1024;

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

std::string_view TrimSpace(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// RFC 9110 token characters, for header names and the method.
bool IsTokenChar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

// Field values: visible ASCII, obs-text, space and tab; no other control characters.
bool IsValueChar(unsigned char c) { return c == '\t' || (c >= 0x20 && c != 0x7f); }

void AppendHeader(std::string* out, uint8_t first_byte, uint64_t len, bool masked) {
  out->push_back(static_cast<char>(first_byte));
  const uint8_t mask_bit = masked ? 0x80 : 0;
  if (len < 126) {
    out->push_back(static_cast<char>(mask_bit | len));
  } else if (len <= 0xffff) {
    out->push_back(static_cast<char>(mask_bit | 126));
    out->push_back(static_cast<char>(len >> 8));
    out->push_back(static_cast<char>(len & 0xff));
  } else {
    out->push_back(static_cast<char>(mask_bit | 127));
    for (int shift = 56; shift >= 0; shift -= 8) {
      out->push_back(static_cast<char>((len >> shift) & 0xff));
    }
  }
}

bool IsControl(uint8_t opcode) { return (opcode & 0x8) != 0; }

bool IsKnownOpcode(uint8_t opcode) { return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xA); }

// Utf8Validator states past 1: 8 + 4 * kind + continuation bytes still needed, where kind
// narrows the next byte's range for E0, ED, F0 and F4 (overlongs, surrogates, > U+10FFFF).
constexpr uint8_t kUtf8Reject = 1;
constexpr uint8_t Utf8State(int kind, int remaining) {
  return static_cast<uint8_t>(8 + 4 * kind + remaining);
}
constexpr unsigned char kUtf8Low[] = {0x80, 0xA0, 0x80, 0x90, 0x80};
constexpr unsigned char kUtf8High[] = {0xBF, 0xBF, 0x9F, 0xBF, 0x8F};

}  // namespace

std::string RequestHead::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

bool ParseRequestHead(std::string_view head, RequestHead* out) {
  *out = RequestHead();
  bool first = true;
  while (!head.empty()) {
    const size_t eol = head.find('\n');
    if (eol == std::string_view::npos || eol == 0 || head[eol - 1] != '\r') return false;
    std::string_view line = head.substr(0, eol - 1);
    head.remove_prefix(eol + 1);
    if (line.empty()) return !first && head.empty();  // the blank line ends the head
    for (unsigned char c : line) {
      if (!IsValueChar(c)) return false;
    }
    if (first) {
      first = false;
      const size_t sp1 = line.find(' ');
      const size_t sp2 = sp1 == line.npos ? line.npos : line.find(' ', sp1 + 1);
      if (sp2 == line.npos || line.find(' ', sp2 + 1) != line.npos) return false;
      out->method = line.substr(0, sp1);
      out->target = line.substr(sp1 + 1, sp2 - sp1 - 1);
      out->version = line.substr(sp2 + 1);
      if (out->method.empty() || out->target.empty() || out->target[0] != '/') return false;
      for (unsigned char c : out->method) {
        if (!IsTokenChar(c)) return false;
      }
      continue;
    }
    const size_t colon = line.find(':');
    if (colon == 0 || colon == line.npos) return false;  // also refuses obs-fold (leading SP)
    std::string name(line.substr(0, colon));
    for (char& c : name) {
      if (!IsTokenChar(static_cast<unsigned char>(c))) return false;
      c = Lower(c);
    }
    const std::string_view value = TrimSpace(line.substr(colon + 1));
    auto [it, inserted] = out->headers.try_emplace(std::move(name), value);
    if (!inserted) it->second.append(it->first == "cookie" ? "; " : ", ").append(value);
  }
  return !first;  // a head without its blank line is accepted too
}

bool HeaderHasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (EqualsIgnoreCase(TrimSpace(value.substr(0, comma)), token)) return true;
    if (comma == value.npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

bool IsUpgradeRequest(const RequestHead& head) {
  return head.method == "GET" && head.version == "HTTP/1.1" &&
         HeaderHasToken(head.Header("upgrade"), "websocket") &&
         HeaderHasToken(head.Header("connection"), "upgrade");
}

std::string HandshakeProblem(const RequestHead& head) {
  if (head.Header("sec-websocket-version") != "13") return "Sec-WebSocket-Version must be 13";
  const std::string key = head.Header("sec-websocket-key");
  unsigned char raw[32];
  size_t raw_len = 0;
  if (key.size() != 24 ||
      sodium_base642bin(raw, sizeof(raw), key.data(), key.size(), nullptr, &raw_len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      raw_len != 16) {
    return "Sec-WebSocket-Key must be the base64 of 16 bytes";
  }
  return "";
}

std::string AcceptKey(std::string_view client_key) {
  std::string input(client_key);
  input.append(kGuid);
  unsigned char digest[20];
  mbedtls_sha1_ret(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest);
  char text[sodium_base64_ENCODED_LEN(20, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(text, sizeof(text), digest, sizeof(digest), sodium_base64_VARIANT_ORIGINAL);
  return text;
}

void AppendFrame(std::string* out, Opcode opcode, std::string_view payload, bool fin) {
  AppendHeader(out, static_cast<uint8_t>((fin ? 0x80 : 0) | static_cast<uint8_t>(opcode)),
               payload.size(), false);
  out->append(payload);
}

std::string EncodeFrame(Opcode opcode, std::string_view payload, bool fin) {
  std::string out;
  out.reserve(payload.size() + 10);
  AppendFrame(&out, opcode, payload, fin);
  return out;
}

std::string EncodeMaskedFrame(Opcode opcode, std::string_view payload, const uint8_t mask[4],
                              bool fin, uint8_t rsv) {
  std::string out;
  out.reserve(payload.size() + 14);
  AppendHeader(
      &out,
      static_cast<uint8_t>((fin ? 0x80 : 0) | ((rsv & 0x7) << 4) | static_cast<uint8_t>(opcode)),
      payload.size(), true);
  out.append(reinterpret_cast<const char*>(mask), 4);
  for (size_t i = 0; i < payload.size(); ++i) {
    out.push_back(static_cast<char>(payload[i] ^ mask[i % 4]));
  }
  return out;
}

std::string ClosePayload(uint16_t code, std::string_view reason) {
  std::string out;
  out.push_back(static_cast<char>(code >> 8));
  out.push_back(static_cast<char>(code & 0xff));
  size_t len = std::min(reason.size(), kMaxControlPayload - 2);
  // Back off to a character boundary: a reason cut inside a character is invalid UTF-8,
  // which the peer must answer with 1007.
  while (len < reason.size() && len > 0 && (static_cast<uint8_t>(reason[len]) & 0xC0) == 0x80) {
    --len;
  }
  out.append(reason.substr(0, len));
  return out;
}

bool IsValidCloseCode(uint16_t code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

bool Utf8Validator::Feed(std::string_view bytes) {
  uint8_t state = state_;
  for (unsigned char c : bytes) {
    if (state == 0) {
      if (c < 0x80) continue;
      if (c >= 0xC2 && c <= 0xDF) {
        state = Utf8State(0, 1);
      } else if (c == 0xE0) {
        state = Utf8State(1, 2);
      } else if (c == 0xED) {
        state = Utf8State(2, 2);
      } else if (c >= 0xE1 && c <= 0xEF) {
        state = Utf8State(0, 2);
      } else if (c == 0xF0) {
        state = Utf8State(3, 3);
      } else if (c >= 0xF1 && c <= 0xF3) {
        state = Utf8State(0, 3);
      } else if (c == 0xF4) {
        state = Utf8State(4, 3);
      } else {
        state = kUtf8Reject;
        break;
      }
    } else if (state == kUtf8Reject) {
      break;
    } else {
      const int kind = (state - 8) >> 2;
      const int remaining = (state - 8) & 3;
      if (c < kUtf8Low[kind] || c > kUtf8High[kind]) {
        state = kUtf8Reject;
        break;
      }
      state = remaining == 1 ? 0 : Utf8State(0, remaining - 1);
    }
  }
  state_ = state;
  return state != kUtf8Reject;
}

bool IsValidUtf8(std::string_view bytes) {
  Utf8Validator v;
  return v.Feed(bytes) && v.complete();
}

FrameEvent FrameParser::Fail(uint16_t code, const char* why) {
  failed_ = true;
  fail_code_ = code;
  fail_why_ = why;
  message_.clear();
  message_.shrink_to_fit();
  control_.clear();
  FrameEvent ev;
  ev.kind = FrameEvent::Kind::kError;
  ev.close_code = code;
  ev.error = why;
  return ev;
}

void FrameParser::ReleaseDelivered() {
  if (!delivered_) return;
  delivered_ = false;
  if (message_opcode_ == 0) {  // the delivered event was a whole message
    if (message_.capacity() > kKeepCapacity) {
      std::string().swap(message_);
    } else {
      message_.clear();
    }
  }
  control_.clear();
}

// Runs every check a header allows before any of the frame's payload is stored.
FrameEvent FrameParser::HeaderComplete() {
  const uint8_t b0 = header_[0];
  const uint8_t b1 = header_[1];
  fin_ = (b0 & 0x80) != 0;
  opcode_ = b0 & 0x0F;
  const bool masked = (b1 & 0x80) != 0;
  uint64_t len = b1 & 0x7F;
  size_t pos = 2;
  if (len == 126) {
    len = (uint64_t{header_[2]} << 8) | header_[3];
    if (len < 126) return Fail(kCloseProtocolError, "non-minimal frame length");
    pos = 4;
  } else if (len == 127) {
    len = 0;
    for (int i = 0; i < 8; ++i) len = (len << 8) | header_[2 + i];
    if (len >> 63) return Fail(kCloseProtocolError, "frame length has its top bit set");
    if (len <= 0xffff) return Fail(kCloseProtocolError, "non-minimal frame length");
    pos = 10;
  }
  if (masked) std::memcpy(mask_, header_ + pos, 4);
  mask_pos_ = 0;
  remaining_ = len;

  if (len > limits_->max_frame_bytes) return Fail(kCloseTooBig, "frame too large");
  if (!IsControl(opcode_)) {
    if (opcode_ == 0 && message_opcode_ == 0) {
      return Fail(kCloseProtocolError, "continuation frame without a message");
    }
    if (opcode_ != 0 && message_opcode_ != 0) {
      return Fail(kCloseProtocolError, "new message inside a fragmented message");
    }
    if (opcode_ != 0) {
      message_opcode_ = opcode_;
      utf8_.Reset();
    }
    if (message_.size() + len > limits_->max_message_bytes) {
      return Fail(kCloseTooBig, "message too large");
    }
  }
  in_payload_ = true;
  return FrameEvent();
}

FrameEvent FrameParser::FrameComplete() {
  in_payload_ = false;
  header_len_ = 0;
  header_need_ = 2;
  FrameEvent ev;
  if (!IsControl(opcode_)) {
    if (!fin_) return ev;  // more fragments to come
    if (message_opcode_ == static_cast<uint8_t>(Opcode::kText) && !utf8_.complete()) {
      return Fail(kCloseInvalidPayload, "text message is not valid UTF-8");
    }
    ev.kind = FrameEvent::Kind::kMessage;
    ev.opcode = static_cast<Opcode>(message_opcode_);
    ev.payload = message_;
    message_opcode_ = 0;
    delivered_ = true;
    return ev;
  }
  delivered_ = true;
  ev.opcode = static_cast<Opcode>(opcode_);
  ev.payload = control_;
  if (opcode_ == static_cast<uint8_t>(Opcode::kPing)) {
    ev.kind = FrameEvent::Kind::kPing;
  } else if (opcode_ == static_cast<uint8_t>(Opcode::kPong)) {
    ev.kind = FrameEvent::Kind::kPong;
  } else {
    ev.kind = FrameEvent::Kind::kClose;
    ev.close_code = kCloseNoStatus;
    if (control_.size() == 1) return Fail(kCloseProtocolError, "close frame of one byte");
    if (control_.size() >= 2) {
      ev.close_code = static_cast<uint16_t>((static_cast<uint8_t>(control_[0]) << 8) |
                                            static_cast<uint8_t>(control_[1]));
      if (!IsValidCloseCode(ev.close_code)) {
        return Fail(kCloseProtocolError, "invalid close code");
      }
      ev.payload = std::string_view(control_).substr(2);
      if (!IsValidUtf8(ev.payload)) {
        return Fail(kCloseInvalidPayload, "close reason is not valid UTF-8");
      }
    }
  }
  return ev;
}

FrameEvent FrameParser::Next(std::string_view* input) {
  if (failed_) {
    FrameEvent ev;
    ev.kind = FrameEvent::Kind::kError;
    ev.close_code = fail_code_;
    ev.error = fail_why_;
    return ev;
  }
  ReleaseDelivered();
  while (true) {
    if (!in_payload_) {
      while (header_len_ < header_need_ && !input->empty()) {
        header_[header_len_++] = static_cast<uint8_t>(input->front());
        input->remove_prefix(1);
        if (header_len_ == 2) {
          // Everything the first two bytes tell is checked before reading further.
          const uint8_t b0 = header_[0], b1 = header_[1];
          const uint8_t opcode = b0 & 0x0F;
          if ((b0 & 0x70) != 0) return Fail(kCloseProtocolError, "reserved bits set");
          if (!IsKnownOpcode(opcode)) return Fail(kCloseProtocolError, "unknown opcode");
          const bool masked = (b1 & 0x80) != 0;
          if (masked != limits_->expect_masked) {
            return Fail(kCloseProtocolError,
                        masked ? "masked frame from the server" : "unmasked frame from a client");
          }
          const uint8_t len7 = b1 & 0x7F;
          if (IsControl(opcode)) {
            if ((b0 & 0x80) == 0) return Fail(kCloseProtocolError, "fragmented control frame");
            if (len7 > kMaxControlPayload) {
              return Fail(kCloseProtocolError, "control frame longer than 125 bytes");
            }
          }
          header_need_ = static_cast<uint8_t>(2 +
                                              (len7 == 126   ? 2
                                               : len7 == 127 ? 8
                                                             : 0) +
                                              (masked ? 4 : 0));
        }
      }
      if (header_len_ < header_need_) return FrameEvent();
      FrameEvent ev = HeaderComplete();
      if (ev.kind == FrameEvent::Kind::kError) return ev;
    }
    if (remaining_ > 0) {
      if (input->empty()) return FrameEvent();
      const size_t n = static_cast<size_t>(std::min<uint64_t>(remaining_, input->size()));
      std::string& dest = IsControl(opcode_) ? control_ : message_;
      const size_t start = dest.size();
      dest.append(input->data(), n);
      input->remove_prefix(n);
      remaining_ -= n;
      if (limits_->expect_masked) {
        char* p = dest.data() + start;
        for (size_t i = 0; i < n; ++i) {
          p[i] = static_cast<char>(p[i] ^ mask_[mask_pos_]);
          mask_pos_ = (mask_pos_ + 1) & 3;
        }
      }
      if (!IsControl(opcode_) && message_opcode_ == static_cast<uint8_t>(Opcode::kText) &&
          !utf8_.Feed(std::string_view(dest).substr(start))) {
        return Fail(kCloseInvalidPayload, "text message is not valid UTF-8");
      }
      if (remaining_ > 0) return FrameEvent();
    }
    FrameEvent ev = FrameComplete();
    if (ev.kind != FrameEvent::Kind::kNeedMore) return ev;
  }
}

}  // namespace outpost::net::ws
