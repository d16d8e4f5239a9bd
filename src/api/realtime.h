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
//   {"type":"ack","client_id":"c1","message_id":M,"duplicate":false,"not_in_room":[]}
//                                        a post is durably committed (its message.created
//                                        event reaches the room's members too)
//   {"type":"error","client_id":"c1","status":403,"error":"permission_denied","message":"..."}
//                                        a post refused (status and error as the REST API's)
//   {"type":"presence","user_id":U,"status":"online"|"away"|"offline"}
//                                        to the user's own sockets and their direct-message
//                                        rooms when their status changes
// Frames clients send: {"type":"resume","cursor":N}, {"type":"typing","room_id":R},
// {"type":"post","client_id":"c1","room_id":R,"body":"...","thread_root_id":T (optional)}
// (the same rules as POST /api/v1/rooms/{id}/messages; client_id is required, 1..64
// characters, and makes a retry after a reconnect safe) and
// {"type":"presence","status":"away"|"online"} (this socket's user is idle or back).
#ifndef OUTPOST_API_REALTIME_H_
#define OUTPOST_API_REALTIME_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "domain/accounts.h"
#include "domain/chat_events.h"
#include "domain/messages.h"
#include "domain/sessions.h"
#include "net/hub.h"
#include "storage/database.h"

namespace outpost::api {

// Thread-safe. Owns a few worker threads for the database work that clients ask for (resume,
// posts, typing checks), since the hub's thread must never block. One connection's frames are
// handled one at a time, in the order they came, so a client's posts keep their order; frames
// of different connections run in parallel, so that their posts share group commits.
class RealtimeBridge : public domain::EventSink {
 public:
  // Workers mostly wait for their post's group commit: enough of them let a commit carry the
  // posts of many sockets at once.
  static constexpr int kDefaultWorkers = 64;
  // How often connected accounts are checked for having been disabled by other means than
  // this server's API (the CLI), and sockets for their session or token having ended (idle or
  // absolute timeout, revoked elsewhere); 0 turns the check off.
  static constexpr std::chrono::milliseconds kDefaultSweep{30000};
  RealtimeBridge(storage::Database* db, net::Hub* hub, const Clock* clock,
                 int workers = kDefaultWorkers,
                 std::chrono::milliseconds sweep_interval = kDefaultSweep);
  ~RealtimeBridge() override;
  RealtimeBridge(const RealtimeBridge&) = delete;
  RealtimeBridge& operator=(const RealtimeBridge&) = delete;

  // domain::EventSink: runs on the committing thread, never blocks (the hub queues).
  void Deliver(const std::vector<domain::ChatEvent>& events) override;

  // Subscribes the user to every room they belong to (when their socket opens).
  Status SubscribeRooms(int64_t user_id);

  // Enables the "post" frame. Set before the server starts; the pointers outlive the bridge.
  void AttachChat(domain::Accounts* accounts, domain::Messages* messages);
  // Enables the sweep's check of each socket's session or token (either may be null: not
  // checked). Set before the server starts; the pointers outlive the bridge.
  void AttachCredentials(domain::Sessions* sessions, domain::ApiTokens* tokens);

  // The number a socket opened by `p` is tied to in the hub (net::Hub::Admit's `session`):
  // the session id for a browser session, minus the token id for an API token.
  static int64_t SocketKey(const domain::Principal& p);

  // The hub's message handler (hub thread): queues the work for the connection's strand.
  // `session` is the socket's key (SocketKey): a post, a typing notice or presence "online"
  // counts as activity of that session against its idle timeout.
  void OnMessage(net::ConnId conn, int64_t user_id, int64_t session, std::string_view text);
  // The hub's connection handler (hub thread): presence bookkeeping, never blocks.
  void OnConnection(net::ConnId conn, int64_t user_id, bool open);

  // "online", "away" or "offline". Thread-safe.
  std::string PresenceOf(int64_t user_id) const;
  // Users with at least one open socket. Thread-safe.
  size_t OnlineUsers() const;
  // The hub's counters (open WebSockets and more), for the admin status page. Thread-safe.
  net::HubStats hub_stats() const { return hub_->Stats(); }
  // Hub and presence figures in Prometheus text format. Thread-safe.
  std::string MetricsText() const;

  // Closes every socket of `user_id` (signed out, disabled, token revoked): the client must
  // authenticate again to reconnect. Thread-safe.
  void EndUser(int64_t user_id, const std::string& reason);
  // Closes (1008) exactly the sockets opened with this session, or with this API token; the
  // user's other sessions keep theirs. Thread-safe.
  void EndSession(int64_t session_id, const std::string& reason);
  void EndToken(int64_t token_id, const std::string& reason);

  // Runs the periodic check now, on the calling thread (tests). Thread-safe.
  void SweepNow();

  // Most events replayed on resume before the client is told to reload instead.
  static constexpr int kMaxReplay = 1000;

 private:
  // The frames of one connection waiting to be handled, and whether a worker has it.
  struct Strand {
    std::deque<std::function<void()>> jobs;
    bool running = false;
  };
  struct Presence {
    int sockets = 0;
    int away = 0;  // sockets whose page says the user is idle
  };
  static std::string StatusOf(const Presence& p);

  void Enqueue(net::ConnId strand, std::function<void()> job);
  void Run();
  void Handle(net::ConnId conn, int64_t user_id, int64_t session, const std::string& text);
  // The user did something on a socket of `session`: its idle timeout starts again (at most
  // one write a minute per session; an ended session is not revived).
  void NoteActivity(int64_t session);
  void HandleResume(net::ConnId conn, int64_t user_id, const nlohmann::json& msg);
  void HandleTyping(int64_t user_id, const nlohmann::json& msg);
  void HandlePost(net::ConnId conn, int64_t user_id, const nlohmann::json& msg);
  void HandlePresence(net::ConnId conn, int64_t user_id, const nlohmann::json& msg);
  // Tells the user's own sockets and their direct-message rooms about a status change.
  void AnnouncePresence(int64_t user_id, const std::string& status);
  // Closes the sockets of connected users whose account is disabled now.
  void SweepDisabled();
  // Closes the sockets whose session or API token ended (expired or revoked).
  void SweepCredentials();

  storage::Database* const db_;
  net::Hub* const hub_;
  const Clock* const clock_;
  domain::Accounts* accounts_ = nullptr;  // set by AttachChat before use
  domain::Messages* messages_ = nullptr;
  domain::Sessions* sessions_ = nullptr;  // set by AttachCredentials before use
  domain::ApiTokens* tokens_ = nullptr;

  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<net::ConnId, Strand> strands_;  // guarded by mu_
  std::deque<net::ConnId> ready_;                    // strands with work and no worker
  bool stopping_ = false;                            // guarded by mu_

  std::mutex touch_mu_;
  std::unordered_map<int64_t, UnixMillis> touched_;  // session -> last Touch; guarded by touch_mu_

  std::mutex typing_mu_;
  std::map<std::pair<int64_t, int64_t>, UnixMillis> last_typing_;  // guarded by typing_mu_

  mutable std::mutex presence_mu_;
  std::unordered_map<int64_t, Presence> presence_;  // guarded by presence_mu_
  std::unordered_map<net::ConnId, bool> away_;      // guarded by presence_mu_

  std::vector<std::thread> workers_;
  std::condition_variable sweep_cv_;  // the sweeper waits on it (with mu_) for stopping_
  std::thread sweeper_;
};

}  // namespace outpost::api

#endif  // OUTPOST_API_REALTIME_H_
