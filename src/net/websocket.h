// RFC 6455 (WebSocket) without I/O: the opening handshake's checks and answer, an incremental
// frame parser that enforces the protocol and our size limits before it keeps any payload, and
// the frame encoder. The realtime hub (net/hub.h) drives it on the server side; the test client
// and the load generator drive it on the client side.
//
// Everything here is a pure function or a value type; a FrameParser is used by one thread at a
// time (thread-compatible).
#ifndef OUTPOST_NET_WEBSOCKET_H_
#define OUTPOST_NET_WEBSOCKET_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace outpost::net::ws {

enum class Opcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// Close codes (RFC 6455 section 7.4.1) and the one we add for slow consumers.
inline constexpr uint16_t kCloseNormal = 1000;
inline constexpr uint16_t kCloseGoingAway = 1001;
inline constexpr uint16_t kCloseProtocolError = 1002;
inline constexpr uint16_t kCloseUnsupportedData = 1003;
inline constexpr uint16_t kCloseNoStatus = 1005;  // never sent: "the peer gave no code"
inline constexpr uint16_t kCloseInvalidPayload = 1007;
inline constexpr uint16_t kClosePolicyViolation = 1008;
inline constexpr uint16_t kCloseTooBig = 1009;
inline constexpr uint16_t kCloseInternalError = 1011;
inline constexpr uint16_t kCloseOverflow = 4000;  // cut off as a slow consumer; resume

// Control frames carry at most this much payload (section 5.5).
inline constexpr size_t kMaxControlPayload = 125;

// ---------------------------------------------------------------------------------------------
// Opening handshake.

// The parts of an HTTP/1.1 request head that the upgrade decision needs.
struct RequestHead {
  std::string method;
  std::string target;   // as sent: "/api/v1/ws?resume=42"
  std::string version;  // "HTTP/1.1"
  // Names lower-cased. Repeated fields are joined with ", " (with "; " for cookie), as RFC 9110
  // allows, so a second Origin or Cookie header cannot hide behind the first.
  std::map<std::string, std::string> headers;

  // The value of `lower_name`, or "" when absent.
  std::string Header(const std::string& lower_name) const;
};

// Parses `head` (request line and header fields, with or without the final empty line).
// Returns false on anything malformed: bare LF, no colon, whitespace before a colon, obsolete
// line folding, control characters. Never allocates more than a copy of `head`.
bool ParseRequestHead(std::string_view head, RequestHead* out);

// True when the comma-separated header value `value` lists `token` (ASCII case-insensitive),
// as in "Connection: keep-alive, Upgrade".
bool HeaderHasToken(std::string_view value, std::string_view token);

// True when `head` asks for a WebSocket: GET, HTTP/1.1, "Upgrade: websocket" and a Connection
// header listing "upgrade". Says nothing about the path or the key (see HandshakeProblem).
bool IsUpgradeRequest(const RequestHead& head);

// Checks the WebSocket-specific fields of an upgrade request: Sec-WebSocket-Version must be 13
// and Sec-WebSocket-Key the base64 of 16 bytes. Returns "" when both are right, else a short
// English reason for a 400 (or 426 for the version) answer.
std::string HandshakeProblem(const RequestHead& head);

// Sec-WebSocket-Accept for `client_key`: base64(SHA-1(key + RFC 6455 GUID)).
std::string AcceptKey(std::string_view client_key);

// ---------------------------------------------------------------------------------------------
// Frames.

// Appends one unmasked frame (a server's) to `out`. `payload` of a control frame must not
// exceed kMaxControlPayload (callers truncate reasons).
void AppendFrame(std::string* out, Opcode opcode, std::string_view payload, bool fin = true);
std::string EncodeFrame(Opcode opcode, std::string_view payload, bool fin = true);

// A client's frame, masked with `mask` (4 bytes). `rsv` lands in bits 4..6 of the first byte
// (tests use it to send reserved bits).
std::string EncodeMaskedFrame(Opcode opcode, std::string_view payload, const uint8_t mask[4],
                              bool fin = true, uint8_t rsv = 0);

// The payload of a Close frame: the code in network order then `reason`, cut at a UTF-8
// boundary to fit kMaxControlPayload.
std::string ClosePayload(uint16_t code, std::string_view reason);

// True for the codes a peer may put in a Close frame: 1000-1003, 1007-1014, 3000-4999.
bool IsValidCloseCode(uint16_t code);

// Incremental UTF-8 validation (rejects overlongs, surrogates and code points past U+10FFFF),
// fed any split of the input. One byte of state.
class Utf8Validator {
 public:
  // Returns false as soon as the bytes so far cannot begin valid UTF-8; stays false.
  bool Feed(std::string_view bytes);
  // True when everything fed is valid and no sequence is left unfinished.
  bool complete() const { return state_ == 0; }
  void Reset() { state_ = 0; }

 private:
  uint8_t state_ = 0;  // 0: between characters; 1: rejected; else a DFA state
};

// True when `bytes` is complete, valid UTF-8.
bool IsValidUtf8(std::string_view bytes);

struct ParserLimits {
  uint64_t max_frame_bytes = 64 * 1024;     // payload of one frame
  uint64_t max_message_bytes = 256 * 1024;  // payload of all the frames of one message
  bool expect_masked = true;                // true on the server (clients must mask)
};

// What FrameParser::Next found.
struct FrameEvent {
  enum class Kind {
    kNeedMore,  // the input is used up; call again with more bytes
    kMessage,   // a complete text or binary message (`opcode`), defragmented
    kPing,
    kPong,
    kClose,  // `close_code` (kCloseNoStatus when the peer sent none) and `payload` = reason
    kError,  // protocol violation: answer with Close(`close_code`, `error`), then close
  };
  Kind kind = Kind::kNeedMore;
  Opcode opcode = Opcode::kContinuation;
  // For kMessage, kPing, kPong and kClose: valid until the next call to Next.
  std::string_view payload;
  uint16_t close_code = 0;
  const char* error = "";  // static text for kError
};

// Parses a byte stream into frames, enforcing RFC 6455 and the limits. Every check that a frame
// header allows (reserved bits, opcode, masking, control frame size and fragmentation, the
// minimal and 63-bit length encodings, frame and message limits) is made when the header is
// complete, before the payload is stored; payload is kept only as it arrives, never reserved
// by the announced length. Text is validated as UTF-8 across fragments while it arrives.
//
// After kError every call returns the same error. Memory: the message being assembled, the
// control payload being assembled (<= 125 bytes), and about 40 bytes; a buffer that grew past
// 1 KiB is released after its message is delivered, so idle connections stay small.
// Thread-compatible.
class FrameParser {
 public:
  // `limits` must outlive the parser (the hub shares one between all its connections).
  explicit FrameParser(const ParserLimits* limits) : limits_(limits) {}

  // Consumes bytes from the front of `*input` until one event is complete or the input is
  // used up (kNeedMore). Call again with the rest of the input after each event.
  FrameEvent Next(std::string_view* input);

  // True while a fragmented message is in progress.
  bool in_message() const { return message_opcode_ != 0; }

 private:
  FrameEvent Fail(uint16_t code, const char* why);
  FrameEvent HeaderComplete();
  FrameEvent FrameComplete();
  void ReleaseDelivered();

  const ParserLimits* limits_;
  std::string message_;     // payload of the data message being assembled
  std::string control_;     // payload of the control frame being assembled
  uint64_t remaining_ = 0;  // payload bytes of the current frame still to come
  uint8_t header_[14] = {};
  uint8_t header_len_ = 0;   // bytes of header_ filled
  uint8_t header_need_ = 2;  // header bytes needed (2 until the length field is known)
  uint8_t mask_[4] = {};
  uint8_t mask_pos_ = 0;
  uint8_t opcode_ = 0;          // of the current frame
  uint8_t message_opcode_ = 0;  // kText/kBinary while a message is in progress, else 0
  bool in_payload_ = false;
  bool fin_ = false;
  bool delivered_ = false;  // the last event pointed into message_ or control_
  bool failed_ = false;
  uint16_t fail_code_ = 0;
  const char* fail_why_ = "";
  Utf8Validator utf8_;
};

}  // namespace outpost::net::ws

#endif  // OUTPOST_NET_WEBSOCKET_H_
