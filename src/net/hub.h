// The realtime hub: one epoll thread that owns every upgraded WebSocket connection (a
// non-blocking socket and the mbedTLS session whose handshake an HTTP worker completed) so that
// long-lived connections never hold one of the HTTP server's worker threads.
//
// The hub knows nothing of the domain: users and topics are int64 ids, payloads are bytes, and
// the resume cursor that accompanies each published payload is an opaque string. Every public
// method is thread-safe: calls from other threads are queued (a mutex-guarded command list plus
// an eventfd to wake the loop) and applied on the hub thread in the order they were made.
//
// Memory per connection, beyond mbedTLS's own buffers, is the Conn record (a few hundred
// bytes), its parser's buffers (empty when idle) and the queued frames, bounded by
// HubOptions::max_queued_bytes. A frame published to a topic is serialized once and shared by
// every recipient's queue; the bytes are copied only when TLS encrypts them.
#ifndef OUTPOST_NET_HUB_H_
#define OUTPOST_NET_HUB_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "net/tls.h"
#include "net/websocket.h"
#include "util/status.h"

struct mbedtls_ssl_context;  // mbedtls/ssl.h

namespace outpost::net {

// Frees and deletes a heap mbedtls_ssl_context (mbedtls_ssl_free, then delete).
struct SslContextDeleter {
  void operator()(mbedtls_ssl_context* ssl) const;
};
using SslContextPtr = std::unique_ptr<mbedtls_ssl_context, SslContextDeleter>;
// A fresh heap context after mbedtls_ssl_init. Never null. Thread-safe.
SslContextPtr NewSslContext();

// Raises this process's soft RLIMIT_NOFILE to its hard limit (a hub with tens of thousands of
// connections needs one descriptor each). Returns the new soft limit. Thread-safe.
Result<uint64_t> RaiseOpenFileLimit();

// Identifies one connection for the life of the hub; never reused. 0 is never a valid id.
using ConnId = uint64_t;

struct HubOptions {
  ws::ParserLimits limits;            // max frame and message sizes (expect_masked stays true)
  size_t max_queued_bytes = 1 << 20;  // per connection; publishing past it cuts the connection
  int messages_per_second = 20;       // per connection (messages and pings); 0: unlimited
  int message_burst = 40;             // how many a quiet connection may send at once
  int max_connections_per_user = 16;  // 0: unlimited
  int max_connections_per_ip = 2000;  // 0: unlimited (NAT gateways put many users on one IP)
  int max_connections = 0;            // 0: unlimited (the file limit still applies)
  std::chrono::milliseconds ping_interval{30000};  // ping a connection this long silent
  std::chrono::milliseconds pong_timeout{20000};   // then close it unless a pong comes back
  std::chrono::milliseconds close_grace{5000};     // longest a closing connection may linger
  int socket_send_buffer = 0;  // SO_SNDBUF for adopted sockets; 0 keeps the kernel's
  uint16_t overflow_close_code = ws::kCloseOverflow;
};

// Counters, read with Hub::Stats(). Gauges are exact at the moment they are read; counters
// only grow.
struct HubStats {
  uint64_t connections = 0;         // gauge: adopted and not yet closed
  uint64_t bytes_queued = 0;        // gauge: outbound bytes waiting in connection queues
  uint64_t commands_pending = 0;    // gauge: calls queued for the hub thread
  uint64_t adopted = 0;             // connections handed to the hub
  uint64_t closed = 0;              // connections closed, for any reason
  uint64_t overflow_closes = 0;     // slow consumers cut off
  uint64_t protocol_closes = 0;     // malformed frames, bad UTF-8, too large, unmasked
  uint64_t rate_limit_closes = 0;   // over messages_per_second
  uint64_t ping_timeouts = 0;       // no pong in time
  uint64_t refused_user_limit = 0;  // Admit refused: max_connections_per_user
  uint64_t refused_ip_limit = 0;    // Admit refused: max_connections_per_ip or max_connections
  uint64_t messages_in = 0;         // text messages passed to the handler
  uint64_t frames_out = 0;          // frames fully handed to TLS
};

class Hub;

// A reserved connection slot for one user and address, from Hub::Admit. Released when
// destroyed unless the connection was adopted (then the hub releases it when the connection
// closes). Move-only; not thread-safe.
class HubTicket {
 public:
  HubTicket() = default;
  ~HubTicket() { Release(); }
  HubTicket(HubTicket&& other) noexcept { *this = std::move(other); }
  HubTicket& operator=(HubTicket&& other) noexcept;
  HubTicket(const HubTicket&) = delete;
  HubTicket& operator=(const HubTicket&) = delete;

  int64_t user_id() const { return user_id_; }
  // The credential the connection was opened with, as the caller of Admit numbered it; 0 none.
  int64_t session() const { return session_; }
  const std::string& ip() const { return ip_; }
  bool valid() const { return hub_ != nullptr; }

 private:
  friend class Hub;
  void Release();

  Hub* hub_ = nullptr;
  int64_t user_id_ = 0;
  int64_t session_ = 0;
  std::string ip_;
};

// One upgraded connection as the HTTP worker hands it over.
struct HubHandoff {
  int fd = -1;                            // connected, O_NONBLOCK set; the hub owns and closes it
  SslContextPtr ssl;                      // handshake complete; its bio is replaced by the hub's
  std::shared_ptr<const TlsContext> tls;  // keeps ssl's configuration alive
  HubTicket ticket;                       // from Admit
  std::string early;  // plaintext the client sent after its request head, if any
};

class Hub {
 public:
  // Called on the hub thread for each complete text message, with the credential the
  // connection was admitted with (Admit's `session`). It must not block (no disk, no locks
  // held for long): hand the work to another thread and answer later with Send.
  using MessageHandler =
      std::function<void(ConnId, int64_t user_id, int64_t session, std::string_view text)>;
  // Called on the hub thread when a connection joins (open = true) or leaves; for presence.
  // Same rule: must not block.
  using ConnectionHandler = std::function<void(ConnId, int64_t user_id, bool open)>;

  explicit Hub(HubOptions options);
  // Stops the loop (see Stop) and closes every connection.
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // Set before Start (not thread-safe). Either may be left empty.
  void set_message_handler(MessageHandler handler) { on_message_ = std::move(handler); }
  void set_connection_handler(ConnectionHandler handler) { on_connection_ = std::move(handler); }

  // Raises the open-file limit (RaiseOpenFileLimit), creates the epoll set and the wake-up
  // eventfd, and starts the hub thread. IoError when the kernel refuses. Call once.
  Status Start();

  // Sends Close 1001 to every connection, gives them up to one second to flush, closes them
  // all and joins the thread. Adopt afterwards closes what it is given. Idempotent;
  // thread-safe, but not from a handler (it joins the hub thread).
  void Stop();

  // Reserves a connection slot for `user_id` from `ip`, before the 101 answer is sent.
  // `session` is an opaque number for the credential the upgrade was authenticated with (the
  // API layer's session or token; 0: none), for CloseSession and SessionsConnected.
  // ResourceExhausted (naming the limit) when a per-user, per-address or total limit is
  // reached, Unavailable when the hub is not running. Thread-safe.
  Result<HubTicket> Admit(int64_t user_id, const std::string& ip, int64_t session = 0);

  // Takes over an upgraded connection. Returns its id; the connection is registered on the hub
  // thread shortly after (calls for this id made before then are applied after it). When the
  // hub is stopped the connection is closed at once and 0 is returned. Thread-safe.
  ConnId Adopt(HubHandoff handoff);

  // Queues `payload` as one text frame to every connection of every user subscribed to
  // `topic`. `cursor` (may be empty) is what a connection cut off later reports as its resume
  // point if this frame was the last it received. A connection whose queue would exceed
  // max_queued_bytes is closed instead. Thread-safe.
  void Publish(int64_t topic, std::shared_ptr<const std::string> payload, std::string cursor);
  // The same, to every connection of `user_id`. Thread-safe.
  void PublishToUser(int64_t user_id, std::shared_ptr<const std::string> payload,
                     std::string cursor);
  // The same, to one connection; ignored when it is gone. Thread-safe.
  void Send(ConnId conn, std::shared_ptr<const std::string> payload, std::string cursor = "");

  // Subscribes every current and future connection of `user_id` to `topic` until
  // UnsubscribeUser. Frames published after an unsubscribe are not delivered; frames already
  // queued are. Idempotent. Thread-safe.
  void SubscribeUser(int64_t user_id, int64_t topic);
  void UnsubscribeUser(int64_t user_id, int64_t topic);

  // Sends Close(`code`, `reason`) to every connection of `user_id` (session revoked, account
  // disabled) and closes them. `reason` should be UTF-8 (clients must refuse anything else);
  // it is cut to 123 bytes. Thread-safe.
  void CloseUser(int64_t user_id, uint16_t code, std::string reason);
  // The same for one connection. Thread-safe.
  void Close(ConnId conn, uint16_t code, std::string reason);
  // The same for every connection admitted with `session` (not 0): that credential ended, the
  // user's other sessions keep theirs. Thread-safe.
  void CloseSession(int64_t session, uint16_t code, std::string reason);

  // The distinct non-zero sessions with a reserved or open connection now, in no order (for a
  // sweep that closes those whose credential expired). Thread-safe.
  std::vector<int64_t> SessionsConnected() const;

  // A snapshot of the counters. Thread-safe.
  HubStats Stats() const;

  const HubOptions& options() const { return options_; }

  // Bytes of the hub's own record for one idle connection (the Conn struct and its index
  // entries), excluding mbedTLS's session and buffers; for benchmarks and capacity planning.
  static size_t ConnectionRecordBytes();

 private:
  friend class HubTicket;
  struct Conn;
  struct Frame;
  struct Command;
  class Loop;

  // Queues `command` for the hub thread and returns true; returns false, leaving `command`
  // untouched, once Stop has begun.
  bool Enqueue(Command&& command);
  void ReleaseSlot(int64_t user_id, const std::string& ip, int64_t session);

  const HubOptions options_;
  MessageHandler on_message_;        // set before Start; read on the hub thread
  ConnectionHandler on_connection_;  // set before Start; read on the hub thread

  // Admission: counts of reserved slots, including adopted connections until they close.
  mutable std::mutex admit_mu_;
  std::unordered_map<int64_t, int> per_user_;    // guarded by admit_mu_
  std::unordered_map<std::string, int> per_ip_;  // guarded by admit_mu_
  std::unordered_map<int64_t, int> per_session_;  // guarded by admit_mu_; non-zero keys only
  int total_ = 0;                                // guarded by admit_mu_
  bool accepting_ = false;                       // guarded by admit_mu_

  // Calls waiting for the hub thread.
  mutable std::mutex commands_mu_;
  std::vector<Command> commands_;  // guarded by commands_mu_
  bool stopping_ = false;          // guarded by commands_mu_
  int wake_fd_ = -1;               // eventfd; written when commands_ goes from empty to not

  std::unique_ptr<Loop> loop_;  // everything the hub thread owns
  std::thread thread_;
  std::atomic<ConnId> next_id_{1};

  // Counters written by the hub thread (and Admit), read by Stats.
  struct Counters {
    std::atomic<uint64_t> connections{0}, bytes_queued{0}, adopted{0}, closed{0},
        overflow_closes{0}, protocol_closes{0}, rate_limit_closes{0}, ping_timeouts{0},
        refused_user_limit{0}, refused_ip_limit{0}, messages_in{0}, frames_out{0};
  };
  mutable Counters counters_;
};

}  // namespace outpost::net

#endif  // OUTPOST_NET_HUB_H_
