// A small blocking HTTPS/1.1 client on mbedTLS, for tests: it verifies the server against a
// given CA and host name, speaks keep-alive, and can also send raw bytes over TLS or plain TCP
// to probe how the server reacts to malformed input. Numeric addresses only (no resolver, so
// it works in a chroot and links statically without NSS).
#ifndef OUTPOST_TESTS_SUPPORT_HTTPS_CLIENT_H_
#define OUTPOST_TESTS_SUPPORT_HTTPS_CLIENT_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/status.h"

namespace outpost::testing {

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::string body;                                          // de-chunked

  // The first header called `name` (any case), or "" when there is none.
  std::string Header(std::string_view name) const;
  // Every header called `name` (any case), in order; empty when there is none.
  std::vector<std::string> Headers(std::string_view name) const;
};

// One keep-alive TLS connection to one server, (re)connected on demand. Not thread-safe: give
// each thread its own client.
class HttpsClient {
 public:
  // `host` is a numeric address ("127.0.0.1", "::1"). `ca_pem` is the only trusted CA;
  // `server_name` is sent as SNI and must match a dNSName of the server certificate.
  HttpsClient(std::string host, int port, std::string ca_pem,
              std::string server_name = "localhost");
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;
  HttpsClient(HttpsClient&&) noexcept;  // the session lives on the heap: moving is safe
  HttpsClient& operator=(HttpsClient&&) noexcept;

  // Closes any current connection, then TCP-connects and completes a TLS 1.2 handshake that
  // verifies the chain against the CA and the name. Returns Unavailable when the connection or
  // handshake fails, Unauthenticated when the server's certificate is not trusted.
  Status Connect();

  // Sends one request and reads its response, connecting first when there is no connection or
  // the server has closed the idle one. Unless given, adds Host as a browser would
  // ("localhost:8443"; no port for 443) and, when there is a body or the method is
  // POST/PUT/PATCH, Content-Length. Closes the connection after a response with
  // "Connection: close" or without a length. Returns Unavailable on I/O errors and timeouts,
  // Corruption on a malformed response.
  Result<HttpResponse> Request(std::string_view method, std::string_view path,
                               const std::vector<std::pair<std::string, std::string>>& headers = {},
                               std::string_view body = "");

  // Writes `bytes` as TLS application data and returns everything read until the server
  // closes or `timeout_ms` passes (a timeout is not an error). Closes the connection after.
  Result<std::string> SendRaw(std::string_view bytes, int timeout_ms = 3000);

  // For protocols that take over the connection after an HTTP exchange (WebSocket): writes
  // `bytes` as TLS application data on the current connection, connecting first when there is
  // none. Unavailable on I/O errors and timeouts (set_timeout_ms).
  Status Send(std::string_view bytes);
  // Appends whatever plaintext arrives within `timeout_ms` (bytes already received first) to
  // `*out` and returns how many; 0 when nothing came in time. Unavailable("connection closed")
  // when the server closed or reset the connection and nothing is left, or when there is no
  // connection.
  Result<size_t> Receive(std::string* out, int timeout_ms);
  // SO_RCVBUF for the next Connect (0: the kernel's default). A small buffer makes this client
  // a slow consumer quickly when it stops reading.
  void set_receive_buffer(int bytes) { receive_buffer_ = bytes; }

  // Of the current connection: e.g. "TLS-ECDHE-ECDSA-WITH-CHACHA20-POLY1305-SHA256" and
  // "TLSv1.2"; "" when not connected.
  std::string CipherSuite() const;
  std::string TlsVersion() const;

  bool connected() const { return session_ != nullptr; }
  // Successful handshakes so far: tells a reused connection from a new one.
  int handshakes() const { return handshakes_; }
  // Bounds each Request (connect, write and read together). Default 10 s.
  void set_timeout_ms(int timeout_ms) { timeout_ms_ = timeout_ms; }
  // Offers only these suites, in this order (mbedTLS names such as
  // "TLS-ECDHE-ECDSA-WITH-AES-128-GCM-SHA256"); empty offers mbedTLS's defaults. Unknown names
  // make Connect return InvalidArgument. Takes effect at the next Connect.
  void set_ciphersuites(std::vector<std::string> names) { ciphersuites_ = std::move(names); }
  // Highest protocol offered: "TLSv1.2" (default), "TLSv1.1" or "TLSv1". Next Connect.
  void set_max_tls_version(std::string version) { max_version_ = std::move(version); }
  // Presents this client certificate (PEM, leaf first) with its key (PEM) when the server asks
  // for one, as a browser does with a smart card; empty strings present none (the default).
  // A certificate or key that does not parse makes Connect return InvalidArgument. Takes
  // effect at the next Connect.
  void set_client_certificate(std::string cert_pem, std::string key_pem) {
    client_cert_pem_ = std::move(cert_pem);
    client_key_pem_ = std::move(key_pem);
  }

  void Close();

 private:
  struct Session;

  Status EnsureConnected();
  Result<HttpResponse> ReadResponse(bool head_request);

  std::string host_;
  int port_;
  std::string ca_pem_;
  std::string server_name_;
  int timeout_ms_ = 10000;
  int receive_buffer_ = 0;
  int handshakes_ = 0;
  std::vector<std::string> ciphersuites_;
  std::string max_version_ = "TLSv1.2";
  std::string client_cert_pem_;  // "" : no client certificate
  std::string client_key_pem_;
  std::unique_ptr<Session> session_;  // null when not connected
};

// Connects over plain TCP, writes `raw_bytes`, and returns everything read until the server
// closes (or resets) the connection or `timeout_ms` passes. Returns Unavailable when the
// connection or the write fails.
Result<std::string> PlainRequest(const std::string& host, int port, std::string_view raw_bytes,
                                 int timeout_ms = 3000);

}  // namespace outpost::testing

#endif  // OUTPOST_TESTS_SUPPORT_HTTPS_CLIENT_H_
