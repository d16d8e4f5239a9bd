// Private to net/hub.cc and net/hub_loop.cc: the records and the event loop that live on the
// hub thread. Nothing here is thread-safe except where a comment says so; Hub's public methods
// reach the loop only through the command list.
#ifndef OUTPOST_NET_HUB_LOOP_H_
#define OUTPOST_NET_HUB_LOOP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "net/hub.h"
#include "net/websocket.h"

namespace outpost::net {

// One serialized server frame, shared (immutable) by every queue it is in.
struct Hub::Frame {
  std::string bytes;   // header and payload, ready for TLS
  std::string cursor;  // the publisher's resume cursor; "" for control frames and acks

  static std::shared_ptr<const Frame> Text(std::string_view payload, std::string cursor);
  static std::shared_ptr<const Frame> Control(ws::Opcode opcode, std::string_view payload);
};

// A call made on another thread, applied on the hub thread.
struct Hub::Command {
  enum class Type {
    kAdopt,
    kPublish,
    kPublishToUser,
    kSend,
    kSubscribe,
    kUnsubscribe,
    kCloseUser,
    kCloseSession,
    kClose
  };
  Type type = Type::kSend;
  int64_t id = 0;     // topic (kPublish), session (kCloseSession) or user id
  int64_t topic = 0;  // kSubscribe, kUnsubscribe
  ConnId conn = 0;    // kAdopt, kSend, kClose
  std::shared_ptr<const Frame> frame;
  uint16_t code = 0;
  std::string reason;
  std::unique_ptr<HubHandoff> handoff;  // kAdopt
};

// One WebSocket connection. Owned by Loop::conns_; only the hub thread touches it.
struct Hub::Conn {
  enum class State : uint8_t {
    kOpen,      // frames flow both ways
    kClosing,   // our Close is queued: flush it, then close (if the peer's Close came) or
                // shut the write side
    kDraining,  // write side shut: read (and drop) until the peer's Close, its end of
                // stream, or the grace period; closing with unread input would send RST,
                // which can destroy our last frames in flight
  };

  explicit Conn(const ws::ParserLimits* limits) : parser(limits) {}

  ConnId id = 0;
  int fd = -1;
  SslContextPtr ssl;
  std::shared_ptr<const TlsContext> tls;  // ssl's configuration lives in it
  HubTicket ticket;                       // user id and address; frees the slot when dropped
  ws::FrameParser parser;

  // Outbound frames: queue[head..] are unsent, queue[head] partly when head_offset > 0.
  std::vector<std::shared_ptr<const Frame>> queue;
  uint32_t head = 0;
  uint32_t head_offset = 0;
  uint32_t pending_record = 0;  // bytes of an mbedtls_ssl_write that returned WANT_WRITE; the
                                // retry must pass the same bytes, which are the queue's front
  size_t queued_bytes = 0;      // unsent bytes in queue
  std::string last_cursor;      // cursor of the last frame fully handed to TLS

  int64_t last_rx_ms = 0;    // last time any byte arrived
  int64_t ping_sent_ms = 0;  // 0: no ping outstanding
  int64_t close_deadline_ms = 0;
  int64_t tokens_ms = 0;  // when `tokens` was last refilled
  float tokens = 0;       // rate limit bucket

  State state = State::kOpen;
  bool close_received = false;    // the peer's Close frame arrived
  bool write_blocked = false;     // waiting for EPOLLOUT
  bool read_wants_write = false;  // mbedtls_ssl_read asked for EPOLLOUT
  bool dirty = false;             // in Loop::dirty_
  bool ready = false;             // in Loop::ready_: input left unread (budget)

  int64_t user_id() const { return ticket.user_id(); }
};

class Hub::Loop {
 public:
  explicit Loop(Hub* hub);
  ~Loop();  // closes every connection and the epoll set
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  Status Init(int wake_fd);
  void Run();  // until Hub::Stop

 private:
  int64_t Now() const;
  void RunCommands(bool* stop);
  void Apply(Command& c);
  void AddConn(Command& c);
  Conn* Find(ConnId id);

  // Read, Flush and ProcessClosing return false when they destroyed the connection.
  void OnEvent(Conn* c, uint32_t events);
  bool Read(Conn* c);
  void Process(Conn* c, std::string_view bytes);
  bool ProcessClosing(Conn* c, std::string_view bytes);
  bool TakeToken(Conn* c);
  bool Flush(Conn* c);
  void Advance(Conn* c, size_t n);

  // Queues `frame`; a data frame over the queue limit cuts the connection instead.
  void Push(Conn* c, std::shared_ptr<const Frame> frame, bool bypass_limit);
  void Overflow(Conn* c);
  void StartClose(Conn* c, uint16_t code, std::string_view reason);
  void Destroy(Conn* c);
  void MarkDirty(Conn* c);
  void Tick();

  Hub* hub_;
  ws::ParserLimits limits_;                  // shared by every connection's parser
  std::shared_ptr<const Frame> ping_frame_;  // one empty ping, shared by every queue
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::unordered_map<ConnId, std::unique_ptr<Conn>> conns_;
  std::unordered_map<int64_t, std::vector<ConnId>> user_conns_;
  // Subscriptions, both directions, as sorted vectors: 16 bytes per subscription rather than
  // two hash nodes, and a topic's fan-out walks contiguous memory.
  std::unordered_map<int64_t, std::vector<int64_t>> user_topics_;
  std::unordered_map<int64_t, std::vector<int64_t>> topic_users_;
  std::vector<ConnId> dirty_;    // have output to flush at the end of this turn
  std::vector<ConnId> ready_;    // have input left after their read budget
  std::vector<ConnId> closing_;  // kClosing or kDraining; checked against their deadline
  std::vector<Command> batch_;   // commands being applied (reused)
  int64_t next_tick_ms_ = 0;
  int64_t tick_ms_ = 250;
  int64_t stop_deadline_ms_ = 0;  // > 0 once Stop was seen
  // Scratch shared by every connection: TLS plaintext in, frames gathered for one record out.
  std::unique_ptr<char[]> in_buf_;
  std::unique_ptr<char[]> out_buf_;
};

}  // namespace outpost::net

#endif  // OUTPOST_NET_HUB_LOOP_H_
