#include "net/https_server.h"

#include <arpa/inet.h>
#include <mbedtls/net_sockets.h>  // MBEDTLS_ERR_NET_* codes only; we bring our own callbacks
#include <mbedtls/ssl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>

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

class SslSession {
 public:
  SslSession() { mbedtls_ssl_init(&ssl_); }
  ~SslSession() { mbedtls_ssl_free(&ssl_); }
  SslSession(const SslSession&) = delete;
  SslSession& operator=(const SslSession&) = delete;
  mbedtls_ssl_context* get() { return &ssl_; }

 private:
  mbedtls_ssl_context ssl_;
};

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
class TlsStream final : public httplib::Stream {
 public:
  TlsStream(mbedtls_ssl_context* ssl, Transport* transport, time_t read_sec, time_t read_usec,
            time_t write_sec, time_t write_usec)
      : ssl_(ssl),
        transport_(transport),
        read_sec_(read_sec),
        read_usec_(read_usec),
        write_sec_(write_sec),
        write_usec_(write_usec) {}

  bool is_readable() const override {
    if (mbedtls_ssl_check_pending(ssl_)) return true;  // decrypted or buffered bytes
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

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    SocketAddress(transport_->fd, true, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    SocketAddress(transport_->fd, false, ip, port);
  }
  socket_t socket() const override { return transport_->fd; }

 private:
  mbedtls_ssl_context* ssl_;  // not owned
  Transport* transport_;      // not owned
  const time_t read_sec_, read_usec_, write_sec_, write_usec_;
};

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

bool HttpsServer::process_and_close_socket(socket_t sock) {
  GaugeHold hold(open_connections_);
  // Our own reference: the context must outlive this session even if it is swapped meanwhile.
  const std::shared_ptr<const TlsContext> tls = tls_context();
  bool ret = false;
  {
    SslSession ssl;
    Transport transport{sock, Clock::now() + handshake_timeout_};
    int r = tls == nullptr ? MBEDTLS_ERR_SSL_BAD_INPUT_DATA
                           : mbedtls_ssl_setup(ssl.get(), tls->config());
    if (r == 0) {
      mbedtls_ssl_set_bio(ssl.get(), &transport, SendCallback, RecvCallback, nullptr);
      r = mbedtls_ssl_handshake(ssl.get());
    }
    if (r != 0) {
      handshake_failures_.fetch_add(1);
    } else {
      TlsStream strm(ssl.get(), &transport, read_timeout_sec_, read_timeout_usec_,
                     write_timeout_sec_, write_timeout_usec_);
      // The loop of httplib's process_server_socket_core, waiting with our own keep_alive that
      // also sees bytes mbedTLS has already pulled off the socket.
      auto wait_for_request = [&]() {
        if (mbedtls_ssl_check_pending(ssl.get())) return true;
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
      size_t count = keep_alive_max_count_;
      while (svr_sock_ != INVALID_SOCKET && count > 0 && wait_for_request()) {
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
  ::shutdown(sock, SHUT_RDWR);
  ::close(sock);
  return ret;
}

}  // namespace outpost::net
