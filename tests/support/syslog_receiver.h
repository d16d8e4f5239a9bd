// A SIEM stand-in for tests: a syslog receiver on 127.0.0.1 that accepts TCP (or TLS with a
// given certificate) connections and splits what arrives into RFC 6587 octet-counted frames,
// plus a parser for the RFC 5424 messages inside them. It can be stopped and started again on
// the same port, to play a SIEM that goes down and comes back.
#ifndef OUTPOST_TESTS_SUPPORT_SYSLOG_RECEIVER_H_
#define OUTPOST_TESTS_SUPPORT_SYSLOG_RECEIVER_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "util/status.h"

namespace outpost::net {
class TlsContext;
}

namespace outpost::testing {

struct SyslogFrame {
  int connection = 0;  // 1 for the first connection accepted since construction, 2, ...
  std::string message;
};

// An RFC 5424 message with one SD-ELEMENT.
struct ParsedSyslog {
  int pri = -1;
  int version = 0;
  std::string timestamp, hostname, app_name, procid, msgid;
  std::string sd_id;                          // e.g. "outpost@32473"
  std::map<std::string, std::string> params;  // unescaped
  std::string msg;                            // after the BOM, when there is one
  bool bom = false;
};

// Corruption naming what is wrong when `message` is not RFC 5424 with one SD-ELEMENT.
Result<ParsedSyslog> ParseSyslog(std::string_view message);

// Thread-safe.
class SyslogReceiver {
 public:
  // Plain TCP when `cert_pem` is empty, else TLS 1.2 with that certificate and key.
  explicit SyslogReceiver(std::string cert_pem = "", std::string key_pem = "");
  ~SyslogReceiver();
  SyslogReceiver(const SyslogReceiver&) = delete;
  SyslogReceiver& operator=(const SyslogReceiver&) = delete;

  // Listens on `port` (0: a free one the first time, the same one on a restart).
  Status Start(int port = 0);
  // Closes the listener and every connection (the peer sees a FIN). Frames are kept.
  void Stop();

  int port() const { return port_; }
  // Every complete frame so far, in arrival order.
  std::vector<SyslogFrame> Frames() const;
  // Connections accepted so far (TLS: handshakes completed).
  int connections() const;
  // Framing errors seen ("" when none): a frame that is not "<digits> <octets>".
  std::string error() const;

  // Waits until `done(Frames())` holds or `timeout_ms` passes; returns the last verdict.
  bool WaitFor(const std::function<bool(const std::vector<SyslogFrame>&)>& done,
               int timeout_ms) const;

 private:
  struct Conn;
  void Loop();
  bool Accept();
  // Reads what is there; false when the connection ended.
  bool Read(Conn& c);

  const std::string cert_pem_, key_pem_;
  std::shared_ptr<const net::TlsContext> tls_;
  int port_ = 0;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  std::vector<std::unique_ptr<Conn>> conns_;  // loop thread only

  mutable std::mutex mu_;
  std::vector<SyslogFrame> frames_;  // guarded by mu_
  int accepted_ = 0;                 // guarded by mu_
  std::string error_;                // guarded by mu_
};

}  // namespace outpost::testing

#endif  // OUTPOST_TESTS_SUPPORT_SYSLOG_RECEIVER_H_
