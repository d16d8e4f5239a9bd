#include "domain/rooms.h"

#include <algorithm>

#include "domain/chat_text.h"
#include "domain/permissions.h"

namespace outpost::domain {
namespace {

constexpr const char* kRoomColumns =
    "r.id, r.kind, coalesce(r.name, ''), r.topic, r.description, r.read_only, r.archived, "
    "r.is_default, coalesce(r.created_by, 0), r.created_at, r.updated_at, r.last_seq, "
    "coalesce(r.last_message_at, 0), "
    "(SELECT count(*) FROM room_members m WHERE m.room_id = r.id)";

Room ReadRoom(const storage::Statement& s, int c = 0) {
  Room r;
  r.id = s.ColumnInt64(c + 0);
  ParseRoomKind(s.ColumnText(c + 1), &r.kind);
  r.name = s.ColumnText(c + 2);
  r.topic = s.ColumnText(c + 3);
  r.description = s.ColumnText(c + 4);
  r.read_only = s.ColumnInt64(c + 5) != 0;
  r.archived = s.ColumnInt64(c + 6) != 0;
  r.is_default = s.ColumnInt64(c + 7) != 0;
  r.created_by = s.ColumnInt64(c + 8);
  r.created_at = s.ColumnInt64(c + 9);
  r.updated_at = s.ColumnInt64(c + 10);
  r.last_seq = s.ColumnInt64(c + 11);
  r.last_message_at = s.ColumnInt64(c + 12);
  r.member_count = s.ColumnInt64(c + 13);
  return r;
}

bool IsChannel(const Room& r) { return r.kind == RoomKind::kPublic || r.kind == RoomKind::kPrivate; }

Status NoSuchRoom() { return Status::NotFound("no such room"); }

Result<User> ActiveUserByName(storage::Connection& conn, std::string_view name) {
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement s,
      conn.Prepare("SELECT id, username, display_name, role, disabled FROM users "
                   "WHERE username = ?"));
  s.Bind(1, name);
  OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row || s.ColumnInt64(4) != 0) {
    return Status::NotFound("no user named '" + std::string(name) + "'");
  }
  User u;
  u.id = s.ColumnInt64(0);
  u.username = s.ColumnText(1);
  u.display_name = s.ColumnText(2);
  u.role = s.ColumnText(3);
  return u;
}

nlohmann::json MemberEvent(const Room& room, int64_t user_id, RoomRole role, int64_t by) {
  return {{"room", RoomJson(room)},
          {"user_id", user_id},
          {"role", RoomRoleName(role)},
          {"by_user_id", by}};
}

}  // namespace

std::string_view RoomKindName(RoomKind kind) {
  switch (kind) {
    case RoomKind::kPublic: return "public";
    case RoomKind::kPrivate: return "private";
    case RoomKind::kDm: return "dm";
    case RoomKind::kGroup: return "group";
  }
  return "public";
}

bool ParseRoomKind(std::string_view name, RoomKind* out) {
  for (RoomKind k : {RoomKind::kPublic, RoomKind::kPrivate, RoomKind::kDm, RoomKind::kGroup}) {
    if (RoomKindName(k) == name) {
      *out = k;
      return true;
    }
  }
  return false;
}

std::string_view RoomRoleName(RoomRole role) {
  switch (role) {
    case RoomRole::kNone: return "none";
    case RoomRole::kMember: return "member";
    case RoomRole::kModerator: return "moderator";
    case RoomRole::kOwner: return "owner";
  }
  return "none";
}

bool ParseRoomRole(std::string_view name, RoomRole* out) {
  for (RoomRole r : {RoomRole::kMember, RoomRole::kModerator, RoomRole::kOwner}) {
    if (RoomRoleName(r) == name) {
      *out = r;
      return true;
    }
  }
  return false;
}

RoomAccess AccessFor(const Room& room, const User& user, RoomRole role) {
  RoomAccess a;
  a.role = role;
  const PermissionSet perms = RolePermissions(user.role);
  // Site-wide permissions reach channels only: DMs stay private to their members.
  const bool channel = IsChannel(room);
  auto site = [&](Permission p) { return channel && perms.test(static_cast<size_t>(p)); };
  const bool member = role != RoomRole::kNone;
  a.admin = site(Permission::kRoomsManageAny);
  // Without messages.read (auditors, unless granted) no room is readable at all. A public
  // channel is readable before joining only for those who may browse the directory (not
  // guests or bots: they see the rooms they are in).
  const bool reads = perms.test(static_cast<size_t>(Permission::kMessagesRead));
  a.can_read = reads && (member ||
                         (room.kind == RoomKind::kPublic &&
                          perms.test(static_cast<size_t>(Permission::kRoomsBrowseDirectory))) ||
                         site(Permission::kRoomsViewAll));
  const bool room_moderator = role >= RoomRole::kModerator;
  a.can_post = a.can_read && member && !room.archived &&
               perms.test(static_cast<size_t>(Permission::kMessagesPost)) &&
               (!room.read_only || room_moderator || site(Permission::kRoomsPostAnnouncement));
  a.can_moderate = a.can_read && (room_moderator || (!channel && member));
  a.can_manage = a.can_read && channel && (role == RoomRole::kOwner || a.admin);
  if (!a.can_read) return a;
  a.can_edit_any = site(Permission::kMessagesEditAny);
  a.can_delete_any = a.can_moderate || site(Permission::kMessagesDeleteAny);
  a.can_pin = a.can_moderate || site(Permission::kMessagesPin);
  a.can_view_edits = a.can_moderate || site(Permission::kMessagesViewEdits);
  a.can_manage_members = site(Permission::kRoomsManageMembers);
  a.can_archive = a.can_manage || site(Permission::kRoomsArchive);
  a.can_delete_room = site(Permission::kRoomsDelete);
  a.can_set_retention = site(Permission::kRoomsSetRetention);
  return a;
}

nlohmann::json RoomJson(const Room& r) {
  return {{"id", r.id},
          {"kind", RoomKindName(r.kind)},
          {"name", r.name},
          {"topic", r.topic},
          {"description", r.description},
          {"read_only", r.read_only},
          {"archived", r.archived},
          {"default", r.is_default},
          {"created_at", FormatIso8601(r.created_at)},
          {"last_seq", r.last_seq},
          {"last_message_at",
           r.last_message_at ? nlohmann::json(FormatIso8601(r.last_message_at)) : nullptr},
          {"member_count", r.member_count}};
}

Result<std::optional<Room>> LoadRoom(storage::Connection& conn, int64_t room_id) {
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement s,
      conn.Prepare(std::string("SELECT ") + kRoomColumns + " FROM rooms r WHERE r.id = ?"));
  s.Bind(1, room_id);
  OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<Room>();
  return std::optional<Room>(ReadRoom(s));
}

Result<RoomRole> LoadRole(storage::Connection& conn, int64_t room_id, int64_t user_id) {
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement s,
      conn.Prepare("SELECT role FROM room_members WHERE room_id = ? AND user_id = ?"));
  s.Bind(1, room_id).Bind(2, user_id);
  OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return RoomRole::kNone;
  RoomRole role = RoomRole::kMember;
  ParseRoomRole(s.ColumnText(0), &role);
  return role;
}

Result<std::pair<Room, RoomAccess>> LoadReadable(storage::Connection& conn, const User& actor,
                                                 int64_t room_id) {
  OUTPOST_ASSIGN_OR_RETURN(std::optional<Room> room, LoadRoom(conn, room_id));
  if (!room) return NoSuchRoom();
  OUTPOST_ASSIGN_OR_RETURN(RoomRole role, LoadRole(conn, room_id, actor.id));
  RoomAccess access = AccessFor(*room, actor, role);
  if (!access.can_read) return NoSuchRoom();
  return std::make_pair(std::move(*room), access);
}

Status Rooms::AddMember(storage::Connection& conn, EventBatch& events, const Room& room,
                        int64_t user_id, RoomRole role, int64_t by_user_id) {
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement s,
      conn.Prepare("INSERT INTO room_members(room_id, user_id, role, joined_at, last_read_seq) "
                   "VALUES(?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"));
  // A new member starts with everything before them read.
  s.Bind(1, room.id).Bind(2, user_id).Bind(3, RoomRoleName(role)).Bind(4, clock_->NowMillis());
  s.Bind(5, room.last_seq);
  OUTPOST_RETURN_IF_ERROR(s.Run());
  if (conn.Changes() == 0) return Status::Ok();
  ChatEvent e;
  e.room_id = room.id;
  e.also_user_id = user_id;
  e.type = "member.added";
  e.payload = MemberEvent(room, user_id, role, by_user_id);
  return events.Add(conn, std::move(e), clock_->NowMillis());
}

Result<Room> Rooms::CreateChannel(const User& actor, RoomKind kind, std::string_view name,
                                  std::string_view topic, std::string_view description,
                                  bool read_only) {
  if (kind != RoomKind::kPublic && kind != RoomKind::kPrivate) {
    return Status::InvalidArgument("a channel is public or private");
  }
  // The route declares rooms.create_private (creating any channel); listing it in the
  // directory is the further step only rooms.create_public allows.
  if (kind == RoomKind::kPublic && !RoleHas(actor.role, Permission::kRoomsCreatePublic)) {
    return Status::PermissionDenied(
        "your role may not create public channels (it lacks rooms.create_public): make it "
        "private");
  }
  OUTPOST_RETURN_IF_ERROR(CheckRoomName(name));
  OUTPOST_RETURN_IF_ERROR(CheckRoomText(topic, 250, "the topic"));
  OUTPOST_RETURN_IF_ERROR(CheckRoomText(description, 1000, "the description"));
  Room room;
  Status st = Change([&](storage::Connection& conn, EventBatch& events) {
    UnixMillis now = clock_->NowMillis();
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("INSERT INTO rooms(kind, name, topic, description, read_only, created_by, "
                     "created_at, updated_at) VALUES(?, ?, ?, ?, ?, ?, ?, ?)"));
    s.Bind(1, RoomKindName(kind)).Bind(2, name).Bind(3, topic).Bind(4, description);
    s.Bind(5, int64_t{read_only}).Bind(6, actor.id).Bind(7, now).Bind(8, now);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    OUTPOST_ASSIGN_OR_RETURN(std::optional<Room> loaded, LoadRoom(conn, conn.LastInsertRowId()));
    room = *loaded;
    ChatEvent e;
    e.room_id = room.id;
    e.type = "room.created";
    e.payload = {{"room", RoomJson(room)}};
    OUTPOST_RETURN_IF_ERROR(events.Add(conn, e, now));
    OUTPOST_RETURN_IF_ERROR(AddMember(conn, events, room, actor.id, RoomRole::kOwner, actor.id));
    room.member_count = 1;
    return Status::Ok();
  });
  if (st.IsAlreadyExists()) {
    return Status::AlreadyExists("a channel named '" + std::string(name) + "' already exists");
  }
  OUTPOST_RETURN_IF_ERROR(st);
  return room;
}

Result<Room> Rooms::OpenDirect(const User& actor, const std::vector<std::string>& others) {
  if (others.empty()) return Status::InvalidArgument("name at least one other person");
  Room room;
  OUTPOST_RETURN_IF_ERROR(Change([&](storage::Connection& conn, EventBatch& events) {
    std::vector<int64_t> ids = {actor.id};
    for (const std::string& name : others) {
      OUTPOST_ASSIGN_OR_RETURN(User u, ActiveUserByName(conn, name));
      if (std::find(ids.begin(), ids.end(), u.id) == ids.end()) ids.push_back(u.id);
    }
    if (ids.size() < 2) return Status::InvalidArgument("a direct message needs another person");
    if (static_cast<int>(ids.size()) > options_.max_group_members) {
      return Status::InvalidArgument("a group message holds at most " +
                                     std::to_string(options_.max_group_members) + " people");
    }
    if (!RoleHas(actor.role, Permission::kDmsOpenAny)) {
      // Guests and bots reach only the people they already share a room with.
      OUTPOST_ASSIGN_OR_RETURN(
          storage::Statement shared,
          conn.Prepare("SELECT 1 FROM room_members a JOIN room_members b "
                       "ON a.room_id = b.room_id WHERE a.user_id = ? AND b.user_id = ? LIMIT 1"));
      for (size_t i = 1; i < ids.size(); ++i) {
        shared.Reset();
        shared.Bind(1, actor.id).Bind(2, ids[i]);
        OUTPOST_ASSIGN_OR_RETURN(bool found, shared.Step());
        if (!found) {
          return Status::PermissionDenied(
              "your role opens direct messages only with people you share a room with "
              "(it lacks dms.open_any)");
        }
      }
    }
    std::sort(ids.begin(), ids.end());
    std::string key = "dm:";
    for (size_t i = 0; i < ids.size(); ++i) key += (i ? "," : "") + std::to_string(ids[i]);
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement find,
                             conn.Prepare("SELECT id FROM rooms WHERE dm_key = ?"));
    find.Bind(1, key);
    OUTPOST_ASSIGN_OR_RETURN(bool exists, find.Step());
    if (exists) {
      OUTPOST_ASSIGN_OR_RETURN(std::optional<Room> r, LoadRoom(conn, find.ColumnInt64(0)));
      room = *r;
      return Status::Ok();
    }
    UnixMillis now = clock_->NowMillis();
    RoomKind kind = ids.size() == 2 ? RoomKind::kDm : RoomKind::kGroup;
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("INSERT INTO rooms(kind, dm_key, created_by, created_at, updated_at) "
                     "VALUES(?, ?, ?, ?, ?)"));
    s.Bind(1, RoomKindName(kind)).Bind(2, key).Bind(3, actor.id).Bind(4, now).Bind(5, now);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    OUTPOST_ASSIGN_OR_RETURN(std::optional<Room> r, LoadRoom(conn, conn.LastInsertRowId()));
    room = *r;
    for (int64_t id : ids) {
      OUTPOST_RETURN_IF_ERROR(AddMember(conn, events, room, id, RoomRole::kMember, actor.id));
    }
    room.member_count = static_cast<int64_t>(ids.size());
    return Status::Ok();
  }));
  return room;
}

Result<std::pair<Room, RoomAccess>> Rooms::Get(const User& actor, int64_t room_id) {
  std::pair<Room, RoomAccess> out;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(out, LoadReadable(conn, actor, room_id));
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<MyRoom>> Rooms::ListMine(const User& actor) {
  std::vector<MyRoom> out;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare(std::string("SELECT ") + kRoomColumns +
                     ", me.role, me.last_read_seq, me.starred FROM room_members me "
                     "JOIN rooms r ON r.id = me.room_id WHERE me.user_id = ? "
                     "ORDER BY coalesce(r.last_message_at, r.created_at) DESC"));
    s.Bind(1, actor.id);
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement unread,
        conn.Prepare("SELECT count(*) FROM (SELECT 1 FROM messages WHERE room_id = ? AND "
                     "seq > ? AND thread_root_id IS NULL AND deleted_at IS NULL AND "
                     "(author_id IS NULL OR author_id != ?) LIMIT 1000)"));
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement mentions,
        conn.Prepare("SELECT count(*) FROM notifications WHERE user_id = ? AND room_id = ? "
                     "AND seq > ?"));
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement names,
        conn.Prepare("SELECT u.username FROM room_members m JOIN users u ON u.id = m.user_id "
                     "WHERE m.room_id = ? AND m.user_id != ? ORDER BY u.username"));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      MyRoom mr;
      mr.room = ReadRoom(s);
      ParseRoomRole(s.ColumnText(14), &mr.role);
      mr.last_read_seq = s.ColumnInt64(15);
      mr.starred = s.ColumnInt64(16) != 0;
      unread.Reset();
      unread.Bind(1, mr.room.id).Bind(2, mr.last_read_seq).Bind(3, actor.id);
      OUTPOST_ASSIGN_OR_RETURN(bool u_row, unread.Step());
      mr.unread = u_row ? unread.ColumnInt64(0) : 0;
      mentions.Reset();
      mentions.Bind(1, actor.id).Bind(2, mr.room.id).Bind(3, mr.last_read_seq);
      OUTPOST_ASSIGN_OR_RETURN(bool m_row, mentions.Step());
      mr.mentions = m_row ? mentions.ColumnInt64(0) : 0;
      if (!IsChannel(mr.room)) {
        names.Reset();
        names.Bind(1, mr.room.id).Bind(2, actor.id);
        while (true) {
          OUTPOST_ASSIGN_OR_RETURN(bool n_row, names.Step());
          if (!n_row) break;
          mr.dm_members.push_back(names.ColumnText(0));
        }
      }
      out.push_back(std::move(mr));
    }
    return Status::Ok();
  }));
  return out;
}

Result<std::vector<std::pair<Room, bool>>> Rooms::Directory(const User& actor,
                                                            std::string_view query,
                                                            std::string_view after_name,
                                                            int limit) {
  std::string pattern = "%";
  for (char c : query) {
    if (c == '%' || c == '_' || c == '\\') pattern += '\\';
    pattern += c;
  }
  pattern += "%";
  std::vector<std::pair<Room, bool>> out;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare(std::string("SELECT ") + kRoomColumns +
                     ", EXISTS (SELECT 1 FROM room_members x WHERE x.room_id = r.id AND "
                     "x.user_id = ?) FROM rooms r WHERE r.kind = 'public' AND r.name > ? AND "
                     "(r.name LIKE ? ESCAPE '\\' OR r.topic LIKE ? ESCAPE '\\') "
                     "ORDER BY r.name LIMIT ?"));
    s.Bind(1, actor.id).Bind(2, after_name).Bind(3, pattern).Bind(4, pattern);
    s.Bind(5, int64_t{limit});
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      out.emplace_back(ReadRoom(s), s.ColumnInt64(14) != 0);
    }
    return Status::Ok();
  }));
  return out;
}

}  // namespace outpost::domain
