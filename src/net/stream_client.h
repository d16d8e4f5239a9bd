// An outbound byte stream to a numeric address: plain TCP, or TLS 1.2 on mbedTLS that verifies
// the peer's certificate against a CA bundle and a name. Used to forward the audit log to a
// SIEM (RFC 5424 syslog over TCP, RFC 5425 over TLS). Write-only: the peer is never read from,
// only watched for closing. Knows nothing of what it carries.
#ifndef OUTPOST_NET_STREAM_CLIENT_H_
#define OUTPOST_NET_STREAM_CLIENT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "util/status.h"

namespace outpost::net {

struct StreamClientOptions {
  std::string host;  // numeric IPv4 or IPv6 address (no resolver in a static binary)
  int port = 0;
  bool tls = false;
  std::string ca_pem;       // for tls: the only trusted CA certificate(s), PEM
  std::string server_name;  // for tls: SNI and the name the certificate must carry
  int timeout_ms = 10000;   // connect, handshake and each write
};

// Not thread-safe, except Abort. Closes (with close_notify under TLS) when destroyed.
class StreamClient {
 public:
  // Connects and, for TLS, completes a handshake that verifies the chain and the name.
  // InvalidArgument for a bad address or CA, Unavailable when the peer cannot be reached,
  // Unauthenticated when its certificate is not trusted (naming why).
  static Result<std::unique_ptr<StreamClient>> Connect(const StreamClientOptions& options);

  ~StreamClient();
  StreamClient(const StreamClient&) = delete;
  StreamClient& operator=(const StreamClient&) = delete;

  // Writes all of `bytes` (as TLS application data under TLS). Unavailable on any error or
  // timeout; the connection is then unusable.
  Status Write(std::string_view bytes);

  // Bytes handed to the socket so far, TLS framing included.
  int64_t BytesWritten() const { return bytes_written_; }
  // Bytes handed to the socket that the peer's TCP has not acknowledged yet (SIOCOUTQ).
  // Unavailable when the kernel cannot tell.
  Result<int64_t> BytesUnacknowledged() const;
  // True when the peer has closed or reset the connection (or sent anything, which a syslog
  // receiver never does).
  bool PeerClosed() const;
  // Shuts the socket down so that a blocked Write fails at once. Thread-safe.
  void Abort();

  // E.g. "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256"; "" for plain TCP.
  std::string CipherSuite() const;

 private:
  struct Tls;
  StreamClient() = default;

  int fd_ = -1;
  std::unique_ptr<Tls> tls_;  // null for plain TCP
  int timeout_ms_ = 10000;
  int64_t bytes_written_ = 0;
  std::atomic<bool> aborted_{false};

  // mbedTLS BIO callbacks; `ctx` is the StreamClient.
  static int BioSend(void* ctx, const unsigned char* buf, size_t len);
  static int BioRecv(void* ctx, unsigned char* buf, size_t len);
};

}  // namespace outpost::net

#endif  // OUTPOST_NET_STREAM_CLIENT_H_
