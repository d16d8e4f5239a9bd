#include "api/routes.h"

#include <httplib.h>

#include "api/chat_handlers.h"
#include "api/file_handlers.h"
#include "api/handlers.h"
#include "api/lifecycle_handlers.h"

namespace outpost::api {
namespace {

constexpr Route kRoutes[] = {
    {"GET", "/healthz", Access::kPublic, false, HandleHealthz, "liveness: the process answers"},
    {"GET", "/readyz", Access::kPublic, false, HandleReadyz,
     "readiness: the database accepts writes"},
    {"GET", "/metrics", Access::kAdmin, false, HandleMetrics, "Prometheus metrics"},
    {"GET", "/api/v1/site", Access::kPublic, false, HandleSite,
     "site name, classification banner and login notice"},
    {"POST", "/api/v1/auth/login", Access::kPublic, true, HandleLogin,
     "sign in with user name and password; sets the session cookie"},
    {"POST", "/api/v1/auth/logout", Access::kUser, false, HandleLogout,
     "end the current session"},
    {"GET", "/api/v1/me", Access::kUser, false, HandleMe, "the signed-in account and session"},
    {"GET", "/api/v1/presence", Access::kUser, false, HandlePresence,
     "online, away or offline for up to 200 users (user_ids=1,2,3)"},
    {"GET", "/api/v1/me/tokens", Access::kUser, false, HandleListTokens,
     "the caller's API tokens (never the secrets)"},
    {"POST", "/api/v1/me/tokens", Access::kUser, true, HandleCreateToken,
     "create an API token; the secret is shown once"},
    {"DELETE", R"(/api/v1/me/tokens/(\d{1,18}))", Access::kUser, false, HandleRevokeToken,
     "revoke one of the caller's API tokens"},
    {"GET", "/api/v1/users", Access::kAdmin, false, HandleListUsers, "list every account"},
    {"POST", "/api/v1/users", Access::kAdmin, true, HandleCreateUser, "create an account"},
    {"POST", R"(/api/v1/users/([A-Za-z0-9._-]{1,64})/disable)", Access::kAdmin, false,
     HandleDisableUser, "disable an account and end its sessions"},
    {"POST", R"(/api/v1/users/([A-Za-z0-9._-]{1,64})/enable)", Access::kAdmin, false,
     HandleEnableUser, "enable an account"},
    {"GET", "/api/v1/audit", Access::kAdmin, false, HandleAuditSearch,
     "search the audit log, newest first (actor, action, since, until, before_seq, limit)"},
    {"GET", "/api/v1/admin/backups", Access::kAdmin, false, HandleListBackups,
     "scheduled backups: the last runs' result and every archive in the folder"},
    {"POST", "/api/v1/admin/backups", Access::kAdmin, false, HandleRunBackup,
     "make a backup now, as the scheduled one does"},
    // Chat. Room-level access (member, moderator, owner) is decided by the domain.
    {"GET", "/api/v1/rooms", Access::kUser, false, HandleListRooms,
     "my rooms with unread and mention counts"},
    {"POST", "/api/v1/rooms", Access::kUser, true, HandleCreateRoom,
     "create a public or private channel"},
    {"GET", "/api/v1/rooms/directory", Access::kUser, false, HandleRoomDirectory,
     "browse and search public channels"},
    {"POST", "/api/v1/rooms/read-all", Access::kUser, false, HandleMarkAllRead,
     "mark every room read"},
    {"POST", "/api/v1/dms", Access::kUser, true, HandleOpenDirect,
     "open the direct or group message with these people"},
    {"GET", "/api/v1/people", Access::kUser, false, HandlePeople,
     "find people by name (for DMs and mentions)"},
    {"GET", R"(/api/v1/rooms/(\d{1,18}))", Access::kUser, false, HandleGetRoom,
     "a room and what the caller may do in it"},
    {"PATCH", R"(/api/v1/rooms/(\d{1,18}))", Access::kUser, true, HandleUpdateRoom,
     "rename, set topic, description, read-only"},
    {"DELETE", R"(/api/v1/rooms/(\d{1,18}))", Access::kUser, false, HandleDeleteRoom,
     "delete a channel (administrators)"},
    {"POST", R"(/api/v1/rooms/(\d{1,18})/archive)", Access::kUser, false, HandleArchiveRoom,
     "archive a channel"},
    {"POST", R"(/api/v1/rooms/(\d{1,18})/unarchive)", Access::kUser, false, HandleUnarchiveRoom,
     "unarchive a channel"},
    {"POST", R"(/api/v1/rooms/(\d{1,18})/join)", Access::kUser, false, HandleJoinRoom,
     "join a public channel"},
    {"POST", R"(/api/v1/rooms/(\d{1,18})/leave)", Access::kUser, false, HandleLeaveRoom,
     "leave a room"},
    {"GET", R"(/api/v1/rooms/(\d{1,18})/members)", Access::kUser, false, HandleListMembers,
     "the members and their room roles"},
    {"POST", R"(/api/v1/rooms/(\d{1,18})/members)", Access::kUser, true, HandleInviteMember,
     "add someone to a channel"},
    {"DELETE", R"(/api/v1/rooms/(\d{1,18})/members/([A-Za-z0-9._-]{1,64}))", Access::kUser,
     false, HandleRemoveMember, "remove someone from a channel"},
    {"PUT", R"(/api/v1/rooms/(\d{1,18})/members/([A-Za-z0-9._-]{1,64})/role)", Access::kUser,
     true, HandleSetMemberRole, "make someone owner, moderator or member"},
    {"PUT", R"(/api/v1/rooms/(\d{1,18})/star)", Access::kUser, true, HandleStarRoom,
     "star or unstar a room"},
    {"PUT", R"(/api/v1/rooms/(\d{1,18})/read)", Access::kUser, true, HandleMarkRead,
     "move the read marker"},
    {"GET", R"(/api/v1/rooms/(\d{1,18})/messages)", Access::kUser, false, HandleHistory,
     "a page of history: latest, before, after or around a message"},
    {"POST", R"(/api/v1/rooms/(\d{1,18})/messages)", Access::kUser, true, HandlePostMessage,
     "post a message or a thread reply"},
    {"GET", R"(/api/v1/rooms/(\d{1,18})/pins)", Access::kUser, false, HandlePins,
     "the room's pinned messages"},
    {"PUT", R"(/api/v1/rooms/(\d{1,18})/retention)", Access::kUser, true, HandleSetRoomRetention,
     "set how long the room keeps messages and files (owners, administrators)"},
    {"GET", R"(/api/v1/messages/(\d{1,18}))", Access::kUser, false, HandleGetMessage,
     "one message (permalinks)"},
    {"PATCH", R"(/api/v1/messages/(\d{1,18}))", Access::kUser, true, HandleEditMessage,
     "edit your message"},
    {"DELETE", R"(/api/v1/messages/(\d{1,18}))", Access::kUser, false,
     HandleDeleteMessageAndFiles, "delete a message (author or moderator) and its files"},
    {"GET", R"(/api/v1/messages/(\d{1,18})/edits)", Access::kUser, false, HandleMessageEdits,
     "the history of edits (moderators)"},
    {"GET", R"(/api/v1/messages/(\d{1,18})/thread)", Access::kUser, false, HandleThread,
     "a thread: its first message and the replies"},
    {"PUT", R"(/api/v1/messages/(\d{1,18})/follow)", Access::kUser, true, HandleFollowThread,
     "follow or unfollow a thread"},
    {"GET", R"(/api/v1/messages/(\d{1,18})/reactions)", Access::kUser, false,
     HandleListReactions, "who reacted with what"},
    {"POST", R"(/api/v1/messages/(\d{1,18})/reactions)", Access::kUser, true, HandleAddReaction,
     "react with an emoji"},
    {"DELETE", R"(/api/v1/messages/(\d{1,18})/reactions/([^/]{1,64}))", Access::kUser, false,
     HandleRemoveReaction, "take your reaction back"},
    {"PUT", R"(/api/v1/messages/(\d{1,18})/pin)", Access::kUser, true, HandlePinMessage,
     "pin or unpin a message"},
    {"GET", "/api/v1/notifications", Access::kUser, false, HandleNotifications,
     "mentions, DMs and thread replies for the caller"},
    {"GET", "/api/v1/search", Access::kUser, false, HandleSearch,
     "full-text search with filters"},
    {"GET", "/api/v1/events", Access::kUser, false, HandleEvents,
     "events after a cursor (what a reconnecting client missed)"},
    // Files. Uploads stream their body (streaming_body) under [files] max_file_bytes.
    {"POST", R"(/api/v1/rooms/(\d{1,18})/files)", Access::kUser, false, HandleUploadFile,
     "upload a file into a room (raw body; name, message, thread_root_id)", true},
    {"GET", R"(/api/v1/rooms/(\d{1,18})/files)", Access::kUser, false, HandleListRoomFiles,
     "a room's files, newest first"},
    {"GET", R"(/api/v1/files/(\d{1,18}))", Access::kUser, false, HandleDownloadFile,
     "download a file (Range, ETag; risky types as attachments)"},
    {"GET", "/api/v1/files", Access::kAdmin, false, HandleListAllFiles,
     "every file by size or age, with usage per user and room"},
};

}  // namespace

std::span<const Route> RouteTable() { return kRoutes; }

std::string_view AccessName(Access access) {
  switch (access) {
    case Access::kPublic: return "public";
    case Access::kUser: return "user";
    case Access::kAdmin: return "admin";
  }
  return "admin";
}

nlohmann::json UserJson(const domain::User& user) {
  return {{"id", user.id},
          {"username", user.username},
          {"display_name", user.display_name},
          {"role", user.role},
          {"disabled", user.disabled},
          {"created_at", FormatIso8601(user.created_at)}};
}

nlohmann::json SessionJson(const domain::Session& session, const domain::Sessions& sessions) {
  return {{"created_at", FormatIso8601(session.created_at)},
          {"expires_at", FormatIso8601(sessions.EffectiveExpiry(session))},
          {"absolute_expires_at", FormatIso8601(session.expires_at)},
          {"idle_timeout_seconds", sessions.policy().idle_timeout_ms / 1000}};
}

void SetJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

}  // namespace outpost::api
