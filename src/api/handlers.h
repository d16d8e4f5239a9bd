// Handlers named in the route table (routes.cc). Each follows the Handler contract there.
#ifndef OUTPOST_API_HANDLERS_H_
#define OUTPOST_API_HANDLERS_H_

#include "api/routes.h"

namespace outpost::api {

// System: liveness, readiness, metrics, public site information.
Status HandleHealthz(Call& call);
Status HandleReadyz(Call& call);
Status HandleMetrics(Call& call);
Status HandleSite(Call& call);
Status HandlePresence(Call& call);

// Sign-in and the caller's own account.
Status HandleLogin(Call& call);
Status HandleLogout(Call& call);
Status HandleMe(Call& call);
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

// Builds the session cookie header value; an empty token with max_age 0 clears it.
std::string SessionCookie(const std::string& name, const std::string& token, int64_t max_age_s);

}  // namespace outpost::api

#endif  // OUTPOST_API_HANDLERS_H_
