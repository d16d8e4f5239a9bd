#include "support/syslog_receiver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <mbedtls/net_sockets.h>  // MBEDTLS_ERR_NET_* codes only
#include <mbedtls/ssl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "net/mbed.h"
#include "net/tls.h"

namespace outpost::testing {
namespace {

int BioSend(void* ctx, const unsigned char* buf, size_t len) {
  const ssize_t n = ::send(*static_cast<int*>(ctx), buf, len, MSG_NOSIGNAL);
  if (n >= 0) return static_cast<int>(n);
  return errno == EAGAIN || errno == EINTR ? MBEDTLS_ERR_SSL_WANT_WRITE
                                           : MBEDTLS_ERR_NET_SEND_FAILED;
}

int BioRecv(void* ctx, unsigned char* buf, size_t len) {
  const ssize_t n = ::recv(*static_cast<int*>(ctx), buf, len, 0);
  if (n >= 0) return static_cast<int>(n);
  return errno == EAGAIN || errno == EINTR ? MBEDTLS_ERR_SSL_WANT_READ
                                           : MBEDTLS_ERR_NET_RECV_FAILED;
}

// Reads an SD-PARAM value after its opening quote; `pos` ends past the closing quote.
bool ParamValue(std::string_view m, size_t& pos, std::string* out) {
  while (pos < m.size()) {
    char c = m[pos++];
    if (c == '"') return true;
    if (c == '\\' && pos < m.size() && (m[pos] == '"' || m[pos] == '\\' || m[pos] == ']')) {
      c = m[pos++];
    }
    out->push_back(c);
  }
  return false;
}

}  // namespace

struct SyslogReceiver::Conn {
  int fd = -1;
  int number = 0;
  std::string buffer;
  net::Mbed<mbedtls_ssl_context, mbedtls_ssl_init, mbedtls_ssl_free> ssl;
  bool tls = false;
  ~Conn() {
    if (fd >= 0) ::close(fd);
  }
};

Result<ParsedSyslog> ParseSyslog(std::string_view m) {
  ParsedSyslog p;
  auto bad = [&](const std::string& what) {
    return Status::Corruption("not RFC 5424 (" + what + "): " + std::string(m.substr(0, 200)));
  };
  size_t pos = 0;
  if (m.empty() || m[0] != '<') return bad("no PRI");
  size_t close = m.find('>');
  if (close == std::string_view::npos || close < 2 || close > 4) return bad("PRI");
  p.pri = std::stoi(std::string(m.substr(1, close - 1)));
  pos = close + 1;
  auto token = [&](std::string* out) {
    size_t sp = m.find(' ', pos);
    if (sp == std::string_view::npos) return false;
    *out = std::string(m.substr(pos, sp - pos));
    pos = sp + 1;
    return !out->empty();
  };
  std::string version;
  if (!token(&version) || version != "1") return bad("VERSION");
  p.version = 1;
  if (!token(&p.timestamp) || !token(&p.hostname) || !token(&p.app_name) || !token(&p.procid) ||
      !token(&p.msgid)) {
    return bad("header");
  }
  if (pos >= m.size() || m[pos] != '[') return bad("no SD-ELEMENT");
  ++pos;
  size_t id_end = m.find_first_of(" ]", pos);
  if (id_end == std::string_view::npos) return bad("SD-ID");
  p.sd_id = std::string(m.substr(pos, id_end - pos));
  pos = id_end;
  while (pos < m.size() && m[pos] == ' ') {
    ++pos;
    size_t eq = m.find('=', pos);
    if (eq == std::string_view::npos || eq + 1 >= m.size() || m[eq + 1] != '"') {
      return bad("SD-PARAM");
    }
    std::string name(m.substr(pos, eq - pos));
    pos = eq + 2;
    std::string value;
    if (!ParamValue(m, pos, &value)) return bad("unterminated PARAM-VALUE");
    p.params[name] = value;
  }
  if (pos >= m.size() || m[pos] != ']') return bad("SD-ELEMENT not closed");
  ++pos;
  if (pos < m.size()) {
    if (m[pos] != ' ') return bad("no space before MSG");
    ++pos;
    std::string_view rest = m.substr(pos);
    if (rest.starts_with("\xEF\xBB\xBF")) {
      p.bom = true;
      rest.remove_prefix(3);
    }
    p.msg = std::string(rest);
  }
  return p;
}

SyslogReceiver::SyslogReceiver(std::string cert_pem, std::string key_pem)
    : cert_pem_(std::move(cert_pem)), key_pem_(std::move(key_pem)) {}

SyslogReceiver::~SyslogReceiver() { Stop(); }

Status SyslogReceiver::Start(int port) {
  if (thread_.joinable()) return Status::FailedPrecondition("the receiver is running");
  if (!cert_pem_.empty() && tls_ == nullptr) {
    Result<std::shared_ptr<const net::TlsContext>> tls = net::TlsContext::Create(cert_pem_, key_pem_);
    if (!tls.ok()) return tls.status();
    tls_ = *tls;
  }
  if (port == 0) port = port_;
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Status::IoError(std::string("socket: ") + std::strerror(errno));
  const int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    const int err = errno;
    ::close(listen_fd_);
    listen_fd_ = -1;
    return Status::IoError("bind 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(err));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (::pipe2(wake_, O_CLOEXEC | O_NONBLOCK) != 0) {
    return Status::IoError(std::string("pipe: ") + std::strerror(errno));
  }
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void SyslogReceiver::Stop() {
  if (!thread_.joinable()) return;
  const char byte = 'x';
  (void)!::write(wake_[1], &byte, 1);
  thread_.join();
  conns_.clear();
  ::close(listen_fd_);
  listen_fd_ = -1;
  ::close(wake_[0]);
  ::close(wake_[1]);
  wake_[0] = wake_[1] = -1;
}

std::vector<SyslogFrame> SyslogReceiver::Frames() const {
  std::lock_guard<std::mutex> lock(mu_);
  return frames_;
}

int SyslogReceiver::connections() const {
  std::lock_guard<std::mutex> lock(mu_);
  return accepted_;
}

std::string SyslogReceiver::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

bool SyslogReceiver::WaitFor(const std::function<bool(const std::vector<SyslogFrame>&)>& done,
                             int timeout_ms) const {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    if (done(Frames())) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

bool SyslogReceiver::Accept() {
  const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (fd < 0) return false;
  auto c = std::make_unique<Conn>();
  c->fd = fd;
  if (tls_ != nullptr) {
    c->tls = true;
    // The handshake blocks (bounded): the only client is the forwarder under test.
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (mbedtls_ssl_setup(c->ssl.get(), tls_->config()) != 0) return false;
    mbedtls_ssl_set_bio(c->ssl.get(), &c->fd, BioSend, BioRecv, nullptr);
    int r;
    do {
      r = mbedtls_ssl_handshake(c->ssl.get());
    } while (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE);
    if (r != 0) return false;  // e.g. the client refused our certificate
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  {
    std::lock_guard<std::mutex> lock(mu_);
    c->number = ++accepted_;
  }
  conns_.push_back(std::move(c));
  return true;
}

bool SyslogReceiver::Read(Conn& c) {
  char buf[16384];
  bool open = true;
  while (true) {
    int n;
    if (c.tls) {
      n = mbedtls_ssl_read(c.ssl.get(), reinterpret_cast<unsigned char*>(buf), sizeof(buf));
      if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE) break;
      if (n <= 0) open = false;
    } else {
      n = static_cast<int>(::recv(c.fd, buf, sizeof(buf), 0));
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      if (n <= 0) open = false;
    }
    if (!open) break;
    c.buffer.append(buf, static_cast<size_t>(n));
  }
  // Every complete "<digits> <octets>" frame.
  while (true) {
    size_t sp = c.buffer.find(' ');
    if (sp == std::string::npos) break;
    bool digits = sp > 0 && sp <= 9;
    for (size_t i = 0; digits && i < sp; ++i) digits = c.buffer[i] >= '0' && c.buffer[i] <= '9';
    std::lock_guard<std::mutex> lock(mu_);
    if (!digits) {
      if (error_.empty()) error_ = "bad frame length: " + c.buffer.substr(0, 40);
      return false;
    }
    const size_t len = std::stoul(c.buffer.substr(0, sp));
    if (c.buffer.size() < sp + 1 + len) break;
    frames_.push_back({c.number, c.buffer.substr(sp + 1, len)});
    c.buffer.erase(0, sp + 1 + len);
  }
  return open;
}

void SyslogReceiver::Loop() {
  while (true) {
    std::vector<pollfd> fds = {{wake_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (const auto& c : conns_) fds.push_back({c->fd, POLLIN, 0});
    if (::poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) return;
    if (fds[0].revents != 0) return;
    for (size_t i = fds.size() - 2; i-- > 0;) {
      if (fds[i + 2].revents == 0) continue;
      if (!Read(*conns_[i])) conns_.erase(conns_.begin() + static_cast<long>(i));
    }
    if (fds[1].revents & POLLIN) Accept();
  }
}

}  // namespace outpost::testing
