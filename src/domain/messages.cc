#include "domain/messages.h"

#include <algorithm>

#include "domain/chat_text.h"
#include "domain/passwords.h"

namespace outpost::domain {
namespace {

constexpr const char* kMessageColumns =
    "m.id, m.room_id, m.seq, coalesce(m.author_id, 0), coalesce(u.username, ''), "
    "coalesce(u.display_name, ''), coalesce(m.thread_root_id, 0), m.body, m.created_at, "
    "coalesce(m.edited_at, 0), coalesce(m.deleted_at, 0), coalesce(m.client_id, ''), "
    "m.reply_count, coalesce(m.last_reply_at, 0), m.has_file, coalesce(m.pinned_at, 0)";

Status NoSuchMessage() { return Status::NotFound("no such message"); }

nlohmann::json TimeOrNull(UnixMillis t) {
  return t ? nlohmann::json(FormatIso8601(t)) : nlohmann::json(nullptr);
}

// Users a message mentions and whom it notifies, resolved inside the posting transaction.
struct Audience {
  std::vector<std::pair<int64_t, std::string>> notify;  // user id, kind
  std::vector<std::string> not_in_room;
};

Result<Audience> ResolveAudience(storage::Connection& conn, const Room& room, const User& author,
                                 const Mentions& mentions, int64_t thread_root_id,
                                 UnixMillis now) {
  Audience a;
  auto add = [&](int64_t id, const char* kind) {
    if (id == author.id) return;
    for (const auto& [existing, _] : a.notify) {
      if (existing == id) return;
    }
    a.notify.emplace_back(id, kind);
  };
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement who,
      conn.Prepare("SELECT u.id, m.user_id IS NOT NULL FROM users u LEFT JOIN room_members m "
                   "ON m.user_id = u.id AND m.room_id = ? WHERE u.username = ? AND "
                   "u.disabled = 0"));
  for (const std::string& name : mentions.users) {
    who.Reset();
    who.Bind(1, room.id).Bind(2, name);
    OUTPOST_ASSIGN_OR_RETURN(bool row, who.Step());
    if (!row) continue;  // not a user: plain text
    if (who.ColumnInt64(1) != 0) {
      add(who.ColumnInt64(0), "user");
    } else {
      a.not_in_room.push_back(name);
    }
  }
  if (mentions.all || mentions.here || room.kind == RoomKind::kDm ||
      room.kind == RoomKind::kGroup) {
    // @here reaches members active in the last five minutes (a session seen recently); the
    // realtime hub's presence will refine it.
    const char* kind = room.kind == RoomKind::kDm || room.kind == RoomKind::kGroup ? "dm"
                       : mentions.all                                           ? "all"
                                                                                : "here";
    std::string sql = "SELECT m.user_id FROM room_members m WHERE m.room_id = ?";
    if (std::string_view(kind) == "here") {
      sql += " AND EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = m.user_id AND "
             "s.last_seen_at > ?)";
    }
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement members, conn.Prepare(sql));
    members.Bind(1, room.id);
    if (std::string_view(kind) == "here") members.Bind(2, now - 5 * 60 * 1000);
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, members.Step());
      if (!row) break;
      add(members.ColumnInt64(0), kind);
    }
  }
  if (thread_root_id != 0) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement followers,
        conn.Prepare("SELECT f.user_id FROM thread_follows f JOIN room_members m ON "
                     "m.user_id = f.user_id AND m.room_id = ? WHERE f.root_id = ? AND "
                     "f.following = 1"));
    followers.Bind(1, room.id).Bind(2, thread_root_id);
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, followers.Step());
      if (!row) break;
      add(followers.ColumnInt64(0), "thread");
    }
  }
  return a;
}

// Keeps the text a change replaces, for moderators (and retention and audit later).
Status KeepOldBody(storage::Connection& conn, const Message& m, const char* kind, int64_t by,
                   UnixMillis now) {
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement keep,
      conn.Prepare("INSERT INTO message_edits(message_id, kind, old_body, changed_by, "
                   "changed_at) VALUES(?, ?, ?, ?, ?)"));
  keep.Bind(1, m.id).Bind(2, kind).Bind(3, m.body).Bind(4, by).Bind(5, now);
  return keep.Run();
}

Status SetFollow(storage::Connection& conn, int64_t root_id, int64_t user_id, bool follow,
                 bool only_if_new) {
  std::string sql = "INSERT INTO thread_follows(root_id, user_id, following) VALUES(?, ?, ?) ";
  sql += only_if_new ? "ON CONFLICT DO NOTHING"
                     : "ON CONFLICT(root_id, user_id) DO UPDATE SET following = excluded.following";
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement s, conn.Prepare(sql));
  s.Bind(1, root_id).Bind(2, user_id).Bind(3, int64_t{follow});
  return s.Run();
}

}  // namespace

nlohmann::json MessageJson(const Message& m) {
  nlohmann::json reactions = nlohmann::json::array();
  for (const auto& r : m.reactions) {
    reactions.push_back({{"emoji", r.emoji}, {"count", r.count}, {"mine", r.mine}});
  }
  nlohmann::json files = nlohmann::json::array();
  if (m.deleted_at == 0) {
    for (const AttachedFile& f : m.files) {
      // Dimensions are null when unknown, so that a client can reserve an image's box before
      // it loads (no layout shift) whenever they are known.
      auto dim = [](int64_t v) { return v > 0 ? nlohmann::json(v) : nlohmann::json(nullptr); };
      files.push_back({{"id", f.id},
                       {"name", f.name},
                       {"size", f.size},
                       {"content_type", f.content_type},
                       {"width", dim(f.width)},
                       {"height", dim(f.height)},
                       {"url", "/api/v1/files/" + std::to_string(f.id)}});
    }
  }
  nlohmann::json author = nullptr;
  if (m.author_id != 0) {
    author = {{"id", m.author_id},
              {"username", m.author_username},
              {"display_name", m.author_display_name}};
  }
  return {{"id", m.id},
          {"room_id", m.room_id},
          {"seq", m.seq},
          {"author", author},
          {"thread_root_id", m.thread_root_id ? nlohmann::json(m.thread_root_id) : nullptr},
          {"body", m.body},
          {"created_at", FormatIso8601(m.created_at)},
          {"edited_at", TimeOrNull(m.edited_at)},
          {"deleted", m.deleted_at != 0},
          {"client_id", m.client_id.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.client_id)},
          {"reply_count", m.reply_count},
          {"last_reply_at", TimeOrNull(m.last_reply_at)},
          {"participants", m.participants},
          {"has_file", !files.empty()},
          {"files", files},
          {"pinned", m.pinned_at != 0},
          {"reactions", reactions}};
}

Result<std::vector<Message>> Messages::Load(storage::Connection& conn, const std::string& where,
                                            const std::vector<int64_t>& args,
                                            int64_t reader_id) {
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement s,
      conn.Prepare(std::string("SELECT ") + kMessageColumns +
                   " FROM messages m LEFT JOIN users u ON u.id = m.author_id " + where));
  for (size_t i = 0; i < args.size(); ++i) s.Bind(static_cast<int>(i + 1), args[i]);
  std::vector<Message> out;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    Message m;
    m.id = s.ColumnInt64(0);
    m.room_id = s.ColumnInt64(1);
    m.seq = s.ColumnInt64(2);
    m.author_id = s.ColumnInt64(3);
    m.author_username = s.ColumnText(4);
    m.author_display_name = s.ColumnText(5);
    m.thread_root_id = s.ColumnInt64(6);
    m.body = s.ColumnText(7);
    m.created_at = s.ColumnInt64(8);
    m.edited_at = s.ColumnInt64(9);
    m.deleted_at = s.ColumnInt64(10);
    m.client_id = s.ColumnText(11);
    m.reply_count = s.ColumnInt64(12);
    m.last_reply_at = s.ColumnInt64(13);
    m.has_file = s.ColumnInt64(14) != 0;
    m.pinned_at = s.ColumnInt64(15);
    out.push_back(std::move(m));
  }
  if (out.empty()) return out;
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement reactions,
      conn.Prepare("SELECT emoji, count(*), max(user_id = ?) FROM reactions WHERE "
                   "message_id = ? GROUP BY emoji ORDER BY min(created_at), emoji"));
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement files,
      conn.Prepare("SELECT id, name, size, content_type, coalesce(width, 0), "
                   "coalesce(height, 0) FROM files WHERE message_id = ? ORDER BY id"));
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement participants,
      conn.Prepare("SELECT u.username FROM messages m JOIN users u ON u.id = m.author_id "
                   "WHERE m.thread_root_id = ? GROUP BY u.id ORDER BY min(m.seq) LIMIT 5"));
  for (Message& m : out) {
    reactions.Reset();
    reactions.Bind(1, reader_id).Bind(2, m.id);
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, reactions.Step());
      if (!row) break;
      m.reactions.push_back(
          {reactions.ColumnText(0), reactions.ColumnInt64(1), reactions.ColumnInt64(2) != 0});
    }
    if (m.has_file && m.deleted_at == 0) {
      files.Reset();
      files.Bind(1, m.id);
      while (true) {
        OUTPOST_ASSIGN_OR_RETURN(bool row, files.Step());
        if (!row) break;
        m.files.push_back({files.ColumnInt64(0), files.ColumnText(1), files.ColumnInt64(2),
                           files.ColumnText(3), files.ColumnInt64(4), files.ColumnInt64(5)});
      }
    }
    if (m.reply_count > 0) {
      participants.Reset();
      participants.Bind(1, m.id);
      while (true) {
        OUTPOST_ASSIGN_OR_RETURN(bool row, participants.Step());
        if (!row) break;
        m.participants.push_back(participants.ColumnText(0));
      }
    }
  }
  return out;
}

Result<std::vector<Message>> Messages::LoadMany(storage::Connection& conn,
                                                const std::vector<int64_t>& ids,
                                                int64_t reader_id) {
  std::vector<Message> out;
  if (ids.empty()) return out;
  std::string where = "WHERE m.id IN (";
  for (size_t i = 0; i < ids.size(); ++i) where += i ? ", ?" : "?";
  OUTPOST_ASSIGN_OR_RETURN(std::vector<Message> found, Load(conn, where + ")", ids, reader_id));
  for (int64_t id : ids) {
    auto it = std::find_if(found.begin(), found.end(), [id](const Message& m) { return m.id == id; });
    if (it != found.end()) out.push_back(std::move(*it));
  }
  return out;
}

Result<Message> Messages::LoadOne(storage::Connection& conn, int64_t id, int64_t reader_id) {
  OUTPOST_ASSIGN_OR_RETURN(std::vector<Message> list,
                           Load(conn, "WHERE m.id = ?", {id}, reader_id));
  if (list.empty()) return NoSuchMessage();
  return std::move(list.front());
}

Result<std::pair<Message, RoomAccess>> Messages::Readable(storage::Connection& conn,
                                                          const User& actor, int64_t message_id) {
  Result<Message> m = LoadOne(conn, message_id, actor.id);
  if (!m.ok()) return m.status();
  Result<std::pair<Room, RoomAccess>> room = LoadReadable(conn, actor, m->room_id);
  if (!room.ok()) return room.status().IsNotFound() ? NoSuchMessage() : room.status();
  return std::make_pair(std::move(*m), room->second);
}

Result<PostResult> Messages::Post(const User& actor, const PostRequest& req,
                                  const AttachFn& attach) {
  OUTPOST_RETURN_IF_ERROR(CheckMessageBody(req.body, options_.max_message_chars));
  if (!req.client_id.empty() && (req.client_id.size() > 64 || Utf8Length(req.client_id) < 0)) {
    return Status::InvalidArgument("client_id must be 1 to 64 characters");
  }
  Mentions mentions = ParseMentions(req.body);
  PostResult result;
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, LoadReadable(conn, actor, req.room_id));
    auto& [room, access] = loaded;
    if (!req.client_id.empty()) {
      OUTPOST_ASSIGN_OR_RETURN(
          storage::Statement dup,
          conn.Prepare("SELECT id, room_id FROM messages WHERE author_id = ? AND client_id = ?"));
      dup.Bind(1, actor.id).Bind(2, req.client_id);
      OUTPOST_ASSIGN_OR_RETURN(bool exists, dup.Step());
      if (exists) {
        if (dup.ColumnInt64(1) != room.id) {
          return Status::InvalidArgument("client_id was already used for another room");
        }
        OUTPOST_ASSIGN_OR_RETURN(result.message, LoadOne(conn, dup.ColumnInt64(0), actor.id));
        result.duplicate = true;
        return Status::Ok();
      }
    }
    if (room.archived) return Status::FailedPrecondition("the room is archived");
    if (!access.can_post) {
      return Status::PermissionDenied(access.role == RoomRole::kNone
                                          ? "join the room to post in it"
                                          : "only owners and moderators post in this room");
    }
    if (req.thread_root_id != 0) {
      OUTPOST_ASSIGN_OR_RETURN(
          storage::Statement root,
          conn.Prepare("SELECT room_id, thread_root_id IS NULL, deleted_at IS NULL "
                       "FROM messages WHERE id = ?"));
      root.Bind(1, req.thread_root_id);
      OUTPOST_ASSIGN_OR_RETURN(bool found, root.Step());
      if (!found || root.ColumnInt64(0) != room.id) {
        return Status::InvalidArgument("the thread's first message is not in this room");
      }
      if (root.ColumnInt64(1) == 0) {
        return Status::InvalidArgument("reply to the thread's first message, not to a reply");
      }
      if (root.ColumnInt64(2) == 0) return Status::InvalidArgument("that message was deleted");
    }
    UnixMillis now = clock_->NowMillis();
    int64_t seq = room.last_seq + 1;
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement bump,
        conn.Prepare("UPDATE rooms SET last_seq = ?, last_message_at = ? WHERE id = ?"));
    bump.Bind(1, seq).Bind(2, now).Bind(3, room.id);
    OUTPOST_RETURN_IF_ERROR(bump.Run());
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement ins,
        conn.Prepare("INSERT INTO messages(room_id, seq, author_id, thread_root_id, body, "
                     "created_at, client_id) VALUES(?, ?, ?, ?, ?, ?, ?)"));
    ins.Bind(1, room.id).Bind(2, seq).Bind(3, actor.id);
    if (req.thread_root_id) ins.Bind(4, req.thread_root_id); else ins.BindNull(4);
    ins.Bind(5, req.body).Bind(6, now);
    if (req.client_id.empty()) ins.BindNull(7); else ins.Bind(7, req.client_id);
    OUTPOST_RETURN_IF_ERROR(ins.Run());
    int64_t id = conn.LastInsertRowId();
    if (attach) OUTPOST_RETURN_IF_ERROR(attach(conn, id));
    if (req.thread_root_id != 0) {
      OUTPOST_ASSIGN_OR_RETURN(
          storage::Statement root,
          conn.Prepare("UPDATE messages SET reply_count = reply_count + 1, last_reply_at = ? "
                       "WHERE id = ?"));
      root.Bind(1, now).Bind(2, req.thread_root_id);
      OUTPOST_RETURN_IF_ERROR(root.Run());
      // The thread's starter and everyone who replies follow it unless they unfollowed.
      OUTPOST_ASSIGN_OR_RETURN(
          storage::Statement starter,
          conn.Prepare("SELECT author_id FROM messages WHERE id = ? AND author_id IS NOT NULL"));
      starter.Bind(1, req.thread_root_id);
      OUTPOST_ASSIGN_OR_RETURN(bool has_starter, starter.Step());
      if (has_starter) {
        OUTPOST_RETURN_IF_ERROR(
            SetFollow(conn, req.thread_root_id, starter.ColumnInt64(0), true, true));
      }
    }
    OUTPOST_ASSIGN_OR_RETURN(Audience audience, ResolveAudience(conn, room, actor, mentions,
                                                                req.thread_root_id, now));
    if (req.thread_root_id != 0) {
      OUTPOST_RETURN_IF_ERROR(SetFollow(conn, req.thread_root_id, actor.id, true, true));
    }
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement note,
        conn.Prepare("INSERT INTO notifications(user_id, room_id, message_id, seq, kind, "
                     "created_at) VALUES(?, ?, ?, ?, ?, ?)"));
    for (const auto& [user_id, kind] : audience.notify) {
      note.Reset();
      note.Bind(1, user_id).Bind(2, room.id).Bind(3, id).Bind(4, seq).Bind(5, kind).Bind(6, now);
      OUTPOST_RETURN_IF_ERROR(note.Run());
      ChatEvent e;
      e.user_id = user_id;
      e.type = "notification";
      e.payload = {{"room_id", room.id}, {"message_id", id}, {"seq", seq}, {"kind", kind}};
      OUTPOST_RETURN_IF_ERROR(events.Add(conn, std::move(e), now));
    }
    // The author has read their own message.
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement read,
        conn.Prepare("UPDATE room_members SET last_read_seq = ? WHERE room_id = ? AND "
                     "user_id = ? AND last_read_seq = ?"));
    read.Bind(1, seq).Bind(2, room.id).Bind(3, actor.id).Bind(4, room.last_seq);
    OUTPOST_RETURN_IF_ERROR(read.Run());
    OUTPOST_ASSIGN_OR_RETURN(result.message, LoadOne(conn, id, actor.id));
    result.not_in_room = audience.not_in_room;
    ChatEvent e;
    e.room_id = room.id;
    e.type = req.thread_root_id ? "thread.reply" : "message.created";
    e.payload = {{"message", MessageJson(result.message)}};
    return events.Add(conn, std::move(e), now);
  }));
  return result;
}

Result<Message> Messages::Edit(const User& actor, int64_t message_id, std::string_view body) {
  OUTPOST_RETURN_IF_ERROR(CheckMessageBody(body, options_.max_message_chars));
  Message out;
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, Readable(conn, actor, message_id));
    auto& [m, access] = loaded;
    if (m.author_id != actor.id && !access.can_edit_any) {
      return Status::PermissionDenied("only the author edits a message");
    }
    if (m.deleted_at) return Status::FailedPrecondition("the message was deleted");
    // A moderator's edit is moderation, not posting: it needs no membership.
    if (m.author_id == actor.id && !access.can_post) {
      return Status::FailedPrecondition("the room no longer takes messages");
    }
    if (m.body == body) {
      out = m;
      return Status::Ok();
    }
    UnixMillis now = clock_->NowMillis();
    OUTPOST_RETURN_IF_ERROR(KeepOldBody(conn, m, "edit", actor.id, now));
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("UPDATE messages SET body = ?, edited_at = ? WHERE id = ?"));
    s.Bind(1, body).Bind(2, now).Bind(3, m.id);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    OUTPOST_ASSIGN_OR_RETURN(out, LoadOne(conn, m.id, actor.id));
    ChatEvent e;
    e.room_id = m.room_id;
    e.type = "message.edited";
    e.payload = {{"message", MessageJson(out)}};
    return events.Add(conn, std::move(e), now);
  }));
  return out;
}

Status Messages::Delete(const User& actor, int64_t message_id) {
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, Readable(conn, actor, message_id));
    auto& [m, access] = loaded;
    bool own = m.author_id == actor.id && access.role != RoomRole::kNone;
    if (!own && !access.can_delete_any) {
      return Status::PermissionDenied("only the author or a moderator deletes a message");
    }
    if (m.deleted_at) return Status::Ok();
    UnixMillis now = clock_->NowMillis();
    OUTPOST_RETURN_IF_ERROR(KeepOldBody(conn, m, "delete", actor.id, now));
    // The tombstone keeps its place (seq) so that history and threads stay whole.
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("UPDATE messages SET body = '', deleted_at = ?, pinned_at = NULL, "
                     "pinned_by = NULL WHERE id = ?"));
    s.Bind(1, now).Bind(2, m.id);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement unreact,
                             conn.Prepare("DELETE FROM reactions WHERE message_id = ?"));
    unreact.Bind(1, m.id);
    OUTPOST_RETURN_IF_ERROR(unreact.Run());
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement unnote,
                             conn.Prepare("DELETE FROM notifications WHERE message_id = ?"));
    unnote.Bind(1, m.id);
    OUTPOST_RETURN_IF_ERROR(unnote.Run());
    ChatEvent e;
    e.room_id = m.room_id;
    e.type = "message.deleted";
    e.payload = {{"message_id", m.id}, {"room_id", m.room_id}, {"seq", m.seq},
                 {"thread_root_id", m.thread_root_id}, {"by_user_id", actor.id}};
    return events.Add(conn, std::move(e), now);
  }));
  return Status::Ok();
}

Result<Message> Messages::Get(const User& actor, int64_t message_id) {
  Message out;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, Readable(conn, actor, message_id));
    out = std::move(loaded.first);
    return Status::Ok();
  }));
  return out;
}

Result<Page> Messages::History(const User& actor, int64_t room_id, Anchor anchor, int64_t seq,
                               int limit) {
  limit = std::clamp(limit, 1, 200);
  Page page;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, LoadReadable(conn, actor, room_id));
    (void)loaded;
    const std::string base = "WHERE m.room_id = ? AND m.thread_root_id IS NULL AND ";
    int64_t lim = limit;
    auto older = [&](int64_t below, int64_t n) {
      return Load(conn, base + "m.seq < ? ORDER BY m.seq DESC LIMIT ?", {room_id, below, n + 1},
                  actor.id);
    };
    auto newer = [&](int64_t above, int64_t n) {
      return Load(conn, base + "m.seq > ? ORDER BY m.seq ASC LIMIT ?", {room_id, above, n + 1},
                  actor.id);
    };
    std::vector<Message> old_part, new_part;
    switch (anchor) {
      case Anchor::kLatest:
      case Anchor::kBefore: {
        OUTPOST_ASSIGN_OR_RETURN(old_part,
                                 older(anchor == Anchor::kLatest ? INT64_MAX : seq, lim));
        page.has_newer = anchor == Anchor::kBefore;
        break;
      }
      case Anchor::kAfter: {
        OUTPOST_ASSIGN_OR_RETURN(new_part, newer(seq, lim));
        page.has_older = true;
        break;
      }
      case Anchor::kAround: {
        OUTPOST_ASSIGN_OR_RETURN(old_part, older(seq + 1, (lim + 1) / 2));
        OUTPOST_ASSIGN_OR_RETURN(new_part, newer(seq, lim / 2));
        break;
      }
    }
    int64_t old_want = anchor == Anchor::kAround ? (lim + 1) / 2 : lim;
    int64_t new_want = anchor == Anchor::kAround ? lim / 2 : lim;
    if (static_cast<int64_t>(old_part.size()) > old_want) {
      old_part.pop_back();
      page.has_older = true;
    }
    if (static_cast<int64_t>(new_part.size()) > new_want) {
      new_part.pop_back();
      page.has_newer = true;
    }
    std::reverse(new_part.begin(), new_part.end());
    page.messages = std::move(new_part);
    for (Message& m : old_part) page.messages.push_back(std::move(m));
    return Status::Ok();
  }));
  return page;
}

Result<Page> Messages::Thread(const User& actor, int64_t root_id, int64_t after_seq, int limit) {
  limit = std::clamp(limit, 1, 200);
  Page page;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, Readable(conn, actor, root_id));
    if (loaded.first.thread_root_id != 0) return NoSuchMessage();
    OUTPOST_ASSIGN_OR_RETURN(
        std::vector<Message> replies,
        Load(conn, "WHERE m.thread_root_id = ? AND m.seq > ? ORDER BY m.seq ASC LIMIT ?",
             {root_id, after_seq, int64_t{limit} + 1}, actor.id));
    if (static_cast<int>(replies.size()) > limit) {
      replies.pop_back();
      page.has_newer = true;
    }
    page.messages.push_back(std::move(loaded.first));
    for (Message& m : replies) page.messages.push_back(std::move(m));
    return Status::Ok();
  }));
  return page;
}

}  // namespace outpost::domain
