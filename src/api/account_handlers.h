// The password and lockout side of accounts (account_handlers.cc): a user changing their own
// password, an administrator unlocking an account, the per-address spraying guard of sign-in,
// and the gate that holds an account whose password has expired (stig profile) to changing it.
#ifndef OUTPOST_API_ACCOUNT_HANDLERS_H_
#define OUTPOST_API_ACCOUNT_HANDLERS_H_

#include <string>

#include "api/routes.h"

namespace outpost::api {

// POST /api/v1/me/password {current_password, new_password}: re-authenticates, applies the
// policy, (stig) the minimum age and history; ends the caller's other sessions and their
// WebSockets. Audited as user.password_change.
Status HandleChangeMyPassword(Call& call);

// POST /api/v1/users/{name}/unlock: ends a lockout and resets the failure count. Audited as
// auth.unlock (details.reason "administrator").
Status HandleUnlockUser(Call& call);

// The spraying guard, for the sign-in handler once it has the user name: ResourceExhausted
// (429) when the caller's address has tried too many different user names in the window
// ([auth] login_user_names_per_ip). Audits auth.login_throttled (reason "user_names") at most
// once a minute per address.
Status AdmitLoginName(Call& call, const std::string& username);

// For the server, after authenticating a non-public route: when the account's password has
// expired (stig maximum age), sets principal.user.password_expired and, unless the route is
// one that an expired account may use (GET /api/v1/me, POST /api/v1/me/password, POST
// /api/v1/auth/logout), answers 403 "password_change_required" in `res` and returns true.
// False (nothing written) otherwise, and when the state cannot be read (logged): an
// unreadable age must not lock everyone out.
bool PasswordChangeBlocks(const Route& route, Services& svc, domain::Principal& principal,
                          httplib::Response& res);

// For the WebSocket upgrade: FailedPrecondition when the account's password has expired.
Status PasswordChangeAllowsRealtime(Services& svc, const domain::Principal& principal);

}  // namespace outpost::api

#endif  // OUTPOST_API_ACCOUNT_HANDLERS_H_
