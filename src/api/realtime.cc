#include "api/realtime.h"

#include <nlohmann/json.hpp>

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

}  // namespace

RealtimeBridge::RealtimeBridge(storage::Database* db, net::Hub* hub, const Clock* clock)
    : db_(db), hub_(hub), clock_(clock), worker_([this] { Run(); }) {}

RealtimeBridge::~RealtimeBridge() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
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
  std::vector<int64_t> rooms;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement s,
                             conn.Prepare("SELECT room_id FROM room_members WHERE user_id = ?"));
    s.Bind(1, user_id);
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      rooms.push_back(s.ColumnInt64(0));
    }
    return Status::Ok();
  }));
  for (int64_t room : rooms) hub_->SubscribeUser(user_id, room);
  return Status::Ok();
}

void RealtimeBridge::OnMessage(net::ConnId conn, int64_t user_id, std::string_view text) {
  std::string copy(text);
  {
    std::lock_guard<std::mutex> lock(mu_);
    // A client that floods requests is limited by the hub's rate limit; this queue only holds
    // what passed it.
    work_.push_back([this, conn, user_id, copy] { Handle(conn, user_id, copy); });
  }
  cv_.notify_one();
}

void RealtimeBridge::Run() {
  while (true) {
    std::function<void()> job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !work_.empty(); });
      if (stopping_) return;
      job = std::move(work_.front());
      work_.pop_front();
    }
    job();
  }
}

void RealtimeBridge::Handle(net::ConnId conn, int64_t user_id, const std::string& text) {
  nlohmann::json msg = nlohmann::json::parse(text, nullptr, false);
  if (!msg.is_object() || !msg.contains("type") || !msg["type"].is_string()) {
    hub_->Send(conn, Frame({{"type", "error"}, {"message", "frames are JSON objects with a type"}}));
    return;
  }
  const std::string type = msg["type"];
  if (type == "resume") {
    int64_t after = msg.value("cursor", int64_t{0});
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
      hub_->Send(conn, Frame({{"type", "reload"}, {"reason", "too far behind"},
                              {"latest", latest}}));
      return;
    }
    for (const auto& e : events) hub_->Send(conn, EventFrame(e), std::to_string(e.seq));
    hub_->Send(conn, Frame({{"type", "resumed"}, {"latest", latest}}));
    return;
  }
  if (type == "typing") {
    int64_t room = msg.value("room_id", int64_t{0});
    UnixMillis now = clock_->NowMillis();
    UnixMillis& last = last_typing_[{user_id, room}];
    if (now - last < kTypingIntervalMs) return;  // throttled: one notice per 3 s per room
    last = now;
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
    hub_->Publish(room, Frame({{"type", "typing"}, {"room_id", room}, {"user_id", user_id},
                               {"username", username}}),
                  "");
    return;
  }
  hub_->Send(conn, Frame({{"type", "error"}, {"message", "unknown frame type"}}));
}

}  // namespace outpost::api
