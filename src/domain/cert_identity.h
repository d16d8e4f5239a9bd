// Smart-card identities: which local account a client certificate signs in as. An
// administrator binds a certificate identity (the UPN or email in its subjectAltName, or its
// subject DN; see net/client_cert.h) to one account; tls.map_by says which kind the server
// looks up at a certificate login. One identity maps to at most one account; an account may
// have several (a new card, a second card).
#ifndef OUTPOST_DOMAIN_CERT_IDENTITY_H_
#define OUTPOST_DOMAIN_CERT_IDENTITY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "storage/database.h"
#include "util/clock.h"
#include "util/status.h"

namespace outpost::domain {

enum class CertIdentityKind { kUpn, kEmail, kSubject };

// Who may sign in with a password once smart cards are in use ([auth] password_login).
// Privileged: domain::Roles::IsPrivileged.
enum class PasswordLoginPolicy { kAll, kUnprivileged, kNone };
// "all", "unprivileged", "none", as in the configuration. Thread-safe.
std::string_view PasswordLoginPolicyName(PasswordLoginPolicy policy);

// "upn", "email", "subject". Thread-safe.
std::string_view CertIdentityKindName(CertIdentityKind kind);
// The inverse; InvalidArgument naming the three for anything else.
Result<CertIdentityKind> ParseCertIdentityKind(std::string_view name);

// The stored form of an identity: a UPN or email in lower case (both compare without regard to
// case), a subject DN exactly as given. InvalidArgument when empty, longer than 1024 bytes,
// holding a control character, or a UPN or email without '@'. Thread-safe.
Result<std::string> NormalizeCertIdentity(CertIdentityKind kind, std::string_view value);

struct CertIdentity {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string username;
  CertIdentityKind kind = CertIdentityKind::kUpn;
  std::string value;  // normalized
  UnixMillis created_at = 0;
};

// Thread-safe (the Database serializes writes). `db` and `clock` must outlive it.
class CertIdentities {
 public:
  CertIdentities(storage::Database* db, const Clock* clock) : db_(db), clock_(clock) {}

  // Binds `value` to the account `username`. NotFound for no such user; AlreadyExists naming
  // the account when the identity is bound already (to this one or another); InvalidArgument
  // for a value NormalizeCertIdentity refuses.
  Result<CertIdentity> Bind(std::string_view username, CertIdentityKind kind,
                            std::string_view value);

  // Removes the binding of `value` from `username` and, in the same transaction, ends every
  // session of the account (a session does not record whether a card opened it). NotFound
  // when the user has no such binding. Returns the binding removed.
  Result<CertIdentity> Unbind(std::string_view username, CertIdentityKind kind,
                              std::string_view value);
  // The same by binding id (the API's form). NotFound when `id` is not one of the user's.
  Result<CertIdentity> UnbindById(std::string_view username, int64_t id);

  // The user's bindings, oldest first; empty when none. NotFound for no such user.
  Result<std::vector<CertIdentity>> ListForUser(std::string_view username);

  // The binding of `value` (any account). NotFound when nothing is bound to it.
  Result<CertIdentity> Find(CertIdentityKind kind, std::string_view value);

 private:
  storage::Database* const db_;
  const Clock* const clock_;
};

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_CERT_IDENTITY_H_
