// Roles and permissions in the API: the catalogue, custom roles, and giving an account a role.
// Every change is audited; a change whose audit record cannot be written is refused first.
#include "api/role_handlers.h"

#include "api/handler_audit.h"

#include <httplib.h>

#include "util/log.h"

namespace outpost::api {
namespace {

Status NoRoles() { return Status::Unavailable("roles are not loaded on this server"); }

// An optional string member: nullopt when absent, an error when not a string or too long.
Result<std::optional<std::string>> OptionalString(const nlohmann::json& body, const char* name,
                                                  size_t max_bytes) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::optional<std::string>();
  if (!it->is_string())
    return Status::InvalidArgument(std::string("'") + name + "' must be a string");
  std::string v = it->get<std::string>();
  if (v.size() > max_bytes)
    return Status::InvalidArgument(std::string("'") + name + "' is too long");
  return std::optional<std::string>(std::move(v));
}

Result<domain::RoleSpec> SpecFrom(const nlohmann::json& body) {
  domain::RoleSpec spec;
  OUTPOST_ASSIGN_OR_RETURN(spec.name, OptionalString(body, "name", 256));
  OUTPOST_ASSIGN_OR_RETURN(spec.description, OptionalString(body, "description", 1024));
  if (auto it = body.find("permissions"); it != body.end() && !it->is_null()) {
    if (!it->is_array()) {
      return Status::InvalidArgument("'permissions' must be a list of permission names");
    }
    std::vector<std::string> names;
    for (const auto& v : *it) {
      if (!v.is_string()) {
        return Status::InvalidArgument("'permissions' must be a list of permission names");
      }
      names.push_back(v.get<std::string>());
    }
    spec.permissions = std::move(names);
  }
  return spec;
}

domain::PermissionSet CallerPermissions(const Call& call) {
  return call.svc.roles->PermissionsOf(call.principal->user.role);
}

// Nobody hands out what they do not hold: a role (or an account's new role) may carry only
// permissions the caller's own role has.
Status CheckGrantable(const Call& call, const domain::PermissionSet& wanted) {
  const domain::PermissionSet beyond = wanted & ~CallerPermissions(call);
  if (beyond.none()) return Status::Ok();
  std::vector<std::string> names = domain::PermissionNames(beyond);
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
  return Status::PermissionDenied("your role cannot grant permissions it does not hold: " + list);
}

Result<domain::PermissionSet> ParseSet(const std::vector<std::string>& names) {
  domain::PermissionSet set;
  for (const std::string& n : names) {
    std::optional<domain::Permission> p = domain::ParsePermission(n);
    if (!p) return Status::InvalidArgument("unknown permission '" + n.substr(0, 64) + "'");
    set.set(static_cast<size_t>(*p));
  }
  return set;
}

}  // namespace

Status CheckGrantableRole(const Call& call, std::string_view role) {
  if (call.svc.roles == nullptr || !call.svc.roles->Exists(role)) return Status::Ok();
  return CheckGrantable(call, call.svc.roles->PermissionsOf(role));
}

nlohmann::json RoleJson(const domain::Role& role) {
  return {{"id", role.id},
          {"name", role.name},
          {"description", role.description},
          {"built_in", role.built_in},
          {"privileged", domain::IsPrivileged(role.permissions)},
          {"permissions", domain::PermissionNames(role.permissions)}};
}

nlohmann::json MyPermissionsJson(const Call& call) {
  const std::string& role = call.principal->user.role;
  const domain::PermissionSet set = call.svc.roles != nullptr ? call.svc.roles->PermissionsOf(role)
                                                              : domain::RolePermissions(role);
  return {{"privileged", domain::IsPrivileged(set)}, {"permissions", domain::PermissionNames(set)}};
}

Status HandleListPermissions(Call& call) {
  nlohmann::json list = nlohmann::json::array();
  for (const domain::PermissionInfo& p : domain::PermissionCatalogue()) {
    list.push_back(
        {{"name", p.name}, {"description", p.description}, {"privileged", p.privileged}});
  }
  SetJson(call.res, 200, {{"permissions", list}});
  return Status::Ok();
}

Status HandleListRoles(Call& call) {
  if (call.svc.roles == nullptr) return NoRoles();
  nlohmann::json list = nlohmann::json::array();
  for (const domain::Role& r : call.svc.roles->List()) {
    nlohmann::json j = RoleJson(r);
    OUTPOST_ASSIGN_OR_RETURN(j["user_count"], call.svc.roles->CountUsers(r.id));
    list.push_back(std::move(j));
  }
  SetJson(call.res, 200, {{"roles", list}});
  return Status::Ok();
}

Status HandleCreateRole(Call& call) {
  if (call.svc.roles == nullptr) return NoRoles();
  auto id_it = call.body.find("id");
  if (id_it == call.body.end() || !id_it->is_string()) {
    return Status::InvalidArgument("'id' is required and must be a string");
  }
  const std::string id = id_it->get<std::string>().substr(0, 64);
  OUTPOST_ASSIGN_OR_RETURN(domain::RoleSpec spec, SpecFrom(call.body));
  if (spec.permissions) {
    OUTPOST_ASSIGN_OR_RETURN(domain::PermissionSet wanted, ParseSet(*spec.permissions));
    OUTPOST_RETURN_IF_ERROR(CheckGrantable(call, wanted));
  }
  OUTPOST_RETURN_IF_ERROR(AdmitAudit(call));
  Result<domain::Role> made = call.svc.roles->Create(id, spec, *call.svc.clock);
  domain::AuditEvent event = AuditEventFor(call, "role.create", "role:" + id);
  if (made.ok()) event.details["permissions"] = domain::PermissionNames(made->permissions);
  Status audited = Audit(call, event, made.status());
  OUTPOST_RETURN_IF_ERROR(made.status());
  OUTPOST_RETURN_IF_ERROR(audited);  // the role exists; the error says it went unaudited
  SetJson(call.res, 201, {{"role", RoleJson(*made)}});
  return Status::Ok();
}

Status HandleUpdateRole(Call& call) {
  if (call.svc.roles == nullptr) return NoRoles();
  const std::string id = call.req.matches[1].str();
  OUTPOST_ASSIGN_OR_RETURN(domain::RoleSpec spec, SpecFrom(call.body));
  Result<domain::Role> before = call.svc.roles->Get(id);
  if (spec.permissions) {
    OUTPOST_ASSIGN_OR_RETURN(domain::PermissionSet wanted, ParseSet(*spec.permissions));
    // Only what is added is a grant; a caller may still take away what it does not hold.
    const domain::PermissionSet had = before.ok() ? before->permissions : domain::PermissionSet();
    OUTPOST_RETURN_IF_ERROR(CheckGrantable(call, wanted & ~had));
  }
  OUTPOST_RETURN_IF_ERROR(AdmitAudit(call));
  Result<domain::Role> after = call.svc.roles->Update(id, spec, *call.svc.clock);
  domain::AuditEvent event = AuditEventFor(call, "role.update", "role:" + id);
  if (after.ok() && before.ok()) {
    event.details["added"] = domain::PermissionNames(after->permissions & ~before->permissions);
    event.details["removed"] = domain::PermissionNames(before->permissions & ~after->permissions);
    if (after->name != before->name) event.details["name"] = after->name;
  }
  Status audited = Audit(call, event, after.status());
  OUTPOST_RETURN_IF_ERROR(after.status());
  OUTPOST_RETURN_IF_ERROR(audited);
  SetJson(call.res, 200, {{"role", RoleJson(*after)}});
  return Status::Ok();
}

Status HandleDeleteRole(Call& call) {
  if (call.svc.roles == nullptr) return NoRoles();
  const std::string id = call.req.matches[1].str();
  OUTPOST_RETURN_IF_ERROR(AdmitAudit(call));
  Result<domain::Role> before = call.svc.roles->Get(id);
  Status st = call.svc.roles->Delete(id);
  domain::AuditEvent event = AuditEventFor(call, "role.delete", "role:" + id);
  if (before.ok()) event.details["permissions"] = domain::PermissionNames(before->permissions);
  Status audited = Audit(call, event, st);
  OUTPOST_RETURN_IF_ERROR(st);
  OUTPOST_RETURN_IF_ERROR(audited);
  SetJson(call.res, 200, {{"deleted", id}});
  return Status::Ok();
}

Status HandleSetUserRole(Call& call) {
  if (call.svc.roles == nullptr) return NoRoles();
  const std::string username = call.req.matches[1].str();
  auto it = call.body.find("role");
  if (it == call.body.end() || !it->is_string()) {
    return Status::InvalidArgument("'role' is required and must be a string");
  }
  const std::string role = it->get<std::string>().substr(0, 64);
  if (!call.svc.roles->Exists(role)) {
    return Status::InvalidArgument("unknown role '" + role + "' (GET /api/v1/roles lists them)");
  }
  OUTPOST_RETURN_IF_ERROR(CheckGrantable(call, call.svc.roles->PermissionsOf(role)));
  if (username == call.principal->user.username) {
    return Status::FailedPrecondition("you cannot change your own role: ask another administrator");
  }
  OUTPOST_RETURN_IF_ERROR(AdmitAudit(call));
  Result<std::string> before = call.svc.roles->AssignToUser(username, role, *call.svc.clock);
  domain::AuditEvent event = AuditEventFor(call, "user.role_changed", "user:" + username);
  event.details["to"] = role;
  if (before.ok()) event.details["from"] = *before;
  Status audited = Audit(call, event, before.status());
  OUTPOST_RETURN_IF_ERROR(before.status());
  OUTPOST_RETURN_IF_ERROR(audited);
  log::Info("role changed",
            {{"user", username}, {"role", role}, {"by", call.principal->user.username}});
  OUTPOST_ASSIGN_OR_RETURN(domain::User user, call.svc.accounts->FindByName(username));
  SetJson(call.res, 200, {{"user", UserJson(user)}});
  return Status::Ok();
}

}  // namespace outpost::api
