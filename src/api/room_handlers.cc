#include <httplib.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "api/chat_handlers.h"
#include "api/handler_audit.h"

namespace outpost::api {
namespace {

const domain::User& Actor(const Call& call) { return call.principal->user; }

std::string RoomTarget(int64_t room_id) { return "room:" + std::to_string(room_id); }

nlohmann::json MyRoomJson(const domain::MyRoom& r) {
  nlohmann::json j = RoomJson(r.room);
  j["role"] = domain::RoomRoleName(r.role);
  j["last_read_seq"] = r.last_read_seq;
  j["unread"] = r.unread;
  j["mentions"] = r.mentions;
  j["starred"] = r.starred;
  j["dm_members"] = r.dm_members;
  return j;
}

nlohmann::json RoomWithAccess(const domain::Room& room, const domain::RoomAccess& a) {
  nlohmann::json j = RoomJson(room);
  j["role"] = domain::RoomRoleName(a.role);
  // "moderate": as the room's moderator or through site-wide moderation permissions; the
  // finer flags say which (domain::RoomAccess).
  j["permissions"] = {{"post", a.can_post},
                      {"moderate", a.can_moderate || a.can_delete_any || a.can_pin},
                      {"manage", a.can_manage},
                      {"edit_any", a.can_edit_any},
                      {"delete_any", a.can_delete_any},
                      {"pin", a.can_pin},
                      {"view_edits", a.can_view_edits},
                      {"manage_members", a.can_manage_members || a.can_manage},
                      {"archive", a.can_archive},
                      {"delete", a.can_delete_room}};
  return j;
}

Status Done(Call& call) {
  call.res.status = 204;
  return Status::Ok();
}

}  // namespace

int64_t PathId(const Call& call, size_t index) {
  const std::string text = call.req.matches[index];
  int64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

Result<int64_t> QueryInt(const Call& call, const char* name, int64_t fallback, int64_t min,
                         int64_t max) {
  if (!call.req.has_param(name)) return fallback;
  const std::string text = call.req.get_param_value(name);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) {
    return Status::InvalidArgument(std::string("'") + name + "' must be a whole number from " +
                                   std::to_string(min) + " to " + std::to_string(max));
  }
  return v;
}

Result<std::optional<std::string>> OptionalString(const nlohmann::json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string()) {
    return Status::InvalidArgument(std::string("'") + name + "' must be a string");
  }
  return std::optional<std::string>(it->get<std::string>());
}

Result<std::optional<bool>> OptionalBool(const nlohmann::json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<bool>();
  if (!it->is_boolean()) {
    return Status::InvalidArgument(std::string("'") + name + "' must be true or false");
  }
  return std::optional<bool>(it->get<bool>());
}

Result<std::string> RequiredString(const nlohmann::json& body, const char* name) {
  OUTPOST_ASSIGN_OR_RETURN(std::optional<std::string> v, OptionalString(body, name));
  if (!v) return Status::InvalidArgument(std::string("'") + name + "' is required");
  return *v;
}

Status HandleListRooms(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::vector<domain::MyRoom> rooms,
                           call.svc.rooms->ListMine(Actor(call)));
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : rooms) list.push_back(MyRoomJson(r));
  SetJson(call.res, 200, {{"rooms", list}});
  return Status::Ok();
}

Status HandleCreateRoom(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::string name, RequiredString(call.body, "name"));
  OUTPOST_ASSIGN_OR_RETURN(std::optional<std::string> kind_name, OptionalString(call.body, "kind"));
  OUTPOST_ASSIGN_OR_RETURN(std::optional<std::string> topic, OptionalString(call.body, "topic"));
  OUTPOST_ASSIGN_OR_RETURN(std::optional<std::string> description,
                           OptionalString(call.body, "description"));
  OUTPOST_ASSIGN_OR_RETURN(std::optional<bool> read_only, OptionalBool(call.body, "read_only"));
  domain::RoomKind kind = domain::RoomKind::kPublic;
  if (kind_name && (!domain::ParseRoomKind(*kind_name, &kind) ||
                    (kind != domain::RoomKind::kPublic && kind != domain::RoomKind::kPrivate))) {
    return Status::InvalidArgument("'kind' must be \"public\" or \"private\"");
  }
  domain::Room room;
  domain::AuditEvent event = AuditEventFor(call, "room.create", "");
  event.details = {{"name", name}, {"kind", domain::RoomKindName(kind)}};
  OUTPOST_RETURN_IF_ERROR(AuditedChange(call, event, [&](domain::AuditEvent& e) {
    OUTPOST_ASSIGN_OR_RETURN(
        room, call.svc.rooms->CreateChannel(Actor(call), kind, name, topic.value_or(""),
                                            description.value_or(""), read_only.value_or(false)));
    e.target = RoomTarget(room.id);
    return Status::Ok();
  }));
  SetJson(call.res, 201, {{"room", RoomJson(room)}});
  return Status::Ok();
}

Status HandleRoomDirectory(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(int64_t limit, QueryInt(call, "limit", 50, 1, 200));
  std::string after;
  if (call.req.has_param("cursor")) {
    // The directory pages by name; the cursor carries the last name seen, authenticated.
    OUTPOST_ASSIGN_OR_RETURN(std::vector<int64_t> v,
                             call.svc.cursors->Decode("dir", call.req.get_param_value("cursor"), 1));
    OUTPOST_ASSIGN_OR_RETURN(auto room, call.svc.rooms->Get(Actor(call), v[0]));
    after = room.first.name;
  }
  OUTPOST_ASSIGN_OR_RETURN(
      auto rooms, call.svc.rooms->Directory(Actor(call), call.req.get_param_value("q"), after,
                                            static_cast<int>(limit) + 1));
  nlohmann::json list = nlohmann::json::array();
  nlohmann::json next = nullptr;
  for (size_t i = 0; i < rooms.size() && i < static_cast<size_t>(limit); ++i) {
    nlohmann::json j = RoomJson(rooms[i].first);
    j["joined"] = rooms[i].second;
    list.push_back(std::move(j));
  }
  if (rooms.size() > static_cast<size_t>(limit)) {
    next = call.svc.cursors->Encode("dir", {rooms[static_cast<size_t>(limit) - 1].first.id});
  }
  SetJson(call.res, 200, {{"rooms", list}, {"next", next}});
  return Status::Ok();
}

Status HandleOpenDirect(Call& call) {
  auto it = call.body.find("users");
  if (it == call.body.end() || !it->is_array() || it->empty() || it->size() > 50) {
    return Status::InvalidArgument("'users' must be a list of 1 to 50 user names");
  }
  std::vector<std::string> names;
  for (const auto& n : *it) {
    if (!n.is_string()) return Status::InvalidArgument("'users' must hold user names");
    names.push_back(n.get<std::string>());
  }
  OUTPOST_ASSIGN_OR_RETURN(domain::Room room, call.svc.rooms->OpenDirect(Actor(call), names));
  SetJson(call.res, 200, {{"room", RoomJson(room)}});
  return Status::Ok();
}

Status HandleGetRoom(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(auto room, call.svc.rooms->Get(Actor(call), PathId(call)));
  SetJson(call.res, 200, {{"room", RoomWithAccess(room.first, room.second)}});
  return Status::Ok();
}

Status HandleUpdateRoom(Call& call) {
  domain::Rooms::Update u;
  OUTPOST_ASSIGN_OR_RETURN(u.name, OptionalString(call.body, "name"));
  OUTPOST_ASSIGN_OR_RETURN(u.topic, OptionalString(call.body, "topic"));
  OUTPOST_ASSIGN_OR_RETURN(u.description, OptionalString(call.body, "description"));
  OUTPOST_ASSIGN_OR_RETURN(u.read_only, OptionalBool(call.body, "read_only"));
  if (!u.name && !u.topic && !u.description && !u.read_only) {
    return Status::InvalidArgument("nothing to change");
  }
  OUTPOST_ASSIGN_OR_RETURN(domain::Room room,
                           call.svc.rooms->Modify(Actor(call), PathId(call), u));
  SetJson(call.res, 200, {{"room", RoomJson(room)}});
  return Status::Ok();
}

Status HandleDeleteRoom(Call& call) {
  OUTPOST_RETURN_IF_ERROR(
      AuditedChange(call, AuditEventFor(call, "room.delete", RoomTarget(PathId(call))),
                    [&](domain::AuditEvent&) {
                      return call.svc.rooms->Delete(Actor(call), PathId(call));
                    }));
  return Done(call);
}

Status SetArchived(Call& call, bool archived) {
  OUTPOST_RETURN_IF_ERROR(AuditedChange(
      call,
      AuditEventFor(call, archived ? "room.archive" : "room.unarchive", RoomTarget(PathId(call))),
      [&](domain::AuditEvent&) {
        return call.svc.rooms->SetArchived(Actor(call), PathId(call), archived);
      }));
  return Done(call);
}

Status HandleArchiveRoom(Call& call) { return SetArchived(call, true); }

Status HandleUnarchiveRoom(Call& call) { return SetArchived(call, false); }

Status HandleJoinRoom(Call& call) {
  OUTPOST_RETURN_IF_ERROR(call.svc.rooms->Join(Actor(call), PathId(call)));
  return Done(call);
}

Status HandleLeaveRoom(Call& call) {
  OUTPOST_RETURN_IF_ERROR(call.svc.rooms->Leave(Actor(call), PathId(call)));
  return Done(call);
}

Status HandleListMembers(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::vector<domain::Member> members,
                           call.svc.rooms->Members(Actor(call), PathId(call)));
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : members) {
    list.push_back({{"id", m.user.id},
                    {"username", m.user.username},
                    {"display_name", m.user.display_name},
                    {"role", domain::RoomRoleName(m.role)},
                    {"joined_at", FormatIso8601(m.joined_at)}});
  }
  SetJson(call.res, 200, {{"members", list}});
  return Status::Ok();
}

Status HandleInviteMember(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::string name, RequiredString(call.body, "username"));
  domain::AuditEvent event = AuditEventFor(call, "member.add", RoomTarget(PathId(call)));
  event.details = {{"user", name}};
  OUTPOST_RETURN_IF_ERROR(AuditedChange(call, event, [&](domain::AuditEvent&) {
    return call.svc.rooms->Invite(Actor(call), PathId(call), name);
  }));
  return Done(call);
}

Status HandleRemoveMember(Call& call) {
  const std::string name(call.req.matches[2]);
  auto remove = [&](domain::AuditEvent&) {
    return call.svc.rooms->Remove(Actor(call), PathId(call), name);
  };
  domain::AuditEvent event = AuditEventFor(call, "member.remove", RoomTarget(PathId(call)));
  event.details = {{"user", name}};
  // Leaving is the member's own business (names compare without regard to case); removing
  // someone else is audited.
  const std::string& me = Actor(call).username;
  auto lower = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
  const bool self = std::equal(name.begin(), name.end(), me.begin(), me.end(),
                               [&](char a, char b) { return lower(a) == lower(b); });
  domain::AuditEvent unused;
  OUTPOST_RETURN_IF_ERROR(self ? remove(unused) : AuditedChange(call, event, remove));
  return Done(call);
}

Status HandleSetMemberRole(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::string role_name, RequiredString(call.body, "role"));
  domain::RoomRole role;
  if (!domain::ParseRoomRole(role_name, &role)) {
    return Status::InvalidArgument("'role' must be owner, moderator or member");
  }
  const std::string name(call.req.matches[2]);
  domain::AuditEvent event = AuditEventFor(call, "member.role_change", RoomTarget(PathId(call)));
  event.details = {{"user", name}, {"role", role_name}};
  OUTPOST_RETURN_IF_ERROR(AuditedChange(call, event, [&](domain::AuditEvent&) {
    return call.svc.rooms->SetRole(Actor(call), PathId(call), name, role);
  }));
  return Done(call);
}

Status HandleStarRoom(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::optional<bool> starred, OptionalBool(call.body, "starred"));
  if (!starred) return Status::InvalidArgument("'starred' is required");
  OUTPOST_RETURN_IF_ERROR(call.svc.rooms->SetStarred(Actor(call), PathId(call), *starred));
  return Done(call);
}

Status HandleMarkRead(Call& call) {
  auto it = call.body.find("seq");
  if (it == call.body.end() || !it->is_number_integer() || it->get<int64_t>() < 0) {
    return Status::InvalidArgument("'seq' must be a whole number");
  }
  OUTPOST_RETURN_IF_ERROR(
      call.svc.messages->MarkRead(Actor(call), PathId(call), it->get<int64_t>()));
  return Done(call);
}

Status HandleMarkAllRead(Call& call) {
  OUTPOST_RETURN_IF_ERROR(call.svc.messages->MarkAllRead(Actor(call)));
  return Done(call);
}

Status HandlePeople(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::vector<domain::User> users, call.svc.accounts->List());
  std::string q = call.req.get_param_value("q");
  std::transform(q.begin(), q.end(), q.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  nlohmann::json list = nlohmann::json::array();
  for (const auto& u : users) {
    if (u.disabled) continue;
    std::string hay = u.username + " " + u.display_name;
    std::transform(hay.begin(), hay.end(), hay.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (!q.empty() && hay.find(q) == std::string::npos) continue;
    list.push_back({{"id", u.id}, {"username", u.username}, {"display_name", u.display_name}});
    if (list.size() >= 50) break;
  }
  SetJson(call.res, 200, {{"people", list}});
  return Status::Ok();
}

}  // namespace outpost::api
