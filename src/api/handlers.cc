#include "api/handlers.h"

#include "api/handler_audit.h"

#include <httplib.h>

#include "api/role_handlers.h"
#include "util/crypto.h"
#include "util/log.h"

namespace outpost::api {
namespace {

nlohmann::json TokenJson(const domain::ApiToken& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"created_at", FormatIso8601(t.created_at)},
          {"last_used_at", t.last_used_at ? nlohmann::json(FormatIso8601(t.last_used_at))
                                          : nlohmann::json(nullptr)},
          {"expires_at", t.expires_at ? nlohmann::json(FormatIso8601(t.expires_at))
                                      : nlohmann::json(nullptr)}};
}


// Closes the user's WebSockets: they were opened with credentials that no longer hold.
void EndRealtime(Call& call, const std::string& username, const std::string& reason) {
  if (call.svc.realtime == nullptr) return;
  if (Result<domain::User> u = call.svc.accounts->FindByName(username); u.ok()) {
    call.svc.realtime->EndUser(u->id, reason);
  }
}

Status SetUserDisabled(Call& call, bool disabled) {
  std::string name = call.req.matches[1];
  if (disabled && call.principal->user.username == name) {
    return Status::FailedPrecondition("administrators cannot disable their own account");
  }
  domain::AuditEvent event =
      AuditEventFor(call, disabled ? "user.disable" : "user.enable", "user:" + name);
  if (disabled) {
    Status st = call.svc.accounts->SetDisabled(name, true);
    AuditAnyway(call, event, st);
    OUTPOST_RETURN_IF_ERROR(st);
    EndRealtime(call, name, "the account was disabled");
  } else {
    OUTPOST_RETURN_IF_ERROR(AdmitAudit(call));
    Status st = call.svc.accounts->SetDisabled(name, false);
    Status audited = Audit(call, event, st);
    OUTPOST_RETURN_IF_ERROR(st);
    if (!audited.ok()) {
      (void)call.svc.accounts->SetDisabled(name, true);  // no unaudited access granted
      return audited;
    }
  }
  OUTPOST_ASSIGN_OR_RETURN(domain::User user, call.svc.accounts->FindByName(name));
  log::Info(disabled ? "user disabled" : "user enabled",
            {{"user", user.username}, {"by", call.principal->user.username}});
  SetJson(call.res, 200, {{"user", UserJson(user)}});
  return Status::Ok();
}

std::string DatabaseMetrics(const storage::Database::WriterStats& w) {
  std::string out;
  auto counter = [&](const char* name, const char* help, const char* type, uint64_t v) {
    out += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
           name + " " + std::to_string(v) + "\n";
  };
  counter("outpost_db_commits_total", "Write transactions committed (one fsync each).",
          "counter", w.commits);
  counter("outpost_db_writes_total", "Changes committed, several per transaction under load.",
          "counter", w.writes);
  counter("outpost_db_write_failures_total", "Changes rolled back.", "counter", w.failed);
  counter("outpost_db_max_group_commit", "Most changes committed in one transaction.", "gauge",
          w.max_batch);
  return out;
}

}  // namespace

std::string SessionCookie(const std::string& name, const std::string& token, int64_t max_age_s) {
  // __Host- cookies must be Secure, have Path=/ and no Domain: the browser enforces it.
  return name + "=" + token + "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=" +
         std::to_string(max_age_s);
}

Status HandleHealthz(Call& call) {
  call.res.status = 200;
  call.res.set_content("ok\n", "text/plain; charset=utf-8");
  return Status::Ok();
}

Status HandleReadyz(Call& call) {
  Status st = call.svc.db->CheckWritable();
  if (!st.ok()) {
    log::Error("readiness check failed", {{"error", st.ToString()}});
    return Status::Unavailable("the database does not accept writes");
  }
  call.res.status = 200;
  call.res.set_content("ready\n", "text/plain; charset=utf-8");
  return Status::Ok();
}

Status HandleMetrics(Call& call) {
  double uptime = static_cast<double>(call.svc.clock->NowMillis() - call.svc.started_at) / 1000.0;
  int open = call.svc.open_connections ? call.svc.open_connections() : 0;
  std::string text = call.svc.metrics->Render(open, call.svc.db->SizeBytes(), uptime);
  text += DatabaseMetrics(call.svc.db->writer_stats());
  if (call.svc.realtime != nullptr) text += call.svc.realtime->MetricsText();
  call.res.status = 200;
  call.res.set_content(text, "text/plain; version=0.0.4; charset=utf-8");
  return Status::Ok();
}

Status HandlePresence(Call& call) {
  std::vector<int64_t> ids;
  const std::string list = call.req.get_param_value("user_ids");
  size_t start = 0;
  while (start < list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    const std::string item = list.substr(start, comma - start);
    char* end = nullptr;
    long long id = std::strtoll(item.c_str(), &end, 10);
    if (item.empty() || *end != '\0' || id < 1) {
      return Status::InvalidArgument("'user_ids' is a comma-separated list of user ids");
    }
    ids.push_back(id);
    start = comma + 1;
  }
  if (ids.empty() || ids.size() > 200) {
    return Status::InvalidArgument("'user_ids' names 1 to 200 users");
  }
  nlohmann::json out = nlohmann::json::object();
  for (int64_t id : ids) {
    out[std::to_string(id)] =
        call.svc.realtime != nullptr ? call.svc.realtime->PresenceOf(id) : "offline";
  }
  SetJson(call.res, 200, {{"presence", out}});
  return Status::Ok();
}

Status HandleSite(Call& call) {
  const ApiOptions& o = *call.svc.options;
  // The admin console may have changed these since the start (domain/site_settings.h).
  const domain::SiteText text =
      call.svc.site_settings != nullptr
          ? call.svc.site_settings->Current()
          : domain::SiteText{o.banner_text, o.banner_color, o.login_notice};
  SetJson(call.res, 200,
          {{"name", o.site_name},
           {"version", OUTPOST_VERSION},
           {"banner", {{"text", text.banner_text}, {"color", text.banner_color}}},
           {"login_notice", text.login_notice},
           {"require_consent", o.require_consent},
           // The sign-in page offers the card button and hides the password form from these.
           {"smart_card", o.cert_map_by.has_value()},
           {"password_login", std::string(domain::PasswordLoginPolicyName(o.password_login))}});
  return Status::Ok();
}

Status HandleListTokens(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::vector<domain::ApiToken> tokens,
                           call.svc.api_tokens->List(call.principal->user.id));
  nlohmann::json list = nlohmann::json::array();
  for (const auto& t : tokens) list.push_back(TokenJson(t));
  SetJson(call.res, 200, {{"tokens", list}});
  return Status::Ok();
}

Status HandleCreateToken(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::string name, StringField(call.body, "name", 400));
  int64_t expires_at = 0;
  if (auto it = call.body.find("expires_in_days"); it != call.body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1 || it->get<int64_t>() > 3650) {
      return Status::InvalidArgument("'expires_in_days' must be a whole number from 1 to 3650");
    }
    expires_at = call.svc.clock->NowMillis() + it->get<int64_t>() * 86400 * 1000;
  }
  OUTPOST_RETURN_IF_ERROR(AdmitAudit(call));
  std::string secret;
  Result<domain::ApiToken> created =
      call.svc.api_tokens->Create(call.principal->user.id, name, expires_at, &secret);
  domain::AuditEvent event = AuditEventFor(
      call, "token.create", created.ok() ? "token:" + std::to_string(created->id) : "token");
  event.details = {{"name", name}};
  Status audited = Audit(call, event, created.status());
  OUTPOST_RETURN_IF_ERROR(created.status());
  domain::ApiToken token = std::move(*created);
  if (!audited.ok()) {
    WipeString(&secret);
    (void)call.svc.api_tokens->Revoke(call.principal->user.id, token.id);  // never shown
    return audited;
  }
  nlohmann::json j = {{"token", TokenJson(token)}, {"secret", secret}};
  WipeString(&secret);
  log::Info("api token created", {{"user", call.principal->user.username}, {"id", token.id}});
  SetJson(call.res, 201, j);
  return Status::Ok();
}

Status HandleRevokeToken(Call& call) {
  int64_t id = std::stoll(call.req.matches[1]);  // the route's pattern allows 1-18 digits
  Status st = call.svc.api_tokens->Revoke(call.principal->user.id, id);
  AuditAnyway(call, AuditEventFor(call, "token.revoke", "token:" + std::to_string(id)), st);
  OUTPOST_RETURN_IF_ERROR(st);
  if (call.svc.realtime != nullptr) call.svc.realtime->EndToken(id, "the API token was revoked");
  call.res.status = 204;
  return Status::Ok();
}

Status HandleListUsers(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::vector<domain::User> users, call.svc.accounts->List());
  nlohmann::json list = nlohmann::json::array();
  for (const auto& u : users) list.push_back(UserJson(u));
  SetJson(call.res, 200, {{"users", list}});
  return Status::Ok();
}

Status HandleCreateUser(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::string username, StringField(call.body, "username", 256));
  OUTPOST_ASSIGN_OR_RETURN(std::string password, StringField(call.body, "password", 4096));
  std::string display_name = username;
  if (call.body.contains("display_name")) {
    OUTPOST_ASSIGN_OR_RETURN(display_name, StringField(call.body, "display_name", 1024));
  }
  std::string role = domain::kRoleUser;
  if (call.body.contains("role")) {
    OUTPOST_ASSIGN_OR_RETURN(role, StringField(call.body, "role", 64));
  }
  OUTPOST_RETURN_IF_ERROR(CheckGrantableRole(call, role));
  Status admitted = AdmitAudit(call);
  if (!admitted.ok()) {
    WipeString(&password);
    return admitted;
  }
  Result<domain::User> user = call.svc.accounts->Create(username, display_name, role, password);
  WipeString(&password);
  domain::AuditEvent event = AuditEventFor(call, "user.create", "user:" + username.substr(0, 64));
  event.details = {{"role", role.substr(0, 64)}};
  Status audited = Audit(call, event, user.status());
  OUTPOST_RETURN_IF_ERROR(user.status());
  if (call.svc.rooms != nullptr) {
    OUTPOST_RETURN_IF_ERROR(call.svc.rooms->JoinDefaultRooms(user->id));
  }
  OUTPOST_RETURN_IF_ERROR(audited);  // the account exists; the error says it went unaudited
  log::Info("user created", {{"user", user->username}, {"by", call.principal->user.username}});
  SetJson(call.res, 201, {{"user", UserJson(*user)}});
  return Status::Ok();
}

Status HandleDisableUser(Call& call) { return SetUserDisabled(call, true); }
Status HandleEnableUser(Call& call) { return SetUserDisabled(call, false); }

}  // namespace outpost::api
