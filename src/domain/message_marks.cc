// Messages: what people add to messages (reactions, pins, thread follows) and what they have
// read (read markers, notifications). The second half of messages.h.
#include <algorithm>

#include "domain/chat_text.h"
#include "domain/messages.h"

namespace outpost::domain {
namespace {

Status NoSuchMessage() { return Status::NotFound("no such message"); }

}  // namespace

Result<std::vector<MessageEdit>> Messages::Edits(const User& actor, int64_t message_id) {
  std::vector<MessageEdit> out;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, Readable(conn, actor, message_id));
    if (!loaded.second.can_view_edits) {
      return Status::PermissionDenied("only moderators see the history of edits");
    }
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("SELECT kind, old_body, coalesce(changed_by, 0), changed_at FROM "
                     "message_edits WHERE message_id = ? ORDER BY id"));
    s.Bind(1, message_id);
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back({s.ColumnText(0), s.ColumnText(1), s.ColumnInt64(2), s.ColumnInt64(3)});
    }
    return Status::Ok();
  }));
  return out;
}

Status Messages::React(const User& actor, int64_t message_id, std::string_view emoji, bool add) {
  OUTPOST_RETURN_IF_ERROR(CheckEmoji(emoji));
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, Readable(conn, actor, message_id));
    auto& [m, access] = loaded;
    if (m.deleted_at) return Status::FailedPrecondition("the message was deleted");
    if (access.role == RoomRole::kNone) {
      return Status::PermissionDenied("join the room to react");
    }
    UnixMillis now = clock_->NowMillis();
    if (add) {
      OUTPOST_ASSIGN_OR_RETURN(
          storage::Statement count,
          conn.Prepare("SELECT count(DISTINCT emoji) FROM reactions WHERE message_id = ?"));
      count.Bind(1, m.id);
      OUTPOST_ASSIGN_OR_RETURN(bool row, count.Step());
      if (row && count.ColumnInt64(0) >= 50) {
        return Status::ResourceExhausted("a message takes at most 50 different reactions");
      }
    }
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare(add ? "INSERT INTO reactions(message_id, emoji, user_id, created_at) "
                           "VALUES(?, ?, ?, ?) ON CONFLICT DO NOTHING"
                         : "DELETE FROM reactions WHERE message_id = ? AND emoji = ? AND "
                           "user_id = ?"));
    s.Bind(1, m.id).Bind(2, emoji).Bind(3, actor.id);
    if (add) s.Bind(4, now);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    if (conn.Changes() == 0) return Status::Ok();
    ChatEvent e;
    e.room_id = m.room_id;
    e.type = add ? "reaction.added" : "reaction.removed";
    e.payload = {{"message_id", m.id}, {"room_id", m.room_id}, {"emoji", emoji},
                 {"user_id", actor.id}, {"username", actor.username}};
    return events.Add(conn, std::move(e), now);
  }));
  return Status::Ok();
}

Result<std::vector<std::pair<std::string, std::vector<std::string>>>> Messages::Reactions(
    const User& actor, int64_t message_id) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, Readable(conn, actor, message_id));
    (void)loaded;
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("SELECT r.emoji, u.username FROM reactions r JOIN users u ON "
                     "u.id = r.user_id WHERE r.message_id = ? ORDER BY r.created_at, u.username"));
    s.Bind(1, message_id);
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      std::string emoji = s.ColumnText(0);
      auto it = std::find_if(out.begin(), out.end(), [&](auto& p) { return p.first == emoji; });
      if (it == out.end()) {
        out.push_back({emoji, {}});
        it = out.end() - 1;
      }
      it->second.push_back(s.ColumnText(1));
    }
    return Status::Ok();
  }));
  return out;
}

Status Messages::SetPinned(const User& actor, int64_t message_id, bool pinned) {
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, Readable(conn, actor, message_id));
    auto& [m, access] = loaded;
    if (!access.can_pin) {
      return Status::PermissionDenied("only moderators pin messages");
    }
    if (m.deleted_at) return Status::FailedPrecondition("the message was deleted");
    if ((m.pinned_at != 0) == pinned) return Status::Ok();
    UnixMillis now = clock_->NowMillis();
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("UPDATE messages SET pinned_at = ?, pinned_by = ? WHERE id = ?"));
    if (pinned) s.Bind(1, now).Bind(2, actor.id);
    else s.BindNull(1).BindNull(2);
    s.Bind(3, m.id);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    ChatEvent e;
    e.room_id = m.room_id;
    e.type = pinned ? "message.pinned" : "message.unpinned";
    e.payload = {{"message_id", m.id}, {"room_id", m.room_id}, {"by_user_id", actor.id}};
    return events.Add(conn, std::move(e), now);
  }));
  return Status::Ok();
}

Result<std::vector<Message>> Messages::Pins(const User& actor, int64_t room_id) {
  std::vector<Message> out;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, LoadReadable(conn, actor, room_id));
    (void)loaded;
    OUTPOST_ASSIGN_OR_RETURN(
        out, Load(conn, "WHERE m.room_id = ? AND m.pinned_at IS NOT NULL ORDER BY m.pinned_at "
                        "DESC LIMIT 200",
                  {room_id}, actor.id));
    return Status::Ok();
  }));
  return out;
}

Status Messages::Follow(const User& actor, int64_t root_id, bool follow) {
  return db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, Readable(conn, actor, root_id));
    if (loaded.first.thread_root_id != 0) return NoSuchMessage();
    if (loaded.second.role == RoomRole::kNone) {
      return Status::FailedPrecondition("join the room to follow its threads");
    }
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("INSERT INTO thread_follows(root_id, user_id, following) VALUES(?, ?, ?) "
                     "ON CONFLICT(root_id, user_id) DO UPDATE SET following = excluded.following"));
    s.Bind(1, root_id).Bind(2, actor.id).Bind(3, int64_t{follow});
    return s.Run();
  });
}

Status Messages::MarkRead(const User& actor, int64_t room_id, int64_t seq) {
  if (seq < 0) return Status::InvalidArgument("seq must not be negative");
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, LoadReadable(conn, actor, room_id));
    auto& [room, access] = loaded;
    if (access.role == RoomRole::kNone) return Status::FailedPrecondition("not a member");
    int64_t target = std::min(seq, room.last_seq);
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("UPDATE room_members SET last_read_seq = ? WHERE room_id = ? AND "
                     "user_id = ? AND last_read_seq < ?"));
    s.Bind(1, target).Bind(2, room_id).Bind(3, actor.id).Bind(4, target);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    if (conn.Changes() == 0) return Status::Ok();
    // The user's other sessions move their marker too.
    ChatEvent e;
    e.user_id = actor.id;
    e.type = "read.moved";
    e.payload = {{"room_id", room_id}, {"last_read_seq", target}};
    return events.Add(conn, std::move(e), clock_->NowMillis());
  }));
  return Status::Ok();
}

Status Messages::MarkAllRead(const User& actor) {
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("UPDATE room_members SET last_read_seq = (SELECT last_seq FROM rooms r "
                     "WHERE r.id = room_members.room_id) WHERE user_id = ? AND last_read_seq < "
                     "(SELECT last_seq FROM rooms r WHERE r.id = room_members.room_id)"));
    s.Bind(1, actor.id);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    ChatEvent e;
    e.user_id = actor.id;
    e.type = "read.all";
    e.payload = nlohmann::json::object();
    return events.Add(conn, std::move(e), clock_->NowMillis());
  }));
  return Status::Ok();
}

Result<std::vector<Notification>> Messages::Notifications(const User& actor, int64_t before_id,
                                                          int limit) {
  limit = std::clamp(limit, 1, 200);
  std::vector<Notification> out;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("SELECT n.id, n.room_id, n.message_id, n.seq, n.kind, n.created_at, "
                     "n.seq > coalesce(m.last_read_seq, 0) FROM notifications n "
                     "JOIN room_members m ON m.room_id = n.room_id AND m.user_id = n.user_id "
                     "WHERE n.user_id = ? AND n.id < ? ORDER BY n.id DESC LIMIT ?"));
    s.Bind(1, actor.id).Bind(2, before_id > 0 ? before_id : INT64_MAX).Bind(3, int64_t{limit});
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.push_back({s.ColumnInt64(0), s.ColumnInt64(1), s.ColumnInt64(2), s.ColumnInt64(3),
                     s.ColumnText(4), s.ColumnInt64(5), s.ColumnInt64(6) != 0});
    }
    return Status::Ok();
  }));
  return out;
}

}  // namespace outpost::domain
