// Browser sessions and API tokens. Both are random 256-bit tokens handed to the client once;
// the database keeps only their BLAKE2b hashes, so a copy of the database lets no one in.
#ifndef OUTPOST_DOMAIN_SESSIONS_H_
#define OUTPOST_DOMAIN_SESSIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "domain/accounts.h"
#include "storage/database.h"
#include "util/clock.h"
#include "util/status.h"

namespace outpost::domain {

struct Session {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string csrf_token;  // sent back by the client in X-CSRF-Token on state changes
  UnixMillis created_at = 0;
  UnixMillis last_seen_at = 0;
  UnixMillis expires_at = 0;  // absolute end; the idle end is last_seen_at + idle timeout
};

struct SessionPolicy {
  int64_t idle_timeout_ms = 15 * 60 * 1000;
  int64_t absolute_timeout_ms = 12 * 3600 * 1000;
};

// A session or token as seen by a request: who, and through what.
struct Principal {
  User user;
  Session session;            // id 0 when authenticated by an API token
  int64_t api_token_id = 0;   // 0 when authenticated by a session cookie
};

// Thread-safe; the pointers must outlive it.
class Sessions {
 public:
  Sessions(storage::Database* db, const Clock* clock, SessionPolicy policy)
      : db_(db), clock_(clock), policy_(policy) {}

  // Starts a session for `user_id`; `*token` receives the secret for the cookie.
  Result<Session> Create(int64_t user_id, std::string_view remote_addr,
                         std::string_view user_agent, std::string* token);

  // Unauthenticated for an unknown, expired (idle or absolute) or revoked token, or a user
  // who has been disabled. Records activity at most once a minute (a write per request would
  // serialize every reader behind the writer).
  Result<Principal> Authenticate(std::string_view token);

  // Ends the session holding `token`; OK when there is none.
  Status Revoke(std::string_view token);
  // Ends the session with this id; OK when there is none.
  Status RevokeById(int64_t session_id);
  // Ends every session of the user. Returns how many ended.
  Result<int> RevokeAll(int64_t user_id);
  // Removes expired sessions. Returns how many.
  Result<int> PurgeExpired();

  // The moment the session ends if nothing more happens.
  UnixMillis EffectiveExpiry(const Session& s) const;
  const SessionPolicy& policy() const { return policy_; }

 private:
  storage::Database* const db_;
  const Clock* const clock_;
  const SessionPolicy policy_;
};

struct ApiToken {
  int64_t id = 0;
  int64_t user_id = 0;
  std::string name;
  UnixMillis created_at = 0;
  UnixMillis last_used_at = 0;  // 0: never
  UnixMillis expires_at = 0;    // 0: never
};

// Bearer tokens for scripts and bots: "opt_" + 43 base64url characters. Thread-safe.
class ApiTokens {
 public:
  ApiTokens(storage::Database* db, const Clock* clock) : db_(db), clock_(clock) {}

  // Creates a token; `*secret` receives the only copy of it. `expires_at` 0 means never.
  Result<ApiToken> Create(int64_t user_id, std::string_view name, UnixMillis expires_at,
                          std::string* secret);
  // Unauthenticated for an unknown, expired or malformed token or a disabled user.
  Result<Principal> Authenticate(std::string_view secret);
  Result<std::vector<ApiToken>> List(int64_t user_id);
  // NotFound when the user has no token with that id.
  Status Revoke(int64_t user_id, int64_t token_id);

 private:
  storage::Database* const db_;
  const Clock* const clock_;
};

inline constexpr std::string_view kApiTokenPrefix = "opt_";

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_SESSIONS_H_
