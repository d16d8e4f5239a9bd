#include "net/https_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <mbedtls/net_sockets.h>  // MBEDTLS_ERR_NET_* codes only; we bring our own callbacks
#include <mbedtls/ssl.h>
#include <mbedtls/x509.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <nlohmann/json.hpp>

#include "net/websocket.h"
#include "util/log.h"

namespace outpost::net {
namespace {

using Clock = std::chrono::steady_clock;

// Every retry of an mbedTLS call that asked to be called again. Our callbacks block (with
// deadlines) and never return WANT_READ/WANT_WRITE, so these come only from records that
// carry no application data; a few in a row mean something is wrong.
constexpr int kMaxWantRetries = 16;

// Idle keep-alive connections re-check for server shutdown this often, so that stop() is not
// held up for keep_alive_timeout by an idle browser.
constexpr int kIdleSliceMs = 100;

// A request head longer than this is not a WebSocket upgrade we accept (browsers send about
// 1 KiB); it goes to httplib, which applies its own limits.
constexpr size_t kMaxUpgradeHead = 8192;
// Reads while peeking at a head ask for this much: one TLS record holds up to 16 KiB, and what
// we read past the head stays buffered for httplib or the hub.
constexpr size_t kPeekChunk = 4096;

// The socket under one TLS session and the instant after which I/O on it gives up. Each
// operation (handshake, one read, one write) sets a fresh deadline, so a client that trickles
// one byte at a time cannot hold a worker longer than the operation's timeout.
struct Transport {
  int fd;
  Clock::time_point deadline;
};

Clock::time_point After(time_t sec, time_t usec) {
  return Clock::now() + std::chrono::seconds(sec) + std::chrono::microseconds(usec);
}

// Waits until `fd` is ready for `events` or the deadline passes; false on timeout or error.
// POLLHUP/POLLERR count as ready: the following recv/send reports what happened.
bool WaitUntilReady(const Transport& t, short events) {
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(t.deadline - Clock::now()).count();
    if (left <= 0) return false;
    pollfd pfd{t.fd, events, 0};
    const int r = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, INT_MAX)));
    if (r > 0) return true;
    if (r == 0 || errno != EINTR) return false;
  }
}

int SendCallback(void* ctx, const unsigned char* buf, size_t len) {
  auto* t = static_cast<Transport*>(ctx);
  for (;;) {
    if (!WaitUntilReady(*t, POLLOUT)) return MBEDTLS_ERR_SSL_TIMEOUT;
    const ssize_t n = ::send(t->fd, buf, len, MSG_NOSIGNAL);
    if (n >= 0) return static_cast<int>(n);
    // EAGAIN: SO_SNDTIMEO expired before our deadline did; the wait above decides.
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    if (errno == EPIPE || errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_SEND_FAILED;
  }
}

int RecvCallback(void* ctx, unsigned char* buf, size_t len) {
  auto* t = static_cast<Transport*>(ctx);
  for (;;) {
    if (!WaitUntilReady(*t, POLLIN)) return MBEDTLS_ERR_SSL_TIMEOUT;
    const ssize_t n = ::recv(t->fd, buf, len, 0);
    if (n >= 0) return static_cast<int>(n);  // 0 is end of stream
    if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
    if (errno == ECONNRESET) return MBEDTLS_ERR_NET_CONN_RESET;
    return MBEDTLS_ERR_NET_RECV_FAILED;
  }
}

void SocketAddress(int fd, bool peer, std::string& ip, int& port) {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  auto* sa = reinterpret_cast<sockaddr*>(&addr);
  if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) return;
  char text[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    port = ntohs(in->sin_port);
  } else if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    port = ntohs(in6->sin6_port);
  }
  ip = text;
}

// One established TLS session seen as an httplib::Stream. Lives on the worker's stack for the
// life of the connection; not thread-safe (neither is httplib's SocketStream).
//
// It keeps a read-ahead buffer: PeekHead reads a request head into it without consuming it, so
// the connection handler can look at a request before httplib parses it, and httplib's
// byte-at-a-time header reads are served from memory rather than by one mbedtls_ssl_read each.
class TlsStream final : public httplib::Stream {
 public:
  enum class Peek { kHead, kTooLong, kClosed };

  TlsStream(mbedtls_ssl_context* ssl, Transport* transport, time_t read_sec, time_t read_usec,
            time_t write_sec, time_t write_usec)
      : ssl_(ssl),
        transport_(transport),
        read_sec_(read_sec),
        read_usec_(read_usec),
        write_sec_(write_sec),
        write_usec_(write_usec) {}

  bool is_readable() const override {
    if (has_buffered() || mbedtls_ssl_check_pending(ssl_)) return true;
    Transport t{transport_->fd, After(read_sec_, read_usec_)};
    return WaitUntilReady(t, POLLIN);
  }

  bool is_writable() const override {
    pollfd pfd{transport_->fd, POLLOUT, 0};
    const int ms = static_cast<int>(write_sec_ * 1000 + write_usec_ / 1000);
    return ::poll(&pfd, 1, ms) > 0 && (pfd.revents & (POLLERR | POLLHUP)) == 0;
  }

  ssize_t read(char* ptr, size_t size) override {
    if (size == 0) return 0;
    if (has_buffered()) {
      const size_t n = std::min(size, buffer_.size() - offset_);
      std::memcpy(ptr, buffer_.data() + offset_, n);
      offset_ += n;
      if (offset_ == buffer_.size()) {
        buffer_.clear();
        offset_ = 0;
      }
      return static_cast<ssize_t>(n);
    }
    return ReadTls(ptr, size);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (size == 0) return 0;
    transport_->deadline = After(write_sec_, write_usec_);
    const size_t n = std::min<size_t>(size, INT_MAX);
    for (int i = 0; i < kMaxWantRetries; ++i) {
      const int r = mbedtls_ssl_write(ssl_, reinterpret_cast<const unsigned char*>(ptr), n);
      if (r >= 0) return r;  // may be a partial write (one record); httplib loops
      if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) return -1;
    }
    return -1;
  }

  // Writes all of `data`; false on error or timeout.
  bool WriteAll(std::string_view data) {
    while (!data.empty()) {
      const ssize_t n = write(data.data(), data.size());
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads until the buffered bytes hold a whole request head (through the empty line), without
  // consuming anything. kHead: head() is it. kTooLong: no end within `limit` bytes. kClosed:
  // the client closed, failed or timed out before a head was complete.
  Peek PeekHead(size_t limit) {
    for (;;) {
      const std::string_view avail(buffer_.data() + offset_, buffer_.size() - offset_);
      const size_t end = avail.find("\r\n\r\n");
      if (end != std::string_view::npos) {
        head_len_ = end + 4;
        return Peek::kHead;
      }
      if (avail.size() >= limit) return Peek::kTooLong;
      if (offset_ > 0) {
        buffer_.erase(0, offset_);
        offset_ = 0;
      }
      const size_t old = buffer_.size();
      buffer_.resize(old + kPeekChunk);
      const ssize_t n = ReadTls(buffer_.data() + old, kPeekChunk);
      buffer_.resize(old + static_cast<size_t>(std::max<ssize_t>(n, 0)));
      if (n <= 0) return Peek::kClosed;
    }
  }

  // After PeekHead returned kHead.
  std::string_view head() const { return std::string_view(buffer_).substr(offset_, head_len_); }

  // Consumes the peeked head and returns every buffered byte after it.
  std::string TakeAfterHead() {
    std::string rest = buffer_.substr(offset_ + head_len_);
    buffer_.clear();
    offset_ = 0;
    return rest;
  }

  bool has_buffered() const { return offset_ < buffer_.size(); }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    SocketAddress(transport_->fd, true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    SocketAddress(transport_->fd, false, ip, port);
  }
  socket_t socket() const override { return transport_->fd; }

 private:
  ssize_t ReadTls(char* ptr, size_t size) {
    transport_->deadline = After(read_sec_, read_usec_);
    const size_t n = std::min<size_t>(size, INT_MAX);
    for (int i = 0; i < kMaxWantRetries; ++i) {
      const int r = mbedtls_ssl_read(ssl_, reinterpret_cast<unsigned char*>(ptr), n);
      if (r >= 0) return r;
      if (r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == MBEDTLS_ERR_SSL_CONN_EOF) return 0;
      if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) return -1;
    }
    return -1;
  }

  mbedtls_ssl_context* ssl_;  // not owned
  Transport* transport_;      // not owned
  const time_t read_sec_, read_usec_, write_sec_, write_usec_;
  std::string buffer_;  // read ahead: bytes [offset_, size) not yet consumed
  size_t offset_ = 0;
  size_t head_len_ = 0;
};

// Answers a refused upgrade and leaves the connection to be closed.
void WriteRefusal(TlsStream& strm, int status, const std::string& body,
                  const std::vector<std::pair<std::string, std::string>>& headers) {
  std::string out =
      "HTTP/1.1 " + std::to_string(status) + " " + httplib::detail::status_message(status) +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\nCache-Control: no-store\r\n"
      "X-Content-Type-Options: nosniff\r\n";
  for (const auto& [k, v] : headers) out.append(k).append(": ").append(v).append("\r\n");
  out.append("\r\n").append(body);
  strm.WriteAll(out);
}

std::string ErrorJson(const char* code, std::string_view message) {
  nlohmann::json j = {{"error", {{"code", code}, {"message", message}}}};
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The peer certificate of the connection this worker thread serves (see
// CurrentPeerCertificate); set only while a connection with client authentication is served.
thread_local const PeerCertificate* t_peer = nullptr;

// Publishes a connection's peer certificate to its worker thread for the connection's life.
class PeerHold {
 public:
  explicit PeerHold(const PeerCertificate* peer) { t_peer = peer; }
  ~PeerHold() { t_peer = nullptr; }
  PeerHold(const PeerHold&) = delete;
  PeerHold& operator=(const PeerHold&) = delete;
};

// Per-connection verify callback (client authentication only): remembers every flag the chain
// raised, and clears a stale CRL when the site accepts those, so that a required handshake
// does not fail for it.
struct VerifyRecord {
  bool accept_stale_crl = false;
  uint32_t seen = 0;
};

int VerifyCallback(void* ctx, mbedtls_x509_crt* /*crt*/, int /*depth*/, uint32_t* flags) {
  auto* record = static_cast<VerifyRecord*>(ctx);
  record->seen |= *flags;
  if (record->accept_stale_crl) *flags &= ~static_cast<uint32_t>(MBEDTLS_X509_BADCRL_EXPIRED);
  return 0;
}

// Decrements a gauge when the connection's scope ends, however it ends.
class GaugeHold {
 public:
  explicit GaugeHold(std::atomic<int>& gauge) : gauge_(gauge) { gauge_.fetch_add(1); }
  ~GaugeHold() { gauge_.fetch_sub(1); }
  GaugeHold(const GaugeHold&) = delete;
  GaugeHold& operator=(const GaugeHold&) = delete;

 private:
  std::atomic<int>& gauge_;
};

}  // namespace

const PeerCertificate* CurrentPeerCertificate() { return t_peer; }

HttpsServer::HttpsServer(std::shared_ptr<const TlsContext> tls) : tls_(std::move(tls)) {}

HttpsServer::~HttpsServer() = default;

void HttpsServer::SetTlsContext(std::shared_ptr<const TlsContext> tls) {
  if (tls == nullptr) return;  // keep serving with the old certificate rather than none
  std::lock_guard<std::mutex> lock(tls_mu_);
  tls_ = std::move(tls);
}

std::shared_ptr<const TlsContext> HttpsServer::tls_context() const {
  std::lock_guard<std::mutex> lock(tls_mu_);
  return tls_;
}

void HttpsServer::EnableWebSockets(std::string path, Hub* hub, UpgradeHandler handler) {
  ws_path_ = std::move(path);
  hub_ = hub;
  upgrade_handler_ = std::move(handler);
}

namespace {

// Everything process_and_close_socket needs to settle an upgrade request.
struct UpgradeContext {
  TlsStream& strm;
  SslContextPtr& ssl;  // moved to the hub on success
  int sock;
  const std::shared_ptr<const TlsContext>& tls;
  Hub* hub;
  const UpgradeHandler& handler;
};

// Answers `head` (an upgrade request for our path). Returns true when the connection went to
// the hub: the caller must then not touch the socket or the session again.
bool HandleUpgrade(UpgradeContext& u, const ws::RequestHead& head) {
  if (std::string problem = ws::HandshakeProblem(head); !problem.empty()) {
    const bool version = head.Header("sec-websocket-version") != "13";
    WriteRefusal(
        u.strm, version ? 426 : 400, ErrorJson("invalid_argument", problem),
        version ? std::vector<std::pair<std::string, std::string>>{{"Sec-WebSocket-Version", "13"}}
                : std::vector<std::pair<std::string, std::string>>{});
    return false;
  }
  if (!head.Header("content-length").empty() || !head.Header("transfer-encoding").empty()) {
    WriteRefusal(u.strm, 400, ErrorJson("invalid_argument", "an upgrade request has no body"), {});
    return false;
  }
  UpgradeRequest req;
  const size_t q = head.target.find('?');
  req.path = head.target.substr(0, q);
  if (q != std::string::npos) req.query = head.target.substr(q + 1);
  req.headers = head.headers;
  int port = 0;
  u.strm.get_remote_ip_and_port(req.remote_ip, port);

  UpgradeDecision d;
  try {
    d = u.handler(req);
  } catch (const std::exception& e) {
    log::Error("websocket upgrade handler threw", {{"error", e.what()}});
    WriteRefusal(u.strm, 500, ErrorJson("internal", "internal error"), {});
    return false;
  }
  if (!d.accept) {
    WriteRefusal(u.strm, d.status, d.body, d.headers);
    return false;
  }
  Result<HubTicket> ticket = u.hub->Admit(d.user_id, req.remote_ip, d.session);
  if (!ticket.ok()) {
    const bool limit = ticket.status().code() == Code::kResourceExhausted;
    WriteRefusal(u.strm, limit ? 429 : 503,
                 ErrorJson(limit ? "resource_exhausted" : "unavailable", ticket.status().message()),
                 {});
    return false;
  }
  const std::string answer =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: " +
      ws::AcceptKey(head.Header("sec-websocket-key")) + "\r\n\r\n";
  if (!u.strm.WriteAll(answer)) return false;  // the ticket frees its slot

  const int flags = ::fcntl(u.sock, F_GETFL, 0);
  if (flags < 0 || ::fcntl(u.sock, F_SETFL, flags | O_NONBLOCK) != 0) return false;
  HubHandoff handoff;
  handoff.fd = u.sock;
  handoff.ssl = std::move(u.ssl);
  handoff.tls = u.tls;
  handoff.ticket = std::move(*ticket);
  handoff.early = u.strm.TakeAfterHead();
  u.hub->Adopt(std::move(handoff));  // closes the socket itself if the hub has stopped
  return true;
}

}  // namespace

namespace {

// Closes `sock` after sending what is queued. A client still sending a body the server refused
// (413, 507) must be able to read the answer: closing a socket with unread bytes sends a reset,
// which destroys the answer in flight. So when bytes are waiting, they are read and dropped
// (at most kLingerBytes, for at most kLingerMs) until the client closes, as web servers do.
void LingeringClose(int sock) {
  constexpr int kLingerMs = 2000;
  constexpr size_t kLingerBytes = 64 << 20;
  ::shutdown(sock, SHUT_WR);  // the answer goes out, then a FIN
  pollfd pfd{sock, POLLIN, 0};
  if (::poll(&pfd, 1, 0) > 0) {
    const auto deadline = Clock::now() + std::chrono::milliseconds(kLingerMs);
    char buf[16384];
    size_t dropped = 0;
    while (dropped < kLingerBytes) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) break;
      pfd.revents = 0;
      const int n = ::poll(&pfd, 1, static_cast<int>(left));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      const ssize_t got = ::recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
      if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (got <= 0) break;  // the client closed (or the connection failed)
      dropped += static_cast<size_t>(got);
    }
  }
  ::close(sock);
}

}  // namespace

bool HttpsServer::process_and_close_socket(socket_t sock) {
  GaugeHold hold(open_connections_);
  // Our own reference: the context must outlive this session even if it is swapped meanwhile.
  const std::shared_ptr<const TlsContext> tls = tls_context();
  bool ret = false;
  {
    // On the heap: an upgraded connection hands this very session to the hub.
    SslContextPtr ssl = NewSslContext();
    Transport transport{sock, Clock::now() + handshake_timeout_};
    int r = tls == nullptr ? MBEDTLS_ERR_SSL_BAD_INPUT_DATA
                           : mbedtls_ssl_setup(ssl.get(), tls->config());
    // Client authentication: everything here is skipped when it is off (the default).
    const bool client_auth = tls != nullptr && tls->client_auth() != ClientAuthMode::kOff;
    VerifyRecord record;
    PeerCertificate peer;
    if (r == 0 && client_auth) {
      record.accept_stale_crl = tls->accept_stale_crl();
      mbedtls_ssl_set_verify(ssl.get(), VerifyCallback, &record);
    }
    if (r == 0) {
      mbedtls_ssl_set_bio(ssl.get(), &transport, SendCallback, RecvCallback, nullptr);
      r = mbedtls_ssl_handshake(ssl.get());
    }
    if (client_auth &&
        (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED || r == MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE)) {
      // Required mode only (optional mode never fails for the certificate). Logged, not
      // audited: no account is involved yet, and net knows nothing of the audit log.
      char info[256] = "no client certificate";
      if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
        mbedtls_x509_crt_verify_info(info, sizeof(info), "",
                                     mbedtls_ssl_get_verify_result(ssl.get()));
      }
      for (char& c : info) c = c == '\n' ? ';' : c;
      std::string ip;
      int port = 0;
      SocketAddress(sock, true, ip, port);
      log::Warn("client certificate refused in the handshake", {{"remote", ip}, {"why", info}});
    }
    if (r == 0 && client_auth) {
      if (const mbedtls_x509_crt* crt = mbedtls_ssl_get_peer_cert(ssl.get()); crt != nullptr) {
        peer.der.assign(reinterpret_cast<const char*>(crt->raw.p), crt->raw.len);
      }
      peer.verify_flags = mbedtls_ssl_get_verify_result(ssl.get());
      peer.crl_stale = (record.seen & MBEDTLS_X509_BADCRL_EXPIRED) != 0;
    }
    PeerHold peer_hold(client_auth && r == 0 ? &peer : nullptr);
    if (r != 0) {
      handshake_failures_.fetch_add(1);
    } else {
      TlsStream strm(ssl.get(), &transport, read_timeout_sec_, read_timeout_usec_,
                     write_timeout_sec_, write_timeout_usec_);
      // The loop of httplib's process_server_socket_core, waiting with our own keep_alive that
      // also sees bytes already read ahead or already pulled off the socket by mbedTLS.
      auto wait_for_request = [&]() {
        if (strm.has_buffered() || mbedtls_ssl_check_pending(ssl.get())) return true;
        const auto deadline = Clock::now() + std::chrono::seconds(keep_alive_timeout_sec_);
        while (svr_sock_ != INVALID_SOCKET) {
          const auto left =
              std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now())
                  .count();
          if (left <= 0) return false;
          pollfd pfd{sock, POLLIN, 0};
          const int n = ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, kIdleSliceMs)));
          if (n > 0) return true;
          if (n < 0 && errno != EINTR) return false;
        }
        return false;
      };
      const bool websockets = hub_ != nullptr && upgrade_handler_ != nullptr;
      size_t count = keep_alive_max_count_;
      while (svr_sock_ != INVALID_SOCKET && count > 0 && wait_for_request()) {
        // Every request, not only the first: a browser may reuse a keep-alive connection.
        if (websockets) {
          const TlsStream::Peek peek = strm.PeekHead(kMaxUpgradeHead);
          if (peek == TlsStream::Peek::kClosed && !strm.has_buffered()) {
            ret = false;  // the client left (or stalled): as when httplib reads nothing
            break;
          }
          ws::RequestHead head;
          if (peek == TlsStream::Peek::kHead && ws::ParseRequestHead(strm.head(), &head) &&
              ws::IsUpgradeRequest(head) &&
              head.target.substr(0, head.target.find('?')) == ws_path_) {
            UpgradeContext u{strm, ssl, sock, tls, hub_, upgrade_handler_};
            if (HandleUpgrade(u, head)) {
              upgrades_.fetch_add(1);
              return true;  // the hub owns the socket and the session now
            }
            ret = true;  // answered (refused); close cleanly
            break;
          }
        }
        const bool close_connection = count == 1;
        bool connection_closed = false;
        ret = process_request(strm, close_connection, connection_closed, nullptr);
        if (!ret || connection_closed) break;
        count--;
      }
      if (ret) {
        // Clean end (served, then idle, closed by request or at the keep-alive limit): say so,
        // so the client can tell this from a truncation attack. Best effort.
        transport.deadline = After(write_timeout_sec_, write_timeout_usec_);
        mbedtls_ssl_close_notify(ssl.get());
      }
    }
  }
  LingeringClose(sock);
  return ret;
}

}  // namespace outpost::net
