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
#include <signal.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/tls_clients.h"
#include "net/hub.h"

namespace {

using outpost::bench::TlsClientLoop;
using outpost::bench::TlsConn;
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

// The clients of one process: numbers [first, first + count) of the whole run, from `source`.
class Worker : public outpost::bench::TlsConnHandler {
 public:
  Worker(const Options& o, int first, int count, std::string source)
      : o_(o),
        first_(first),
        count_(count),
        source_(std::move(source)),
        loop_(o.host, o.port, this) {}

  // Opens every client, reports "established failed" on `report_fd`, then keeps the clients
  // alive (answering pings) until SIGTERM.
  int Run(int report_fd) {
    int started = 0;
    bool reported = false;
    while (!g_stop) {
      while (started < count_ && loop_.in_flight() < o_.concurrency) {
        const int number = first_ + started++;
        const std::string cred = o_.tokens.empty()
                                     ? "sid=" + std::to_string(number + 1)
                                     : o_.tokens[static_cast<size_t>(number) % o_.tokens.size()];
        loop_.Connect(source_, TlsClientLoop::UpgradeRequest(o_.path, cred), number);
      }
      if (!reported && started == count_ && loop_.in_flight() == 0) {
        const std::string line =
            std::to_string(loop_.open()) + " " + std::to_string(loop_.failed()) + "\n";
        if (::write(report_fd, line.data(), line.size()) < 0) return 1;
        reported = true;
      }
      loop_.Poll(200);
    }
    loop_.CloseAll();
    return 0;
  }

 private:
  const Options& o_;
  const int first_, count_;
  const std::string source_;
  TlsClientLoop loop_;
};

using outpost::bench::Split;

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
  const long rss_before =
      o.server_pid > 0 ? outpost::bench::ProcStatusKib(o.server_pid, "VmRSS:") : -1;
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
  const long rss_after =
      o.server_pid > 0 ? outpost::bench::ProcStatusKib(o.server_pid, "VmRSS:") : -1;

  double client_cpu = 0;
  for (Child& c : children) {
    ::kill(c.pid, SIGTERM);
    int status = 0;
    rusage usage{};
    ::wait4(c.pid, &status, 0, &usage);
    client_cpu += outpost::bench::CpuSeconds(usage);
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
