// Chat events: every change a client must learn about (a message posted, a member removed, a
// read marker moved) is written to the events table in the same transaction as the change, and
// handed to the EventSink after the commit. The table is what a reconnecting client replays
// from its last cursor; the sink is how connected clients hear at once.
#ifndef OUTPOST_DOMAIN_CHAT_EVENTS_H_
#define OUTPOST_DOMAIN_CHAT_EVENTS_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "storage/database.h"
#include "util/clock.h"

namespace outpost::domain {

// Who receives an event: the members of `room_id` (when not 0), or only `user_id` (when
// room_id is 0). `also_user_id` is told too (a member removed from a room learns of it).
struct ChatEvent {
  int64_t seq = 0;  // the cursor: strictly increasing
  int64_t room_id = 0;
  int64_t user_id = 0;
  int64_t also_user_id = 0;
  std::string type;  // "message.created", "member.removed", ...
  nlohmann::json payload;
  UnixMillis at = 0;
};

// Receives committed events, in seq order, on the database's writer thread. Implementations
// must not block or write (they hand events to the realtime hub's queue). Thread-safe.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Deliver(const std::vector<ChatEvent>& events) = 0;
};

// Collects the events of one transaction: Add() inside the write, Flush() after the commit.
class EventBatch {
 public:
  // Appends the event to the events table on `conn` (inside the caller's transaction) and
  // keeps it for Flush. Fills in seq and at.
  Status Add(storage::Connection& conn, ChatEvent event, UnixMillis now);
  // Hands the events to `sink` (may be null) and clears the batch.
  void Flush(EventSink* sink);
  const std::vector<ChatEvent>& events() const { return events_; }

 private:
  std::vector<ChatEvent> events_;
};

// A change to chat state: its writes and the events they cause, in one transaction.
using ChangeFn = std::function<Status(storage::Connection&, EventBatch&)>;

// Runs `fn` in a write transaction of `db`; only when it commits are the events `fn` added
// handed to `sink` (may be null), before this returns. Thread-safe as Database::Write is.
Status WriteWithEvents(storage::Database* db, EventSink* sink, const ChangeFn& fn);

// Events after `after_seq` that `user_id` may see (rooms they are a member of now, and events
// addressed to them), oldest first, at most `limit`. Thread-compatible (uses `conn`).
Result<std::vector<ChatEvent>> EventsAfter(storage::Connection& conn, int64_t user_id,
                                           int64_t after_seq, int limit);

// The newest event seq, 0 when there is none.
Result<int64_t> LatestEventSeq(storage::Connection& conn);

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_CHAT_EVENTS_H_
