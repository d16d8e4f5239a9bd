// The client side of the load generators: many TLS connections with non-blocking sockets under
// one epoll loop (no thread per client), each bound to a chosen loopback source address. A
// connection is either a WebSocket (the upgrade request is sent after the TLS handshake, the 101
// answer awaited, pings answered, text messages handed up) or raw TLS (plaintext handed up as it
// arrives, for HTTP/1.1 keep-alive). Used by outpost_ws_load and outpost_rt_bench.
//
// Also the /proc readings the benchmarks print (memory and CPU of the server under test).
#ifndef OUTPOST_TESTS_BENCH_TLS_CLIENTS_H_
#define OUTPOST_TESTS_BENCH_TLS_CLIENTS_H_

#include <mbedtls/ssl.h>
#include <sys/resource.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/websocket.h"

namespace outpost::bench {

namespace ws = outpost::net::ws;

// One field of /proc/PID/status in KiB ("VmRSS:", "VmHWM:"); -1 when unreadable.
long ProcStatusKib(int pid, const char* field);
// utime + stime of the process (all its threads) from /proc/PID/stat, in seconds; -1 when
// unreadable.
double ProcCpuSeconds(int pid);
// user + system time of a rusage, in seconds.
double CpuSeconds(const rusage& usage);
// The 1-minute load average ("-1" when unreadable), for stating how busy the machine was.
double LoadAverage1();
// "a,b,,c" -> {"a", "b", "c"}.
std::vector<std::string> Split(const std::string& s, char sep);

// One client connection. Phases run in order; kDone connections hold no socket.
struct TlsConn {
  enum class Phase { kConnecting, kHandshake, kUpgrade, kResponse, kOpen, kDone };
  explicit TlsConn(const ws::ParserLimits* limits) : parser(limits) { mbedtls_ssl_init(&ssl); }
  ~TlsConn();
  TlsConn(const TlsConn&) = delete;
  TlsConn& operator=(const TlsConn&) = delete;

  uint32_t index = 0;  // position in the loop's list
  int fd = -1;
  Phase phase = Phase::kConnecting;
  bool websocket = true;
  uint32_t watching = 0;  // epoll events currently registered
  mbedtls_ssl_context ssl;
  std::string out;  // plaintext waiting to be written
  std::string in;   // the 101 answer being read
  ws::FrameParser parser;
  int64_t tag = 0;  // the caller's: which client this is
};

// What the loop reports. Called on the loop's thread, from inside Poll.
class TlsConnHandler {
 public:
  virtual ~TlsConnHandler() = default;
  // The connection is usable: the 101 came (WebSocket) or the TLS handshake ended (raw).
  virtual void OnOpen(TlsConn&) {}
  // A complete WebSocket text or binary message.
  virtual void OnMessage(TlsConn&, std::string_view) {}
  // Plaintext of a raw connection, as it arrives.
  virtual void OnBytes(TlsConn&, std::string_view) {}
  // The connection failed or was closed; `was_open` tells whether OnOpen had run.
  virtual void OnFail(TlsConn&, bool /*was_open*/) {}
};

// Not thread-safe: one loop per thread (the generators use one per process).
class TlsClientLoop {
 public:
  TlsClientLoop(std::string host, int port, TlsConnHandler* handler);
  ~TlsClientLoop();
  TlsClientLoop(const TlsClientLoop&) = delete;
  TlsClientLoop& operator=(const TlsClientLoop&) = delete;

  // The WebSocket upgrade request for `path` with credential `cred`: "Bearer ..." goes in
  // Authorization, anything else is sent as the Cookie header.
  static std::string UpgradeRequest(const std::string& path, const std::string& cred);

  // Starts a connection from `source` (a numeric IPv4 address; the port is chosen at connect
  // so that one address serves more than 28,000 connections). `upgrade` is the upgrade request
  // for a WebSocket, empty for raw TLS. Never fails here: a failure is reported by OnFail
  // (from this call or a later Poll). The reference lives as long as the loop.
  TlsConn& Connect(const std::string& source, std::string upgrade, int64_t tag);

  // Queues `text` as one masked text frame (WebSocket) or as bytes (raw) and writes what the
  // socket takes now. Ignored on a connection that is not open.
  void SendText(TlsConn& c, std::string_view text);
  void SendRaw(TlsConn& c, std::string_view bytes);

  // Waits up to `timeout_ms` for socket events and handles them. Returns how many came.
  int Poll(int timeout_ms);

  // Connections that are connecting or upgrading, and open ones.
  int in_flight() const { return in_flight_; }
  int open() const { return open_; }
  int failed() const { return failed_; }
  // Closes every connection.
  void CloseAll();

 private:
  void Fail(TlsConn& c);
  void Watch(TlsConn& c, uint32_t events);
  void Step(TlsConn& c);
  bool Flush(TlsConn& c);
  void Read(TlsConn& c);
  bool Frames(TlsConn& c, std::string_view bytes);

  const std::string host_;
  const int port_;
  TlsConnHandler* const handler_;
  ws::ParserLimits limits_;
  mbedtls_ssl_config conf_;
  int ep_ = -1;
  std::vector<std::unique_ptr<TlsConn>> conns_;
  int in_flight_ = 0, open_ = 0, failed_ = 0;
};

}  // namespace outpost::bench

#endif  // OUTPOST_TESTS_BENCH_TLS_CLIENTS_H_
