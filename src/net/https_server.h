// HTTPS on cpp-httplib without OpenSSL: an httplib::Server whose connections speak TLS through
// mbedTLS. Routes, handlers, timeouts and keep-alive settings are httplib's, unchanged.
//
// WebSocket upgrades never reach httplib: the connection handler reads each request head
// itself first. An upgrade for the configured path is decided by the API layer's callback,
// answered with 101, and the socket with its TLS session moves to the realtime hub
// (net/hub.h), so that the worker pool only ever serves short requests. Any other request is
// passed to httplib together with the bytes already read.
//
// Every translation unit that includes httplib.h must define CPPHTTPLIB_USE_POLL (sockets with
// fd >= 1024 are otherwise answered 500) and must not define CPPHTTPLIB_OPENSSL_SUPPORT.
#ifndef OUTPOST_NET_HTTPS_SERVER_H_
#define OUTPOST_NET_HTTPS_SERVER_H_

#ifndef CPPHTTPLIB_USE_POLL
#error "define CPPHTTPLIB_USE_POLL for every file that includes httplib.h"
#endif

#include <httplib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "net/hub.h"
#include "net/tls.h"

namespace outpost::net {

// A WebSocket upgrade request, as the API layer sees it to decide.
struct UpgradeRequest {
  std::string path;   // without the query: "/api/v1/ws"
  std::string query;  // after '?', still percent-encoded; "" when there is none
  std::map<std::string, std::string> headers;  // names lower-cased; repeats joined (ws.h)
  std::string remote_ip;
};

// The API layer's answer. Refused: `status` and `body` (JSON) are sent, with `headers`, and the
// connection is closed. Accepted: 101, and the connection joins the hub as `user_id`.
struct UpgradeDecision {
  bool accept = false;
  int64_t user_id = 0;
  int64_t session = 0;  // passed to Hub::Admit: the credential the socket is tied to
  int status = 403;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// Runs on HTTP worker threads, several at once, so it must be thread-safe; it may take as long
// as a request handler (it checks a session).
using UpgradeHandler = std::function<UpgradeDecision(const UpgradeRequest&)>;

// The client certificate of a TLS connection, as the handshake left it.
struct PeerCertificate {
  std::string der;  // the client's leaf certificate (DER); empty when it sent none
  // mbedtls_ssl_get_verify_result: MBEDTLS_X509_BADCERT_* / BADCRL_* bits, 0 when the chain
  // verified against the client CAs and CRLs. A CRL past nextUpdate is cleared from these
  // when the context accepts stale CRLs, and reported in crl_stale instead.
  uint32_t verify_flags = 0;
  bool crl_stale = false;
};

// The client certificate of the connection whose request the calling thread is serving. Null
// when the connection's TLS context does not ask for client certificates (the default), and
// on any thread that is not serving a request of an HttpsServer. The pointee lives until the
// connection closes; use it only within the request handler. It comes from the handshake
// alone: nothing a client sends in a request can set or change it.
const PeerCertificate* CurrentPeerCertificate();

// Serves HTTP/1.1 over TLS 1.2. Each accepted socket runs on an httplib worker thread: the
// handshake (bounded by handshake_timeout), then keep-alive requests exactly as plain
// httplib::Server does (keep_alive_max_count, keep_alive_timeout, read/write timeouts), then
// close_notify when the exchange ended cleanly. A failed handshake (plain HTTP on this port, a
// client that distrusts our CA, a stalled client) closes the socket and is counted.
//
// Thread-safety: configure routes and timeouts before listen(), as with httplib. SetTlsContext
// and the counters may be called from any thread at any time.
class HttpsServer : public httplib::Server {
 public:
  // `tls` must not be null. The server shares ownership; connections keep the context they
  // started with alive until they close.
  explicit HttpsServer(std::shared_ptr<const TlsContext> tls);
  ~HttpsServer() override;

  // Replaces the certificate for connections accepted from now on (e.g. after `outpost cert`
  // renews it); open connections keep theirs. `tls` must not be null. Thread-safe.
  void SetTlsContext(std::shared_ptr<const TlsContext> tls);

  // The context new connections use. Thread-safe; never null.
  std::shared_ptr<const TlsContext> tls_context() const;

  // Longest a client may take from TCP accept to a finished handshake. Default 10 s.
  // Set before listen().
  void set_handshake_timeout(std::chrono::milliseconds timeout) { handshake_timeout_ = timeout; }

  // Sends WebSocket upgrades for `path` to `handler`, and accepted connections to `hub`, which
  // must be started and outlive the listener. Malformed upgrades (bad key or version, a body)
  // get 400/426 without reaching `handler`; the hub's connection limits get 429. Call before
  // listen(); without it an upgrade request is an ordinary request for httplib's routes.
  void EnableWebSockets(std::string path, Hub* hub, UpgradeHandler handler);

  // Connections handed to the hub since construction. Thread-safe.
  uint64_t upgrades() const { return upgrades_.load(); }

  // Connections currently held by a worker, from accept to close or hand-off (a gauge).
  // Thread-safe.
  int open_connections() const { return open_connections_.load(); }

  // Handshakes that failed or timed out since construction. Thread-safe.
  uint64_t handshake_failures() const { return handshake_failures_.load(); }

 private:
  // httplib calls this (a private virtual) on a worker thread for every accepted socket, with
  // SO_RCVTIMEO/SO_SNDTIMEO already set. Owns `sock` and closes it, unless it went to the hub.
  bool process_and_close_socket(socket_t sock) override;

  mutable std::mutex tls_mu_;
  std::shared_ptr<const TlsContext> tls_;  // guarded by tls_mu_; never null

  std::chrono::milliseconds handshake_timeout_{10000};  // written before listen() only
  std::string ws_path_;                                 // written before listen() only
  Hub* hub_ = nullptr;                                  // written before listen() only
  UpgradeHandler upgrade_handler_;                      // written before listen() only
  std::atomic<uint64_t> upgrades_{0};
  std::atomic<int> open_connections_{0};
  std::atomic<uint64_t> handshake_failures_{0};
};

}  // namespace outpost::net

#endif  // OUTPOST_NET_HTTPS_SERVER_H_
