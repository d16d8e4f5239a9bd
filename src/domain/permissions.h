// Roles and permissions: the catalogue of fine-grained permissions, the built-in roles and the
// custom roles administrators make from the catalogue. A route or an operator command declares
// the one permission it needs (api/routes.cc, cli/main_command.cc); Roles answers whether a
// role holds it. The front header of the domain layer's access-control concept.
#ifndef OUTPOST_DOMAIN_PERMISSIONS_H_
#define OUTPOST_DOMAIN_PERMISSIONS_H_

#include <bitset>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/database.h"
#include "util/clock.h"
#include "util/status.h"

namespace outpost::domain {

// The catalogue. Values are internal (never stored: the database and the API use the names), so
// entries may be added anywhere; keep each group together. kNone means "no permission needed
// beyond being signed in" for a route, and "nothing to check" for a command.
enum class Permission : int {
  kNone = 0,
  // Rooms
  kRoomsCreatePublic,
  kRoomsCreatePrivate,
  kRoomsBrowseDirectory,
  kRoomsJoinPublic,
  kRoomsPostAnnouncement,
  kRoomsManageMembers,
  kRoomsManageAny,
  kRoomsArchive,
  kRoomsDelete,
  kRoomsSetRetention,
  kRoomsViewAll,
  // Direct messages and people
  kDmsOpen,
  kDmsOpenAny,
  kPeopleSearch,
  kPresenceView,
  // Messages
  kMessagesRead,
  kMessagesPost,
  kMessagesEditOwn,
  kMessagesDeleteOwn,
  kMessagesEditAny,
  kMessagesDeleteAny,
  kMessagesPin,
  kMessagesReact,
  kMessagesViewEdits,
  kMessagesSearch,
  kMessagesReadEvents,
  // Files
  kFilesUpload,
  kFilesDownload,
  kFilesViewAll,
  kFilesVerify,
  // The caller's own account
  kTokensManageOwn,
  kSessionsManageOwn,
  kTwoFactorManageOwn,
  kPasswordChangeOwn,
  // Accounts
  kUsersView,
  kUsersCreate,
  kUsersDisable,
  kUsersEnable,
  kUsersResetPassword,
  kUsersUnlock,
  kUsersResetTwoFactor,
  kUsersErase,
  kUsersRevokeSessions,
  kTokensManageAny,
  // Roles
  kRolesView,
  kRolesAssign,
  kRolesManage,
  // Audit
  kAuditView,
  kAuditExport,
  kAuditVerify,
  kAuditCheckpoint,
  kAuditManageForwarding,
  // Data
  kDataExport,
  kRetentionRun,
  // Settings and system
  kSettingsView,
  kSettingsManage,
  kCertsView,
  kCertsManage,
  kMetricsView,
  kSystemInit,
  kSystemServe,
  kSystemMaintain,
  kSystemDiagnose,
  kReleasesSign,
  // Backups
  kBackupsView,
  kBackupsCreate,
  kBackupsVerify,
  kBackupsRestore,
  kBackupsManageKeys,
  kCount  // not a permission: the number of values above, kNone included
};
inline constexpr size_t kPermissionCount = static_cast<size_t>(Permission::kCount);

// A set of permissions (bit i is Permission(i); bit 0, kNone, is never set).
using PermissionSet = std::bitset<kPermissionCount>;

struct PermissionInfo {
  Permission permission;
  std::string_view name;         // "messages.delete_any": group.verb, lower case
  std::string_view description;  // one line, for the API, the CLI and docs/permissions.md
  // Holding it makes a role privileged (for require-2FA and password-login-off): it reaches
  // other people's accounts, the audit trail, the system's settings or data beyond one's rooms.
  bool privileged;
};

// Every permission but kNone, in catalogue order. Static storage; thread-safe.
std::span<const PermissionInfo> PermissionCatalogue();
// "none" for kNone; the dotted name otherwise.
std::string_view PermissionName(Permission p);
// Null for kNone or an out-of-range value. Static storage.
const PermissionInfo* FindPermission(Permission p);
// nullopt when `name` names no permission ("none" included).
std::optional<Permission> ParsePermission(std::string_view name);
// Catalogue names of the set, in catalogue order.
std::vector<std::string> PermissionNames(const PermissionSet& set);
// Every permission.
PermissionSet AllPermissions();
// True when the set holds any permission marked privileged.
bool IsPrivileged(const PermissionSet& set);

// Built-in role ids. kRoleAdmin ("admin") and kRoleUser ("user") live in domain/accounts.h.
inline constexpr std::string_view kRoleUserManager = "user-manager";
inline constexpr std::string_view kRoleModerator = "moderator";
inline constexpr std::string_view kRoleGuest = "guest";
inline constexpr std::string_view kRoleAuditor = "auditor";
inline constexpr std::string_view kRoleBot = "bot";

struct Role {
  std::string id;           // "moderator", "records-officer": CheckRoleId's rules
  std::string name;         // shown to people: "Moderator"
  std::string description;  // one line
  bool built_in = false;
  PermissionSet permissions;
  UnixMillis created_at = 0;  // 0 for built-in roles
  UnixMillis updated_at = 0;
};

// The built-in roles, in the order they are listed (admin first). Their permission sets are
// defined in code, not stored, so a release that adds a permission gives it to them at once.
const std::vector<Role>& BuiltInRoles();
// Null when `id` is not a built-in role.
const Role* FindBuiltInRole(std::string_view id);

// The permissions of `role` as the domain layer checks them where a route cannot (in a room,
// over a WebSocket): a built-in role's set from code; a custom role's from the Roles instance
// loaded most recently in this process (the server has exactly one); empty for an unknown role.
// Thread-safe.
PermissionSet RolePermissions(std::string_view role);
inline bool RoleHas(std::string_view role, Permission p) {
  return p == Permission::kNone || RolePermissions(role).test(static_cast<size_t>(p));
}

// Role ids: 2 to 32 characters from a-z, 0-9 and '-', starting with a letter. InvalidArgument
// naming the rule otherwise.
Status CheckRoleId(std::string_view id);

// What an administrator asks for when making or changing a custom role. Unset fields of an
// update are left as they are.
struct RoleSpec {
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::optional<std::vector<std::string>> permissions;  // catalogue names
};

// Role -> permission set, read from the database by Load and kept in memory; every change made
// through this class writes the database, then reloads the cache. Thread-safe: readers take a
// shared snapshot under mu_. `db` must outlive it.
class Roles {
 public:
  explicit Roles(storage::Database* db);
  ~Roles();
  Roles(const Roles&) = delete;
  Roles& operator=(const Roles&) = delete;

  // Reads the custom roles from the database (after migrations). Errors from storage, or
  // Corruption when a stored role names a permission this binary does not know.
  Status Load();

  // Reloads when the stored roles changed since the last load (an operator's `outpost role`
  // while the server runs), checking the database at most once a second; cheap otherwise.
  // Must not be called inside a Database::Write callback.
  Status Refresh();

  // Whether `role` holds `p`. False for an unknown role; kNone is held by every known role.
  bool Has(std::string_view role, Permission p) const;
  // True when the role holds any permission marked privileged. False for an unknown role.
  bool IsPrivileged(std::string_view role) const;
  bool Exists(std::string_view role) const;
  // The role's permissions; empty for an unknown role.
  PermissionSet PermissionsOf(std::string_view role) const;

  // NotFound for an unknown role.
  Result<Role> Get(std::string_view id) const;
  // Built-in roles first, then custom roles by id.
  std::vector<Role> List() const;
  // How many accounts hold the role.
  Result<int64_t> CountUsers(std::string_view id) const;

  // Makes a custom role. InvalidArgument for a bad id, name, description or permission name
  // (the message names it); AlreadyExists when the id is taken (built-in ids included).
  Result<Role> Create(std::string_view id, const RoleSpec& spec, const Clock& clock);
  // Changes a custom role. FailedPrecondition for a built-in role ("built-in roles cannot be
  // changed"), NotFound for an unknown one, InvalidArgument as for Create.
  Result<Role> Update(std::string_view id, const RoleSpec& spec, const Clock& clock);
  // Deletes a custom role. FailedPrecondition for a built-in role or one that accounts hold
  // (the message says how many), NotFound for an unknown one.
  Status Delete(std::string_view id);
  // Gives the account the role and ends nothing (its next request sees the new permissions).
  // NotFound for an unknown user or role. Returns the role it had before.
  Result<std::string> AssignToUser(std::string_view username, std::string_view role_id,
                                   const Clock& clock);

 private:
  storage::Database* const db_;
  mutable std::mutex mu_;
  std::map<std::string, Role, std::less<>> custom_;  // guarded by mu_; every custom role by id
  std::string fingerprint_;  // guarded by mu_; what Fingerprint read at the last Load
  std::chrono::steady_clock::time_point last_check_{};  // guarded by mu_
};

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_PERMISSIONS_H_
