#include "api/handlers.h"

#include <httplib.h>

#include "util/crypto.h"
#include "util/log.h"

namespace outpost::api {
namespace {

// Reads a required string member of the JSON body.
Result<std::string> StringField(const nlohmann::json& body, const char* name, size_t max_bytes) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) {
    return Status::InvalidArgument(std::string("'") + name + "' is required and must be a string");
  }
  std::string value = it->get<std::string>();
  if (value.size() > max_bytes) {
    return Status::InvalidArgument(std::string("'") + name + "' is too long");
  }
  return value;
}

nlohmann::json MeJson(const domain::Principal& p, const domain::Sessions& sessions) {
  nlohmann::json j = {{"user", UserJson(p.user)}};
  if (p.session.id != 0) {
    j["csrf_token"] = p.session.csrf_token;
    j["session"] = SessionJson(p.session, sessions);
  } else {
    j["api_token_id"] = p.api_token_id;
  }
  return j;
}

nlohmann::json TokenJson(const domain::ApiToken& t) {
  return {{"id", t.id},
          {"name", t.name},
          {"created_at", FormatIso8601(t.created_at)},
          {"last_used_at", t.last_used_at ? nlohmann::json(FormatIso8601(t.last_used_at))
                                          : nlohmann::json(nullptr)},
          {"expires_at", t.expires_at ? nlohmann::json(FormatIso8601(t.expires_at))
                                      : nlohmann::json(nullptr)}};
}

// The audit event for `action` on `target` by the caller, from the caller's address.
domain::AuditEvent AuditEventFor(const Call& call, std::string action, std::string target) {
  domain::AuditEvent e;
  if (call.principal) {
    e.actor = call.principal->user.username;
    e.actor_id = call.principal->user.id;
  }
  e.source_ip = call.req.remote_addr;
  e.action = std::move(action);
  e.target = std::move(target);
  return e;
}

// Refuses an action before it runs when its audit record could not be written (the actions
// below run in transactions of their own, which the audit log cannot join).
Status AdmitAudit(Call& call) {
  return call.svc.audit != nullptr ? call.svc.audit->Admit() : Status::Ok();
}

// Records `event` with the outcome of `result` (failure with its code as details.reason).
// Returns the audit log's verdict: under the refuse policy, an error the caller must return.
Status Audit(Call& call, domain::AuditEvent event, const Status& result) {
  if (call.svc.audit == nullptr) return Status::Ok();
  if (!result.ok()) {
    event.outcome = domain::AuditOutcome::kFailure;
    event.details["reason"] = CodeName(result.code());
  }
  return call.svc.audit->Append(event).status();
}

// For actions that only take access away (logout, revoking a token, disabling a user): they
// are never refused for want of an audit record, since refusing them would leave the access in
// place; a lost record is logged instead.
void AuditAnyway(Call& call, domain::AuditEvent event, const Status& result) {
  if (Status st = Audit(call, event, result); !st.ok()) {
    log::Error("audit record lost", {{"action", event.action}, {"error", st.ToString()}});
  }
}

// Closes the user's WebSockets: they were opened with credentials that no longer hold.
void EndRealtime(Call& call, int64_t user_id, const std::string& reason) {
  if (call.svc.realtime != nullptr) call.svc.realtime->EndUser(user_id, reason);
}
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
  SetJson(call.res, 200,
          {{"name", o.site_name},
           {"version", OUTPOST_VERSION},
           {"banner", {{"text", o.banner_text}, {"color", o.banner_color}}},
           {"login_notice", o.login_notice}});
  return Status::Ok();
}

Status HandleLogin(Call& call) {
  if (!call.svc.login_throttle->Allow(call.req.remote_addr)) {
    log::Warn("login throttled", {{"remote", call.req.remote_addr}});
    // A refused flood must not become an audit flood: one record per address a minute.
    static LoginThrottle audited_once(SystemClock(), 1);
    if (audited_once.Allow(call.req.remote_addr)) {
      domain::AuditEvent event = AuditEventFor(call, "auth.login_throttled", "");
      event.outcome = domain::AuditOutcome::kDenied;
      AuditAnyway(call, event, Status::Ok());
    }
    return Status::ResourceExhausted("too many sign-in attempts from this address; wait a minute");
  }
  OUTPOST_ASSIGN_OR_RETURN(std::string username, StringField(call.body, "username", 256));
  OUTPOST_RETURN_IF_ERROR(AdmitAudit(call));
  OUTPOST_ASSIGN_OR_RETURN(std::string password, StringField(call.body, "password", 4096));
  Result<domain::User> user = call.svc.accounts->Authenticate(username, password);
  WipeString(&password);
  // People type passwords into the name field: keep a claimed name only when it could be one.
  std::string claimed = domain::CheckUsername(username).ok() ? username : "(not a user name)";
  domain::AuditEvent event = AuditEventFor(call, "auth.login", "user:" + claimed);
  event.actor = claimed;
  if (!user.ok()) {
    log::Warn("login failed", {{"user", username.substr(0, 64)},
                               {"remote", call.req.remote_addr},
                               {"reason", CodeName(user.status().code())}});
    event.action = "auth.login_failed";
    AuditAnyway(call, event, user.status());
    return user.status();
  }
  event.actor = user->username;
  event.actor_id = user->id;
  std::string token;
  OUTPOST_ASSIGN_OR_RETURN(
      domain::Session session,
      call.svc.sessions->Create(user->id, call.req.remote_addr,
                                call.req.get_header_value("User-Agent"), &token));
  if (Status st = Audit(call, event, Status::Ok()); !st.ok()) {
    WipeString(&token);
    (void)call.svc.sessions->RevokeById(session.id);  // never handed out: no unaudited session
    return st;
  }
  int64_t max_age = call.svc.sessions->policy().absolute_timeout_ms / 1000;
  call.res.set_header("Set-Cookie", SessionCookie(call.svc.options->cookie_name, token, max_age));
  WipeString(&token);
  log::Info("login", {{"user", user->username}, {"remote", call.req.remote_addr}});
  domain::Principal p{*user, session, 0};
  SetJson(call.res, 200, MeJson(p, *call.svc.sessions));
  return Status::Ok();
}

Status HandleLogout(Call& call) {
  if (call.principal->session.id != 0) {
    Status st = call.svc.sessions->RevokeById(call.principal->session.id);
    AuditAnyway(call, AuditEventFor(call, "auth.logout", "session"), st);
    OUTPOST_RETURN_IF_ERROR(st);
    // Sockets are not tied to one session: all close, and the user's other signed-in
    // browsers reconnect with their own cookie and resume.
    EndRealtime(call, call.principal->user.id, "signed out");
  }
  call.res.status = 204;
  call.res.set_header("Set-Cookie", SessionCookie(call.svc.options->cookie_name, "", 0));
  log::Info("logout", {{"user", call.principal->user.username}});
  return Status::Ok();
}

Status HandleMe(Call& call) {
  SetJson(call.res, 200, MeJson(*call.principal, *call.svc.sessions));
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
  EndRealtime(call, call.principal->user.id, "an API token was revoked");
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
