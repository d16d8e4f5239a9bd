#include "api/realtime.h"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "api/http_status.h"
#include "domain/rooms.h"
#include "util/log.h"

namespace outpost::api {
namespace {

constexpr int64_t kTypingIntervalMs = 3000;

std::shared_ptr<const std::string> EventFrame(const domain::ChatEvent& e) {
  nlohmann::json j = {{"type", "event"},     {"cursor", e.seq},
                      {"event", e.type},     {"room_id", e.room_id},
                      {"at", FormatIso8601(e.at)}, {"data", e.payload}};
  return std::make_shared<const std::string>(
      j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

std::shared_ptr<const std::string> Frame(const nlohmann::json& j) {
  return std::make_shared<const std::string>(
      j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// An integer field, or 0 when it is missing or not an integer (clients send anything).
int64_t IntField(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

const std::string* StringField(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get_ptr<const std::string*>() : nullptr;
}

// The room ids `sql` selects for `user_id` (its one parameter).
Result<std::vector<int64_t>> RoomIds(storage::Database* db, const char* sql, int64_t user_id) {
  std::vector<int64_t> rooms;
  OUTPOST_RETURN_IF_ERROR(db->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement s, conn.Prepare(sql));
    s.Bind(1, user_id);
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      rooms.push_back(s.ColumnInt64(0));
    }
    return Status::Ok();
  }));
  return rooms;
}

// Presence announcements of all users are handled in order on one strand of their own (real
// connection ids start at 1).
constexpr net::ConnId kPresenceStrand = 0;

}  // namespace

RealtimeBridge::RealtimeBridge(storage::Database* db, net::Hub* hub, const Clock* clock,
                               int workers, std::chrono::milliseconds sweep_interval)
    : db_(db), hub_(hub), clock_(clock) {
  for (int i = 0; i < std::max(1, workers); ++i) workers_.emplace_back([this] { Run(); });
  if (sweep_interval.count() > 0) {
    sweeper_ = std::thread([this, sweep_interval] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!sweep_cv_.wait_for(lock, sweep_interval, [this] { return stopping_; })) {
        lock.unlock();
        Enqueue(kPresenceStrand, [this] { SweepNow(); });
        lock.lock();
      }
    });
  }
}

RealtimeBridge::~RealtimeBridge() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  sweep_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  if (sweeper_.joinable()) sweeper_.join();
}

void RealtimeBridge::AttachChat(domain::Accounts* accounts, domain::Messages* messages) {
  accounts_ = accounts;
  messages_ = messages;
}

void RealtimeBridge::AttachCredentials(domain::Sessions* sessions, domain::ApiTokens* tokens) {
  sessions_ = sessions;
  tokens_ = tokens;
}

int64_t RealtimeBridge::SocketKey(const domain::Principal& p) {
  return p.session.id != 0 ? p.session.id : -p.api_token_id;
}

void RealtimeBridge::Deliver(const std::vector<domain::ChatEvent>& events) {
  for (const domain::ChatEvent& e : events) {
    auto frame = EventFrame(e);
    std::string cursor = std::to_string(e.seq);
    if (e.type == "member.removed") {
      // The removed member stops hearing the room at once, and is told so directly.
      hub_->UnsubscribeUser(e.also_user_id, e.room_id);
    }
    if (e.room_id != 0) hub_->Publish(e.room_id, frame, cursor);
    if (e.user_id != 0) hub_->PublishToUser(e.user_id, frame, cursor);
    if (e.also_user_id != 0) hub_->PublishToUser(e.also_user_id, frame, cursor);
    // Subscribed after the room's publish so that the new member hears this event once.
    if (e.type == "member.added") hub_->SubscribeUser(e.also_user_id, e.room_id);
    if (e.type == "room.deleted") {
      hub_->UnsubscribeUser(e.user_id, e.payload.value("room_id", int64_t{0}));
    }
  }
}

Status RealtimeBridge::SubscribeRooms(int64_t user_id) {
  OUTPOST_ASSIGN_OR_RETURN(
      std::vector<int64_t> rooms,
      RoomIds(db_, "SELECT room_id FROM room_members WHERE user_id = ?", user_id));
  for (int64_t room : rooms) hub_->SubscribeUser(user_id, room);
  return Status::Ok();
}

void RealtimeBridge::OnMessage(net::ConnId conn, int64_t user_id, int64_t session,
                               std::string_view text) {
  // A client that floods requests is limited by the hub's rate limit; a strand only holds what
  // passed it.
  Enqueue(conn, [this, conn, user_id, session, copy = std::string(text)] {
    Handle(conn, user_id, session, copy);
  });
}

void RealtimeBridge::NoteActivity(int64_t session) {
  // API tokens (negative keys) have no idle timeout.
  if (session <= 0 || sessions_ == nullptr) return;
  constexpr int64_t kEveryMs = 60 * 1000;
  const UnixMillis now = clock_->NowMillis();
  {
    std::lock_guard<std::mutex> lock(touch_mu_);
    UnixMillis& last = touched_[session];
    if (now - last < kEveryMs) return;
    last = now;
    if (touched_.size() > 4096) {  // forget sessions quiet for an hour
      std::erase_if(touched_, [now](const auto& kv) { return now - kv.second > 3600 * 1000; });
    }
  }
  Result<bool> valid = sessions_->StillValid(session);
  if (!valid.ok() || !*valid) return;  // the sweep closes its sockets
  if (Status st = sessions_->Touch(session); !st.ok()) {
    log::Error("recording socket activity failed", {{"error", st.ToString()}});
  }
}

void RealtimeBridge::Enqueue(net::ConnId strand, std::function<void()> job) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    Strand& s = strands_[strand];
    s.jobs.push_back(std::move(job));
    if (s.running || s.jobs.size() > 1) return;  // already ready or with a worker
    ready_.push_back(strand);
  }
  cv_.notify_one();
}

void RealtimeBridge::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
    if (stopping_) return;
    net::ConnId id = ready_.front();
    ready_.pop_front();
    Strand& s = strands_[id];
    std::function<void()> job = std::move(s.jobs.front());
    s.jobs.pop_front();
    s.running = true;
    lock.unlock();
    job();
    lock.lock();
    Strand& after = strands_[id];  // the map may have rehashed meanwhile
    after.running = false;
    if (after.jobs.empty()) {
      strands_.erase(id);
    } else {
      ready_.push_back(id);
      cv_.notify_one();
    }
  }
}

void RealtimeBridge::Handle(net::ConnId conn, int64_t user_id, int64_t session,
                            const std::string& text) {
  nlohmann::json msg = nlohmann::json::parse(text, nullptr, false);
  const std::string* type = msg.is_object() ? StringField(msg, "type") : nullptr;
  if (type == nullptr) {
    hub_->Send(conn, Frame({{"type", "error"}, {"message", "frames are JSON objects with a type"}}));
    return;
  }
  // What a person does counts against the idle timeout; a resume (reconnecting) does not.
  if (*type == "active") return NoteActivity(session);  // input on the page, once a minute
  if (*type == "post" || *type == "typing" ||
      (*type == "presence" && StringField(msg, "status") != nullptr &&
       *StringField(msg, "status") == "online")) {
    NoteActivity(session);
  }
  if (*type == "resume") return HandleResume(conn, user_id, msg);
  if (*type == "typing") return HandleTyping(user_id, msg);
  if (*type == "post") return HandlePost(conn, user_id, msg);
  if (*type == "presence") return HandlePresence(conn, user_id, msg);
  hub_->Send(conn, Frame({{"type", "error"}, {"message", "unknown frame type"}}));
}

void RealtimeBridge::HandleResume(net::ConnId conn, int64_t user_id, const nlohmann::json& msg) {
  const int64_t after = IntField(msg, "cursor");
  std::vector<domain::ChatEvent> events;
  int64_t latest = 0;
  Status st = db_->Read([&](storage::Connection& c) {
    OUTPOST_ASSIGN_OR_RETURN(events, domain::EventsAfter(c, user_id, after, kMaxReplay + 1));
    OUTPOST_ASSIGN_OR_RETURN(latest, domain::LatestEventSeq(c));
    return Status::Ok();
  });
  if (!st.ok()) {
    log::Error("resume failed", {{"user_id", user_id}, {"error", st.ToString()}});
    hub_->Send(conn, Frame({{"type", "reload"}, {"reason", "the server could not replay"}}));
    return;
  }
  if (static_cast<int>(events.size()) > kMaxReplay) {
    hub_->Send(conn,
               Frame({{"type", "reload"}, {"reason", "too far behind"}, {"latest", latest}}));
    return;
  }
  for (const auto& e : events) hub_->Send(conn, EventFrame(e), std::to_string(e.seq));
  hub_->Send(conn, Frame({{"type", "resumed"}, {"latest", latest}}));
}

void RealtimeBridge::HandleTyping(int64_t user_id, const nlohmann::json& msg) {
  const int64_t room = IntField(msg, "room_id");
  const UnixMillis now = clock_->NowMillis();
  {
    std::lock_guard<std::mutex> lock(typing_mu_);
    UnixMillis& last = last_typing_[{user_id, room}];
    if (now - last < kTypingIntervalMs) return;  // throttled: one notice per 3 s per room
    last = now;
  }
  std::string username;
  bool member = false;
  (void)db_->Read([&](storage::Connection& c) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        c.Prepare("SELECT u.username FROM room_members m JOIN users u ON u.id = m.user_id "
                  "WHERE m.room_id = ? AND m.user_id = ?"));
    s.Bind(1, room).Bind(2, user_id);
    OUTPOST_ASSIGN_OR_RETURN(member, s.Step());
    if (member) username = s.ColumnText(0);
    return Status::Ok();
  });
  if (!member) return;  // not a room of theirs: say nothing, leak nothing
  hub_->Publish(room,
                Frame({{"type", "typing"}, {"room_id", room}, {"user_id", user_id},
                       {"username", username}}),
                "");
}

void RealtimeBridge::HandlePost(net::ConnId conn, int64_t user_id, const nlohmann::json& msg) {
  const std::string* client_id = StringField(msg, "client_id");
  auto refuse = [&](const Status& st) {
    nlohmann::json j = {{"type", "error"},
                        {"status", HttpStatusFor(st.code())},
                        {"error", CodeName(st.code())},
                        {"message", st.message()}};
    if (client_id != nullptr) j["client_id"] = *client_id;
    hub_->Send(conn, Frame(j));
  };
  if (messages_ == nullptr || accounts_ == nullptr) {
    return refuse(Status::Unavailable("posting over the socket is not enabled"));
  }
  if (client_id == nullptr || client_id->empty() || client_id->size() > 64) {
    return refuse(Status::InvalidArgument("a post needs a 'client_id' of 1 to 64 characters"));
  }
  const std::string* body = StringField(msg, "body");
  if (body == nullptr) return refuse(Status::InvalidArgument("a post needs a 'body' string"));
  domain::PostRequest req;
  req.room_id = IntField(msg, "room_id");
  req.body = *body;
  req.client_id = *client_id;
  req.thread_root_id = IntField(msg, "thread_root_id");
  if (req.room_id <= 0) return refuse(Status::InvalidArgument("a post needs a 'room_id'"));
  if (msg.contains("thread_root_id") && req.thread_root_id <= 0) {
    return refuse(Status::InvalidArgument("'thread_root_id' must be a message id"));
  }
  // The account as it is now: one disabled since the socket opened may not post.
  Result<domain::User> user = accounts_->FindById(user_id);
  if (!user.ok() || user->disabled) {
    hub_->Close(conn, net::ws::kClosePolicyViolation, "the account is disabled");
    return;
  }
  Result<domain::PostResult> posted = messages_->Post(*user, req);
  if (!posted.ok()) return refuse(posted.status());
  hub_->Send(conn, Frame({{"type", "ack"},
                          {"client_id", *client_id},
                          {"message_id", posted->message.id},
                          {"duplicate", posted->duplicate},
                          {"not_in_room", posted->not_in_room}}));
}

std::string RealtimeBridge::StatusOf(const Presence& p) {
  if (p.sockets == 0) return "offline";
  return p.away == p.sockets ? "away" : "online";
}

void RealtimeBridge::OnConnection(net::ConnId conn, int64_t user_id, bool open) {
  std::string before, after;
  {
    std::lock_guard<std::mutex> lock(presence_mu_);
    Presence& p = presence_[user_id];
    before = StatusOf(p);
    if (open) {
      ++p.sockets;
      away_[conn] = false;
    } else {
      --p.sockets;
      if (auto it = away_.find(conn); it != away_.end()) {
        if (it->second) --p.away;
        away_.erase(it);
      }
    }
    after = StatusOf(p);
    if (p.sockets <= 0) presence_.erase(user_id);
  }
  if (before != after) {
    Enqueue(kPresenceStrand, [this, user_id, after] { AnnouncePresence(user_id, after); });
  }
}

void RealtimeBridge::HandlePresence(net::ConnId conn, int64_t user_id,
                                    const nlohmann::json& msg) {
  const std::string* status = StringField(msg, "status");
  if (status == nullptr || (*status != "away" && *status != "online")) {
    hub_->Send(conn, Frame({{"type", "error"}, {"message", "presence is 'away' or 'online'"}}));
    return;
  }
  const bool away = *status == "away";
  std::string before, after;
  {
    std::lock_guard<std::mutex> lock(presence_mu_);
    auto it = away_.find(conn);
    auto p = presence_.find(user_id);
    if (it == away_.end() || p == presence_.end() || it->second == away) return;
    before = StatusOf(p->second);
    it->second = away;
    p->second.away += away ? 1 : -1;
    after = StatusOf(p->second);
  }
  if (before != after) {
    Enqueue(kPresenceStrand, [this, user_id, after] { AnnouncePresence(user_id, after); });
  }
}

void RealtimeBridge::AnnouncePresence(int64_t user_id, const std::string& status) {
  auto frame = Frame({{"type", "presence"}, {"user_id", user_id}, {"status", status}});
  hub_->PublishToUser(user_id, frame, "");
  // Direct-message rooms only: announcing to every shared channel would cost the square of the
  // number of users at the start of a working day. Clients ask GET /api/v1/presence for the
  // people they show.
  Result<std::vector<int64_t>> rooms =
      RoomIds(db_,
              "SELECT r.id FROM rooms r JOIN room_members m ON m.room_id = r.id "
              "WHERE m.user_id = ? AND r.kind IN ('dm', 'group')",
              user_id);
  if (!rooms.ok()) {
    log::Error("presence announcement failed",
               {{"user_id", user_id}, {"error", rooms.status().ToString()}});
    return;
  }
  for (int64_t room : *rooms) hub_->Publish(room, frame, "");
}

void RealtimeBridge::SweepDisabled() {
  std::vector<int64_t> online;
  {
    std::lock_guard<std::mutex> lock(presence_mu_);
    for (const auto& [user_id, p] : presence_) online.push_back(user_id);
  }
  if (online.empty()) return;
  std::vector<int64_t> disabled;
  Status st = db_->Read([&](storage::Connection& c) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement s,
                             c.Prepare("SELECT disabled FROM users WHERE id = ?"));
    for (int64_t id : online) {
      s.Reset();
      s.Bind(1, id);
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row || s.ColumnInt64(0) != 0) disabled.push_back(id);  // gone or disabled
    }
    return Status::Ok();
  });
  if (!st.ok()) {
    log::Error("checking connected accounts failed", {{"error", st.ToString()}});
    return;
  }
  for (int64_t id : disabled) EndUser(id, "the account was disabled");
}

void RealtimeBridge::SweepNow() {
  SweepDisabled();
  SweepCredentials();
}

void RealtimeBridge::SweepCredentials() {
  if (sessions_ == nullptr && tokens_ == nullptr) return;
  for (int64_t key : hub_->SessionsConnected()) {
    Result<bool> valid = true;
    if (key > 0 && sessions_ != nullptr) valid = sessions_->StillValid(key);
    if (key < 0 && tokens_ != nullptr) valid = tokens_->StillValid(-key);
    if (!valid.ok()) {
      log::Error("checking a socket's session failed", {{"error", valid.status().ToString()}});
      return;  // the database is in trouble: try again at the next sweep
    }
    if (*valid) continue;
    hub_->CloseSession(key, net::ws::kClosePolicyViolation,
                       key > 0 ? "the session has ended" : "the API token has ended");
  }
}

std::string RealtimeBridge::PresenceOf(int64_t user_id) const {
  std::lock_guard<std::mutex> lock(presence_mu_);
  auto it = presence_.find(user_id);
  return it == presence_.end() ? "offline" : StatusOf(it->second);
}

size_t RealtimeBridge::OnlineUsers() const {
  std::lock_guard<std::mutex> lock(presence_mu_);
  return presence_.size();
}

std::string RealtimeBridge::MetricsText() const {
  const net::HubStats h = hub_->Stats();
  std::string out;
  auto line = [&](const char* name, const char* help, const char* type, uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(v) + "\n";
  };
  line("outpost_ws_connections", "WebSocket connections open now.", "gauge", h.connections);
  line("outpost_ws_online_users", "Users with at least one WebSocket open.", "gauge",
       OnlineUsers());
  line("outpost_ws_bytes_queued", "Outbound WebSocket bytes waiting in queues.", "gauge",
       h.bytes_queued);
  line("outpost_ws_accepted_total", "WebSocket connections accepted.", "counter", h.adopted);
  line("outpost_ws_closed_total", "WebSocket connections closed, for any reason.", "counter",
       h.closed);
  line("outpost_ws_overflow_closes_total", "Slow consumers cut off with a resume cursor.",
       "counter", h.overflow_closes);
  line("outpost_ws_protocol_closes_total", "Connections closed for malformed frames.", "counter",
       h.protocol_closes);
  line("outpost_ws_rate_limit_closes_total", "Connections closed for flooding.", "counter",
       h.rate_limit_closes);
  line("outpost_ws_ping_timeouts_total", "Connections closed for a missing pong.", "counter",
       h.ping_timeouts);
  line("outpost_ws_refused_total", "Upgrades refused by a per-user or per-address limit.",
       "counter", h.refused_user_limit + h.refused_ip_limit);
  line("outpost_ws_messages_in_total", "Text messages received from clients.", "counter",
       h.messages_in);
  line("outpost_ws_frames_out_total", "Frames sent to clients.", "counter", h.frames_out);
  return out;
}

void RealtimeBridge::EndUser(int64_t user_id, const std::string& reason) {
  hub_->CloseUser(user_id, net::ws::kClosePolicyViolation, reason);
}

void RealtimeBridge::EndSession(int64_t session_id, const std::string& reason) {
  if (session_id > 0) hub_->CloseSession(session_id, net::ws::kClosePolicyViolation, reason);
}

void RealtimeBridge::EndToken(int64_t token_id, const std::string& reason) {
  if (token_id > 0) hub_->CloseSession(-token_id, net::ws::kClosePolicyViolation, reason);
}

}  // namespace outpost::api
