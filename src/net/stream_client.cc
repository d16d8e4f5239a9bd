#include "net/stream_client.h"

#include <arpa/inet.h>
#include <linux/sockios.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>  // MBEDTLS_ERR_NET_* codes only
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "net/mbed.h"

namespace outpost::net {
namespace {

// The server's suites (tls.cc): ECDHE with AEAD only, TLS 1.2.
constexpr int kClientSuites[] = {
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    0,
};

std::string MbedError(int ret) {
  char text[160];
  mbedtls_strerror(ret, text, sizeof(text));
  return text;
}

// mbedTLS RNG callback straight from libsodium: thread-safe and needs no /dev.
int SodiumRandom(void* /*unused*/, unsigned char* out, size_t len) {
  randombytes_buf(out, len);
  return 0;
}

}  // namespace

// Declaration order: ssl points at conf, conf at ca; destroyed in reverse.
struct StreamClient::Tls {
  Mbed<mbedtls_x509_crt, mbedtls_x509_crt_init, mbedtls_x509_crt_free> ca;
  Mbed<mbedtls_ssl_config, mbedtls_ssl_config_init, mbedtls_ssl_config_free> conf;
  Mbed<mbedtls_ssl_context, mbedtls_ssl_init, mbedtls_ssl_free> ssl;
};

int StreamClient::BioSend(void* ctx, const unsigned char* buf, size_t len) {
  auto* c = static_cast<StreamClient*>(ctx);
  for (;;) {
    if (c->aborted_) return MBEDTLS_ERR_NET_SEND_FAILED;
    const ssize_t n = ::send(c->fd_, buf, len, MSG_NOSIGNAL);
    if (n >= 0) {
      c->bytes_written_ += n;
      return static_cast<int>(n);
    }
    if (errno == EINTR) continue;
    return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
                                                 : MBEDTLS_ERR_NET_SEND_FAILED;
  }
}

// Only the handshake reads; SO_RCVTIMEO bounds it.
int StreamClient::BioRecv(void* ctx, unsigned char* buf, size_t len) {
  auto* c = static_cast<StreamClient*>(ctx);
  for (;;) {
    if (c->aborted_) return MBEDTLS_ERR_NET_RECV_FAILED;
    const ssize_t n = ::recv(c->fd_, buf, len, 0);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR) continue;
    return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
  }
}

Result<std::unique_ptr<StreamClient>> StreamClient::Connect(const StreamClientOptions& o) {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  auto* in = reinterpret_cast<sockaddr_in*>(&addr);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, o.host.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(o.port));
    addr_len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, o.host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(o.port));
    addr_len = sizeof(sockaddr_in6);
  } else {
    return Status::InvalidArgument("'" + o.host + "' is not a numeric address");
  }
  const std::string where = o.host + ":" + std::to_string(o.port);

  std::unique_ptr<StreamClient> c(new StreamClient());
  c->timeout_ms_ = o.timeout_ms;
  if (o.tls) {
    if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
    c->tls_ = std::make_unique<Tls>();
    Tls& t = *c->tls_;
    int r = mbedtls_x509_crt_parse(t.ca.get(), reinterpret_cast<const unsigned char*>(o.ca_pem.c_str()),
                                   o.ca_pem.size() + 1);
    if (r != 0) return Status::InvalidArgument("the CA file does not parse: " + MbedError(r));
    mbedtls_ssl_config* conf = t.conf.get();
    r = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT);
    if (r != 0) return Status::Internal("TLS config: " + MbedError(r));
    mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    mbedtls_ssl_conf_ca_chain(conf, t.ca.get(), nullptr);
    mbedtls_ssl_conf_rng(conf, SodiumRandom, nullptr);
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_ciphersuites(conf, kClientSuites);
    mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
    r = mbedtls_ssl_setup(t.ssl.get(), conf);
    const std::string& name = o.server_name.empty() ? o.host : o.server_name;
    if (r == 0) r = mbedtls_ssl_set_hostname(t.ssl.get(), name.c_str());
    if (r != 0) return Status::Internal("TLS setup: " + MbedError(r));
  }

  c->fd_ = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (c->fd_ < 0) return Status::Unavailable(std::string("socket: ") + std::strerror(errno));
  // Timeouts bound connect(), the handshake and every blocking send.
  timeval tv{o.timeout_ms / 1000, (o.timeout_ms % 1000) * 1000};
  ::setsockopt(c->fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  ::setsockopt(c->fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  const int one = 1;
  ::setsockopt(c->fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  ::setsockopt(c->fd_, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
  if (::connect(c->fd_, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    return Status::Unavailable("connect to " + where + ": " + std::strerror(errno));
  }
  if (c->tls_ != nullptr) {
    mbedtls_ssl_context* ssl = c->tls_->ssl.get();
    mbedtls_ssl_set_bio(ssl, c.get(), BioSend, BioRecv, nullptr);
    const int r = mbedtls_ssl_handshake(ssl);
    if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
      char info[512];
      mbedtls_x509_crt_verify_info(info, sizeof(info), "", mbedtls_ssl_get_verify_result(ssl));
      std::string why(info);
      while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
      return Status::Unauthenticated("the certificate of " + where + " is not trusted: " + why);
    }
    if (r != 0) return Status::Unavailable("TLS handshake with " + where + ": " + MbedError(r));
  }
  return c;
}

StreamClient::~StreamClient() {
  if (tls_ != nullptr && fd_ >= 0 && !aborted_) {
    // Best effort, bounded by SO_SNDTIMEO: the peer learns that the stream ended cleanly.
    mbedtls_ssl_close_notify(tls_->ssl.get());
  }
  tls_.reset();
  if (fd_ >= 0) ::close(fd_);
}

Status StreamClient::Write(std::string_view bytes) {
  while (!bytes.empty()) {
    if (aborted_) return Status::Unavailable("the connection was closed");
    if (tls_ == nullptr) {
      const int r = BioSend(this, reinterpret_cast<const unsigned char*>(bytes.data()),
                            bytes.size());
      if (r < 0) return Status::Unavailable(std::string("send: ") + std::strerror(errno));
      bytes.remove_prefix(static_cast<size_t>(r));
      continue;
    }
    const int r = mbedtls_ssl_write(
        tls_->ssl.get(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
    if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
    if (r < 0) return Status::Unavailable("TLS write: " + MbedError(r));
    bytes.remove_prefix(static_cast<size_t>(r));
  }
  return Status::Ok();
}

Result<int64_t> StreamClient::BytesUnacknowledged() const {
  int queued = 0;
  if (::ioctl(fd_, SIOCOUTQ, &queued) != 0) {
    return Status::Unavailable(std::string("SIOCOUTQ: ") + std::strerror(errno));
  }
  return static_cast<int64_t>(queued);
}

bool StreamClient::PeerClosed() const {
  pollfd pfd{fd_, POLLIN | POLLRDHUP, 0};
  if (::poll(&pfd, 1, 0) <= 0) return false;
  return (pfd.revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR | POLLNVAL)) != 0;
}

void StreamClient::Abort() {
  aborted_ = true;
  if (fd_ >= 0) ::shutdown(fd_, SHUT_RDWR);
}

std::string StreamClient::CipherSuite() const {
  return tls_ != nullptr ? mbedtls_ssl_get_ciphersuite(tls_->ssl.get()) : "";
}

}  // namespace outpost::net
