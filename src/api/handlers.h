// Handlers named in the route table (routes.cc). Each follows the Handler contract there.
#ifndef OUTPOST_API_HANDLERS_H_
#define OUTPOST_API_HANDLERS_H_

#include <optional>

#include "api/routes.h"

namespace outpost::api {

// System: liveness, readiness, metrics, public site information.
Status HandleHealthz(Call& call);
Status HandleReadyz(Call& call);
Status HandleMetrics(Call& call);
Status HandleSite(Call& call);
Status HandlePresence(Call& call);

// Sign-in, the second factor, sign-out and the caller's own account (auth_handlers.cc).
Status HandleLogin(Call& call);
Status HandleLoginTotp(Call& call);
Status HandleLoginEnrol(Call& call);
Status HandleLoginEnrolConfirm(Call& call);
Status HandleLogout(Call& call);
Status HandleMe(Call& call);
// Two-factor authentication of the caller, and an administrator's reset (auth_handlers.cc).
Status HandleTwoFactorState(Call& call);
Status HandleTwoFactorEnrol(Call& call);
Status HandleTwoFactorConfirm(Call& call);
Status HandleTwoFactorDisable(Call& call);
Status HandleRecoveryCodes(Call& call);
Status HandleResetTwoFactor(Call& call);
// Sessions: the caller's, and (administrators) another account's (auth_handlers.cc).
Status HandleMySessions(Call& call);
Status HandleRevokeMySession(Call& call);
Status HandleRevokeMySessions(Call& call);
Status HandleUserSessions(Call& call);
Status HandleRevokeUserSession(Call& call);
Status HandleRevokeUserSessions(Call& call);
Status HandleListTokens(Call& call);
Status HandleCreateToken(Call& call);
Status HandleRevokeToken(Call& call);

// Administration of accounts.
Status HandleListUsers(Call& call);
Status HandleCreateUser(Call& call);
Status HandleDisableUser(Call& call);
Status HandleEnableUser(Call& call);

// The auditor view (audit_handlers.cc).
Status HandleAuditSearch(Call& call);
// GET /api/v1/audit/status: AuditHealthJson.
Status HandleAuditStatus(Call& call);
// The audit log's health: storage (size, limit, ratio, alert) and SIEM forwarding (enabled,
// connected, cursor, lag, last success, outage). Parts the server runs without are null.
nlohmann::json AuditHealthJson(const Services& svc);

// Starts a session for `user` once every factor was checked (the password sign-in's last
// step, shared by the smart-card sign-in): audits auth.login with `details`, sets the cookie,
// answers 200 with the account. No session survives an audit record that cannot be written.
Status StartSession(Call& call, const domain::User& user, nlohmann::json details);
// Whether the sign-in body says "consent": true. When [site] require_consent wants it and it
// is missing, sets call.res to 403 consent_required and returns nullopt: the handler then
// returns OK with nothing done.
std::optional<bool> ConsentOrRefuse(Call& call);

// Builds the session cookie header value; an empty token with max_age 0 clears it.
std::string SessionCookie(const std::string& name, const std::string& token, int64_t max_age_s);

}  // namespace outpost::api

#endif  // OUTPOST_API_HANDLERS_H_
