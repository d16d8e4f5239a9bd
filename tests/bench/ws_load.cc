// Load generator for the realtime hub: opens N TLS WebSocket clients with non-blocking sockets
// under one epoll loop per process (no thread per client), spread over several processes and
// loopback source addresses (a process may hold at most ~20,000 files; one source address has
// ~28,000 ephemeral ports), keeps them open and answering pings, and prints one summary line.
//
//   outpost_ws_load --port 9443 --connections 19000 --processes 2
//                   [--host 127.0.0.1] [--sources 127.0.0.2,127.0.0.3] [--tokens FILE]
//                   [--server-pid PID] [--concurrency 64] [--hold-s 5] [--path /api/v1/ws]
//
// --tokens: one credential per line, used round-robin: "Bearer ..." lines go in Authorization,
// anything else is sent as the Cookie header. Without it, client i sends "Cookie: sid=<i+1>".
// --server-pid: the summary reports that process's VmRSS before and after, and the difference
// per established connection. Sources default to 127.0.0.2, 127.0.0.3, ... one per process.
#include <arpa/inet.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/ssl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sodium.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "net/hub.h"
#include "net/websocket.h"

namespace {

namespace ws = outpost::net::ws;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  int port = 9443;
  int connections = 1000;
  int processes = 1;
  std::vector<std::string> sources;
  std::vector<std::string> tokens;
  int server_pid = 0;
  int concurrency = 64;
  int hold_s = 5;
  std::string path = "/api/v1/ws";
};

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

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

long VmRssKib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

double CpuSeconds(const rusage& u) {
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// One client. Phases run in order; kDone clients hold no socket.
struct Client {
  enum class Phase { kConnecting, kHandshake, kUpgrade, kResponse, kOpen, kDone };
  explicit Client(const ws::ParserLimits* limits) : parser(limits) { mbedtls_ssl_init(&ssl); }
  ~Client() {
    mbedtls_ssl_free(&ssl);
    if (fd >= 0) ::close(fd);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  uint32_t index = 0;
  int fd = -1;
  Phase phase = Phase::kConnecting;
  uint32_t watching = 0;  // epoll events currently registered
  mbedtls_ssl_context ssl;
  std::string out;  // plaintext waiting to be written
  std::string in;   // the 101 answer being read
  ws::FrameParser parser;
};

// The clients of one process: numbers [first, first + count) of the whole run, from `source`.
class Worker {
 public:
  Worker(const Options& o, int first, int count, std::string source)
      : o_(o), first_(first), count_(count), source_(std::move(source)) {
    limits_.expect_masked = false;
    limits_.max_frame_bytes = limits_.max_message_bytes = 1 << 20;
  }

  // Opens every client, reports "established failed" on `report_fd`, then keeps the clients
  // alive (answering pings) until SIGTERM.
  int Run(int report_fd) {
    mbedtls_ssl_config_init(&conf_);
    mbedtls_ssl_config_defaults(&conf_, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                MBEDTLS_SSL_PRESET_DEFAULT);
    mbedtls_ssl_conf_authmode(&conf_, MBEDTLS_SSL_VERIFY_NONE);  // the server is our own
    mbedtls_ssl_conf_rng(&conf_, SodiumRandom, nullptr);
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    clients_.reserve(static_cast<size_t>(count_));
    int started = 0;
    bool reported = false;
    std::vector<epoll_event> events(512);
    while (!g_stop) {
      while (started < count_ && in_flight_ < o_.concurrency) Start(started++);
      if (!reported && established_ + failed_ == count_) {
        const std::string line =
            std::to_string(established_) + " " + std::to_string(failed_) + "\n";
        if (::write(report_fd, line.data(), line.size()) < 0) return 1;
        reported = true;
      }
      const int n = epoll_wait(ep_, events.data(), static_cast<int>(events.size()), 200);
      for (int i = 0; i < n; ++i) Step(*clients_[events[i].data.u32]);
    }
    clients_.clear();
    mbedtls_ssl_config_free(&conf_);
    return 0;
  }

 private:
  void Fail(Client& c) {
    if (c.phase == Client::Phase::kOpen) {
      --established_;
    } else {
      --in_flight_;
    }
    ++failed_;
    c.phase = Client::Phase::kDone;
    ::close(c.fd);
    c.fd = -1;
  }

  void Watch(Client& c, uint32_t events) {
    if (c.watching == events) return;
    epoll_event ev{};
    ev.events = events;
    ev.data.u32 = c.index;
    epoll_ctl(ep_, c.watching == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c.fd, &ev);
    c.watching = events;
  }

  void Start(int i) {
    auto owned = std::make_unique<Client>(&limits_);
    Client& c = *owned;
    c.index = static_cast<uint32_t>(clients_.size());
    clients_.push_back(std::move(owned));
    ++in_flight_;
    c.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) return Fail(c);
    const int one = 1;
    // The port is chosen at connect(), per destination: more than 28,000 per source address.
    ::setsockopt(c.fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    ::setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    sockaddr_in src{};
    src.sin_family = AF_INET;
    inet_pton(AF_INET, source_.c_str(), &src.sin_addr);
    sockaddr_in dst{};
    dst.sin_family = AF_INET;
    dst.sin_port = htons(static_cast<uint16_t>(o_.port));
    inet_pton(AF_INET, o_.host.c_str(), &dst.sin_addr);
    if (::bind(c.fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)) != 0) return Fail(c);
    if (::connect(c.fd, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)) != 0 &&
        errno != EINPROGRESS) {
      return Fail(c);
    }
    const int number = first_ + i;
    std::string cred = o_.tokens.empty()
                           ? "sid=" + std::to_string(number + 1)
                           : o_.tokens[static_cast<size_t>(number) % o_.tokens.size()];
    const bool bearer = cred.rfind("Bearer ", 0) == 0;
    unsigned char raw[16];
    randombytes_buf(raw, sizeof(raw));
    char key[sodium_base64_ENCODED_LEN(16, sodium_base64_VARIANT_ORIGINAL)];
    sodium_bin2base64(key, sizeof(key), raw, sizeof(raw), sodium_base64_VARIANT_ORIGINAL);
    c.out = "GET " + o_.path +
            " HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
            std::string(key) + "\r\n" + (bearer ? "Authorization: " : "Cookie: ") + cred +
            "\r\n\r\n";
    Watch(c, EPOLLOUT);
  }

  // Advances `c` as far as its socket allows.
  void Step(Client& c) {
    switch (c.phase) {
      case Client::Phase::kConnecting: {
        int err = 0;
        socklen_t len = sizeof(err);
        ::getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return Fail(c);
        if (mbedtls_ssl_setup(&c.ssl, &conf_) != 0) return Fail(c);
        mbedtls_ssl_set_hostname(&c.ssl, "localhost");
        mbedtls_ssl_set_bio(&c.ssl, reinterpret_cast<void*>(static_cast<intptr_t>(c.fd)), BioSend,
                            BioRecv, nullptr);
        c.phase = Client::Phase::kHandshake;
        [[fallthrough]];
      }
      case Client::Phase::kHandshake: {
        const int r = mbedtls_ssl_handshake(&c.ssl);
        if (r == MBEDTLS_ERR_SSL_WANT_READ) return Watch(c, EPOLLIN);
        if (r == MBEDTLS_ERR_SSL_WANT_WRITE) return Watch(c, EPOLLOUT);
        if (r != 0) return Fail(c);
        c.phase = Client::Phase::kUpgrade;
        [[fallthrough]];
      }
      case Client::Phase::kUpgrade:
        if (!Flush(c)) return;
        c.phase = Client::Phase::kResponse;
        Watch(c, EPOLLIN);
        [[fallthrough]];
      case Client::Phase::kResponse:
      case Client::Phase::kOpen:
        Read(c);
        return;
      case Client::Phase::kDone:
        return;
    }
  }

  // Writes c.out; false while some is left (then waits for EPOLLOUT) or after a failure.
  bool Flush(Client& c) {
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
    return true;
  }

  void Read(Client& c) {
    unsigned char buf[16384];
    for (;;) {
      const int r = mbedtls_ssl_read(&c.ssl, buf, sizeof(buf));
      if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE) break;
      if (r <= 0) return Fail(c);
      std::string_view bytes(reinterpret_cast<const char*>(buf), static_cast<size_t>(r));
      if (c.phase == Client::Phase::kResponse) {
        c.in.append(bytes);
        const size_t end = c.in.find("\r\n\r\n");
        if (end == std::string::npos) {
          if (c.in.size() > 8192) return Fail(c);
          continue;
        }
        if (c.in.rfind("HTTP/1.1 101 ", 0) != 0) return Fail(c);
        bytes = std::string_view();
        const std::string rest = c.in.substr(end + 4);
        std::string().swap(c.in);
        c.phase = Client::Phase::kOpen;
        --in_flight_;
        ++established_;
        if (!Frames(c, rest)) return;
        continue;
      }
      if (!Frames(c, bytes)) return;
    }
    if (!c.out.empty()) Flush(c);
  }

  // Answers pings; a Close ends the client. False when the client failed.
  bool Frames(Client& c, std::string_view bytes) {
    for (;;) {
      const ws::FrameEvent ev = c.parser.Next(&bytes);
      if (ev.kind == ws::FrameEvent::Kind::kNeedMore) return true;
      if (ev.kind == ws::FrameEvent::Kind::kPing) {
        uint8_t mask[4];
        randombytes_buf(mask, sizeof(mask));
        c.out += ws::EncodeMaskedFrame(ws::Opcode::kPong, ev.payload, mask);
      } else if (ev.kind == ws::FrameEvent::Kind::kClose ||
                 ev.kind == ws::FrameEvent::Kind::kError) {
        Fail(c);
        return false;
      }
    }
  }

  const Options& o_;
  const int first_, count_;
  const std::string source_;
  ws::ParserLimits limits_;
  mbedtls_ssl_config conf_;
  int ep_ = -1;
  std::vector<std::unique_ptr<Client>> clients_;
  int in_flight_ = 0, established_ = 0, failed_ = 0;
};

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream in(s);
  for (std::string part; std::getline(in, part, sep);) {
    if (!part.empty()) out.push_back(part);
  }
  return out;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--host")
      o->host = v;
    else if (k == "--port")
      o->port = std::atoi(v.c_str());
    else if (k == "--connections")
      o->connections = std::atoi(v.c_str());
    else if (k == "--processes")
      o->processes = std::max(1, std::atoi(v.c_str()));
    else if (k == "--sources")
      o->sources = Split(v, ',');
    else if (k == "--server-pid")
      o->server_pid = std::atoi(v.c_str());
    else if (k == "--concurrency")
      o->concurrency = std::max(1, std::atoi(v.c_str()));
    else if (k == "--hold-s")
      o->hold_s = std::atoi(v.c_str());
    else if (k == "--path")
      o->path = v;
    else if (k == "--tokens") {
      std::ifstream in(v);
      for (std::string line; std::getline(in, line);) {
        if (!line.empty()) o->tokens.push_back(line);
      }
      if (o->tokens.empty()) return false;
    } else {
      return false;
    }
  }
  if (o->sources.empty()) {
    for (int i = 0; i < o->processes; ++i) o->sources.push_back("127.0.0." + std::to_string(2 + i));
  }
  return (argc % 2) == 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    std::fprintf(stderr, "usage: see the comment at the top of tests/bench/ws_load.cc\n");
    return 2;
  }
  if (sodium_init() < 0) return 1;
  std::signal(SIGPIPE, SIG_IGN);
  if (auto lim = outpost::net::RaiseOpenFileLimit(); !lim.ok()) return 1;
  const long rss_before = o.server_pid > 0 ? VmRssKib(o.server_pid) : -1;
  const auto start = Clock::now();

  struct Child {
    pid_t pid;
    FILE* report;
  };
  std::vector<Child> children;
  for (int p = 0; p < o.processes; ++p) {
    int fds[2];
    if (::pipe(fds) != 0) return 1;
    const int first = static_cast<int>(static_cast<int64_t>(o.connections) * p / o.processes);
    const int last = static_cast<int>(static_cast<int64_t>(o.connections) * (p + 1) / o.processes);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(fds[0]);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      std::signal(SIGTERM, OnSignal);
      Worker w(o, first, last - first, o.sources[static_cast<size_t>(p) % o.sources.size()]);
      ::_exit(w.Run(fds[1]));
    }
    ::close(fds[1]);
    children.push_back({pid, ::fdopen(fds[0], "r")});
  }
  long established = 0, failed = 0;
  for (Child& c : children) {
    long e = 0, f = 0;
    if (std::fscanf(c.report, "%ld %ld", &e, &f) == 2) {
      established += e;
      failed += f;
    }
  }
  const double setup_s = std::chrono::duration<double>(Clock::now() - start).count();
  // Let the hub register the last hand-offs and the allocator settle, then hold.
  std::this_thread::sleep_for(std::chrono::seconds(std::max(1, o.hold_s)));
  const long rss_after = o.server_pid > 0 ? VmRssKib(o.server_pid) : -1;

  double client_cpu = 0;
  for (Child& c : children) {
    ::kill(c.pid, SIGTERM);
    int status = 0;
    rusage usage{};
    ::wait4(c.pid, &status, 0, &usage);
    client_cpu += CpuSeconds(usage);
    std::fclose(c.report);
  }
  std::printf(
      "ws_load target=%s:%d clients=%d processes=%d established=%ld failed=%ld setup_s=%.1f "
      "connects_per_s=%.0f server_rss_before_kib=%ld server_rss_kib=%ld per_conn_kib=%.1f "
      "client_cpu_s=%.1f\n",
      o.host.c_str(), o.port, o.connections, o.processes, established, failed, setup_s,
      setup_s > 0 ? static_cast<double>(established) / setup_s : 0.0, rss_before, rss_after,
      established > 0 && rss_after > 0
          ? static_cast<double>(rss_after - rss_before) / static_cast<double>(established)
          : 0.0,
      client_cpu);
  return failed == 0 ? 0 : 1;
}
