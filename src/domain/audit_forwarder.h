// Forwarding the audit log to the site's SIEM: one RFC 5424 syslog message per record, framed
// by octet counting (RFC 6587 section 3.4.1), over one TCP or TLS connection.
//
// The audit table is the queue. The forwarder keeps a cursor (the newest seq the SIEM's TCP
// stack has acknowledged) in the `settings` table, reads the records after it, and advances it
// only once the kernel reports the bytes of a record acknowledged by the peer (SIOCOUTQ), so a
// SIEM that goes away loses nothing: after a reconnect, with backoff, everything after the
// cursor is sent again. Delivery is at least once: records sent but not yet acknowledged when
// the connection broke are sent twice, and the SIEM tells the copies apart by their seq.
#ifndef OUTPOST_DOMAIN_AUDIT_FORWARDER_H_
#define OUTPOST_DOMAIN_AUDIT_FORWARDER_H_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "domain/audit.h"
#include "storage/database.h"
#include "util/clock.h"
#include "util/status.h"

namespace outpost::domain {

// Where the forwarder's cursor lives (settings table): the decimal seq of the newest record
// the SIEM acknowledged; absent: none yet.
inline constexpr std::string_view kForwardCursorKey = "audit.forward_cursor";
// Set (to the outage's start, ms) while an outage is on record, so that a restart during an
// outage neither records audit.forward_down twice nor forgets to record the resumption.
inline constexpr std::string_view kForwardDownKey = "audit.forward_down_since";

// How messages look. RFC 5424 limits: hostname 1..255, app name 1..48 printable ASCII.
struct SyslogFormat {
  std::string hostname = "-";  // "-" is RFC 5424's NILVALUE
  std::string app_name = "outpost";
  int facility = 13;  // log audit
};

// The RFC 5424 message for `record`:
//   <PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [outpost@32473 seq=.. ts_ms=.. actor=..
//   actor_id=.. source_ip=.. action=.. target=.. outcome=.. hash=.. prev_hash=..] BOM details
// PRI is facility * 8 + severity (5 notice for success, 4 warning for failure and denied);
// TIMESTAMP is RFC 3339 UTC with milliseconds; MSGID is the action (at most 32 characters).
// Parameter values escape '"', '\' and ']' with '\'. 32473 is the enterprise number RFC 5612
// sets aside for documentation: Outpost has no number of its own.
std::string SyslogMessage(const AuditRecord& record, const SyslogFormat& format);

// "<octets> <message>" (RFC 6587 octet counting).
std::string OctetCountedFrame(std::string_view message);

// One connection to the SIEM. Implemented over the net layer's stream client (TCP or TLS) by
// the server; tests may fake it. Used by the forwarder's thread only, except Abort.
class SiemConnection {
 public:
  virtual ~SiemConnection() = default;
  // Writes all of `bytes`, or fails (Unavailable) leaving the connection unusable.
  virtual Status Write(std::string_view bytes) = 0;
  // Bytes handed to the socket so far on this connection (TLS framing included).
  virtual int64_t BytesWritten() const = 0;
  // Of those, how many the peer's TCP has not acknowledged yet. Unavailable when unknown.
  virtual Result<int64_t> BytesUnacknowledged() = 0;
  // True when the peer closed or reset the connection (a syslog receiver never sends).
  virtual bool PeerClosed() = 0;
  // Makes a blocked Write fail soon. Thread-safe; the only call from another thread.
  virtual void Abort() = 0;
};

// Opens a new connection; Unavailable (naming the cause) when the SIEM cannot be reached or
// its certificate is not trusted.
using SiemConnector = std::function<Result<std::unique_ptr<SiemConnection>>()>;

struct ForwarderOptions {
  SyslogFormat format;
  std::string target;               // "host:port (tls)", for logs and records
  int64_t batch_records = 500;      // records read and written per round
  int64_t max_unacknowledged = 5000;  // records written but not acknowledged, at most
  std::chrono::milliseconds idle_poll{1000};  // look for new records this often when idle
  std::chrono::milliseconds ack_poll{50};     // look for acknowledgements this often
  std::chrono::milliseconds min_backoff{500};
  std::chrono::milliseconds max_backoff{30000};
};

// A snapshot for /metrics, the admin API and logs.
struct ForwarderStatus {
  bool connected = false;
  bool down = false;            // an outage is on record (audit.forward_down written)
  int64_t cursor = 0;           // newest seq acknowledged by the SIEM
  int64_t head = 0;             // newest seq in the log
  int64_t lag = 0;              // head - cursor
  UnixMillis last_success = 0;  // when the cursor last advanced (0: not since start)
  UnixMillis down_since = 0;    // when the outage began (0: none)
  int64_t sent = 0;             // messages written since start (resends included)
  int64_t connects = 0;         // connections made since start
  int64_t failures = 0;         // failed connects and broken connections since start
  std::string last_error;
};

// Thread-safe. `db`, `log` and `clock` must outlive it.
class AuditForwarder {
 public:
  AuditForwarder(storage::Database* db, AuditLog* log, const Clock* clock, SiemConnector connect,
                 ForwarderOptions options);
  ~AuditForwarder();  // Stop(0) when still running
  AuditForwarder(const AuditForwarder&) = delete;
  AuditForwarder& operator=(const AuditForwarder&) = delete;

  // Loads the cursor and starts the thread. An error when the cursor cannot be read.
  Status Start();

  // Wakes the thread: a record was appended. Cheap; any thread.
  void Notify();

  // Stops the thread. It first goes on sending until it has caught up and every record is
  // acknowledged, or `drain` has passed; the cursor is saved either way. Idempotent.
  void Stop(std::chrono::milliseconds drain);

  ForwarderStatus status() const;
  const ForwarderOptions& options() const { return options_; }

 private:
  struct InFlight {
    int64_t seq;
    int64_t end_offset;  // BytesWritten() once the record's frame was written
  };

  void Loop();
  // Moves the cursor past every record whose bytes the peer acknowledged. False when the
  // connection turned out broken.
  bool Advance();
  void Broken(const Status& why);
  void SaveCursor();
  void RecordOutage(const Status& why);
  void RecordResumed();
  // Waits for Notify, Stop or `d`; true when stopping for good (no drain left).
  bool Wait(std::chrono::milliseconds d);

  storage::Database* const db_;
  AuditLog* const log_;
  const Clock* const clock_;
  const SiemConnector connect_;
  const ForwarderOptions options_;

  // Owned by the loop thread; `conn_mu_` guards the pointer against Abort from Stop.
  std::mutex conn_mu_;
  std::unique_ptr<SiemConnection> conn_;
  std::deque<InFlight> in_flight_;  // loop thread only
  int64_t sent_seq_ = 0;            // loop thread only: newest seq written on this connection
  int64_t saved_cursor_ = 0;        // loop thread only: the cursor as last saved

  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool notified_ = false;                           // guarded by mu_
  bool stopping_ = false;                           // guarded by mu_
  bool exited_ = false;                             // guarded by mu_: the loop has returned
  std::chrono::steady_clock::time_point drain_until_;  // guarded by mu_
  ForwarderStatus status_;                          // guarded by mu_ (head/lag filled on read)
  std::thread thread_;
};

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_AUDIT_FORWARDER_H_
