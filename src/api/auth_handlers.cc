// Sign-in (password, then the second factor when the account has or needs one), sign-out, the
// caller's account, two-factor enrolment and recovery codes, and session management.
//
// A sign-in with two-factor authentication is two requests: the password answers
// {"second_factor": "totp" | "enrol", "pending": TOKEN}, and the session cookie is set only by
// POST /auth/login/totp (a code or recovery code) or /auth/login/enrol/confirm (the first code
// of a new enrolment). The pending token opens nothing else (domain::PendingLogins).
#include <httplib.h>

#include "api/account_handlers.h"
#include "api/cert_handlers.h"
#include "api/handler_audit.h"
#include "api/handlers.h"
#include "api/role_handlers.h"
#include "api/http_status.h"
#include "util/crypto.h"
#include "util/log.h"

namespace outpost::api {
namespace {

domain::AuditEvent AuditEventAs(const Call& call, const domain::User& user, std::string action) {
  domain::AuditEvent e = AuditEventFor(call, std::move(action), "user:" + user.username);
  e.actor = user.username;
  e.actor_id = user.id;
  return e;
}


Status NeedTwoFactor(const Call& call) {
  if (call.svc.two_factor == nullptr || call.svc.pending_logins == nullptr) {
    return Status::Unavailable("two-factor authentication is not available on this server");
  }
  return Status::Ok();
}

nlohmann::json MeJson(const domain::Principal& p, const domain::Sessions& sessions) {
  nlohmann::json j = {{"user", UserJson(p.user)}};
  j["password_change_required"] = p.user.password_expired;  // stig maximum age passed
  if (p.session.id != 0) {
    j["csrf_token"] = p.session.csrf_token;
    j["session"] = SessionJson(p.session, sessions);
    j["session"]["id"] = p.session.id;
    j["session"]["idle_timeout_seconds"] =
        (p.session.idle_timeout_ms > 0 ? p.session.idle_timeout_ms
                                       : sessions.policy().idle_timeout_ms) /
        1000;
  } else {
    j["api_token_id"] = p.api_token_id;
  }
  return j;
}

nlohmann::json SessionListJson(const std::vector<domain::Session>& list, int64_t current,
                               const domain::Sessions& sessions) {
  nlohmann::json out = nlohmann::json::array();
  for (const domain::Session& s : list) {
    out.push_back({{"id", s.id},
                   {"created_at", FormatIso8601(s.created_at)},
                   {"last_seen_at", FormatIso8601(s.last_seen_at)},
                   {"expires_at", FormatIso8601(sessions.EffectiveExpiry(s))},
                   {"remote_addr", s.remote_addr},
                   {"user_agent", s.user_agent},
                   {"current", s.id == current}});
  }
  return out;
}

// The per-address sign-in throttle, shared by every step of a sign-in.
Status Throttle(Call& call) {
  if (call.svc.login_throttle->Allow(call.req.remote_addr)) return Status::Ok();
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

// Whether [auth] require_2fa applies to `user`.
bool SecondFactorRequired(const Call& call, const domain::User& user) {
  switch (call.svc.options->require_2fa) {
    case domain::TwoFactorRequirement::kNone: return false;
    case domain::TwoFactorRequirement::kAll: return true;
    case domain::TwoFactorRequirement::kPrivileged:
      return call.svc.roles != nullptr ? call.svc.roles->IsPrivileged(user.role)
                                       : user.role == domain::kRoleAdmin;
  }
  return true;
}

// A wrong second factor: audited, counted against the pending sign-in.
void SecondFactorFailed(Call& call, const domain::User& user, const std::string& pending,
                        const char* kind, const Status& why) {
  call.svc.pending_logins->RecordFailure(pending);
  // A wrong code from the app or a wrong recovery code counts toward the lock as a wrong
  // password does, so that knowing the password does not buy endless guesses at the code.
  // Enrolment codes do not: whoever is there may enrol an authenticator of their own anyway.
  if (std::string_view(kind) != "totp_enrol") {
    domain::LoginAttempt attempt;
    attempt.source_ip = call.req.remote_addr;
    if (Status st = call.svc.accounts->RecordSecondFactorFailure(user, &attempt); !st.ok()) {
      log::Error("counting a failed second factor failed", {{"error", st.ToString()}});
    }
    if (attempt.locked_now) call.svc.pending_logins->Consume(pending);
  }
  log::Warn("second factor refused", {{"user", user.username},
                                      {"remote", call.req.remote_addr},
                                      {"kind", kind}});
  domain::AuditEvent event = AuditEventAs(call, user, "auth.2fa_failed");
  event.details = {{"kind", kind}};
  AuditAnyway(call, event, why);  // outcome failure, as auth.login_failed
}

// Starts the session for `user` after every factor was checked: audits auth.login (with
// `details`), sets the cookie and answers with the account. No session survives an audit
// record that could not be written.
Status FinishLogin(Call& call, const domain::User& user, nlohmann::json details) {
  OUTPOST_RETURN_IF_ERROR(call.svc.accounts->ResetFailures(user.id));
  domain::AuditEvent event = AuditEventAs(call, user, "auth.login");
  event.details = std::move(details);
  std::string token;
  OUTPOST_ASSIGN_OR_RETURN(
      domain::Session session,
      call.svc.sessions->Create(user, call.req.remote_addr,
                                call.req.get_header_value("User-Agent"), &token));
  if (Status st = Audit(call, event, Status::Ok()); !st.ok()) {
    WipeString(&token);
    (void)call.svc.sessions->RevokeById(session.id);  // never handed out: no unaudited session
    return st;
  }
  int64_t max_age = call.svc.sessions->policy().absolute_timeout_ms / 1000;
  call.res.set_header("Set-Cookie", SessionCookie(call.svc.options->cookie_name, token, max_age));
  WipeString(&token);
  log::Info("login", {{"user", user.username}, {"remote", call.req.remote_addr}});
  domain::Principal p{user, session, 0};
  SetJson(call.res, 200, MeJson(p, *call.svc.sessions));
  return Status::Ok();
}

// The pending sign-in named in the body, its user as they are now, for `step`. Each call is
// a sign-in attempt for the per-address throttle.
Status LoadPending(Call& call, domain::PendingStep step, std::string* token,
                   domain::PendingLogin* pending, domain::User* user) {
  OUTPOST_RETURN_IF_ERROR(Throttle(call));
  OUTPOST_RETURN_IF_ERROR(NeedTwoFactor(call));
  OUTPOST_ASSIGN_OR_RETURN(*token, StringField(call.body, "pending", 64));
  OUTPOST_ASSIGN_OR_RETURN(*pending, call.svc.pending_logins->Find(*token));
  if (pending->step != step) {
    return Status::FailedPrecondition(step == domain::PendingStep::kTotp
                                          ? "this sign-in must enrol in two-factor first"
                                          : "this sign-in needs a code, not an enrolment");
  }
  OUTPOST_ASSIGN_OR_RETURN(*user, call.svc.accounts->FindById(pending->user_id));
  if (user->disabled) {
    call.svc.pending_logins->Consume(*token);
    return Status::FailedPrecondition("this account is disabled");
  }
  // Locked since the password step (by an administrator or other sign-ins): no second step.
  OUTPOST_ASSIGN_OR_RETURN(domain::LockState lock,
                           call.svc.accounts->GetLockState(user->username));
  if (lock.locked) {
    call.svc.pending_logins->Consume(*token);
    return Status::Unauthenticated(domain::kLoginFailedMessage);
  }
  return Status::Ok();
}

// Answers a new enrolment's secret, then wipes it from `e`.
void AnswerEnrolment(Call& call, domain::TotpEnrolment& e) {
  SetJson(call.res, 200,
          {{"secret", e.secret_base32},
           {"otpauth_uri", e.otpauth_uri},
           {"digits", domain::kTotpDigits},
           {"period", domain::kTotpStepSeconds},
           {"algorithm", "SHA1"}});
  WipeString(&e.secret_base32);
  WipeString(&e.otpauth_uri);
}

// The user name in the route's first group, as an account.
Result<domain::User> RouteUser(Call& call) {
  return call.svc.accounts->FindByName(std::string(call.req.matches[1]));
}

// Checks the caller's current password (re-authentication before a sensitive change).
Status CheckPassword(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::string password, StringField(call.body, "password", 4096));
  Result<domain::User> again =
      call.svc.accounts->Authenticate(call.principal->user.username, password);
  WipeString(&password);
  if (!again.ok()) return Status::Unauthenticated("wrong password");
  return Status::Ok();
}

// Ends `ids`' sessions' sockets and audits session.revoke for each.
void RevokedSessions(Call& call, const domain::User& owner, const std::vector<int64_t>& ids,
                     const std::string& reason) {
  for (int64_t id : ids) {
    if (call.svc.realtime != nullptr) call.svc.realtime->EndSession(id, reason);
    domain::AuditEvent event = AuditEventFor(call, "session.revoke", "user:" + owner.username);
    event.details = {{"session_id", id}};
    AuditAnyway(call, event, Status::Ok());
  }
}

}  // namespace

Status StartSession(Call& call, const domain::User& user, nlohmann::json details) {
  return FinishLogin(call, user, std::move(details));
}

std::optional<bool> ConsentOrRefuse(Call& call) {
  const bool consented = call.body.value("consent", nlohmann::json(false)) == true;
  if (call.svc.options->require_consent && !consented) {
    call.res.status = 403;
    call.res.set_content(
        ErrorBody("consent_required",
                  "read the notice and consent to it first: send \"consent\": true"),
        "application/json");
    return std::nullopt;
  }
  return consented;
}

Status HandleLogin(Call& call) {
  OUTPOST_RETURN_IF_ERROR(Throttle(call));
  OUTPOST_ASSIGN_OR_RETURN(std::string username, StringField(call.body, "username", 256));
  // Refused before the password is even looked at: nothing to audit but the refusal.
  const std::optional<bool> consent = ConsentOrRefuse(call);
  if (!consent) return Status::Ok();
  const bool consented = *consent;
  OUTPOST_RETURN_IF_ERROR(AdmitLoginName(call, username));  // spraying guard
  OUTPOST_RETURN_IF_ERROR(AdmitAudit(call));
  if (PasswordLoginRefused(call, username, nullptr)) return Status::Ok();  // password_login
  OUTPOST_ASSIGN_OR_RETURN(std::string password, StringField(call.body, "password", 4096));
  domain::LoginAttempt attempt;
  attempt.source_ip = call.req.remote_addr;
  // Wrong codes of a second step count toward the lock with the wrong passwords before them:
  // FinishLogin resets the count once every step passed.
  attempt.keep_failure_count = true;
  Result<domain::User> user = call.svc.accounts->Authenticate(username, password, &attempt);
  WipeString(&password);
  // People type passwords into the name field: keep a claimed name only when it could be one.
  std::string claimed = domain::CheckUsername(username).ok() ? username : "(not a user name)";
  if (!user.ok()) {
    log::Warn("login failed", {{"user", username.substr(0, 64)},
                               {"remote", call.req.remote_addr},
                               {"reason", CodeName(user.status().code())}});
    domain::AuditEvent event = AuditEventFor(call, "auth.login_failed", "user:" + claimed);
    event.actor = claimed;
    event.details["failure"] = attempt.failure;  // the client hears only the generic answer
    AuditAnyway(call, event, user.status());
    return user.status();
  }
  if (PasswordLoginRefused(call, username, &*user)) return Status::Ok();  // card only
  nlohmann::json details = nlohmann::json::object();
  if (call.svc.options->require_consent || consented) details["consent"] = consented;
  if (call.svc.two_factor != nullptr && call.svc.pending_logins != nullptr) {
    OUTPOST_ASSIGN_OR_RETURN(domain::TwoFactorState state,
                             call.svc.two_factor->StateOf(user->id));
    if (state.enabled || SecondFactorRequired(call, *user)) {
      const domain::PendingStep step =
          state.enabled ? domain::PendingStep::kTotp : domain::PendingStep::kEnrol;
      std::string pending = call.svc.pending_logins->Create(user->id, step, consented);
      log::Info("login needs a second factor",
                {{"user", user->username}, {"remote", call.req.remote_addr}});
      nlohmann::json j = {
          {"second_factor", state.enabled ? "totp" : "enrol"},
          {"pending", pending},
          {"expires_in_seconds", domain::PendingLogins::kLifetimeMs / 1000}};
      WipeString(&pending);
      SetJson(call.res, 200, j);
      return Status::Ok();
    }
  }
  return FinishLogin(call, *user, std::move(details));
}

Status HandleLoginTotp(Call& call) {
  std::string token;
  domain::PendingLogin pending;
  domain::User user;
  OUTPOST_RETURN_IF_ERROR(LoadPending(call, domain::PendingStep::kTotp, &token, &pending, &user));
  OUTPOST_RETURN_IF_ERROR(AdmitAudit(call));
  const bool by_recovery = call.body.contains("recovery_code");
  nlohmann::json details = {{"second_factor", by_recovery ? "recovery_code" : "totp"}};
  if (pending.consented) details["consent"] = true;
  if (by_recovery) {
    OUTPOST_ASSIGN_OR_RETURN(std::string code, StringField(call.body, "recovery_code", 64));
    int left = 0;
    Status st = call.svc.two_factor->UseRecoveryCode(user.id, code, &left);
    WipeString(&code);
    if (!st.ok()) {
      SecondFactorFailed(call, user, token, "recovery_code", st);
      return st;
    }
    call.svc.pending_logins->Consume(token);
    domain::AuditEvent used = AuditEventAs(call, user, "auth.recovery_code_used");
    used.details = {{"left", left}};
    OUTPOST_RETURN_IF_ERROR(Audit(call, used, Status::Ok()));
    details["recovery_codes_left"] = left;
  } else {
    OUTPOST_ASSIGN_OR_RETURN(std::string code, StringField(call.body, "code", 32));
    Status st = call.svc.two_factor->VerifyCode(user.id, code);
    WipeString(&code);
    if (!st.ok()) {
      SecondFactorFailed(call, user, token, "totp", st);
      return st;
    }
    call.svc.pending_logins->Consume(token);
  }
  return FinishLogin(call, user, std::move(details));
}

Status HandleLoginEnrol(Call& call) {
  std::string token;
  domain::PendingLogin pending;
  domain::User user;
  OUTPOST_RETURN_IF_ERROR(LoadPending(call, domain::PendingStep::kEnrol, &token, &pending, &user));
  OUTPOST_ASSIGN_OR_RETURN(domain::TotpEnrolment e, call.svc.two_factor->BeginEnrolment(user));
  AnswerEnrolment(call, e);
  return Status::Ok();
}

Status HandleLoginEnrolConfirm(Call& call) {
  std::string token;
  domain::PendingLogin pending;
  domain::User user;
  OUTPOST_RETURN_IF_ERROR(LoadPending(call, domain::PendingStep::kEnrol, &token, &pending, &user));
  OUTPOST_RETURN_IF_ERROR(AdmitAudit(call));
  OUTPOST_ASSIGN_OR_RETURN(std::string code, StringField(call.body, "code", 32));
  Result<std::vector<std::string>> codes = call.svc.two_factor->ConfirmEnrolment(user.id, code);
  WipeString(&code);
  if (!codes.ok()) {
    if (codes.status().code() == Code::kUnauthenticated) {
      SecondFactorFailed(call, user, token, "totp_enrol", codes.status());
    }
    return codes.status();
  }
  call.svc.pending_logins->Consume(token);
  domain::AuditEvent enrolled = AuditEventAs(call, user, "auth.2fa_enrol");
  enrolled.details = {{"during", "sign-in"}};
  OUTPOST_RETURN_IF_ERROR(Audit(call, enrolled, Status::Ok()));
  nlohmann::json details = {{"second_factor", "totp_enrol"}};
  if (pending.consented) details["consent"] = true;
  OUTPOST_RETURN_IF_ERROR(FinishLogin(call, user, std::move(details)));
  nlohmann::json j = nlohmann::json::parse(call.res.body);
  j["recovery_codes"] = *codes;
  for (std::string& c : *codes) WipeString(&c);
  SetJson(call.res, 200, j);
  return Status::Ok();
}

Status HandleLogout(Call& call) {
  if (call.principal->session.id != 0) {
    Status st = call.svc.sessions->RevokeById(call.principal->session.id);
    AuditAnyway(call, AuditEventFor(call, "auth.logout", "session"), st);
    OUTPOST_RETURN_IF_ERROR(st);
    // Only this session's sockets: the user's other browsers stay signed in.
    if (call.svc.realtime != nullptr) {
      call.svc.realtime->EndSession(call.principal->session.id, "signed out");
    }
  }
  call.res.status = 204;
  call.res.set_header("Set-Cookie", SessionCookie(call.svc.options->cookie_name, "", 0));
  log::Info("logout", {{"user", call.principal->user.username}});
  return Status::Ok();
}

Status HandleMe(Call& call) {
  nlohmann::json j = MeJson(*call.principal, *call.svc.sessions);
  if (call.svc.two_factor != nullptr) {
    OUTPOST_ASSIGN_OR_RETURN(domain::TwoFactorState st,
                             call.svc.two_factor->StateOf(call.principal->user.id));
    j["two_factor"] = {{"enabled", st.enabled},
                       {"required", SecondFactorRequired(call, call.principal->user)}};
  }
  j.update(MyPermissionsJson(call));  // "permissions" and "privileged" for the web client
  SetJson(call.res, 200, j);
  return Status::Ok();
}

Status HandleTwoFactorState(Call& call) {
  OUTPOST_RETURN_IF_ERROR(NeedTwoFactor(call));
  OUTPOST_ASSIGN_OR_RETURN(domain::TwoFactorState st,
                           call.svc.two_factor->StateOf(call.principal->user.id));
  SetJson(call.res, 200,
          {{"enabled", st.enabled},
           {"enrolling", st.enrolling},
           {"enabled_at", st.enabled_at ? nlohmann::json(FormatIso8601(st.enabled_at))
                                        : nlohmann::json(nullptr)},
           {"recovery_codes_left", st.recovery_codes_left},
           {"required", SecondFactorRequired(call, call.principal->user)}});
  return Status::Ok();
}

Status HandleTwoFactorEnrol(Call& call) {
  OUTPOST_RETURN_IF_ERROR(NeedTwoFactor(call));
  OUTPOST_ASSIGN_OR_RETURN(domain::TotpEnrolment e,
                           call.svc.two_factor->BeginEnrolment(call.principal->user));
  AnswerEnrolment(call, e);
  return Status::Ok();
}

Status HandleTwoFactorConfirm(Call& call) {
  OUTPOST_RETURN_IF_ERROR(NeedTwoFactor(call));
  OUTPOST_RETURN_IF_ERROR(AdmitAudit(call));
  OUTPOST_ASSIGN_OR_RETURN(std::string code, StringField(call.body, "code", 32));
  const domain::User& me = call.principal->user;
  Result<std::vector<std::string>> codes = call.svc.two_factor->ConfirmEnrolment(me.id, code);
  WipeString(&code);
  domain::AuditEvent event = AuditEventFor(call, "auth.2fa_enrol", "user:" + me.username);
  if (!codes.ok()) {
    if (codes.status().code() == Code::kUnauthenticated) {
      AuditAnyway(call, AuditEventFor(call, "auth.2fa_failed", "user:" + me.username),
                  codes.status());
    }
    return codes.status();
  }
  if (Status st = Audit(call, event, Status::Ok()); !st.ok()) {
    (void)call.svc.two_factor->Remove(me.id);  // no unaudited change of the sign-in rules
    return st;
  }
  log::Info("two-factor enrolled", {{"user", me.username}});
  SetJson(call.res, 200, {{"recovery_codes", *codes}});
  for (std::string& c : *codes) WipeString(&c);
  return Status::Ok();
}

Status HandleTwoFactorDisable(Call& call) {
  OUTPOST_RETURN_IF_ERROR(NeedTwoFactor(call));
  const domain::User& me = call.principal->user;
  if (SecondFactorRequired(call, me)) {
    return Status::FailedPrecondition(
        "two-factor authentication is required for this account and cannot be turned off");
  }
  OUTPOST_RETURN_IF_ERROR(AdmitAudit(call));
  domain::AuditEvent event = AuditEventFor(call, "auth.2fa_disable", "user:" + me.username);
  if (Status st = CheckPassword(call); !st.ok()) {
    AuditAnyway(call, event, st);
    return st;
  }
  // A code from the app, or a recovery code for someone who lost the app.
  Status second;
  if (call.body.contains("recovery_code")) {
    OUTPOST_ASSIGN_OR_RETURN(std::string code, StringField(call.body, "recovery_code", 64));
    second = call.svc.two_factor->UseRecoveryCode(me.id, code);
    WipeString(&code);
  } else {
    OUTPOST_ASSIGN_OR_RETURN(std::string code, StringField(call.body, "code", 32));
    second = call.svc.two_factor->VerifyCode(me.id, code);
    WipeString(&code);
  }
  if (!second.ok()) {
    AuditAnyway(call, AuditEventFor(call, "auth.2fa_failed", "user:" + me.username), second);
    return second;
  }
  Result<bool> removed = call.svc.two_factor->Remove(me.id);
  OUTPOST_RETURN_IF_ERROR(Audit(call, event, removed.status()));
  OUTPOST_RETURN_IF_ERROR(removed.status());
  log::Info("two-factor disabled", {{"user", me.username}});
  call.res.status = 204;
  return Status::Ok();
}

Status HandleRecoveryCodes(Call& call) {
  OUTPOST_RETURN_IF_ERROR(NeedTwoFactor(call));
  const domain::User& me = call.principal->user;
  OUTPOST_RETURN_IF_ERROR(AdmitAudit(call));
  OUTPOST_ASSIGN_OR_RETURN(std::string code, StringField(call.body, "code", 32));
  Status st = call.svc.two_factor->VerifyCode(me.id, code);
  WipeString(&code);
  if (!st.ok()) {
    AuditAnyway(call, AuditEventFor(call, "auth.2fa_failed", "user:" + me.username), st);
    return st;
  }
  OUTPOST_ASSIGN_OR_RETURN(std::vector<std::string> codes,
                           call.svc.two_factor->RegenerateRecoveryCodes(me.id));
  domain::AuditEvent event =
      AuditEventFor(call, "auth.2fa_recovery_codes", "user:" + me.username);
  OUTPOST_RETURN_IF_ERROR(Audit(call, event, Status::Ok()));
  SetJson(call.res, 200, {{"recovery_codes", codes}});
  for (std::string& c : codes) WipeString(&c);
  return Status::Ok();
}

Status HandleResetTwoFactor(Call& call) {
  OUTPOST_RETURN_IF_ERROR(NeedTwoFactor(call));
  OUTPOST_ASSIGN_OR_RETURN(domain::User user, RouteUser(call));
  OUTPOST_RETURN_IF_ERROR(AdmitAudit(call));
  Result<bool> removed = call.svc.two_factor->Remove(user.id);
  domain::AuditEvent event = AuditEventFor(call, "auth.2fa_reset", "user:" + user.username);
  if (removed.ok()) event.details = {{"had_2fa", *removed}};
  OUTPOST_RETURN_IF_ERROR(Audit(call, event, removed.status()));
  OUTPOST_RETURN_IF_ERROR(removed.status());
  log::Warn("two-factor reset",
            {{"user", user.username}, {"by", call.principal->user.username}});
  SetJson(call.res, 200, {{"user", UserJson(user)}, {"had_2fa", *removed}});
  return Status::Ok();
}

Status HandleMySessions(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::vector<domain::Session> list,
                           call.svc.sessions->List(call.principal->user.id));
  SetJson(call.res, 200,
          {{"sessions", SessionListJson(list, call.principal->session.id, *call.svc.sessions)}});
  return Status::Ok();
}

Status HandleRevokeMySession(Call& call) {
  const int64_t id = std::stoll(call.req.matches[1]);  // the pattern allows 1-18 digits
  const domain::User& me = call.principal->user;
  Status st = call.svc.sessions->RevokeOf(me.id, id);
  domain::AuditEvent event = AuditEventFor(call, "session.revoke", "user:" + me.username);
  event.details = {{"session_id", id}};
  AuditAnyway(call, event, st);
  OUTPOST_RETURN_IF_ERROR(st);
  if (call.svc.realtime != nullptr) {
    call.svc.realtime->EndSession(id, "the session was revoked");
  }
  if (id == call.principal->session.id) {
    call.res.set_header("Set-Cookie", SessionCookie(call.svc.options->cookie_name, "", 0));
  }
  call.res.status = 204;
  return Status::Ok();
}

Status HandleRevokeMySessions(Call& call) {
  // ?all=true ends the current session too; by default every other one.
  const bool all = call.req.get_param_value("all") == "true";
  const int64_t keep = all ? 0 : call.principal->session.id;
  OUTPOST_ASSIGN_OR_RETURN(std::vector<int64_t> ended,
                           call.svc.sessions->RevokeAllOf(call.principal->user.id, keep));
  RevokedSessions(call, call.principal->user, ended, "the session was revoked");
  if (all && call.principal->session.id != 0) {
    call.res.set_header("Set-Cookie", SessionCookie(call.svc.options->cookie_name, "", 0));
  }
  SetJson(call.res, 200, {{"revoked", ended.size()}});
  return Status::Ok();
}

Status HandleUserSessions(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(domain::User user, RouteUser(call));
  OUTPOST_ASSIGN_OR_RETURN(std::vector<domain::Session> list, call.svc.sessions->List(user.id));
  const int64_t current = user.id == call.principal->user.id ? call.principal->session.id : 0;
  SetJson(call.res, 200,
          {{"user", UserJson(user)},
           {"sessions", SessionListJson(list, current, *call.svc.sessions)}});
  return Status::Ok();
}

Status HandleRevokeUserSession(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(domain::User user, RouteUser(call));
  const int64_t id = std::stoll(call.req.matches[2]);
  Status st = call.svc.sessions->RevokeOf(user.id, id);
  domain::AuditEvent event = AuditEventFor(call, "session.revoke", "user:" + user.username);
  event.details = {{"session_id", id}};
  AuditAnyway(call, event, st);
  OUTPOST_RETURN_IF_ERROR(st);
  if (call.svc.realtime != nullptr) {
    call.svc.realtime->EndSession(id, "the session was revoked by an administrator");
  }
  call.res.status = 204;
  return Status::Ok();
}

Status HandleRevokeUserSessions(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(domain::User user, RouteUser(call));
  OUTPOST_ASSIGN_OR_RETURN(std::vector<int64_t> ended,
                           call.svc.sessions->RevokeAllOf(user.id, 0));
  RevokedSessions(call, user, ended, "the session was revoked by an administrator");
  SetJson(call.res, 200, {{"revoked", ended.size()}});
  return Status::Ok();
}

}  // namespace outpost::api
