// Smart-card login (CAC/PIV) in the API: signing in with the TLS client certificate, the
// administrators' bindings of certificate identities to accounts, and the [auth]
// password_login rule that the password sign-in applies (docs/security.md, "Smart-card login
// (CAC/PIV)").
#ifndef OUTPOST_API_CERT_HANDLERS_H_
#define OUTPOST_API_CERT_HANDLERS_H_

#include <string_view>

#include "api/routes.h"

namespace outpost::api {

// POST /api/v1/auth/certificate: signs in as the account bound to the verified client
// certificate of this TLS connection (never to anything the request says). Refusals answer
// 401 {"error":{"code":"certificate_refused","reason":...}} and are audited as
// auth.login_failed with details.reason: no_certificate, untrusted, revoked, expired,
// not_yet_valid, crl_expired, crl_invalid, wrong_usage, no_identity, unknown_identity,
// disabled, locked.
Status HandleCertificateLogin(Call& call);

// Administrators' bindings: list, bind ({"kind": "upn"|"email"|"subject", "value": ...}),
// unbind by id. Audited as user.cert_bind / user.cert_unbind.
Status HandleListCertIdentities(Call& call);
Status HandleBindCertIdentity(Call& call);
Status HandleUnbindCertIdentity(Call& call);

// [auth] password_login for the password sign-in. Call it before the password is checked with
// `user` null (under "none" it refuses everyone), and again once the password was right with
// the account (under "unprivileged" it refuses privileged roles; asked only then, so that the
// answer never tells which names are privileged accounts). On refusal it has audited
// auth.login_failed (details.reason "password_login_disabled") and set call.res to 403
// {"error":{"code":"password_login_disabled",...}}: the handler returns OK without a session.
// `username` is the name the client sent. Thread-safe as handlers are.
bool PasswordLoginRefused(Call& call, std::string_view username, const domain::User* user);

}  // namespace outpost::api

#endif  // OUTPOST_API_CERT_HANDLERS_H_
