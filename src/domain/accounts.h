// Local accounts: create, look up, list, disable and enable, reset passwords, and check a
// user name and password. The front header of the domain layer's account concept.
#ifndef OUTPOST_DOMAIN_ACCOUNTS_H_
#define OUTPOST_DOMAIN_ACCOUNTS_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "domain/audit.h"
#include "domain/passwords.h"
#include "storage/database.h"
#include "util/clock.h"
#include "util/status.h"

namespace outpost::domain {

// Appliance-wide roles. The fine-grained catalogue of permissions comes with access control;
// for now an administrator may do everything and a user may use their own account.
inline constexpr const char* kRoleAdmin = "admin";
inline constexpr const char* kRoleUser = "user";
bool IsValidRole(std::string_view role);

struct User {
  int64_t id = 0;
  std::string username;
  std::string display_name;
  std::string role;
  bool disabled = false;
  UnixMillis created_at = 0;
  UnixMillis updated_at = 0;
  UnixMillis password_changed_at = 0;  // 0 when not read (sessions and tokens do not)
  // The stig maximum age has passed, or an administrator set the password under stig (it is
  // temporary): the account may only change its password. Set by Accounts' lookups and
  // Authenticate, and per request by the API (PasswordChangeRequired).
  bool password_expired = false;
  bool password_temporary = false;  // read with password_changed_at
};

struct AccountPolicy {
  int password_min_length = 15;
  int password_max_length = 128;
  HashCost hash_cost = HashCost::kInteractive;
  // Password profile and its stig rules (PasswordPolicy in passwords.h).
  PasswordProfile password_profile = PasswordProfile::kNist;
  int password_max_age_days = 60;
  int password_min_age_days = 1;
  int password_history = 5;
  std::string site_name;  // a password must be long enough without it (and the user name)
  // Lockout: `lockout_attempts` failures within `lockout_window_minutes` lock the account for
  // `lockout_minutes` (0: until an administrator unlocks it); lockout_attempts 0 turns locking
  // off. Whatever the lockout, at most `max_failures_per_hour` failures an hour per account are
  // evaluated at all: beyond them, sign-ins are refused without running argon2id.
  int lockout_attempts = 3;
  int lockout_window_minutes = 15;
  int lockout_minutes = 15;
  int max_failures_per_hour = 100;

  PasswordPolicy password() const {
    PasswordPolicy p;
    p.profile = password_profile;
    p.min_length = password_min_length;
    p.max_length = password_max_length;
    p.max_age_days = password_max_age_days;
    p.min_age_days = password_min_age_days;
    p.history = password_history;
    return p;
  }
};

// What a sign-in attempt tells its caller beyond the answer, for the audit log. The client
// always hears the same "wrong user name or password, or the account is locked".
struct LoginAttempt {
  std::string source_ip;  // in: the client's address, recorded with auth.lockout / auth.unlock
  // out, on failure: "unknown_user", "wrong_password", "locked", "hourly_cap", "disabled".
  std::string failure;
  bool locked_now = false;  // out: this failure started a lock (auth.lockout was recorded)
  // in: a second factor follows a right password, so the count of failures is not reset
  // yet: the caller calls Accounts::ResetFailures once the sign-in is complete, and wrong
  // codes count toward the lock (RecordSecondFactorFailure).
  bool keep_failure_count = false;
};

// An account's lockout state.
struct LockState {
  bool locked = false;
  UnixMillis locked_at = 0;
  UnixMillis locked_until = 0;  // 0 while locked: until an administrator unlocks it
  int recent_failures = 0;      // failures counted toward the next lock
};

// The generic answer to every failed sign-in: it never tells whether the name exists or the
// account is locked (no user enumeration).
inline constexpr const char* kLoginFailedMessage =
    "wrong user name or password, or the account is locked";

// User names: 1 to 64 characters from a-z, 0-9, '.', '_', '-', starting with a letter or digit;
// compared without regard to case. InvalidArgument with the rule otherwise.
Status CheckUsername(std::string_view username);

// The id of the account `username`, inside the caller's transaction; NotFound naming it.
Result<int64_t> UserIdByName(storage::Connection& conn, std::string_view username);

// Thread-safe (the Database serializes writes). Holds pointers, which must outlive it, and a
// small map of failures for unknown names (guarded by mu_).
class Accounts {
 public:
  Accounts(storage::Database* db, const Clock* clock, AccountPolicy policy)
      : db_(db), clock_(clock), policy_(std::move(policy)) {}
  Accounts(const Accounts&) = delete;
  Accounts& operator=(const Accounts&) = delete;

  // Where auth.lockout and auth.unlock (on expiry) are recorded; null (the default) records
  // nothing. Set before use; the log must outlive this object.
  void SetAuditLog(AuditLog* audit) { audit_ = audit; }

  // AlreadyExists when the name is taken (in any case); InvalidArgument for a bad name, role,
  // display name or a password the policy refuses.
  Result<User> Create(std::string_view username, std::string_view display_name,
                      std::string_view role, std::string_view password);

  // NotFound when there is no such user.
  Result<User> FindByName(std::string_view username);
  Result<User> FindById(int64_t id);

  // Every user, by name.
  Result<std::vector<User>> List();

  // Disabling also ends every session of the user. NotFound when there is no such user.
  Status SetDisabled(std::string_view username, bool disabled);

  // An administrator sets a new password: the policy and (stig) the history apply, the minimum
  // age does not. Under stig the password is temporary: the owner must change it at the next
  // sign-in (PasswordChangeRequired), the minimum age not applying to that change. Ends every
  // session of the user. NotFound when there is no such user.
  Status ResetPassword(std::string_view username, std::string_view password);

  // The user changes their own password: `current` must be right (a wrong one counts as a
  // failed sign-in toward the lockout), then the policy, (stig) the minimum age and the history
  // apply. Ends every session of the user except `keep_session_id` (0: ends them all) and
  // returns the ids of the sessions it ended (for closing their WebSockets).
  // Unauthenticated for a wrong current password or a locked account; FailedPrecondition
  // before the minimum age; InvalidArgument when the policy or history refuses the new one.
  // `attempt` (may be null) as for Authenticate.
  Result<std::vector<int64_t>> ChangePassword(int64_t user_id, std::string_view current,
                                              std::string_view password, int64_t keep_session_id,
                                              LoginAttempt* attempt = nullptr);

  // Unauthenticated (kLoginFailedMessage) for an unknown name, a wrong password, a locked
  // account, or an account over its hourly cap of failures, all alike to the client;
  // FailedPrecondition for a disabled account, said only to someone who knew the password.
  // Counts failures, locks the account after policy().lockout_attempts, resets the count on
  // success, and upgrades the stored hash when the cost preset changed. A locked account's
  // password is never checked (argon2id still runs against a dummy hash, so that the answer
  // takes the time of any other); past the hourly cap argon2id does not run at all.
  // `attempt` (may be null) carries the source address in and the failure's reason out.
  Result<User> Authenticate(std::string_view username, std::string_view password,
                            LoginAttempt* attempt = nullptr);

  // A wrong second factor (TOTP or recovery code) after the right password: counted as a
  // failed sign-in toward the lock, as a wrong password is. `attempt` as for Authenticate
  // (locked_now tells whether this failure locked the account).
  Status RecordSecondFactorFailure(const User& user, LoginAttempt* attempt);

  // A sign-in is complete: the count of failures starts afresh (Authenticate does this itself
  // unless LoginAttempt::keep_failure_count).
  Status ResetFailures(int64_t user_id);

  // Ends a lock and resets the failure count. `*was_locked` (may be null) tells whether the
  // account was locked. NotFound when there is no such user.
  Status Unlock(std::string_view username, bool* was_locked = nullptr);

  // The account's lock as of now (an expired lock reads as unlocked). NotFound for no user.
  Result<LockState> GetLockState(std::string_view username);

  // True under stig when the maximum age has passed since the user's password was set, or an
  // administrator set it (temporary), so that the account may do nothing but change it.
  // Always false under nist, without a database read.
  Result<bool> PasswordChangeRequired(int64_t user_id);

  // Times argon2id verified a password (real or dummy hash) since construction: a test seam
  // for the hourly cap, and a figure for metrics.
  uint64_t argon2_runs() const { return argon2_runs_.load(); }

  const AccountPolicy& policy() const { return policy_; }

 private:
  bool Verify(std::string_view hash, std::string_view password);
  // Records a failed check of `user_id`'s password, locking the account when the count
  // reaches the limit. Sets attempt->locked_now.
  Status RecordFailure(const User& user, LoginAttempt* attempt);
  // The hourly cap for names that match no account, kept in memory (nothing to store them
  // against): true when `name` may be evaluated, and counts it.
  bool AdmitUnknownName(std::string_view name);
  // InvalidArgument when `password` is one of the account's last policy().password_history
  // passwords (stig). Runs argon2id outside any transaction.
  Status CheckHistory(int64_t user_id, std::string_view password);
  // Sets `hash` as the password of `user_id` (not temporary) within the caller's transaction,
  // keeping the replaced one in the history (stig) and pruning what the rule no longer needs.
  Status StorePassword(storage::Connection& conn, int64_t user_id, std::string_view hash);
  struct PasswordAge {
    UnixMillis changed_at = 0;
    bool temporary = false;
  };
  Result<PasswordAge> ReadPasswordAge(int64_t user_id);
  void RecordAudit(AuditEvent event);

  storage::Database* const db_;
  const Clock* const clock_;
  const AccountPolicy policy_;
  AuditLog* audit_ = nullptr;
  std::atomic<uint64_t> argon2_runs_{0};
  struct UnknownName {
    UnixMillis hour_start = 0;
    int failures = 0;
  };
  std::mutex mu_;
  std::unordered_map<std::string, UnknownName> unknown_names_;  // guarded by mu_
};

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_ACCOUNTS_H_
