// Browser sessions and API tokens. Both are random 256-bit tokens handed to the client once;
// the database keeps only their BLAKE2b hashes, so a copy of the database lets no one in.
#ifndef OUTPOST_DOMAIN_SESSIONS_H_
#define OUTPOST_DOMAIN_SESSIONS_H_

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>
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
  int64_t idle_timeout_ms = 0;  // for the user's role class when read; 0: the users' timeout
  std::string remote_addr;      // where it signed in from (List only)
  std::string user_agent;       // the browser's User-Agent at sign-in (List only)
};

struct SessionPolicy {
  int64_t idle_timeout_ms = 15 * 60 * 1000;        // [session] idle_timeout_minutes
  int64_t admin_idle_timeout_ms = 10 * 60 * 1000;  // admin_idle_timeout_minutes: privileged
  int64_t absolute_timeout_ms = 12 * 3600 * 1000;
  // Whether a role is privileged (and so gets admin_idle_timeout_ms). Unset: only "admin".
  std::function<bool(std::string_view role)> is_privileged;
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

  // Starts a session for `user_id`; `*token` receives the secret for the cookie. The returned
  // session's idle timeout is that of `user`'s role class (the users' one for the id form).
  Result<Session> Create(int64_t user_id, std::string_view remote_addr,
                         std::string_view user_agent, std::string* token);
  Result<Session> Create(const User& user, std::string_view remote_addr,
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
  // Ends every session of the user but `keep` (0: all). Returns the ids that ended, for
  // closing exactly their WebSockets.
  Result<std::vector<int64_t>> RevokeAllOf(int64_t user_id, int64_t keep);
  // Ends the user's session `session_id`. NotFound when the user has no such session (another
  // user's session id is not found either).
  Status RevokeOf(int64_t user_id, int64_t session_id);

  // The user's sessions that are still valid, newest first (csrf_token left empty). Expired
  // ones are left out even before PurgeExpired removes them.
  Result<std::vector<Session>> List(int64_t user_id);

  // Whether the session still exists, has not expired (idle or absolute, for its user's role
  // now) and its user is enabled. For sweeps that close sockets of ended sessions.
  Result<bool> StillValid(int64_t session_id);

  // Records activity on the session now (a user action that did not come as an HTTP request).
  Status Touch(int64_t session_id);

  // The idle timeout of `role`'s class.
  int64_t IdleTimeoutFor(std::string_view role) const;
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
  // Whether the token exists, has not expired and its user is enabled (socket sweeps).
  Result<bool> StillValid(int64_t token_id);

 private:
  storage::Database* const db_;
  const Clock* const clock_;
};

inline constexpr std::string_view kApiTokenPrefix = "opt_";

// What a sign-in still needs after the password was right.
enum class PendingStep {
  kTotp,   // a code from the authenticator app, or a recovery code
  kEnrol,  // two-factor authentication is required and the user has none: enrol first
};

struct PendingLogin {
  int64_t user_id = 0;
  PendingStep step = PendingStep::kTotp;
  UnixMillis expires_at = 0;
  int failures = 0;  // wrong codes given with this token
  bool consented = false;  // the first step acknowledged the login notice
};

// Half-finished sign-ins: the password was right, the second factor is still to come. A
// pending token is not a session (it opens nothing but the second step), lives five minutes,
// is spent by the step that finishes the sign-in, and dies after five wrong codes. Kept in
// memory only: a restart asks for the password again. Tokens are held as hashes.
// Thread-safe.
class PendingLogins {
 public:
  static constexpr int64_t kLifetimeMs = 5 * 60 * 1000;
  static constexpr int kMaxFailures = 5;

  explicit PendingLogins(const Clock* clock) : clock_(clock) {}

  // Starts one; returns the token for the client (43 base64url characters).
  std::string Create(int64_t user_id, PendingStep step, bool consented);
  // Unauthenticated when the token is unknown, expired, spent or worn out by failures.
  Result<PendingLogin> Find(std::string_view token);
  // Counts a wrong code; the token dies at kMaxFailures.
  void RecordFailure(std::string_view token);
  // Spends the token (the sign-in finished). OK when it was gone already.
  void Consume(std::string_view token);

 private:
  void PurgeLocked(UnixMillis now);

  const Clock* const clock_;
  std::mutex mu_;
  std::unordered_map<std::string, PendingLogin> pending_;  // by token hash; guarded by mu_
};

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_SESSIONS_H_
