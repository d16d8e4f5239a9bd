#include "domain/permissions.h"

#include <algorithm>
#include <array>
#include <atomic>

#include "domain/accounts.h"

namespace outpost::domain {
namespace {

using P = Permission;

// The catalogue, in enum order (checked at start-up by CheckCatalogue and by the unit test).
constexpr PermissionInfo kCatalogue[] = {
    // Rooms
    {P::kRoomsCreatePublic, "rooms.create_public",
     "make a channel public (listed in the directory); needs rooms.create_private too", false},
    {P::kRoomsCreatePrivate, "rooms.create_private", "create channels (private ones by default)",
     false},
    {P::kRoomsBrowseDirectory, "rooms.browse_directory", "browse and search the public channels",
     false},
    {P::kRoomsJoinPublic, "rooms.join_public", "join a public channel without an invitation",
     false},
    {P::kRoomsPostAnnouncement, "rooms.post_announcement",
     "post in read-only (announcement) channels of which one is a member", false},
    {P::kRoomsManageMembers, "rooms.manage_members",
     "add and remove members and set room roles in any channel one can see", false},
    {P::kRoomsManageAny, "rooms.manage_any",
     "rename, describe and make read-only any channel one can see", false},
    {P::kRoomsArchive, "rooms.archive", "archive and unarchive any channel one can see", false},
    {P::kRoomsDelete, "rooms.delete", "delete channels with their messages and files", true},
    {P::kRoomsSetRetention, "rooms.set_retention",
     "set how long any channel keeps messages and files", false},
    {P::kRoomsViewAll, "rooms.view_all",
     "see and read every channel, private ones included (never DMs)", true},
    // Direct messages and people
    {P::kDmsOpen, "dms.open", "open direct and group messages with people one shares a room with",
     false},
    {P::kDmsOpenAny, "dms.open_any", "open direct messages with anyone on the site", false},
    {P::kPeopleSearch, "people.search", "find anyone on the site by name", false},
    {P::kPresenceView, "presence.view", "see whether people are online", false},
    // Messages
    {P::kMessagesRead, "messages.read", "read messages, threads and pins in rooms one may read",
     false},
    {P::kMessagesPost, "messages.post", "post messages and thread replies", false},
    {P::kMessagesEditOwn, "messages.edit_own", "edit one's own messages", false},
    {P::kMessagesDeleteOwn, "messages.delete_own", "delete one's own messages", false},
    {P::kMessagesEditAny, "messages.edit_any",
     "edit other people's messages in any channel one can see", false},
    {P::kMessagesDeleteAny, "messages.delete_any",
     "delete other people's messages in any channel one can see", false},
    {P::kMessagesPin, "messages.pin", "pin and unpin messages in any channel one can see", false},
    {P::kMessagesReact, "messages.react", "react to messages with an emoji", false},
    {P::kMessagesViewEdits, "messages.view_edits",
     "see the edit history of messages in any channel one can see", false},
    {P::kMessagesSearch, "messages.search", "full-text search of the rooms one may read", false},
    {P::kMessagesReadEvents, "messages.read_events",
     "receive the event stream of one's rooms (what a reconnecting client missed)", false},
    // Files
    {P::kFilesUpload, "files.upload", "upload files into rooms one may post in", false},
    {P::kFilesDownload, "files.download", "list and download the files of rooms one may read",
     false},
    {P::kFilesViewAll, "files.view_all", "list every file with usage per user and room", true},
    {P::kFilesVerify, "files.verify", "check every stored file against its recorded digest", true},
    // The caller's own account
    {P::kTokensManageOwn, "tokens.manage_own", "create, list and revoke one's own API tokens",
     false},
    {P::kSessionsManageOwn, "sessions.manage_own", "list and end one's own sessions", false},
    {P::kTwoFactorManageOwn, "twofactor.manage_own",
     "turn two-factor authentication on and off for one's own account", false},
    {P::kPasswordChangeOwn, "password.change_own", "change one's own password", false},
    // Accounts
    {P::kUsersView, "users.view", "list every account with its role and state", true},
    {P::kUsersCreate, "users.create", "create accounts", true},
    {P::kUsersDisable, "users.disable", "disable accounts (ends their sessions)", true},
    {P::kUsersEnable, "users.enable", "enable disabled accounts", true},
    {P::kUsersResetPassword, "users.reset_password", "set a new password for another account",
     true},
    {P::kUsersUnlock, "users.unlock", "unlock accounts locked after failed logins", true},
    {P::kUsersResetTwoFactor, "users.reset_twofactor",
     "remove another account's two-factor authentication", true},
    {P::kUsersErase, "users.erase", "erase an account and its personal data", true},
    {P::kUsersRevokeSessions, "users.revoke_sessions", "list and end other accounts' sessions",
     true},
    {P::kTokensManageAny, "tokens.manage_any", "create, list and revoke anyone's API tokens", true},
    // Roles
    {P::kRolesView, "roles.view", "list the roles and the permission catalogue", false},
    {P::kRolesAssign, "roles.assign", "give an account a role", true},
    {P::kRolesManage, "roles.manage", "create, change and delete custom roles", true},
    // Audit
    {P::kAuditView, "audit.view", "search and read the audit log", true},
    {P::kAuditExport, "audit.export", "export the audit log (JSON Lines or CEF)", true},
    {P::kAuditVerify, "audit.verify", "verify the audit log's hash chain and signatures", true},
    {P::kAuditCheckpoint, "audit.checkpoint", "sign and export audit checkpoints", true},
    {P::kAuditManageForwarding, "audit.manage_forwarding",
     "see and change forwarding of the audit log to the SIEM", true},
    // Data
    {P::kDataExport, "data.export", "export an account's personal data", true},
    {P::kRetentionRun, "retention.run", "purge content past its retention period now", true},
    // Settings and system
    {P::kSettingsView, "settings.view", "read the appliance's configuration", true},
    {P::kSettingsManage, "settings.manage", "change the appliance's configuration", true},
    {P::kCertsView, "certs.view", "see the TLS certificate in use", false},
    {P::kCertsManage, "certs.manage", "import a TLS certificate and key", true},
    {P::kMetricsView, "metrics.view", "read the Prometheus metrics and health details", true},
    {P::kSystemInit, "system.init", "initialise a data folder and its first administrator", true},
    {P::kSystemServe, "system.serve", "run the server", true},
    {P::kSystemMaintain, "system.maintain", "check and compact the database", true},
    {P::kSystemDiagnose, "system.diagnose", "run the self-diagnosis of an installation", true},
    {P::kReleasesSign, "releases.sign", "make release signing keys and sign release images", true},
    // Backups
    {P::kBackupsView, "backups.view", "list backups and the last scheduled runs", true},
    {P::kBackupsCreate, "backups.create", "make a backup now", true},
    {P::kBackupsVerify, "backups.verify", "verify a backup archive", true},
    {P::kBackupsRestore, "backups.restore", "restore a backup over the current data", true},
    {P::kBackupsManageKeys, "backups.manage_keys", "make the backup encryption key", true},
};
static_assert(std::size(kCatalogue) == kPermissionCount - 1,
              "every Permission needs exactly one catalogue entry");
static_assert(std::size(kCatalogue) >= 60, "the issue asks for at least 60 permissions");

constexpr bool CatalogueInEnumOrder() {
  for (size_t i = 0; i < std::size(kCatalogue); ++i) {
    if (static_cast<size_t>(kCatalogue[i].permission) != i + 1) return false;
  }
  return true;
}
static_assert(CatalogueInEnumOrder(), "kCatalogue must list permissions in enum order");

PermissionSet Set(std::initializer_list<Permission> ps) {
  PermissionSet s;
  for (Permission p : ps) s.set(static_cast<size_t>(p));
  return s;
}

// What every signed-in person at a desk does: chat, files, their own account.
PermissionSet UserSet() {
  return Set({P::kRoomsCreatePublic,
              P::kRoomsCreatePrivate,
              P::kRoomsBrowseDirectory,
              P::kRoomsJoinPublic,
              P::kDmsOpen,
              P::kDmsOpenAny,
              P::kPeopleSearch,
              P::kPresenceView,
              P::kMessagesRead,
              P::kMessagesPost,
              P::kMessagesEditOwn,
              P::kMessagesDeleteOwn,
              P::kMessagesReact,
              P::kMessagesSearch,
              P::kMessagesReadEvents,
              P::kFilesUpload,
              P::kFilesDownload,
              P::kTokensManageOwn,
              P::kSessionsManageOwn,
              P::kTwoFactorManageOwn,
              P::kPasswordChangeOwn,
              P::kRolesView,
              P::kCertsView});
}

// Own account only: what anyone who signs in by password needs.
PermissionSet OwnAccountSet() {
  return Set({P::kSessionsManageOwn, P::kTwoFactorManageOwn, P::kPasswordChangeOwn});
}

std::vector<Role> MakeBuiltIns() {
  std::vector<Role> roles;
  auto add = [&](std::string_view id, std::string_view name, std::string_view description,
                 PermissionSet set) {
    Role r;
    r.id = std::string(id);
    r.name = std::string(name);
    r.description = std::string(description);
    r.built_in = true;
    r.permissions = set;
    roles.push_back(std::move(r));
  };
  add(kRoleAdmin, "Administrator", "everything, on every account, room and setting",
      AllPermissions());
  add(kRoleUserManager, "User manager",
      "a user who also manages accounts (not roles, settings or the audit log)",
      UserSet() | Set({P::kUsersView, P::kUsersCreate, P::kUsersDisable, P::kUsersEnable,
                       P::kUsersResetPassword, P::kUsersUnlock, P::kUsersResetTwoFactor,
                       P::kUsersRevokeSessions}));
  add(kRoleModerator, "Moderator",
      "a user who also moderates every channel they can see: edit, delete and pin others' "
      "messages, manage members, archive",
      UserSet() | Set({P::kRoomsPostAnnouncement, P::kRoomsManageMembers, P::kRoomsManageAny,
                       P::kRoomsArchive, P::kMessagesEditAny, P::kMessagesDeleteAny,
                       P::kMessagesPin, P::kMessagesViewEdits}));
  add(kRoleUser, "User", "chat: create rooms, open DMs, post, upload", UserSet());
  add(kRoleGuest, "Guest",
      "only the rooms they are invited to: no directory, no joining, no new rooms, DMs only "
      "with people they share a room with",
      OwnAccountSet() |
          Set({P::kDmsOpen, P::kPresenceView, P::kMessagesRead, P::kMessagesPost,
               P::kMessagesEditOwn, P::kMessagesDeleteOwn, P::kMessagesReact, P::kMessagesSearch,
               P::kMessagesReadEvents, P::kFilesUpload, P::kFilesDownload}));
  add(kRoleAuditor, "Auditor",
      "read-only access to the audit log and the account list; no messages unless granted",
      OwnAccountSet() | Set({P::kAuditView, P::kAuditExport, P::kAuditVerify, P::kUsersView,
                             P::kRolesView, P::kTokensManageOwn}));
  add(kRoleBot, "Bot", "an API client: reads and posts in the rooms it belongs to, with API tokens",
      Set({P::kDmsOpen, P::kPresenceView, P::kMessagesRead, P::kMessagesPost, P::kMessagesEditOwn,
           P::kMessagesDeleteOwn, P::kMessagesReact, P::kMessagesReadEvents, P::kFilesUpload,
           P::kFilesDownload, P::kTokensManageOwn}));
  return roles;
}

// The Roles that RolePermissions consults for custom roles: the one loaded last.
std::atomic<const Roles*> g_active_roles{nullptr};

Status CheckRoleText(std::string_view what, std::string_view text, size_t max) {
  if (text.size() > max) {
    return Status::InvalidArgument("a role's " + std::string(what) + " must be at most " +
                                   std::to_string(max) + " bytes");
  }
  for (unsigned char c : text) {
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("a role's " + std::string(what) +
                                     " must not contain control characters");
    }
  }
  return Status::Ok();
}

// Changes whenever a custom role is made, changed or deleted (each change sets updated_at).
Result<std::string> Fingerprint(storage::Connection& conn) {
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement q,
                           conn.Prepare("SELECT count(*), coalesce(max(updated_at), 0), "
                                        "(SELECT count(*) FROM role_permissions) FROM roles"));
  OUTPOST_ASSIGN_OR_RETURN(bool row, q.Step());
  if (!row) return std::string();
  return std::to_string(q.ColumnInt64(0)) + "/" + std::to_string(q.ColumnInt64(1)) + "/" +
         std::to_string(q.ColumnInt64(2));
}

Result<PermissionSet> ParseNames(const std::vector<std::string>& names) {
  PermissionSet set;
  for (const std::string& n : names) {
    std::optional<Permission> p = ParsePermission(n);
    if (!p) {
      return Status::InvalidArgument("unknown permission '" + n +
                                     "' (outpost role permissions lists them)");
    }
    set.set(static_cast<size_t>(*p));
  }
  return set;
}

Status WritePermissions(storage::Connection& conn, std::string_view id, const PermissionSet& set) {
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement del,
                           conn.Prepare("DELETE FROM role_permissions WHERE role_id = ?"));
  del.Bind(1, id);
  OUTPOST_RETURN_IF_ERROR(del.Run());
  for (const std::string& name : PermissionNames(set)) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement ins,
        conn.Prepare("INSERT INTO role_permissions (role_id, permission) VALUES (?, ?)"));
    ins.Bind(1, id).Bind(2, name);
    OUTPOST_RETURN_IF_ERROR(ins.Run());
  }
  return Status::Ok();
}

}  // namespace

std::span<const PermissionInfo> PermissionCatalogue() { return kCatalogue; }

const PermissionInfo* FindPermission(Permission p) {
  size_t i = static_cast<size_t>(p);
  if (i == 0 || i >= kPermissionCount) return nullptr;
  return &kCatalogue[i - 1];
}

std::string_view PermissionName(Permission p) {
  const PermissionInfo* info = FindPermission(p);
  return info == nullptr ? "none" : info->name;
}

std::optional<Permission> ParsePermission(std::string_view name) {
  for (const PermissionInfo& info : kCatalogue) {
    if (info.name == name) return info.permission;
  }
  return std::nullopt;
}

std::vector<std::string> PermissionNames(const PermissionSet& set) {
  std::vector<std::string> out;
  for (const PermissionInfo& info : kCatalogue) {
    if (set.test(static_cast<size_t>(info.permission))) out.emplace_back(info.name);
  }
  return out;
}

PermissionSet AllPermissions() {
  PermissionSet s;
  s.set();
  s.reset(0);
  return s;
}

bool IsPrivileged(const PermissionSet& set) {
  for (const PermissionInfo& info : kCatalogue) {
    if (info.privileged && set.test(static_cast<size_t>(info.permission))) return true;
  }
  return false;
}

const std::vector<Role>& BuiltInRoles() {
  static const std::vector<Role>* roles = new std::vector<Role>(MakeBuiltIns());
  return *roles;
}

const Role* FindBuiltInRole(std::string_view id) {
  for (const Role& r : BuiltInRoles()) {
    if (r.id == id) return &r;
  }
  return nullptr;
}

Status CheckRoleId(std::string_view id) {
  if (id.size() < 2 || id.size() > 32) {
    return Status::InvalidArgument("a role id must be 2 to 32 characters long");
  }
  if (id[0] < 'a' || id[0] > 'z') {
    return Status::InvalidArgument("a role id must start with a lower-case letter");
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) {
      return Status::InvalidArgument(
          "a role id may contain only lower-case letters, digits and '-'");
    }
  }
  return Status::Ok();
}

PermissionSet RolePermissions(std::string_view role) {
  if (const Role* b = FindBuiltInRole(role)) return b->permissions;
  const Roles* roles = g_active_roles.load();
  return roles == nullptr ? PermissionSet() : roles->PermissionsOf(role);
}

Roles::Roles(storage::Database* db) : db_(db) {}

Roles::~Roles() {
  const Roles* self = this;
  g_active_roles.compare_exchange_strong(self, nullptr);
}

Status Roles::Load() {
  std::map<std::string, Role, std::less<>> loaded;
  std::string fingerprint;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) -> Status {
    loaded.clear();
    OUTPOST_ASSIGN_OR_RETURN(fingerprint, Fingerprint(conn));
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement q,
        conn.Prepare("SELECT id, name, description, created_at, updated_at FROM roles "
                     "WHERE built_in = 0"));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      Role r;
      r.id = q.ColumnText(0);
      r.name = q.ColumnText(1);
      r.description = q.ColumnText(2);
      r.created_at = q.ColumnInt64(3);
      r.updated_at = q.ColumnInt64(4);
      loaded.emplace(r.id, std::move(r));
    }
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement perms,
        conn.Prepare("SELECT role_id, permission FROM role_permissions ORDER BY role_id"));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, perms.Step());
      if (!row) break;
      std::string role = perms.ColumnText(0);
      std::string name = perms.ColumnText(1);
      auto it = loaded.find(role);
      if (it == loaded.end()) continue;  // a built-in role's row: they are defined in code
      std::optional<Permission> p = ParsePermission(name);
      if (!p) {
        return Status::Corruption("role '" + role + "' holds permission '" + name +
                                  "', which this outpost does not know: run the outpost "
                                  "release that made it, or remove it from the role");
      }
      it->second.permissions.set(static_cast<size_t>(*p));
    }
    return Status::Ok();
  }));
  {
    std::lock_guard<std::mutex> lock(mu_);
    custom_ = std::move(loaded);
    fingerprint_ = std::move(fingerprint);
    last_check_ = std::chrono::steady_clock::now();
  }
  g_active_roles.store(this);
  return Status::Ok();
}

Status Roles::Refresh() {
  const auto now = std::chrono::steady_clock::now();
  std::string known;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (now - last_check_ < std::chrono::seconds(1)) return Status::Ok();
    last_check_ = now;
    known = fingerprint_;
  }
  std::string current;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(current, Fingerprint(conn));
    return Status::Ok();
  }));
  return current == known ? Status::Ok() : Load();
}

PermissionSet Roles::PermissionsOf(std::string_view role) const {
  if (const Role* b = FindBuiltInRole(role)) return b->permissions;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = custom_.find(role);
  return it == custom_.end() ? PermissionSet() : it->second.permissions;
}

bool Roles::Exists(std::string_view role) const {
  if (FindBuiltInRole(role) != nullptr) return true;
  std::lock_guard<std::mutex> lock(mu_);
  return custom_.find(role) != custom_.end();
}

bool Roles::Has(std::string_view role, Permission p) const {
  if (p == Permission::kNone) return Exists(role);
  size_t i = static_cast<size_t>(p);
  if (i >= kPermissionCount) return false;
  return PermissionsOf(role).test(i);
}

bool Roles::IsPrivileged(std::string_view role) const {
  return domain::IsPrivileged(PermissionsOf(role));
}

Result<Role> Roles::Get(std::string_view id) const {
  if (const Role* b = FindBuiltInRole(id)) return *b;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = custom_.find(id);
  if (it == custom_.end()) return Status::NotFound("no role '" + std::string(id) + "'");
  return it->second;
}

std::vector<Role> Roles::List() const {
  std::vector<Role> out = BuiltInRoles();
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, r] : custom_) out.push_back(r);
  return out;
}

Result<int64_t> Roles::CountUsers(std::string_view id) const {
  int64_t n = 0;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement q,
                             conn.Prepare("SELECT count(*) FROM users WHERE role = ?"));
    q.Bind(1, id);
    OUTPOST_ASSIGN_OR_RETURN(bool row, q.Step());
    n = row ? q.ColumnInt64(0) : 0;
    return Status::Ok();
  }));
  return n;
}

Result<Role> Roles::Create(std::string_view id, const RoleSpec& spec, const Clock& clock) {
  OUTPOST_RETURN_IF_ERROR(CheckRoleId(id));
  if (FindBuiltInRole(id) != nullptr) {
    return Status::AlreadyExists("'" + std::string(id) + "' is a built-in role");
  }
  if (!spec.name || spec.name->empty()) {
    return Status::InvalidArgument("a new role needs a name (the one people see)");
  }
  OUTPOST_RETURN_IF_ERROR(CheckRoleText("name", *spec.name, 64));
  const std::string description = spec.description.value_or("");
  OUTPOST_RETURN_IF_ERROR(CheckRoleText("description", description, 200));
  PermissionSet set;
  if (spec.permissions) {
    OUTPOST_ASSIGN_OR_RETURN(set, ParseNames(*spec.permissions));
  }
  const UnixMillis now = clock.NowMillis();
  Status st = db_->Write([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement ins,
        conn.Prepare("INSERT INTO roles (id, name, description, built_in, created_at, "
                     "updated_at) VALUES (?, ?, ?, 0, ?, ?)"));
    ins.Bind(1, id).Bind(2, *spec.name).Bind(3, description).Bind(4, now).Bind(5, now);
    Status s = ins.Run();
    if (s.IsAlreadyExists()) {
      return Status::AlreadyExists("a role '" + std::string(id) + "' already exists");
    }
    OUTPOST_RETURN_IF_ERROR(s);
    return WritePermissions(conn, id, set);
  });
  OUTPOST_RETURN_IF_ERROR(st);
  OUTPOST_RETURN_IF_ERROR(Load());
  return Get(id);
}

Result<Role> Roles::Update(std::string_view id, const RoleSpec& spec, const Clock& clock) {
  if (FindBuiltInRole(id) != nullptr) {
    return Status::FailedPrecondition("'" + std::string(id) +
                                      "' is a built-in role: built-in roles cannot be changed "
                                      "(make a custom role from the catalogue instead)");
  }
  OUTPOST_ASSIGN_OR_RETURN(Role current, Get(id));
  if (spec.name) {
    if (spec.name->empty()) return Status::InvalidArgument("a role's name must not be empty");
    OUTPOST_RETURN_IF_ERROR(CheckRoleText("name", *spec.name, 64));
    current.name = *spec.name;
  }
  if (spec.description) {
    OUTPOST_RETURN_IF_ERROR(CheckRoleText("description", *spec.description, 200));
    current.description = *spec.description;
  }
  if (spec.permissions) {
    OUTPOST_ASSIGN_OR_RETURN(current.permissions, ParseNames(*spec.permissions));
  }
  const UnixMillis now = clock.NowMillis();
  Status st = db_->Write([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement up,
        conn.Prepare("UPDATE roles SET name = ?, description = ?, updated_at = ? "
                     "WHERE id = ? AND built_in = 0"));
    up.Bind(1, current.name).Bind(2, current.description).Bind(3, now).Bind(4, id);
    OUTPOST_RETURN_IF_ERROR(up.Run());
    if (conn.Changes() == 0) return Status::NotFound("no role '" + std::string(id) + "'");
    return WritePermissions(conn, id, current.permissions);
  });
  OUTPOST_RETURN_IF_ERROR(st);
  OUTPOST_RETURN_IF_ERROR(Load());
  return Get(id);
}

Status Roles::Delete(std::string_view id) {
  if (FindBuiltInRole(id) != nullptr) {
    return Status::FailedPrecondition("'" + std::string(id) +
                                      "' is a built-in role: built-in roles cannot be deleted");
  }
  Status st = db_->Write([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement used,
                             conn.Prepare("SELECT count(*) FROM users WHERE role = ?"));
    used.Bind(1, id);
    OUTPOST_ASSIGN_OR_RETURN(bool row, used.Step());
    const int64_t holders = row ? used.ColumnInt64(0) : 0;
    if (holders > 0) {
      return Status::FailedPrecondition("role '" + std::string(id) + "' is held by " +
                                        std::to_string(holders) +
                                        (holders == 1 ? " account" : " accounts") +
                                        ": give them another role first (outpost user set-role)");
    }
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement del,
                             conn.Prepare("DELETE FROM roles WHERE id = ? AND built_in = 0"));
    del.Bind(1, id);
    OUTPOST_RETURN_IF_ERROR(del.Run());
    if (conn.Changes() == 0) return Status::NotFound("no role '" + std::string(id) + "'");
    return Status::Ok();
  });
  OUTPOST_RETURN_IF_ERROR(st);
  return Load();
}

Result<std::string> Roles::AssignToUser(std::string_view username, std::string_view role_id,
                                        const Clock& clock) {
  if (!Exists(role_id)) {
    return Status::NotFound("no role '" + std::string(role_id) +
                            "' (outpost role list shows them)");
  }
  std::string before;
  const UnixMillis now = clock.NowMillis();
  Status st = db_->Write([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement q,
                             conn.Prepare("SELECT id, role FROM users WHERE username = ?"));
    q.Bind(1, username);
    OUTPOST_ASSIGN_OR_RETURN(bool found, q.Step());
    if (!found) return Status::NotFound("no user '" + std::string(username) + "'");
    const int64_t uid = q.ColumnInt64(0);
    before = q.ColumnText(1);
    if (before == kRoleAdmin && role_id != kRoleAdmin) {
      // Someone must keep the power to give roles back, or the site is locked out of its own
      // administration until an operator steps in on the shell.
      OUTPOST_ASSIGN_OR_RETURN(
          storage::Statement others,
          conn.Prepare("SELECT count(*) FROM users WHERE role = 'admin' AND disabled = 0 "
                       "AND id != ?"));
      others.Bind(1, uid);
      OUTPOST_ASSIGN_OR_RETURN(bool row, others.Step());
      if (!row || others.ColumnInt64(0) == 0) {
        return Status::FailedPrecondition("'" + std::string(username) +
                                          "' is the last enabled administrator: make another "
                                          "administrator first");
      }
    }
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement up,
        conn.Prepare("UPDATE users SET role = ?, updated_at = ? WHERE id = ?"));
    up.Bind(1, role_id).Bind(2, now).Bind(3, uid);
    return up.Run();
  });
  OUTPOST_RETURN_IF_ERROR(st);
  return before;
}

}  // namespace outpost::domain
