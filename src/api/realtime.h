// The bridge between chat events and the WebSocket hub: committed events are pushed to the
// members of their room (or to one user), memberships become hub subscriptions, and a client
// that reconnects asks to resume from its last cursor and is sent what it missed.
//
// Frames sent to clients (JSON text):
//   {"type":"event","cursor":N,"event":"message.created","room_id":R,"at":"...","data":{...}}
//   {"type":"typing","room_id":R,"user_id":U,"username":"..."}
//   {"type":"resumed","latest":N}        after the replay asked for by {"type":"resume"}
//   {"type":"reload","reason":"..."}     the client is too far behind: fetch state again
//   {"type":"overflow","resume":"N"}     (from the hub) before it cuts a client that cannot
//                                        keep up; reconnect and resume from N
// Frames clients send: {"type":"resume","cursor":N} and {"type":"typing","room_id":R}.
#ifndef OUTPOST_API_REALTIME_H_
#define OUTPOST_API_REALTIME_H_

#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "domain/chat_events.h"
#include "net/hub.h"
#include "storage/database.h"

namespace outpost::api {

// Thread-safe. Owns a worker thread for the database work that clients ask for (resume,
// typing checks), since the hub's thread must never block.
class RealtimeBridge : public domain::EventSink {
 public:
  RealtimeBridge(storage::Database* db, net::Hub* hub, const Clock* clock);
  ~RealtimeBridge() override;
  RealtimeBridge(const RealtimeBridge&) = delete;
  RealtimeBridge& operator=(const RealtimeBridge&) = delete;

  // domain::EventSink: runs on the committing thread, never blocks (the hub queues).
  void Deliver(const std::vector<domain::ChatEvent>& events) override;

  // Subscribes the user to every room they belong to (when their socket opens).
  Status SubscribeRooms(int64_t user_id);

  // The hub's message handler (hub thread): queues the work for the worker.
  void OnMessage(net::ConnId conn, int64_t user_id, std::string_view text);

  // Most events replayed on resume before the client is told to reload instead.
  static constexpr int kMaxReplay = 1000;

 private:
  void Run();
  void Handle(net::ConnId conn, int64_t user_id, const std::string& text);

  storage::Database* const db_;
  net::Hub* const hub_;
  const Clock* const clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> work_;            // guarded by mu_
  bool stopping_ = false;                             // guarded by mu_
  std::map<std::pair<int64_t, int64_t>, UnixMillis> last_typing_;  // worker thread only
  std::thread worker_;
};

}  // namespace outpost::api

#endif  // OUTPOST_API_REALTIME_H_
