#include "support/https_client.h"

#include <arpa/inet.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>  // MBEDTLS_ERR_NET_* codes only
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>

#include "net/mbed.h"

namespace outpost::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kMaxHeaderBytes = 64 * 1024;

std::string MbedError(int ret) {
  char text[160];
  mbedtls_strerror(ret, text, sizeof(text));
  return text;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// A socket plus the instant after which I/O on it gives up.
struct Transport {
  int fd = -1;
  Clock::time_point deadline;
};

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
    if (errno == EINTR || errno == EAGAIN) continue;
    return errno == EPIPE || errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET
                                                 : MBEDTLS_ERR_NET_SEND_FAILED;
  }
}

int RecvCallback(void* ctx, unsigned char* buf, size_t len) {
  auto* t = static_cast<Transport*>(ctx);
  for (;;) {
    if (!WaitUntilReady(*t, POLLIN)) return MBEDTLS_ERR_SSL_TIMEOUT;
    const ssize_t n = ::recv(t->fd, buf, len, 0);
    if (n >= 0) return static_cast<int>(n);
    if (errno == EINTR || errno == EAGAIN) continue;
    return errno == ECONNRESET ? MBEDTLS_ERR_NET_CONN_RESET : MBEDTLS_ERR_NET_RECV_FAILED;
  }
}

// mbedTLS RNG callback straight from libsodium: thread-safe and needs no /dev.
int SodiumRandom(void* /*unused*/, unsigned char* out, size_t len) {
  randombytes_buf(out, len);
  return 0;
}

// Opens a TCP connection to a numeric address; returns the fd or an Unavailable status.
Result<int> TcpConnect(const std::string& host, int port, int timeout_ms, int receive_buffer = 0) {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  auto* in = reinterpret_cast<sockaddr_in*>(&addr);
  auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (::inet_pton(AF_INET, host.c_str(), &in->sin_addr) == 1) {
    in->sin_family = AF_INET;
    in->sin_port = htons(static_cast<uint16_t>(port));
    addr_len = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, host.c_str(), &in6->sin6_addr) == 1) {
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(static_cast<uint16_t>(port));
    addr_len = sizeof(sockaddr_in6);
  } else {
    return Status::InvalidArgument("host must be a numeric address: '" + host + "'");
  }
  const int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unavailable(std::string("socket: ") + std::strerror(errno));
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));  // bounds connect()
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (receive_buffer > 0) {  // before connect, so that the window scale reflects it
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    const int err = errno;
    ::close(fd);
    return Status::Unavailable("connect to " + host + ":" + std::to_string(port) + ": " +
                               std::strerror(err));
  }
  return fd;
}

}  // namespace

std::string HttpResponse::Header(std::string_view name) const {
  const std::string key = Lower(name);
  for (const auto& [k, v] : headers) {
    if (k == key) return v;
  }
  return "";
}

std::vector<std::string> HttpResponse::Headers(std::string_view name) const {
  const std::string key = Lower(name);
  std::vector<std::string> out;
  for (const auto& [k, v] : headers) {
    if (k == key) out.push_back(v);
  }
  return out;
}

// Declaration order: ssl points at conf, conf at ca; destroyed in reverse.
struct HttpsClient::Session {
  Transport transport;
  net::Mbed<mbedtls_x509_crt, mbedtls_x509_crt_init, mbedtls_x509_crt_free> ca;
  net::Mbed<mbedtls_x509_crt, mbedtls_x509_crt_init, mbedtls_x509_crt_free> own_cert;
  net::Mbed<mbedtls_pk_context, mbedtls_pk_init, mbedtls_pk_free> own_key;
  std::vector<int> suite_ids;  // zero-terminated when set; conf points into it
  net::Mbed<mbedtls_ssl_config, mbedtls_ssl_config_init, mbedtls_ssl_config_free> conf;
  net::Mbed<mbedtls_ssl_context, mbedtls_ssl_init, mbedtls_ssl_free> ssl;
  std::string pending;  // received plaintext not consumed yet

  ~Session() {
    if (transport.fd >= 0) ::close(transport.fd);
  }

  // Appends what arrives to `pending`. Returns the number of bytes read, 0 at the end of the
  // stream (close_notify, EOF or reset), or Unavailable on timeout and other errors.
  Result<size_t> ReadMore() {
    unsigned char buf[16384];
    for (int tries = 0; tries < 16; ++tries) {
      const int r = mbedtls_ssl_read(ssl.get(), buf, sizeof(buf));
      if (r > 0) {
        pending.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(r));
        return static_cast<size_t>(r);
      }
      if (r == 0 || r == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || r == MBEDTLS_ERR_SSL_CONN_EOF ||
          r == MBEDTLS_ERR_NET_CONN_RESET) {
        return size_t{0};
      }
      if (r != MBEDTLS_ERR_SSL_WANT_READ && r != MBEDTLS_ERR_SSL_WANT_WRITE) {
        return Status::Unavailable("TLS read: " + MbedError(r));
      }
    }
    return Status::Unavailable("TLS read made no progress");
  }

  Status WriteAll(std::string_view data) {
    while (!data.empty()) {
      const int r = mbedtls_ssl_write(
          ssl.get(), reinterpret_cast<const unsigned char*>(data.data()), data.size());
      if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) continue;
      if (r < 0) return Status::Unavailable("TLS write: " + MbedError(r));
      data.remove_prefix(static_cast<size_t>(r));
    }
    return Status::Ok();
  }

  // Removes and returns the first `n` pending bytes, reading more as needed.
  Result<std::string> Take(size_t n) {
    while (pending.size() < n) {
      OUTPOST_ASSIGN_OR_RETURN(size_t got, ReadMore());
      if (got == 0) return Status::Corruption("connection closed inside a response body");
    }
    std::string out = pending.substr(0, n);
    pending.erase(0, n);
    return out;
  }

  // Removes and returns the next line without its CRLF.
  Result<std::string> TakeLine() {
    size_t pos;
    while ((pos = pending.find("\r\n")) == std::string::npos) {
      if (pending.size() > kMaxHeaderBytes) return Status::Corruption("line too long");
      OUTPOST_ASSIGN_OR_RETURN(size_t got, ReadMore());
      if (got == 0) return Status::Corruption("connection closed inside a response head");
    }
    std::string line = pending.substr(0, pos);
    pending.erase(0, pos + 2);
    return line;
  }
};

HttpsClient::HttpsClient(std::string host, int port, std::string ca_pem, std::string server_name)
    : host_(std::move(host)),
      port_(port),
      ca_pem_(std::move(ca_pem)),
      server_name_(std::move(server_name)) {}

HttpsClient::~HttpsClient() = default;
HttpsClient::HttpsClient(HttpsClient&&) noexcept = default;
HttpsClient& HttpsClient::operator=(HttpsClient&&) noexcept = default;

void HttpsClient::Close() {
  if (session_ != nullptr) {
    session_->transport.deadline = Clock::now() + std::chrono::milliseconds(200);
    mbedtls_ssl_close_notify(session_->ssl.get());  // best effort
  }
  session_.reset();
}

Status HttpsClient::Connect() {
  Close();
  if (sodium_init() < 0) return Status::Internal("libsodium failed to initialise");
  auto s = std::make_unique<Session>();
  s->transport.deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  int r = mbedtls_x509_crt_parse(
      s->ca.get(), reinterpret_cast<const unsigned char*>(ca_pem_.c_str()), ca_pem_.size() + 1);
  if (r != 0) return Status::InvalidArgument("CA does not parse: " + MbedError(r));
  mbedtls_ssl_config* conf = s->conf.get();
  r = mbedtls_ssl_config_defaults(conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                  MBEDTLS_SSL_PRESET_DEFAULT);
  if (r != 0) return Status::Internal("TLS config: " + MbedError(r));
  mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
  mbedtls_ssl_conf_ca_chain(conf, s->ca.get(), nullptr);
  mbedtls_ssl_conf_rng(conf, SodiumRandom, nullptr);
  if (!client_cert_pem_.empty()) {
    r = mbedtls_x509_crt_parse(s->own_cert.get(),
                               reinterpret_cast<const unsigned char*>(client_cert_pem_.c_str()),
                               client_cert_pem_.size() + 1);
    if (r != 0) return Status::InvalidArgument("client certificate does not parse: " + MbedError(r));
    r = mbedtls_pk_parse_key(s->own_key.get(),
                             reinterpret_cast<const unsigned char*>(client_key_pem_.c_str()),
                             client_key_pem_.size() + 1, nullptr, 0);
    if (r != 0) return Status::InvalidArgument("client key does not parse: " + MbedError(r));
    r = mbedtls_ssl_conf_own_cert(conf, s->own_cert.get(), s->own_key.get());
    if (r != 0) return Status::Internal("client certificate: " + MbedError(r));
  }
  if (!ciphersuites_.empty()) {
    for (const auto& name : ciphersuites_) {
      const int id = mbedtls_ssl_get_ciphersuite_id(name.c_str());
      if (id == 0) return Status::InvalidArgument("unknown cipher suite '" + name + "'");
      s->suite_ids.push_back(id);
    }
    s->suite_ids.push_back(0);
    mbedtls_ssl_conf_ciphersuites(conf, s->suite_ids.data());
  }
  const int max_minor = max_version_ == "TLSv1"     ? MBEDTLS_SSL_MINOR_VERSION_1
                        : max_version_ == "TLSv1.1" ? MBEDTLS_SSL_MINOR_VERSION_2
                                                    : MBEDTLS_SSL_MINOR_VERSION_3;
  mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_1);
  mbedtls_ssl_conf_max_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, max_minor);
  r = mbedtls_ssl_setup(s->ssl.get(), conf);
  if (r == 0) r = mbedtls_ssl_set_hostname(s->ssl.get(), server_name_.c_str());
  if (r != 0) return Status::Internal("TLS setup: " + MbedError(r));

  OUTPOST_ASSIGN_OR_RETURN(s->transport.fd, TcpConnect(host_, port_, timeout_ms_, receive_buffer_));
  mbedtls_ssl_set_bio(s->ssl.get(), &s->transport, SendCallback, RecvCallback, nullptr);
  r = mbedtls_ssl_handshake(s->ssl.get());
  if (r == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED) {
    char info[512];
    mbedtls_x509_crt_verify_info(info, sizeof(info), "",
                                 mbedtls_ssl_get_verify_result(s->ssl.get()));
    return Status::Unauthenticated("server certificate not trusted: " + std::string(info));
  }
  if (r != 0) return Status::Unavailable("TLS handshake: " + MbedError(r));
  session_ = std::move(s);
  ++handshakes_;
  return Status::Ok();
}

Status HttpsClient::EnsureConnected() {
  if (session_ != nullptr) {
    // Anything readable on an idle keep-alive connection is the server closing it.
    pollfd pfd{session_->transport.fd, POLLIN, 0};
    if (::poll(&pfd, 1, 0) != 0 || !session_->pending.empty()) session_.reset();
  }
  if (session_ == nullptr) return Connect();
  return Status::Ok();
}

Result<HttpResponse> HttpsClient::Request(
    std::string_view method, std::string_view path,
    const std::vector<std::pair<std::string, std::string>>& headers, std::string_view body) {
  OUTPOST_RETURN_IF_ERROR(EnsureConnected());
  session_->transport.deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);

  std::string req;
  req.append(method).append(" ").append(path).append(" HTTP/1.1\r\n");
  bool has_host = false, has_length = false;
  for (const auto& [k, v] : headers) {
    has_host |= Lower(k) == "host";
    has_length |= Lower(k) == "content-length" || Lower(k) == "transfer-encoding";
    req.append(k).append(": ").append(v).append("\r\n");
  }
  if (!has_host) {
    req.append("Host: ").append(server_name_);
    if (port_ != 443) req.append(":").append(std::to_string(port_));
    req.append("\r\n");
  }
  if (!has_length && (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")) {
    req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  req.append("\r\n").append(body);

  if (Status st = session_->WriteAll(req); !st.ok()) {
    Close();
    return st;
  }
  Result<HttpResponse> res = ReadResponse(method == "HEAD");
  if (!res.ok() || Lower(res->Header("connection")) == "close") Close();
  return res;
}

Result<HttpResponse> HttpsClient::ReadResponse(bool head_request) {
  Session& s = *session_;
  HttpResponse res;
  do {  // 1xx responses precede the real one
    res = HttpResponse();
    OUTPOST_ASSIGN_OR_RETURN(std::string status_line, s.TakeLine());
    if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
      return Status::Corruption("bad status line '" + status_line + "'");
    }
    res.status = std::atoi(status_line.c_str() + 9);
    for (;;) {
      OUTPOST_ASSIGN_OR_RETURN(std::string line, s.TakeLine());
      if (line.empty()) break;
      const size_t colon = line.find(':');
      if (colon == std::string::npos) return Status::Corruption("bad header '" + line + "'");
      res.headers.emplace_back(Lower(Trim(std::string_view(line).substr(0, colon))),
                               std::string(Trim(std::string_view(line).substr(colon + 1))));
    }
  } while (res.status >= 100 && res.status < 200);

  if (head_request || res.status == 204 || res.status == 304) return res;
  if (Lower(res.Header("transfer-encoding")).find("chunked") != std::string::npos) {
    for (;;) {
      OUTPOST_ASSIGN_OR_RETURN(std::string size_line, s.TakeLine());
      char* end = nullptr;
      const unsigned long size = std::strtoul(size_line.c_str(), &end, 16);
      if (end == size_line.c_str()) return Status::Corruption("bad chunk size '" + size_line + "'");
      if (size == 0) break;
      OUTPOST_ASSIGN_OR_RETURN(std::string chunk, s.Take(size));
      res.body += chunk;
      OUTPOST_ASSIGN_OR_RETURN(std::string crlf, s.TakeLine());
      if (!crlf.empty()) return Status::Corruption("chunk not followed by CRLF");
    }
    for (;;) {  // trailers
      OUTPOST_ASSIGN_OR_RETURN(std::string line, s.TakeLine());
      if (line.empty()) break;
    }
  } else if (std::string length = res.Header("content-length"); !length.empty()) {
    char* end = nullptr;
    const unsigned long long n = std::strtoull(length.c_str(), &end, 10);
    if (*end != '\0') return Status::Corruption("bad Content-Length '" + length + "'");
    OUTPOST_ASSIGN_OR_RETURN(res.body, s.Take(n));
  } else {
    for (;;) {  // delimited by the end of the connection
      OUTPOST_ASSIGN_OR_RETURN(size_t got, s.ReadMore());
      if (got == 0) break;
    }
    res.body = std::move(s.pending);
    res.headers.emplace_back("connection", "close");  // makes Request close the session
  }
  return res;
}

Result<std::string> HttpsClient::SendRaw(std::string_view bytes, int timeout_ms) {
  OUTPOST_RETURN_IF_ERROR(EnsureConnected());
  session_->transport.deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  if (Status st = session_->WriteAll(bytes); !st.ok()) {
    Close();
    return st;
  }
  for (;;) {
    Result<size_t> got = session_->ReadMore();
    if (!got.ok() || *got == 0) break;  // closed, reset or timed out: hand back what we have
  }
  std::string out = std::move(session_->pending);
  Close();
  return out;
}

Status HttpsClient::Send(std::string_view bytes) {
  if (session_ == nullptr) OUTPOST_RETURN_IF_ERROR(Connect());
  session_->transport.deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  return session_->WriteAll(bytes);
}

Result<size_t> HttpsClient::Receive(std::string* out, int timeout_ms) {
  if (session_ == nullptr) return Status::Unavailable("connection closed");
  Session& s = *session_;
  if (s.pending.empty() && !mbedtls_ssl_check_pending(s.ssl.get())) {
    pollfd pfd{s.transport.fd, POLLIN, 0};
    const int r = ::poll(&pfd, 1, timeout_ms);
    if (r == 0) return size_t{0};
    if (r < 0 && errno != EINTR)
      return Status::Unavailable(std::string("poll: ") + strerror(errno));
  }
  if (s.pending.empty()) {
    s.transport.deadline = Clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 1000));
    OUTPOST_ASSIGN_OR_RETURN(size_t got, s.ReadMore());
    if (got == 0) return Status::Unavailable("connection closed");
  }
  const size_t n = s.pending.size();
  out->append(s.pending);
  s.pending.clear();
  return n;
}

std::string HttpsClient::CipherSuite() const {
  return session_ ? mbedtls_ssl_get_ciphersuite(session_->ssl.get()) : "";
}

std::string HttpsClient::TlsVersion() const {
  return session_ ? mbedtls_ssl_get_version(session_->ssl.get()) : "";
}

Result<std::string> PlainRequest(const std::string& host, int port, std::string_view raw_bytes,
                                 int timeout_ms) {
  OUTPOST_ASSIGN_OR_RETURN(int fd, TcpConnect(host, port, timeout_ms));
  Transport t{fd, Clock::now() + std::chrono::milliseconds(timeout_ms)};
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  while (!raw_bytes.empty()) {
    const int n = SendCallback(&t, reinterpret_cast<const unsigned char*>(raw_bytes.data()),
                               raw_bytes.size());
    if (n < 0) return Status::Unavailable("send: " + MbedError(n));
    raw_bytes.remove_prefix(static_cast<size_t>(n));
  }
  std::string out;
  unsigned char buf[16384];
  for (;;) {
    const int n = RecvCallback(&t, buf, sizeof(buf));
    if (n <= 0) break;  // closed, reset or timed out
    out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
  }
  return out;
}

}  // namespace outpost::testing
