// A realtime server for benchmarks only: net::HttpsServer + net::Hub on one port, with a
// throwaway certificate, accepting every WebSocket upgrade (no accounts, no database), so that
// the transport's capacity and memory can be measured before the chat domain exists.
//
//   outpost_ws_bench_server [--host 127.0.0.1] [--port 9443] [--workers 4]
//                           [--ping-ms 30000] [--report-ms 0] [--ca-out ca.pem]
//
// The user id of a connection is the number after "sid=" in its Cookie (or after "Bearer u"),
// else a counter. Prints "listening port=<p> pid=<pid>" once ready; with --report-ms, one line
// of hub counters and memory that often. Stops on SIGINT or SIGTERM.
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

#include "net/https_server.h"
#include "net/hub.h"
#include "util/crypto.h"

namespace {

using namespace outpost;

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

long StatusKib(const char* field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const size_t n = std::strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, n, field) == 0) return std::atol(line.c_str() + n + 1);
  }
  return -1;
}

const char* Arg(int argc, char** argv, const char* name, const char* fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return argv[i + 1];
  }
  return fallback;
}

int64_t UserFrom(const net::UpgradeRequest& r, std::atomic<int64_t>& counter) {
  if (auto c = r.headers.find("cookie"); c != r.headers.end()) {
    const size_t at = c->second.find("sid=");
    if (at != std::string::npos) return std::atoll(c->second.c_str() + at + 4);
  }
  if (auto a = r.headers.find("authorization"); a != r.headers.end()) {
    if (a->second.rfind("Bearer u", 0) == 0) return std::atoll(a->second.c_str() + 8);
  }
  return ++counter;
}

}  // namespace

int main(int argc, char** argv) {
  if (!InitCrypto().ok()) return 1;
  std::signal(SIGPIPE, SIG_IGN);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  const std::string host = Arg(argc, argv, "--host", "127.0.0.1");
  const int port = std::atoi(Arg(argc, argv, "--port", "9443"));
  const int workers = std::atoi(Arg(argc, argv, "--workers", "4"));
  const int report_ms = std::atoi(Arg(argc, argv, "--report-ms", "0"));
  const char* ca_out = Arg(argc, argv, "--ca-out", nullptr);

  auto ca = net::GenerateCa("Outpost Bench CA", 2);
  auto cert = ca.ok() ? net::IssueServerCert(*ca, "localhost", {"localhost"}, {host}, 2)
                      : Result<net::KeyAndCert>(ca.status());
  if (!cert.ok()) {
    std::fprintf(stderr, "certificate: %s\n", cert.status().ToString().c_str());
    return 1;
  }
  if (ca_out != nullptr) std::ofstream(ca_out) << ca->cert_pem;
  auto tls = net::TlsContext::Create(cert->cert_pem, cert->key_pem);
  if (!tls.ok()) return 1;

  net::HubOptions options;
  options.max_connections_per_user = 0;
  options.max_connections_per_ip = 0;
  options.ping_interval =
      std::chrono::milliseconds(std::atoi(Arg(argc, argv, "--ping-ms", "30000")));
  net::Hub hub(options);
  if (Status st = hub.Start(); !st.ok()) {
    std::fprintf(stderr, "hub: %s\n", st.ToString().c_str());
    return 1;
  }
  net::HttpsServer server(*tls);
  server.new_task_queue = [workers] { return new httplib::ThreadPool(workers); };
  server.set_keep_alive_max_count(100);
  server.set_tcp_nodelay(true);  // as api::ApiServer does
  server.Get("/hello", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("hello", "text/plain");
  });
  std::atomic<int64_t> counter{1000000};
  server.EnableWebSockets("/api/v1/ws", &hub, [&](const net::UpgradeRequest& r) {
    net::UpgradeDecision d;
    d.accept = true;
    d.user_id = UserFrom(r, counter);
    return d;
  });
  if (!server.bind_to_port(host, port)) {
    std::fprintf(stderr, "cannot bind %s:%d\n", host.c_str(), port);
    return 1;
  }
  std::thread listener([&] { server.listen_after_bind(); });
  std::printf("listening port=%d pid=%d conn_record_bytes=%zu\n", port, getpid(),
              net::Hub::ConnectionRecordBytes());
  std::fflush(stdout);

  auto last = std::chrono::steady_clock::now();
  while (!g_stop) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (report_ms <= 0 ||
        std::chrono::steady_clock::now() - last < std::chrono::milliseconds(report_ms)) {
      continue;
    }
    last = std::chrono::steady_clock::now();
    const net::HubStats s = hub.Stats();
    const struct mallinfo2 mi = mallinfo2();
    std::printf(
        "hub connections=%lu adopted=%lu closed=%lu queued=%lu http_workers_busy=%d "
        "handshake_failures=%lu rss_kib=%ld heap_in_use_kib=%zu\n",
        s.connections, s.adopted, s.closed, s.bytes_queued, server.open_connections(),
        server.handshake_failures(), StatusKib("VmRSS:"), mi.uordblks / 1024);
    std::fflush(stdout);
  }
  server.stop();
  listener.join();
  hub.Stop();
  return 0;
}
