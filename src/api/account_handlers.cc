// Passwords and lockout in the API: a user changing their own password, an administrator
// unlocking an account, the spraying guard of sign-in, and the gate that keeps an account
// whose password expired (stig) to changing it. The rules themselves live in domain::Accounts.
#include "api/account_handlers.h"

#include "api/handler_audit.h"

#include <httplib.h>

#include "api/http_status.h"
#include "util/crypto.h"
#include "util/log.h"

namespace outpost::api {
namespace {

// Routes an account whose password has expired may still use: enough to see why, change the
// password, or leave.
struct Exempt {
  std::string_view method;
  std::string_view pattern;
};
constexpr Exempt kExemptWhenExpired[] = {
    {"GET", "/api/v1/me"},
    {"POST", "/api/v1/me/password"},
    {"POST", "/api/v1/auth/logout"},
};

Result<std::string> SecretField(const nlohmann::json& body, const char* name) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) {
    return Status::InvalidArgument(std::string("'") + name + "' is required and must be a string");
  }
  std::string value = it->get<std::string>();
  if (value.size() > 4096) {
    WipeString(&value);
    return Status::InvalidArgument(std::string("'") + name + "' is too long");
  }
  return value;
}

}  // namespace

Status HandleChangeMyPassword(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::string current, SecretField(call.body, "current_password"));
  Result<std::string> fresh = SecretField(call.body, "new_password");
  if (!fresh.ok()) {
    WipeString(&current);
    return fresh.status();
  }
  std::string password = std::move(*fresh);
  if (Status admitted = AdmitAudit(call); !admitted.ok()) {
    WipeString(&current);
    WipeString(&password);
    return admitted;
  }
  const domain::User& me = call.principal->user;
  domain::LoginAttempt attempt;
  attempt.source_ip = call.req.remote_addr;
  Result<std::vector<int64_t>> ended = call.svc.accounts->ChangePassword(
      me.id, current, password, call.principal->session.id, &attempt);
  WipeString(&current);
  WipeString(&password);
  domain::AuditEvent event = AuditEventFor(call, "user.password_change", "user:" + me.username);
  if (!attempt.failure.empty()) event.details["failure"] = attempt.failure;
  if (ended.ok()) event.details["sessions_ended"] = ended->size();
  Status audited = Audit(call, event, ended.status());
  if (!ended.ok()) {
    if (!audited.ok()) {
      log::Error("audit record lost", {{"action", event.action}, {"error", audited.ToString()}});
    }
    return ended.status();
  }
  // The other sessions are gone: so are the sockets they opened. The caller's own stays.
  if (call.svc.realtime != nullptr) {
    for (int64_t id : *ended) call.svc.realtime->EndSession(id, "the password was changed");
  }
  log::Info("password changed", {{"user", me.username}, {"sessions_ended", ended->size()}});
  // The change is made and cannot be taken back without the old hash: the error tells the
  // user that it went unaudited.
  OUTPOST_RETURN_IF_ERROR(audited);
  SetJson(call.res, 200, {{"sessions_ended", ended->size()}});
  return Status::Ok();
}

Status HandleUnlockUser(Call& call) {
  const std::string name = call.req.matches[1];
  // Unlocking gives access back: refused when its record cannot be written.
  OUTPOST_RETURN_IF_ERROR(AdmitAudit(call));
  bool was_locked = false;
  Status st = call.svc.accounts->Unlock(name, &was_locked);
  domain::AuditEvent event = AuditEventFor(call, "auth.unlock", "user:" + name);
  event.details = {{"reason", "administrator"}, {"was_locked", was_locked}};
  Status audited = Audit(call, event, st);
  OUTPOST_RETURN_IF_ERROR(st);
  log::Info("account unlocked", {{"user", name},
                                 {"by", call.principal->user.username},
                                 {"was_locked", was_locked}});
  OUTPOST_RETURN_IF_ERROR(audited);
  SetJson(call.res, 200, {{"username", name}, {"was_locked", was_locked}});
  return Status::Ok();
}

Status AdmitLoginName(Call& call, const std::string& username) {
  if (call.svc.login_throttle == nullptr ||
      call.svc.login_throttle->AllowUserName(call.req.remote_addr, username)) {
    return Status::Ok();
  }
  log::Warn("login throttled: too many user names", {{"remote", call.req.remote_addr}});
  // A refused spray must not become an audit flood: one record per address a minute.
  static LoginThrottle audited_once(SystemClock(), 1);
  if (audited_once.Allow(call.req.remote_addr)) {
    domain::AuditEvent event = AuditEventFor(call, "auth.login_throttled", "");
    event.outcome = domain::AuditOutcome::kDenied;
    event.details = {{"reason", "user_names"}};
    if (Status st = Audit(call, event, Status::Ok()); !st.ok()) {
      log::Error("audit record lost", {{"action", event.action}, {"error", st.ToString()}});
    }
  }
  return Status::ResourceExhausted(
      "too many different user names were tried from this address; wait a few minutes");
}

bool PasswordChangeBlocks(const Route& route, Services& svc, domain::Principal& principal,
                          httplib::Response& res) {
  // API tokens do not sign in with the password: its age does not hold them.
  if (svc.accounts == nullptr || principal.api_token_id != 0) return false;
  Result<bool> expired = svc.accounts->PasswordChangeRequired(principal.user.id);
  if (!expired.ok()) {
    log::Error("reading the password's age failed", {{"error", expired.status().ToString()}});
    return false;
  }
  if (!*expired) return false;
  principal.user.password_expired = true;
  for (const Exempt& e : kExemptWhenExpired) {
    if (route.method == e.method && route.pattern == e.pattern) return false;
  }
  res.status = 403;
  res.set_content(
      ErrorBody("password_change_required",
                "your password has expired or was set by an administrator: change it first "
                "(POST /api/v1/me/password)"),
      "application/json");
  return true;
}

Status PasswordChangeAllowsRealtime(Services& svc, const domain::Principal& principal) {
  if (svc.accounts == nullptr || principal.api_token_id != 0) return Status::Ok();
  OUTPOST_ASSIGN_OR_RETURN(bool expired, svc.accounts->PasswordChangeRequired(principal.user.id));
  if (expired) {
    return Status::FailedPrecondition(
        "your password has expired or was set by an administrator: change it first");
  }
  return Status::Ok();
}

}  // namespace outpost::api
