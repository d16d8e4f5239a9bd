// Rooms: changes to a room and to its membership (the second half of rooms.h).
#include <algorithm>

#include "domain/chat_text.h"
#include "domain/rooms.h"

namespace outpost::domain {
namespace {

bool IsChannel(const Room& r) { return r.kind == RoomKind::kPublic || r.kind == RoomKind::kPrivate; }

// The id of an enabled account (a disabled one cannot be added to rooms).
Result<int64_t> EnabledUserIdByName(storage::Connection& conn, std::string_view name) {
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement s,
                           conn.Prepare("SELECT id, disabled FROM users WHERE username = ?"));
  s.Bind(1, name);
  OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row || s.ColumnInt64(1) != 0) {
    return Status::NotFound("no user named '" + std::string(name) + "'");
  }
  return s.ColumnInt64(0);
}

Status RoomEvent(storage::Connection& conn, EventBatch& events, const Room& room,
                 const char* type, UnixMillis now, nlohmann::json extra = nlohmann::json::object()) {
  ChatEvent e;
  e.room_id = room.id;
  e.type = type;
  e.payload = std::move(extra);
  e.payload["room"] = RoomJson(room);
  return events.Add(conn, std::move(e), now);
}

}  // namespace

Result<Room> Rooms::Modify(const User& actor, int64_t room_id, const Update& u) {
  if (u.name) OUTPOST_RETURN_IF_ERROR(CheckRoomName(*u.name));
  if (u.topic) OUTPOST_RETURN_IF_ERROR(CheckRoomText(*u.topic, 250, "the topic"));
  if (u.description) {
    OUTPOST_RETURN_IF_ERROR(CheckRoomText(*u.description, 1000, "the description"));
  }
  Room room;
  Status st = Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, LoadReadable(conn, actor, room_id));
    auto& [r, access] = loaded;
    if (!IsChannel(r)) return Status::FailedPrecondition("direct messages have no settings");
    // Moderators may set the topic; everything else is the owner's (or an administrator's).
    bool topic_only = u.topic && !u.name && !u.description && !u.read_only;
    if (!(access.can_manage || (topic_only && access.can_moderate))) {
      return Status::PermissionDenied("only the room's owners may change it");
    }
    if (r.archived) return Status::FailedPrecondition("the room is archived");
    UnixMillis now = clock_->NowMillis();
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("UPDATE rooms SET name = coalesce(?, name), topic = coalesce(?, topic), "
                     "description = coalesce(?, description), "
                     "read_only = coalesce(?, read_only), updated_at = ? WHERE id = ?"));
    if (u.name) s.Bind(1, *u.name); else s.BindNull(1);
    if (u.topic) s.Bind(2, *u.topic); else s.BindNull(2);
    if (u.description) s.Bind(3, *u.description); else s.BindNull(3);
    if (u.read_only) s.Bind(4, int64_t{*u.read_only}); else s.BindNull(4);
    s.Bind(5, now).Bind(6, room_id);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    OUTPOST_ASSIGN_OR_RETURN(std::optional<Room> fresh, LoadRoom(conn, room_id));
    room = *fresh;
    return RoomEvent(conn, events, room, "room.updated", now);
  });
  if (st.IsAlreadyExists()) {
    return Status::AlreadyExists("a channel named '" + *u.name + "' already exists");
  }
  OUTPOST_RETURN_IF_ERROR(st);
  return room;
}

Status Rooms::SetArchived(const User& actor, int64_t room_id, bool archived) {
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, LoadReadable(conn, actor, room_id));
    auto& [r, access] = loaded;
    if (!access.can_archive) {
      return Status::PermissionDenied("only the room's owners and moderators with rooms.archive "
                                      "may archive it");
    }
    if (r.archived == archived) return Status::Ok();
    UnixMillis now = clock_->NowMillis();
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("UPDATE rooms SET archived = ?, updated_at = ? WHERE id = ?"));
    s.Bind(1, int64_t{archived}).Bind(2, now).Bind(3, room_id);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    r.archived = archived;
    return RoomEvent(conn, events, r, archived ? "room.archived" : "room.unarchived", now);
  }));
  return Status::Ok();
}

Status Rooms::Delete(const User& actor, int64_t room_id) {
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, LoadReadable(conn, actor, room_id));
    auto& [r, access] = loaded;
    if (!access.can_delete_room) {
      return Status::PermissionDenied("deleting a channel needs rooms.delete");
    }
    UnixMillis now = clock_->NowMillis();
    // Members learn of the deletion through events addressed to each of them: after the
    // delete there is no membership left to route a room event by.
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement members,
                             conn.Prepare("SELECT user_id FROM room_members WHERE room_id = ?"));
    members.Bind(1, room_id);
    std::vector<int64_t> ids;
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, members.Step());
      if (!row) break;
      ids.push_back(members.ColumnInt64(0));
    }
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement del,
                             conn.Prepare("DELETE FROM rooms WHERE id = ?"));
    del.Bind(1, room_id);
    OUTPOST_RETURN_IF_ERROR(del.Run());
    for (int64_t id : ids) {
      ChatEvent e;
      e.user_id = id;
      e.type = "room.deleted";
      e.payload = {{"room_id", room_id}, {"name", r.name}};
      OUTPOST_RETURN_IF_ERROR(events.Add(conn, std::move(e), now));
    }
    return Status::Ok();
  }));
  return Status::Ok();
}

Status Rooms::Join(const User& actor, int64_t room_id) {
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, LoadReadable(conn, actor, room_id));
    auto& [r, access] = loaded;
    if (access.role != RoomRole::kNone) return Status::Ok();
    if (r.kind != RoomKind::kPublic) {
      return Status::PermissionDenied("this room is joined by invitation only");
    }
    if (r.archived) return Status::FailedPrecondition("the room is archived");
    return AddMember(conn, events, r, actor.id, RoomRole::kMember, actor.id);
  }));
  return Status::Ok();
}

Status Rooms::Leave(const User& actor, int64_t room_id) {
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, LoadReadable(conn, actor, room_id));
    auto& [r, access] = loaded;
    if (access.role == RoomRole::kNone) return Status::FailedPrecondition("not a member");
    if (r.kind == RoomKind::kDm) return Status::FailedPrecondition("a direct message cannot be left");
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("DELETE FROM room_members WHERE room_id = ? AND user_id = ?"));
    s.Bind(1, room_id).Bind(2, actor.id);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    ChatEvent e;
    e.room_id = room_id;
    e.also_user_id = actor.id;
    e.type = "member.removed";
    e.payload = {{"room_id", room_id}, {"user_id", actor.id}, {"by_user_id", actor.id}};
    return events.Add(conn, std::move(e), clock_->NowMillis());
  }));
  return Status::Ok();
}

Status Rooms::Invite(const User& actor, int64_t room_id, std::string_view username) {
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, LoadReadable(conn, actor, room_id));
    auto& [r, access] = loaded;
    if (!IsChannel(r)) {
      return Status::FailedPrecondition("people cannot be added to a direct message; "
                                        "start a new group message instead");
    }
    bool allowed = access.can_manage_members ||
                   (r.kind == RoomKind::kPublic ? access.role != RoomRole::kNone
                                                : access.can_moderate);
    if (!allowed) return Status::PermissionDenied("you may not add people to this room");
    if (r.archived) return Status::FailedPrecondition("the room is archived");
    OUTPOST_ASSIGN_OR_RETURN(int64_t user_id, EnabledUserIdByName(conn, username));
    return AddMember(conn, events, r, user_id, RoomRole::kMember, actor.id);
  }));
  return Status::Ok();
}

Status Rooms::Remove(const User& actor, int64_t room_id, std::string_view username) {
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, LoadReadable(conn, actor, room_id));
    auto& [r, access] = loaded;
    if (!IsChannel(r)) return Status::FailedPrecondition("direct messages keep their members");
    if (!access.can_moderate && !access.can_manage_members) {
      return Status::PermissionDenied("you may not remove people");
    }
    OUTPOST_ASSIGN_OR_RETURN(int64_t user_id, EnabledUserIdByName(conn, username));
    OUTPOST_ASSIGN_OR_RETURN(RoomRole target, LoadRole(conn, room_id, user_id));
    if (target == RoomRole::kNone) return Status::NotFound("not a member of this room");
    if (target == RoomRole::kOwner && access.role != RoomRole::kOwner &&
        !access.can_manage_members) {
      return Status::PermissionDenied("only owners may remove an owner");
    }
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("DELETE FROM room_members WHERE room_id = ? AND user_id = ?"));
    s.Bind(1, room_id).Bind(2, user_id);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    ChatEvent e;
    e.room_id = room_id;
    e.also_user_id = user_id;
    e.type = "member.removed";
    e.payload = {{"room_id", room_id}, {"user_id", user_id}, {"by_user_id", actor.id}};
    return events.Add(conn, std::move(e), clock_->NowMillis());
  }));
  return Status::Ok();
}

Status Rooms::SetRole(const User& actor, int64_t room_id, std::string_view username,
                      RoomRole role) {
  if (role == RoomRole::kNone) return Status::InvalidArgument("unknown room role");
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, LoadReadable(conn, actor, room_id));
    auto& [r, access] = loaded;
    if (!access.can_manage && !access.can_manage_members) {
      return Status::PermissionDenied("only owners may change roles");
    }
    OUTPOST_ASSIGN_OR_RETURN(int64_t user_id, EnabledUserIdByName(conn, username));
    OUTPOST_ASSIGN_OR_RETURN(RoomRole current, LoadRole(conn, room_id, user_id));
    if (current == RoomRole::kNone) return Status::NotFound("not a member of this room");
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("UPDATE room_members SET role = ? WHERE room_id = ? AND user_id = ?"));
    s.Bind(1, RoomRoleName(role)).Bind(2, room_id).Bind(3, user_id);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    ChatEvent e;
    e.room_id = room_id;
    e.type = "member.role_changed";
    e.payload = {{"room_id", room_id}, {"user_id", user_id}, {"role", RoomRoleName(role)},
                 {"by_user_id", actor.id}};
    return events.Add(conn, std::move(e), clock_->NowMillis());
  }));
  return Status::Ok();
}

Status Rooms::SetStarred(const User& actor, int64_t room_id, bool starred) {
  return db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, LoadReadable(conn, actor, room_id));
    if (loaded.second.role == RoomRole::kNone) {
      return Status::FailedPrecondition("join the room to star it");
    }
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("UPDATE room_members SET starred = ? WHERE room_id = ? AND user_id = ?"));
    s.Bind(1, int64_t{starred}).Bind(2, room_id).Bind(3, actor.id);
    return s.Run();
  });
}

Result<std::vector<Member>> Rooms::Members(const User& actor, int64_t room_id) {
  std::vector<Member> out;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(auto loaded, LoadReadable(conn, actor, room_id));
    (void)loaded;
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("SELECT u.id, u.username, u.display_name, u.role, u.disabled, m.role, "
                     "m.joined_at FROM room_members m JOIN users u ON u.id = m.user_id "
                     "WHERE m.room_id = ? ORDER BY u.username"));
    s.Bind(1, room_id);
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      Member m;
      m.user.id = s.ColumnInt64(0);
      m.user.username = s.ColumnText(1);
      m.user.display_name = s.ColumnText(2);
      m.user.role = s.ColumnText(3);
      m.user.disabled = s.ColumnInt64(4) != 0;
      ParseRoomRole(s.ColumnText(5), &m.role);
      m.joined_at = s.ColumnInt64(6);
      out.push_back(std::move(m));
    }
    return Status::Ok();
  }));
  return out;
}

Result<int64_t> Rooms::EnsureDefaultRoom() {
  if (options_.default_room.empty()) return int64_t{0};
  OUTPOST_RETURN_IF_ERROR(CheckRoomName(options_.default_room));
  int64_t id = 0;
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement find,
                             conn.Prepare("SELECT id FROM rooms WHERE name = ?"));
    find.Bind(1, options_.default_room);
    OUTPOST_ASSIGN_OR_RETURN(bool exists, find.Step());
    UnixMillis now = clock_->NowMillis();
    if (exists) {
      id = find.ColumnInt64(0);
      OUTPOST_ASSIGN_OR_RETURN(storage::Statement mark,
                               conn.Prepare("UPDATE rooms SET is_default = 1 WHERE id = ?"));
      mark.Bind(1, id);
      return mark.Run();
    }
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("INSERT INTO rooms(kind, name, is_default, created_at, updated_at) "
                     "VALUES('public', ?, 1, ?, ?)"));
    s.Bind(1, options_.default_room).Bind(2, now).Bind(3, now);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    id = conn.LastInsertRowId();
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement all,
        conn.Prepare("INSERT INTO room_members(room_id, user_id, role, joined_at) "
                     "SELECT ?, id, 'member', ? FROM users WHERE disabled = 0"));
    all.Bind(1, id).Bind(2, now);
    OUTPOST_RETURN_IF_ERROR(all.Run());
    OUTPOST_ASSIGN_OR_RETURN(std::optional<Room> r, LoadRoom(conn, id));
    return RoomEvent(conn, events, *r, "room.created", now);
  }));
  return id;
}

Status Rooms::JoinDefaultRooms(int64_t user_id) {
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("SELECT id FROM rooms WHERE is_default = 1 AND archived = 0"));
    std::vector<int64_t> ids;
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      ids.push_back(s.ColumnInt64(0));
    }
    for (int64_t id : ids) {
      OUTPOST_ASSIGN_OR_RETURN(std::optional<Room> r, LoadRoom(conn, id));
      OUTPOST_RETURN_IF_ERROR(AddMember(conn, events, *r, user_id, RoomRole::kMember, user_id));
    }
    return Status::Ok();
  }));
  return Status::Ok();
}

}  // namespace outpost::domain
