// The permission matrix: every route of the route table, called as every built-in role and a
// custom one, against a running appliance. A route that declares a permission answers 403
// (naming the permission) exactly to the roles without it, and never 401 or 403 to the roles
// that hold it. Plus the static halves: every route declares a permission or is explicitly
// public / any-user, and every command of the CLI is in the command permission table.
#include <CLI/CLI.hpp>
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "api/routes.h"
#include "cli/commands.h"
#include "support/appliance.h"
#include "util/fs.h"

namespace outpost::testing {
namespace {

using Json = nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;
using domain::Permission;

// The custom role: a little of everything, so that it both holds and lacks permissions of
// every group.
constexpr const char* kCustomPermissions =
    "messages.read,messages.post,users.view,audit.view,rooms.browse_directory,files.download";

struct Caller {
  std::string user;
  std::string role;
  std::string token;
};

// A running appliance with one account per role, each with an API token, all of them members
// of one public channel holding one message by each who may post.
struct World {
  TestAppliance app;
  std::unique_ptr<HttpsClient> client;
  std::vector<Caller> callers;
  int64_t room = 0;
  int64_t doomed_room = 0;   // DELETE /rooms/{id}
  int64_t scratch_room = 0;  // leave, archive, members: what would change the shared room
  std::map<std::string, int64_t> own_message;  // by user; the room's first message otherwise
  int64_t any_message = 0;

  World() {
    REQUIRE(app.Cli({"role", "create", "helper", "--name", "Helper", "--permission",
                     kCustomPermissions})
                .exit_code == 0);
    const std::vector<std::pair<std::string, std::string>> accounts = {
        {"admin", "admin"}, {"umgr", "user-manager"}, {"mod", "moderator"}, {"usr", "user"},
        {"gst", "guest"},   {"aud", "auditor"},       {"robot", "bot"},     {"hlp", "helper"}};
    for (const auto& [name, role] : accounts) {
      if (name != "admin") {
        CliResult made = app.Cli({"user", "add", name, "--role", role, "--password-file", "-"},
                                 name + "'s long passphrase\n");
        INFO(made.err);
        REQUIRE(made.exit_code == 0);
      }
      CliResult token = app.Cli({"user", "token", "create", name, "--label", "matrix"});
      INFO(token.err);
      REQUIRE(token.exit_code == 0);
      callers.push_back({name, role, token.out.substr(0, token.out.find('\n'))});
    }
    // The account that the /users/{name} routes act on: a guest, whose permissions every role
    // that manages accounts holds.
    REQUIRE(app.Cli({"user", "add", "target", "--role", "guest", "--password-file", "-"},
                    "target's long passphrase\n")
                .exit_code == 0);
    REQUIRE(app.Start().ok());
    client = std::make_unique<HttpsClient>(app.NewClient());

    room = Make("matrix");
    doomed_room = Make("doomed");
    scratch_room = Make("scratch");
    for (const Caller& c : callers) {
      if (c.user == "admin") continue;
      Expect(
          Send(callers[0], "POST", RoomPath(room) + "/members", Json{{"username", c.user}}.dump()),
          204);
    }
    for (const Caller& c : callers) {
      HttpResponse r = Send(c, "POST", RoomPath(room) + "/messages",
                            Json{{"body", "hello from " + c.user}}.dump());
      if (r.status == 201) own_message[c.user] = Json::parse(r.body)["message"]["id"];
    }
    REQUIRE(own_message.count("admin") == 1);
    any_message = own_message["admin"];
  }

  int64_t Make(const std::string& name) {
    HttpResponse r =
        Send(callers[0], "POST", "/api/v1/rooms", Json{{"name", name}, {"kind", "public"}}.dump());
    REQUIRE(r.status == 201);
    return Json::parse(r.body)["room"]["id"];
  }

  static std::string RoomPath(int64_t id) { return "/api/v1/rooms/" + std::to_string(id); }

  void Expect(const HttpResponse& r, int status) {
    INFO(r.body);
    REQUIRE(r.status == status);
  }

  HttpResponse Send(const Caller& c, const std::string& method, const std::string& path,
                    const std::string& body = "", bool json = true) {
    Headers h = {{"Authorization", "Bearer " + c.token}};
    if (!body.empty() && json) h.push_back({"Content-Type", "application/json"});
    auto r = client->Request(method, path, h, body);
    REQUIRE(r.ok());
    return *r;
  }

  // The route's pattern with each group filled with something that exists where that is
  // cheap: the shared room, the caller's own message, the target account, the custom role.
  std::string Fill(const api::Route& route, const Caller& c) const {
    std::string pattern(route.pattern);
    std::string out;
    size_t i = 0;
    while (i < pattern.size()) {
      if (pattern[i] != '(') {
        out += pattern[i++];
        continue;
      }
      int depth = 0;
      size_t j = i;
      for (; j < pattern.size(); ++j) {
        if (pattern[j] == '(') ++depth;
        if (pattern[j] == ')' && --depth == 0) break;
      }
      const std::string group = pattern.substr(i, j - i + 1);
      out += Value(group, out, route, c);
      i = j + 1;
    }
    return out;
  }

  std::string Value(const std::string& group, const std::string& before, const api::Route& route,
                    const Caller& c) const {
    auto ends_with = [&](std::string_view tail) {
      return before.size() >= tail.size() &&
             before.compare(before.size() - tail.size(), tail.size(), tail) == 0;
    };
    if (group.find("A-Za-z0-9._-") != std::string::npos) return "target";
    if (group.find("[a-z][a-z0-9-]") != std::string::npos) return "helper";
    if (group.find("[^/]") != std::string::npos) return "thumbsup";
    if (ends_with("/rooms/")) {
      const std::string_view p = route.pattern;
      if (route.method == "DELETE" && p == R"(/api/v1/rooms/(\d{1,18}))") {
        return std::to_string(doomed_room);
      }
      const bool changes_room = p.find("/leave") != std::string_view::npos ||
                                p.find("archive") != std::string_view::npos ||
                                p.find("/members/") != std::string_view::npos;
      return std::to_string(changes_room ? scratch_room : room);
    }
    if (ends_with("/messages/")) {
      auto it = own_message.find(c.user);
      return std::to_string(it != own_message.end() ? it->second : any_message);
    }
    return "999999";  // a token, file, session... that does not exist: 404 for holders
  }
};

bool Holds(const std::string& role, Permission p) {
  // Built-in roles from code; the custom role from its definition above.
  if (role != "helper") return domain::RoleHas(role, p);
  if (p == Permission::kNone) return true;
  std::string list = std::string(",") + kCustomPermissions + ",";
  return list.find("," + std::string(domain::PermissionName(p)) + ",") != std::string::npos;
}

TEST_CASE("every route refuses exactly the roles without its permission",
          "[integration][permissions]") {
  World w;
  int checked = 0;
  for (const api::Route& route : api::RouteTable()) {
    if (route.access == api::Access::kPublic) continue;
    // Logging out with a token would end nothing but is no use to the matrix; the rest runs.
    for (const Caller& c : w.callers) {
      const std::string path = w.Fill(route, c);
      std::string body;
      bool json = route.json_body;
      if (route.json_body) body = "{}";
      if (route.streaming_body) body = "matrix file";
      std::string target = path;
      if (route.streaming_body) target += "?name=matrix.txt";
      HttpResponse r = w.Send(c, std::string(route.method), target, body, json);
      const bool holds = Holds(c.role, route.permission);
      INFO(route.method << " " << route.pattern << " as " << c.user << " (" << c.role << ") needs "
                        << domain::PermissionName(route.permission) << ": " << r.status << " "
                        << r.body);
      CHECK(r.status != 401);
      const bool gate =
          r.status == 403 && r.body.find("this needs the permission") != std::string::npos;
      // A holder may still meet a refusal of state (403 failed_precondition: a role in use, an
      // archived room), never one of access.
      const bool denied =
          r.status == 403 && r.body.find("\"permission_denied\"") != std::string::npos;
      if (route.permission == Permission::kNone) {
        CHECK_FALSE(gate);
      } else if (holds) {
        CHECK_FALSE(denied);
      } else {
        CHECK(r.status == 403);
        CHECK(gate);
        CHECK(r.body.find(std::string(domain::PermissionName(route.permission))) !=
              std::string::npos);
      }
      ++checked;
    }
  }
  CHECK(checked >= 60 * 8);
}

TEST_CASE("no route is left to the role name: each is public, any-user or names a permission",
          "[integration][permissions]") {
  std::set<std::string> seen;
  for (const api::Route& route : api::RouteTable()) {
    INFO(route.method << " " << route.pattern);
    CHECK(route.access != api::Access::kAdmin);
    CHECK(seen.insert(std::string(route.method) + " " + std::string(route.pattern)).second);
    if (route.access == api::Access::kPublic) {
      CHECK(route.permission == Permission::kNone);
    }
    if (route.permission != Permission::kNone) {
      CHECK(domain::FindPermission(route.permission) != nullptr);
    }
  }
  // Every route that needs more than a signed-in account is refused to a guest or a bot,
  // unless the permission is one of theirs: the rows are not all kNone by accident.
  int named = 0;
  for (const api::Route& route : api::RouteTable()) named += route.permission != Permission::kNone;
  CHECK(named >= 30);
}

// "user token create" for every leaf command under `app`.
void Leaves(const CLI::App& app, const std::string& prefix, std::vector<std::string>* out) {
  std::vector<const CLI::App*> subs = app.get_subcommands([](const CLI::App*) { return true; });
  if (subs.empty() && !prefix.empty()) {
    out->push_back(prefix);
    return;
  }
  for (const CLI::App* sub : subs) {
    if (sub->get_name().empty()) continue;  // an option group, not a command
    Leaves(*sub, prefix.empty() ? sub->get_name() : prefix + " " + sub->get_name(), out);
  }
}

TEST_CASE("every command of the CLI is in the command permission table",
          "[integration][permissions]") {
  CLI::App app{"outpost"};
  cli::GlobalOptions global;
  cli::Action action;
  cli::AddCommands(&app, &global, &action);
  std::vector<std::string> leaves;
  Leaves(app, "", &leaves);
  REQUIRE(leaves.size() >= 40);
  std::set<std::string> commands(leaves.begin(), leaves.end());
  for (const std::string& path : leaves) {
    INFO(path);
    CHECK(cli::FindCommandPermission(path) != nullptr);
  }
  // And the table names no command that does not exist.
  for (const cli::CommandPermission& c : cli::CommandPermissions()) {
    INFO(c.path);
    CHECK(commands.count(std::string(c.path)) == 1);
  }
  CHECK(cli::FindCommandPermission("user set-role")->permission == Permission::kRolesAssign);
  CHECK(cli::FindCommandPermission("audit export")->permission == Permission::kAuditExport);
}

TEST_CASE("roles over the API: catalogue, custom roles, assignment, all audited",
          "[integration][permissions]") {
  World w;
  const Caller& admin = w.callers[0];
  const Caller* umgr = nullptr;
  const Caller* gst = nullptr;
  for (const Caller& c : w.callers) {
    if (c.user == "umgr") umgr = &c;
    if (c.user == "gst") gst = &c;
  }
  REQUIRE(umgr != nullptr);
  REQUIRE(gst != nullptr);

  HttpResponse cat = w.Send(*gst, "GET", "/api/v1/permissions");
  REQUIRE(cat.status == 200);
  CHECK(Json::parse(cat.body)["permissions"].size() >= 60);

  HttpResponse me = w.Send(*gst, "GET", "/api/v1/me");
  REQUIRE(me.status == 200);
  Json mine = Json::parse(me.body);
  CHECK(mine["privileged"] == false);
  std::set<std::string> perms(mine["permissions"].begin(), mine["permissions"].end());
  CHECK(perms.count("messages.post") == 1);
  CHECK(perms.count("rooms.browse_directory") == 0);

  HttpResponse made = w.Send(
      admin, "POST", "/api/v1/roles",
      Json{{"id", "triage"}, {"name", "Triage"}, {"permissions", {"messages.read", "messages.pin"}}}
          .dump());
  INFO(made.body);
  REQUIRE(made.status == 201);
  CHECK(w.Send(admin, "POST", "/api/v1/roles", Json{{"id", "triage"}, {"name", "Again"}}.dump())
            .status == 409);
  CHECK(w.Send(admin, "POST", "/api/v1/roles",
               Json{{"id", "bad"}, {"name", "Bad"}, {"permissions", {"fly"}}}.dump())
            .status == 400);
  HttpResponse fixed =
      w.Send(admin, "PATCH", "/api/v1/roles/guest", Json{{"permissions", {"audit.view"}}}.dump());
  CHECK(fixed.status == 403);
  CHECK_THAT(fixed.body, Catch::Contains("failed_precondition"));
  CHECK_THAT(fixed.body, Catch::Contains("built-in roles cannot be changed"));
  HttpResponse changed = w.Send(admin, "PATCH", "/api/v1/roles/triage",
                                Json{{"permissions", {"messages.read"}}}.dump());
  REQUIRE(changed.status == 200);
  CHECK(Json::parse(changed.body)["role"]["permissions"] == Json::array({"messages.read"}));

  // Assigning: the user manager may not (roles.assign), nor touch an administrator.
  CHECK(w.Send(*umgr, "PUT", "/api/v1/users/target/role", Json{{"role", "user"}}.dump()).status ==
        403);
  CHECK(w.Send(*umgr, "POST", "/api/v1/users/admin/disable").status == 403);
  HttpResponse set =
      w.Send(admin, "PUT", "/api/v1/users/target/role", Json{{"role", "triage"}}.dump());
  INFO(set.body);
  REQUIRE(set.status == 200);
  CHECK(Json::parse(set.body)["user"]["role"] == "triage");
  HttpResponse held = w.Send(admin, "DELETE", "/api/v1/roles/triage");  // target holds it
  CHECK(held.status == 403);
  CHECK_THAT(held.body, Catch::Contains("held by 1 account"));
  REQUIRE(
      w.Send(admin, "PUT", "/api/v1/users/target/role", Json{{"role", "guest"}}.dump()).status ==
      200);
  CHECK(w.Send(admin, "DELETE", "/api/v1/roles/triage").status == 200);
  CHECK(w.Send(admin, "DELETE", "/api/v1/roles/triage").status == 404);

  HttpResponse audit = w.Send(admin, "GET", "/api/v1/audit?limit=200");
  REQUIRE(audit.status == 200);
  const Json page = Json::parse(audit.body);
  std::multiset<std::string> actions;
  for (const Json& rec : page["records"]) {
    actions.insert(rec["action"].get<std::string>());
  }
  CHECK(actions.count("role.create") >= 2);  // the CLI's helper and the API's triage
  CHECK(actions.count("role.update") >= 1);
  CHECK(actions.count("role.delete") >= 1);
  CHECK(actions.count("user.role_changed") == 2);
}

TEST_CASE("outpost role and user set-role manage roles from the shell",
          "[integration][permissions]") {
  TestAppliance app;
  CliResult list = app.Cli({"role", "list"});
  REQUIRE(list.exit_code == 0);
  for (const char* id : {"admin", "user-manager", "moderator", "user", "guest", "auditor", "bot"}) {
    CHECK_THAT(list.out, Catch::Contains(id));
  }
  CHECK(app.Cli({"role", "create", "reviewer", "--name", "Reviewer", "--permission",
                 "messages.read,audit.view"})
            .exit_code == 0);
  CHECK(app.Cli({"role", "create", "reviewer", "--name", "Again"}).exit_code == 5);
  CHECK(app.Cli({"role", "create", "broken", "--name", "B", "--permission", "no.such"}).exit_code ==
        6);
  CHECK(app.Cli({"role", "update", "auditor", "--add", "messages.read"}).exit_code == 6);
  CHECK(
      app.Cli({"role", "update", "reviewer", "--add", "audit.export", "--remove", "messages.read"})
          .exit_code == 0);
  CliResult shown = app.Cli({"role", "show", "reviewer", "--json"});
  REQUIRE(shown.exit_code == 0);
  Json role = Json::parse(shown.out);
  CHECK(role["permissions"] == Json::array({"audit.view", "audit.export"}));

  REQUIRE(app.Cli({"user", "add", "rev", "--role", "reviewer", "--password-file", "-"},
                  "rev's long passphrase!\n")
              .exit_code == 0);
  CHECK(app.Cli({"user", "add", "nope", "--role", "no-such-role", "--password-file", "-"},
                "nope's long passphrase\n")
            .exit_code == 6);
  CHECK(app.Cli({"role", "delete", "reviewer"}).exit_code == 6);  // held by rev
  CHECK(app.Cli({"user", "set-role", "rev", "guest"}).exit_code == 0);
  CHECK(app.Cli({"user", "set-role", "admin", "user"}).exit_code == 6);  // the last admin
  CHECK(app.Cli({"role", "delete", "reviewer"}).exit_code == 0);
  CHECK(app.Cli({"role", "delete", "admin"}).exit_code == 6);

  CliResult md = app.Cli({"role", "list", "--markdown"});
  REQUIRE(md.exit_code == 0);
  CHECK_THAT(md.out, Catch::Contains("| `messages.delete_any` |"));

  CliResult exported = app.Cli({"audit", "export"});
  REQUIRE(exported.exit_code == 0);
  CHECK_THAT(exported.out, Catch::Contains("\"role.create\""));
  CHECK_THAT(exported.out, Catch::Contains("\"role.update\""));
  CHECK_THAT(exported.out, Catch::Contains("\"role.delete\""));
  CHECK_THAT(exported.out, Catch::Contains("\"user.role_changed\""));
}

}  // namespace
}  // namespace outpost::testing
