// outpost role list|show|create|update|delete: the roles of the appliance from its shell. The
// built-in roles are shown and never changed; custom roles are made from the permission
// catalogue. `role list --markdown` prints the catalogue with the built-in roles' columns,
// which is how docs/permissions.md is made.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "api/routes.h"
#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "domain/permissions.h"

namespace outpost::cli {
namespace {

struct RoleArgs {
  std::string id;
  std::optional<std::string> name;
  std::optional<std::string> description;
  std::vector<std::string> permissions;  // --permission: the whole set (create, update)
  std::vector<std::string> add;          // update --add
  std::vector<std::string> remove;       // update --remove
  bool json = false;
  bool markdown = false;
};

// Runs `fn` with the loaded roles and the audit log of the configured data folder.
int WithRoles(const GlobalOptions& global,
              const std::function<int(storage::Database&, domain::Roles&, CommandAudit&)>& fn) {
  Result<config::Config> cfg = LoadConfig(global);
  if (!cfg.ok()) return ConfigFailure(cfg.status());
  Result<std::unique_ptr<storage::Database>> db = OpenDatabase(*cfg);
  if (!db.ok()) return Fail(db.status());
  domain::Roles roles(db->get());
  if (Status st = roles.Load(); !st.ok()) return Fail(st);
  CommandAudit audit(db->get(), *cfg);
  return fn(**db, roles, audit);
}

nlohmann::json RoleToJson(const domain::Role& r, int64_t holders) {
  return {{"id", r.id},
          {"name", r.name},
          {"description", r.description},
          {"built_in", r.built_in},
          {"privileged", domain::IsPrivileged(r.permissions)},
          {"user_count", holders},
          {"permissions", domain::PermissionNames(r.permissions)}};
}

// A Markdown cell must not break the table.
std::string Cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|')
      out += "\\|";
    else
      out += c;
  }
  return out;
}

// The catalogue as a table with one column per built-in role ("x": holds it), then the
// built-in roles, the routes and the commands with what each needs.
std::string CatalogueMarkdown() {
  std::ostringstream out;
  const std::vector<domain::Role>& roles = domain::BuiltInRoles();
  out << "## Catalogue\n\n| permission | what it allows | privileged |";
  for (const domain::Role& r : roles) out << " " << r.id << " |";
  out << "\n|---|---|---|";
  for (size_t i = 0; i < roles.size(); ++i) out << "---|";
  out << "\n";
  for (const domain::PermissionInfo& p : domain::PermissionCatalogue()) {
    out << "| `" << p.name << "` | " << Cell(p.description) << " | " << (p.privileged ? "yes" : "")
        << " |";
    for (const domain::Role& r : roles) {
      out << " " << (r.permissions.test(static_cast<size_t>(p.permission)) ? "x" : "") << " |";
    }
    out << "\n";
  }
  out << "\n## Built-in roles\n\n| role | name | what it is for |\n|---|---|---|\n";
  for (const domain::Role& r : roles) {
    out << "| `" << r.id << "` | " << Cell(r.name) << " | " << Cell(r.description) << " |\n";
  }
  out << "\n## Routes\n\n| method | path | needs |\n|---|---|---|\n";
  for (const api::Route& route : api::RouteTable()) {
    std::string needs = route.access == api::Access::kPublic ? "anyone (public)"
                        : route.permission == domain::Permission::kNone
                            ? (route.pattern.find('(') != std::string_view::npos
                                   ? "signed in; the room's roles decide"
                                   : "any signed-in account")
                            : "`" + std::string(domain::PermissionName(route.permission)) + "`";
    out << "| " << route.method << " | `" << Cell(route.pattern) << "` | " << needs << " |\n";
  }
  out << "\n## Commands\n\nThe operator on the shell holds every permission (see "
         "operations.md); this is what each command corresponds to.\n\n"
         "| command | corresponds to |\n|---|---|\n";
  for (const CommandPermission& c : CommandPermissions()) {
    out << "| `outpost " << c.path << "` | "
        << (c.permission == domain::Permission::kNone
                ? std::string("nothing (touches no appliance data)")
                : "`" + std::string(domain::PermissionName(c.permission)) + "`")
        << " |\n";
  }
  return out.str();
}

int List(const GlobalOptions& global, const RoleArgs& a) {
  if (a.markdown) {
    // From code alone: needs no data folder, so docs can be made on any build machine.
    std::cout << CatalogueMarkdown();
    return int{kExitOk};
  }
  return WithRoles(global, [&](storage::Database&, domain::Roles& roles, CommandAudit&) {
    std::vector<domain::Role> all = roles.List();
    if (a.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const domain::Role& r : all) {
        Result<int64_t> n = roles.CountUsers(r.id);
        if (!n.ok()) return Fail(n.status());
        out.push_back(RoleToJson(r, *n));
      }
      std::cout << out.dump(2) << "\n";
      return int{kExitOk};
    }
    std::cout << std::left << std::setw(16) << "ROLE" << std::setw(10) << "KIND" << std::setw(8)
              << "USERS" << std::setw(13) << "PERMISSIONS"
              << "NAME\n";
    for (const domain::Role& r : all) {
      Result<int64_t> n = roles.CountUsers(r.id);
      if (!n.ok()) return Fail(n.status());
      std::cout << std::setw(16) << r.id << std::setw(10) << (r.built_in ? "built-in" : "custom")
                << std::setw(8) << *n << std::setw(13) << r.permissions.count() << r.name
                << (domain::IsPrivileged(r.permissions) ? " (privileged)" : "") << "\n";
    }
    return int{kExitOk};
  });
}

int Show(const GlobalOptions& global, const RoleArgs& a) {
  return WithRoles(global, [&](storage::Database&, domain::Roles& roles, CommandAudit&) {
    Result<domain::Role> r = roles.Get(a.id);
    if (!r.ok()) return Fail(r.status());
    Result<int64_t> n = roles.CountUsers(r->id);
    if (!n.ok()) return Fail(n.status());
    if (a.json) {
      std::cout << RoleToJson(*r, *n).dump(2) << "\n";
      return int{kExitOk};
    }
    std::cout << r->id << ": " << r->name << (r->built_in ? " (built-in)" : " (custom)") << "\n";
    if (!r->description.empty()) std::cout << "  " << r->description << "\n";
    std::cout << "  held by " << *n << (*n == 1 ? " account" : " accounts")
              << (domain::IsPrivileged(r->permissions) ? "; privileged" : "") << "\n";
    for (const domain::PermissionInfo& p : domain::PermissionCatalogue()) {
      if (!r->permissions.test(static_cast<size_t>(p.permission))) continue;
      std::cout << "  " << std::left << std::setw(26) << p.name << p.description << "\n";
    }
    return int{kExitOk};
  });
}

int Create(const GlobalOptions& global, const RoleArgs& a) {
  return WithRoles(global, [&](storage::Database&, domain::Roles& roles, CommandAudit& audit) {
    if (Status st = audit.log().Admit(); !st.ok()) return Fail(st);
    domain::RoleSpec spec;
    spec.name = a.name;
    spec.description = a.description;
    spec.permissions = a.permissions;
    Result<domain::Role> made = roles.Create(a.id, spec, *SystemClock());
    nlohmann::json details = nlohmann::json::object();
    if (made.ok()) details["permissions"] = domain::PermissionNames(made->permissions);
    Status audited = audit.Record("role.create", "role:" + a.id, made.status(), details);
    if (!made.ok()) return Fail(made.status());
    if (!audited.ok()) return Fail(audited);
    std::cout << "created role " << made->id << " with " << made->permissions.count()
              << " permissions\n";
    return int{kExitOk};
  });
}

int Update(const GlobalOptions& global, const RoleArgs& a) {
  return WithRoles(global, [&](storage::Database&, domain::Roles& roles, CommandAudit& audit) {
    Result<domain::Role> before = roles.Get(a.id);
    if (!before.ok()) return Fail(before.status());
    domain::RoleSpec spec;
    spec.name = a.name;
    spec.description = a.description;
    if (!a.permissions.empty() || !a.add.empty() || !a.remove.empty()) {
      // --permission replaces the set; --add and --remove change the current one.
      std::vector<std::string> names =
          a.permissions.empty() ? domain::PermissionNames(before->permissions) : a.permissions;
      for (const std::string& n : a.add) {
        if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
      }
      for (const std::string& n : a.remove) {
        if (!domain::ParsePermission(n)) {
          return Fail(Status::InvalidArgument("unknown permission '" + n + "'"));
        }
        names.erase(std::remove(names.begin(), names.end(), n), names.end());
      }
      spec.permissions = std::move(names);
    }
    if (Status st = audit.log().Admit(); !st.ok()) return Fail(st);
    Result<domain::Role> after = roles.Update(a.id, spec, *SystemClock());
    nlohmann::json details = nlohmann::json::object();
    if (after.ok()) {
      details["added"] = domain::PermissionNames(after->permissions & ~before->permissions);
      details["removed"] = domain::PermissionNames(before->permissions & ~after->permissions);
    }
    Status audited = audit.Record("role.update", "role:" + a.id, after.status(), details);
    if (!after.ok()) return Fail(after.status());
    if (!audited.ok()) return Fail(audited);
    std::cout << "updated role " << after->id << ": " << after->permissions.count()
              << " permissions\n";
    return int{kExitOk};
  });
}

int Delete(const GlobalOptions& global, const RoleArgs& a) {
  return WithRoles(global, [&](storage::Database&, domain::Roles& roles, CommandAudit& audit) {
    if (Status st = audit.log().Admit(); !st.ok()) return Fail(st);
    Result<domain::Role> before = roles.Get(a.id);
    Status st = roles.Delete(a.id);
    nlohmann::json details = nlohmann::json::object();
    if (before.ok()) details["permissions"] = domain::PermissionNames(before->permissions);
    Status audited = audit.Record("role.delete", "role:" + a.id, st, details);
    if (!st.ok()) return Fail(st);
    if (!audited.ok()) return Fail(audited);
    std::cout << "deleted role " << a.id << "\n";
    return int{kExitOk};
  });
}

}  // namespace

void AddRoleCommands(CLI::App* app, GlobalOptions* global, Action* action) {
  auto a = std::make_shared<RoleArgs>();
  CLI::App* role = AddSubcommand(app, "role", "Roles and their permissions");
  role->require_subcommand(1);
  auto bind = [&](CLI::App* cmd, std::function<int(const GlobalOptions&, const RoleArgs&)> fn) {
    cmd->callback(
        [global, a, action, fn] { *action = [global, a, fn] { return fn(*global, *a); }; });
  };

  CLI::App* list = AddSubcommand(role, "list", "List the roles (built-in first)");
  list->add_flag("--json", a->json, "Print JSON");
  list->add_flag("--markdown", a->markdown,
                 "Print the permission catalogue and the built-in roles as Markdown tables");
  bind(list, List);

  CLI::App* show = AddSubcommand(role, "show", "Show a role and its permissions");
  show->add_option("id", a->id, "Role id")->required();
  show->add_flag("--json", a->json, "Print JSON");
  bind(show, Show);

  CLI::App* create = AddSubcommand(role, "create", "Make a custom role from the catalogue");
  create->add_option("id", a->id, "Role id: 2-32 of a-z, 0-9, '-', starting with a letter")
      ->required();
  create->add_option("--name", a->name, "The name people see")->required();
  create->add_option("--description", a->description, "One line on what the role is for");
  create
      ->add_option("--permission", a->permissions,
                   "A permission it holds (repeat, or separate with commas)")
      ->delimiter(',');
  bind(create, Create);

  CLI::App* update = AddSubcommand(role, "update", "Change a custom role");
  update->add_option("id", a->id, "Role id")->required();
  update->add_option("--name", a->name, "New name");
  update->add_option("--description", a->description, "New description");
  update->add_option("--permission", a->permissions, "Replace the set with these (repeat)")
      ->delimiter(',');
  update->add_option("--add", a->add, "Add a permission (repeat)")->delimiter(',');
  update->add_option("--remove", a->remove, "Remove a permission (repeat)")->delimiter(',');
  bind(update, Update);

  CLI::App* del = AddSubcommand(role, "delete", "Delete a custom role that no account holds");
  del->add_option("id", a->id, "Role id")->required();
  bind(del, Delete);
}

}  // namespace outpost::cli
