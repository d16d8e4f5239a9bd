// Handlers of the roles and permissions routes (role_handlers.cc), named in routes.cc. Each
// follows the Handler contract of routes.h; the route table declares the permission each needs.
#ifndef OUTPOST_API_ROLE_HANDLERS_H_
#define OUTPOST_API_ROLE_HANDLERS_H_

#include <nlohmann/json.hpp>

#include "api/routes.h"

namespace outpost::api {

// GET /api/v1/permissions: the catalogue, [{name, description, privileged}], in order.
Status HandleListPermissions(Call& call);
// GET /api/v1/roles: every role (built-in first) with its permissions and how many accounts
// hold it.
Status HandleListRoles(Call& call);
// POST /api/v1/roles {"id", "name", "description"?, "permissions": [...]}: a custom role;
// 201 with it. A caller cannot grant permissions its own role lacks. Audited as role.create.
Status HandleCreateRole(Call& call);
// PATCH /api/v1/roles/{id} {"name"?, "description"?, "permissions"?}: changes a custom role
// (409 for a built-in one). Audited as role.update with the permissions added and removed.
Status HandleUpdateRole(Call& call);
// DELETE /api/v1/roles/{id}: deletes a custom role that no account holds (409 otherwise).
// Audited as role.delete.
Status HandleDeleteRole(Call& call);
// PUT /api/v1/users/{name}/role {"role"}: gives the account the role. A caller cannot give a
// role holding permissions its own lacks. Audited as user.role_changed (from, to).
Status HandleSetUserRole(Call& call);

// PermissionDenied, naming them, when `role` holds permissions the caller's own role lacks:
// nobody hands out what they do not hold (a user manager makes users, not administrators).
// OK for an unknown role (the account layer refuses it) or when roles are not loaded.
Status CheckGrantableRole(const Call& call, std::string_view role);

// What GET /api/v1/me adds for the web client: {"privileged": whether the caller's role is,
// "permissions": the names of its permissions}.
nlohmann::json MyPermissionsJson(const Call& call);

// The JSON form of a role (id, name, description, built_in, privileged, permissions).
nlohmann::json RoleJson(const domain::Role& role);

}  // namespace outpost::api

#endif  // OUTPOST_API_ROLE_HANDLERS_H_
