#include "api/routes.h"

#include <httplib.h>

#include "api/account_handlers.h"
#include "api/admin_handlers.h"
#include "api/cert_handlers.h"
#include "api/chat_handlers.h"
#include "api/file_handlers.h"
#include "api/handlers.h"
#include "api/lifecycle_handlers.h"
#include "api/role_handlers.h"

namespace outpost::api {
namespace {

using P = domain::Permission;

constexpr Route kRoutes[] = {
    {"GET", "/healthz", Access::kPublic, false, HandleHealthz, "liveness: the process answers"},
    {"GET", "/readyz", Access::kPublic, false, HandleReadyz,
     "readiness: the database accepts writes"},
    {"GET", "/metrics", Access::kUser, false, HandleMetrics, "Prometheus metrics",
     false, P::kMetricsView},
    {"GET", "/api/v1/site", Access::kPublic, false, HandleSite,
     "site name, classification banner and login notice"},
    {"POST", "/api/v1/auth/login", Access::kPublic, true, HandleLogin,
     "sign in with user name and password (and consent); sets the session cookie, or asks "
     "for the second factor"},
    {"POST", "/api/v1/auth/login/totp", Access::kPublic, true, HandleLoginTotp,
     "finish a pending sign-in with a TOTP code or a recovery code"},
    {"POST", "/api/v1/auth/login/enrol", Access::kPublic, true, HandleLoginEnrol,
     "a pending sign-in that must enrol: get a TOTP secret"},
    {"POST", "/api/v1/auth/login/enrol/confirm", Access::kPublic, true, HandleLoginEnrolConfirm,
     "a pending sign-in that must enrol: confirm with the first code; returns recovery codes"},
    {"POST", "/api/v1/auth/logout", Access::kUser, false, HandleLogout,
     "end the current session"},
    {"GET", "/api/v1/me", Access::kUser, false, HandleMe, "the signed-in account and session"},
    {"GET", "/api/v1/presence", Access::kUser, false, HandlePresence,
     "online, away or offline for up to 200 users (user_ids=1,2,3)", false, P::kPresenceView},
    {"GET", "/api/v1/me/tokens", Access::kUser, false, HandleListTokens,
     "the caller's API tokens (never the secrets)", false, P::kTokensManageOwn},
    {"POST", "/api/v1/me/tokens", Access::kUser, true, HandleCreateToken,
     "create an API token; the secret is shown once", false, P::kTokensManageOwn},
    {"DELETE", R"(/api/v1/me/tokens/(\d{1,18}))", Access::kUser, false, HandleRevokeToken,
     "revoke one of the caller's API tokens", false, P::kTokensManageOwn},
    {"GET", "/api/v1/me/2fa", Access::kUser, false, HandleTwoFactorState,
     "the caller's two-factor state and recovery codes left", false, P::kTwoFactorManageOwn},
    {"POST", "/api/v1/me/2fa/enrol", Access::kUser, false, HandleTwoFactorEnrol,
     "start two-factor enrolment: secret and otpauth:// URI", false, P::kTwoFactorManageOwn},
    {"POST", "/api/v1/me/2fa/confirm", Access::kUser, true, HandleTwoFactorConfirm,
     "confirm enrolment with a first code; returns recovery codes", false,
     P::kTwoFactorManageOwn},
    {"POST", "/api/v1/me/2fa/disable", Access::kUser, true, HandleTwoFactorDisable,
     "turn two-factor off (password and a code)", false, P::kTwoFactorManageOwn},
    {"POST", "/api/v1/me/2fa/recovery-codes", Access::kUser, true, HandleRecoveryCodes,
     "replace the recovery codes (needs a code)", false, P::kTwoFactorManageOwn},
    {"GET", "/api/v1/me/sessions", Access::kUser, false, HandleMySessions,
     "the caller's sessions: created, last seen, address, browser, current", false,
     P::kSessionsManageOwn},
    {"DELETE", R"(/api/v1/me/sessions/(\d{1,18}))", Access::kUser, false, HandleRevokeMySession,
     "end one of the caller's sessions and its WebSockets", false, P::kSessionsManageOwn},
    {"DELETE", "/api/v1/me/sessions", Access::kUser, false, HandleRevokeMySessions,
     "end the caller's other sessions (all=true: every one)", false, P::kSessionsManageOwn},
    {"GET", R"(/api/v1/users/([A-Za-z0-9._-]{1,64})/sessions)", Access::kUser, false,
     HandleUserSessions, "an account's sessions", false, P::kUsersRevokeSessions},
    {"DELETE", R"(/api/v1/users/([A-Za-z0-9._-]{1,64})/sessions/(\d{1,18}))", Access::kUser,
     false, HandleRevokeUserSession, "end one session of an account and its WebSockets", false,
     P::kUsersRevokeSessions},
    {"DELETE", R"(/api/v1/users/([A-Za-z0-9._-]{1,64})/sessions)", Access::kUser, false,
     HandleRevokeUserSessions, "end every session of an account", false,
     P::kUsersRevokeSessions},
    {"POST", R"(/api/v1/users/([A-Za-z0-9._-]{1,64})/2fa/reset)", Access::kUser, false,
     HandleResetTwoFactor, "remove an account's two-factor secret and recovery codes", false,
     P::kUsersResetTwoFactor},
    {"GET", "/api/v1/users", Access::kUser, false, HandleListUsers, "list every account",
     false, P::kUsersView},
    {"POST", "/api/v1/users", Access::kUser, true, HandleCreateUser, "create an account",
     false, P::kUsersCreate},
    {"POST", R"(/api/v1/users/([A-Za-z0-9._-]{1,64})/disable)", Access::kUser, false,
     HandleDisableUser, "disable an account and end its sessions", false, P::kUsersDisable},
    {"POST", R"(/api/v1/users/([A-Za-z0-9._-]{1,64})/enable)", Access::kUser, false,
     HandleEnableUser, "enable an account", false, P::kUsersEnable},
    // Passwords and lockout (account_handlers.h).
    {"POST", "/api/v1/me/password", Access::kUser, true, HandleChangeMyPassword,
     "change your password (current_password, new_password); ends your other sessions", false,
     P::kPasswordChangeOwn},
    {"POST", R"(/api/v1/users/([A-Za-z0-9._-]{1,64})/unlock)", Access::kUser, false,
     HandleUnlockUser, "end an account's lockout and reset its failed sign-ins", false,
     P::kUsersUnlock},
    // Smart-card login (cert_handlers.h). Binding a card gives a credential, as setting a
    // password does: the same permission.
    {"POST", "/api/v1/auth/certificate", Access::kPublic, true, HandleCertificateLogin,
     "sign in with the TLS client certificate (smart card); sets the session cookie"},
    {"GET", R"(/api/v1/users/([A-Za-z0-9._-]{1,64})/certificates)", Access::kUser, false,
     HandleListCertIdentities, "the certificate identities bound to an account", false,
     P::kUsersView},
    {"POST", R"(/api/v1/users/([A-Za-z0-9._-]{1,64})/certificates)", Access::kUser, true,
     HandleBindCertIdentity, "bind a certificate identity (upn, email or subject) to an account",
     false, P::kUsersResetPassword},
    {"DELETE", R"(/api/v1/users/([A-Za-z0-9._-]{1,64})/certificates/(\d{1,18}))", Access::kUser,
     false, HandleUnbindCertIdentity, "remove a certificate identity from an account", false,
     P::kUsersResetPassword},
    {"GET", "/api/v1/audit", Access::kUser, false, HandleAuditSearch,
     "search the audit log, newest first (actor, action, since, until, before_seq, limit)",
     false, P::kAuditView},
    {"GET", "/api/v1/audit/status", Access::kUser, false, HandleAuditStatus,
     "audit storage use and alert, SIEM forwarding state and lag", false, P::kAuditView},
    {"GET", "/api/v1/admin/backups", Access::kUser, false, HandleListBackups,
     "scheduled backups: the last runs' result and every archive in the folder",
     false, P::kBackupsView},
    {"POST", "/api/v1/admin/backups", Access::kUser, false, HandleRunBackup,
     "make a backup now, as the scheduled one does", false, P::kBackupsCreate},
    {"GET", "/api/v1/admin/status", Access::kUser, false, HandleAdminStatus,
     "system status: version, uptime, connections, database, disk, audit and backup figures",
     false, P::kMetricsView},
    {"GET", "/api/v1/admin/rooms", Access::kUser, false, HandleAdminRooms,
     "every public and private channel with member count and owners (q, archived, after_id)",
     false, P::kRoomsViewAll},
    {"POST", R"(/api/v1/users/([A-Za-z0-9._-]{1,64})/password)", Access::kUser, true,
     HandleResetUserPassword, "set a new password for an account and end its sessions",
     false, P::kUsersResetPassword},
    {"GET", "/api/v1/admin/settings", Access::kUser, false, HandleGetSettings,
     "the settings that may change while the server runs: banner and sign-in notice",
     false, P::kSettingsView},
    {"PATCH", "/api/v1/admin/settings", Access::kUser, true, HandlePatchSettings,
     "change the banner or sign-in notice now (null: back to the configuration file)",
     false, P::kSettingsManage},
    // Roles and permissions (role_handlers.cc).
    {"GET", "/api/v1/permissions", Access::kUser, false, HandleListPermissions,
     "the permission catalogue: name, description, privileged"},
    {"GET", "/api/v1/roles", Access::kUser, false, HandleListRoles,
     "every role with its permissions and how many accounts hold it", false, P::kRolesView},
    {"POST", "/api/v1/roles", Access::kUser, true, HandleCreateRole,
     "create a custom role from the catalogue", false, P::kRolesManage},
    {"PATCH", R"(/api/v1/roles/([a-z][a-z0-9-]{1,31}))", Access::kUser, true, HandleUpdateRole,
     "rename a custom role or change its permissions", false, P::kRolesManage},
    {"DELETE", R"(/api/v1/roles/([a-z][a-z0-9-]{1,31}))", Access::kUser, false,
     HandleDeleteRole, "delete a custom role no account holds", false, P::kRolesManage},
    {"PUT", R"(/api/v1/users/([A-Za-z0-9._-]{1,64})/role)", Access::kUser, true,
     HandleSetUserRole, "give an account a role", false, P::kRolesAssign},
    // Chat. Room-level access (member, moderator, owner) is decided by the domain.
    {"GET", "/api/v1/rooms", Access::kUser, false, HandleListRooms,
     "my rooms with unread and mention counts"},
    {"POST", "/api/v1/rooms", Access::kUser, true, HandleCreateRoom,
     "create a public or private channel", false, P::kRoomsCreatePrivate},
    {"GET", "/api/v1/rooms/directory", Access::kUser, false, HandleRoomDirectory,
     "browse and search public channels", false, P::kRoomsBrowseDirectory},
    {"POST", "/api/v1/rooms/read-all", Access::kUser, false, HandleMarkAllRead,
     "mark every room read"},
    {"POST", "/api/v1/dms", Access::kUser, true, HandleOpenDirect,
     "open the direct or group message with these people", false, P::kDmsOpen},
    {"GET", "/api/v1/people", Access::kUser, false, HandlePeople,
     "find people by name (for DMs and mentions)", false, P::kPeopleSearch},
    {"GET", R"(/api/v1/rooms/(\d{1,18}))", Access::kUser, false, HandleGetRoom,
     "a room and what the caller may do in it"},
    {"PATCH", R"(/api/v1/rooms/(\d{1,18}))", Access::kUser, true, HandleUpdateRoom,
     "rename, set topic, description, read-only"},
    {"DELETE", R"(/api/v1/rooms/(\d{1,18}))", Access::kUser, false, HandleDeleteRoom,
     "delete a channel with its messages and files", false, P::kRoomsDelete},
    {"POST", R"(/api/v1/rooms/(\d{1,18})/archive)", Access::kUser, false, HandleArchiveRoom,
     "archive a channel"},
    {"POST", R"(/api/v1/rooms/(\d{1,18})/unarchive)", Access::kUser, false, HandleUnarchiveRoom,
     "unarchive a channel"},
    {"POST", R"(/api/v1/rooms/(\d{1,18})/join)", Access::kUser, false, HandleJoinRoom,
     "join a public channel", false, P::kRoomsJoinPublic},
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
     "a page of history: latest, before, after or around a message", false, P::kMessagesRead},
    {"POST", R"(/api/v1/rooms/(\d{1,18})/messages)", Access::kUser, true, HandlePostMessage,
     "post a message or a thread reply", false, P::kMessagesPost},
    {"GET", R"(/api/v1/rooms/(\d{1,18})/pins)", Access::kUser, false, HandlePins,
     "the room's pinned messages", false, P::kMessagesRead},
    {"PUT", R"(/api/v1/rooms/(\d{1,18})/retention)", Access::kUser, true, HandleSetRoomRetention,
     "set how long the room keeps messages and files (owners, administrators)"},
    {"GET", R"(/api/v1/messages/(\d{1,18}))", Access::kUser, false, HandleGetMessage,
     "one message (permalinks)", false, P::kMessagesRead},
    {"PATCH", R"(/api/v1/messages/(\d{1,18}))", Access::kUser, true, HandleEditMessage,
     "edit your message", false, P::kMessagesEditOwn},
    {"DELETE", R"(/api/v1/messages/(\d{1,18}))", Access::kUser, false,
     HandleDeleteMessageAndFiles, "delete a message (author or moderator) and its files",
     false, P::kMessagesDeleteOwn},
    {"GET", R"(/api/v1/messages/(\d{1,18})/edits)", Access::kUser, false, HandleMessageEdits,
     "the history of edits (room moderators; messages.view_edits in any channel)"},
    {"GET", R"(/api/v1/messages/(\d{1,18})/thread)", Access::kUser, false, HandleThread,
     "a thread: its first message and the replies", false, P::kMessagesRead},
    {"PUT", R"(/api/v1/messages/(\d{1,18})/follow)", Access::kUser, true, HandleFollowThread,
     "follow or unfollow a thread", false, P::kMessagesRead},
    {"GET", R"(/api/v1/messages/(\d{1,18})/reactions)", Access::kUser, false,
     HandleListReactions, "who reacted with what", false, P::kMessagesRead},
    {"POST", R"(/api/v1/messages/(\d{1,18})/reactions)", Access::kUser, true, HandleAddReaction,
     "react with an emoji", false, P::kMessagesReact},
    {"DELETE", R"(/api/v1/messages/(\d{1,18})/reactions/([^/]{1,64}))", Access::kUser, false,
     HandleRemoveReaction, "take your reaction back", false, P::kMessagesReact},
    {"PUT", R"(/api/v1/messages/(\d{1,18})/pin)", Access::kUser, true, HandlePinMessage,
     "pin or unpin a message"},
    {"GET", "/api/v1/notifications", Access::kUser, false, HandleNotifications,
     "mentions, DMs and thread replies for the caller"},
    {"GET", "/api/v1/search", Access::kUser, false, HandleSearch,
     "full-text search with filters", false, P::kMessagesSearch},
    {"GET", "/api/v1/events", Access::kUser, false, HandleEvents,
     "events after a cursor (what a reconnecting client missed)", false, P::kMessagesReadEvents},
    // Files. Uploads stream their body (streaming_body) under [files] max_file_bytes.
    {"POST", R"(/api/v1/rooms/(\d{1,18})/files)", Access::kUser, false, HandleUploadFile,
     "upload a file into a room (raw body; name, message, thread_root_id)", true, P::kFilesUpload},
    {"GET", R"(/api/v1/rooms/(\d{1,18})/files)", Access::kUser, false, HandleListRoomFiles,
     "a room's files, newest first", false, P::kFilesDownload},
    {"GET", R"(/api/v1/files/(\d{1,18}))", Access::kUser, false, HandleDownloadFile,
     "download a file (Range, ETag; risky types as attachments)", false, P::kFilesDownload},
    {"GET", "/api/v1/files", Access::kUser, false, HandleListAllFiles,
     "every file by size or age, with usage per user and room", false, P::kFilesViewAll},
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
