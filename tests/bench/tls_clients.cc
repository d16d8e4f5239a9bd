#include "bench/tls_clients.h"

#include <arpa/inet.h>
#include <mbedtls/net_sockets.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace outpost::bench {
namespace {

int SodiumRandom(void*, unsigned char* out, size_t len) {
  randombytes_buf(out, len);
  return 0;
}

int BioSend(void* ctx, const unsigned char* buf, size_t len) {
  const ssize_t n =
      ::send(static_cast<int>(reinterpret_cast<intptr_t>(ctx)), buf, len, MSG_NOSIGNAL);
  if (n >= 0) return static_cast<int>(n);
  return errno == EAGAIN || errno == EINTR ? MBEDTLS_ERR_SSL_WANT_WRITE
                                           : MBEDTLS_ERR_NET_SEND_FAILED;
}

int BioRecv(void* ctx, unsigned char* buf, size_t len) {
  const ssize_t n = ::recv(static_cast<int>(reinterpret_cast<intptr_t>(ctx)), buf, len, 0);
  if (n >= 0) return static_cast<int>(n);
  return errno == EAGAIN || errno == EINTR ? MBEDTLS_ERR_SSL_WANT_READ
                                           : MBEDTLS_ERR_NET_RECV_FAILED;
}

}  // namespace

long ProcStatusKib(int pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  const size_t n = std::strlen(field);
  for (std::string line; std::getline(in, line);) {
    if (line.compare(0, n, field) == 0) return std::atol(line.c_str() + n);
  }
  return -1;
}

double ProcCpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  // The command name may hold spaces: fields are counted after its closing parenthesis.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::strtoull(f.c_str(), nullptr, 10);
    if (i == 15) stime = std::strtoull(f.c_str(), nullptr, 10);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double CpuSeconds(const rusage& u) {
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

double LoadAverage1() {
  double load = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &load) != 1) load = -1;
    std::fclose(f);
  }
  return load;
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

TlsConn::~TlsConn() {
  mbedtls_ssl_free(&ssl);
  if (fd >= 0) ::close(fd);
}

TlsClientLoop::TlsClientLoop(std::string host, int port, TlsConnHandler* handler)
    : host_(std::move(host)), port_(port), handler_(handler) {
  limits_.expect_masked = false;
  limits_.max_frame_bytes = limits_.max_message_bytes = 1 << 20;
  mbedtls_ssl_config_init(&conf_);
  mbedtls_ssl_config_defaults(&conf_, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                              MBEDTLS_SSL_PRESET_DEFAULT);
  mbedtls_ssl_conf_authmode(&conf_, MBEDTLS_SSL_VERIFY_NONE);  // the server is our own
  mbedtls_ssl_conf_rng(&conf_, SodiumRandom, nullptr);
  ep_ = epoll_create1(EPOLL_CLOEXEC);
}

TlsClientLoop::~TlsClientLoop() {
  conns_.clear();
  if (ep_ >= 0) ::close(ep_);
  mbedtls_ssl_config_free(&conf_);
}

std::string TlsClientLoop::UpgradeRequest(const std::string& path, const std::string& cred) {
  const bool bearer = cred.rfind("Bearer ", 0) == 0;
  unsigned char raw[16];
  randombytes_buf(raw, sizeof(raw));
  char key[sodium_base64_ENCODED_LEN(16, sodium_base64_VARIANT_ORIGINAL)];
  sodium_bin2base64(key, sizeof(key), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
  return "GET " + path +
         " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
         std::string(key) + "\r\n" + (bearer ? "Authorization: " : "Cookie: ") + cred + "\r\n\r\n";
}

void TlsClientLoop::CloseAll() {
  for (auto& c : conns_) {
    if (c->fd >= 0) {
      ::close(c->fd);
      c->fd = -1;
    }
    c->phase = TlsConn::Phase::kDone;
  }
  in_flight_ = open_ = 0;
}

void TlsClientLoop::Fail(TlsConn& c) {
  if (c.phase == TlsConn::Phase::kDone) return;
  const bool was_open = c.phase == TlsConn::Phase::kOpen;
  if (was_open) {
    --open_;
  } else {
    --in_flight_;
  }
  ++failed_;
  c.phase = TlsConn::Phase::kDone;
  ::close(c.fd);
  c.fd = -1;
  handler_->OnFail(c, was_open);
}

void TlsClientLoop::Watch(TlsConn& c, uint32_t events) {
  if (c.watching == events) return;
  epoll_event ev{};
  ev.events = events;
  ev.data.u32 = c.index;
  epoll_ctl(ep_, c.watching == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev);
  c.watching = events;
}

TlsConn& TlsClientLoop::Connect(const std::string& source, std::string upgrade, int64_t tag) {
  auto owned = std::make_unique<TlsConn>(&limits_);
  TlsConn& c = *owned;
  c.index = static_cast<uint32_t>(conns_.size());
  c.tag = tag;
  c.websocket = !upgrade.empty();
  conns_.push_back(std::move(owned));
  ++in_flight_;
  c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    Fail(c);
    return c;
  }
  const int one = 1;
  // The port is chosen at connect(), per destination: more than 28,000 per source address.
  ::setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
  ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, source.c_str(), &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port_));
  inet_pton(AF_INET, host_.c_str(), &dst.sin_addr);
  if (::bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0 ||
      (::connect(c.fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0 &&
       errno != EINPROGRESS)) {
    Fail(c);
    return c;
  }
  c.out = std::move(upgrade);
  Watch(c, EPOLLOUT);
  return c;
}

void TlsClientLoop::SendText(TlsConn& c, std::string_view text) {
  if (c.phase != TlsConn::Phase::kOpen) return;
  uint8_t mask[4];
  randombytes_buf(mask, sizeof(mask));
  c.out += ws::EncodeMaskedFrame(ws::Opcode::kText, text, mask);
  Flush(c);
}

void TlsClientLoop::SendRaw(TlsConn& c, std::string_view bytes) {
  if (c.phase != TlsConn::Phase::kOpen) return;
  c.out.append(bytes);
  Flush(c);
}

int TlsClientLoop::Poll(int timeout_ms) {
  epoll_event events[256];
  const int n = epoll_wait(ep_, events, 256, timeout_ms);
  for (int i = 0; i < n; ++i) {
    TlsConn& c = *conns_[events[i].data.u32];
    if (c.phase == TlsConn::Phase::kOpen && !c.out.empty() && (events[i].events & EPOLLOUT)) {
      if (!Flush(c)) continue;
    }
    Step(c);
  }
  return n < 0 ? 0 : n;
}

void TlsClientLoop::Step(TlsConn& c) {
  switch (c.phase) {
    case TlsConn::Phase::kConnecting: {
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) return Fail(c);
      if (mbedtls_ssl_setup(&c.ssl, &conf_) != 0) return Fail(c);
      mbedtls_ssl_set_hostname(&c.ssl, "localhost");
      mbedtls_ssl_set_bio(&c.ssl, reinterpret_cast<void*>(static_cast<intptr_t>(c.fd)), BioSend,
                          BioRecv, nullptr);
      c.phase = TlsConn::Phase::kHandshake;
      [[fallthrough]];
    }
    case TlsConn::Phase::kHandshake: {
      const int r = mbedtls_ssl_handshake(&c.ssl);
      if (r == MBEDTLS_ERR_SSL_WANT_READ) return Watch(c, EPOLLIN);
      if (r == MBEDTLS_ERR_SSL_WANT_WRITE) return Watch(c, EPOLLOUT);
      if (r != 0) return Fail(c);
      if (!c.websocket) {
        c.phase = TlsConn::Phase::kOpen;
        --in_flight_;
        ++open_;
        Watch(c, EPOLLIN);
        handler_->OnOpen(c);
        return;
      }
      c.phase = TlsConn::Phase::kUpgrade;
      [[fallthrough]];
    }
    case TlsConn::Phase::kUpgrade:
      if (!Flush(c)) return;
      c.phase = TlsConn::Phase::kResponse;
      Watch(c, EPOLLIN);
      [[fallthrough]];
    case TlsConn::Phase::kResponse:
    case TlsConn::Phase::kOpen:
      Read(c);
      return;
    case TlsConn::Phase::kDone:
      return;
  }
}

bool TlsClientLoop::Flush(TlsConn& c) {
  while (!c.out.empty()) {
    const int r = mbedtls_ssl_write(&c.ssl, reinterpret_cast<const unsigned char*>(c.out.data()),
                                    c.out.size());
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ) {
      Watch(c, EPOLLIN | EPOLLOUT);
      return false;
    }
    if (r < 0) {
      Fail(c);
      return false;
    }
    c.out.erase(0, static_cast<size_t>(r));
  }
  if (c.phase == TlsConn::Phase::kOpen) Watch(c, EPOLLIN);
  return true;
}

void TlsClientLoop::Read(TlsConn& c) {
  unsigned char buf[16384];
  while (c.phase != TlsConn::Phase::kDone) {
    const int r = mbedtls_ssl_read(&c.ssl, buf, sizeof(buf));
    if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) break;
    if (r <= 0) return Fail(c);
    std::string_view bytes(reinterpret_cast<const char*>(buf), static_cast<size_t>(r));
    if (!c.websocket) {
      handler_->OnBytes(c, bytes);
      continue;
    }
    if (c.phase == TlsConn::Phase::kResponse) {
      c.in.append(bytes);
      const size_t end = c.in.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (c.in.size() > 8192) return Fail(c);
        continue;
      }
      if (c.in.rfind("HTTP/1.1 101 ", 0) != 0) return Fail(c);
      const std::string rest = c.in.substr(end + 4);
      std::string().swap(c.in);
      c.phase = TlsConn::Phase::kOpen;
      --in_flight_;
      ++open_;
      handler_->OnOpen(c);
      if (!Frames(c, rest)) return;
      continue;
    }
    if (!Frames(c, bytes)) return;
  }
  if (c.phase != TlsConn::Phase::kDone && !c.out.empty()) Flush(c);
}

bool TlsClientLoop::Frames(TlsConn& c, std::string_view bytes) {
  for (;;) {
    const ws::FrameEvent ev = c.parser.Next(&bytes);
    switch (ev.kind) {
      case ws::FrameEvent::Kind::kNeedMore:
        return true;
      case ws::FrameEvent::Kind::kMessage:
        handler_->OnMessage(c, ev.payload);
        if (c.phase == TlsConn::Phase::kDone) return false;
        break;
      case ws::FrameEvent::Kind::kPing: {
        uint8_t mask[4];
        randombytes_buf(mask, sizeof(mask));
        c.out += ws::EncodeMaskedFrame(ws::Opcode::kPong, ev.payload, mask);
        break;
      }
      case ws::FrameEvent::Kind::kPong:
        break;
      case ws::FrameEvent::Kind::kClose:
      case ws::FrameEvent::Kind::kError:
        Fail(c);
        return false;
    }
  }
}

}  // namespace outpost::bench
