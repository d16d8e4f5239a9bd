#include "domain/accounts.h"

#include <algorithm>
#include <mutex>

#include "util/log.h"

#include "domain/permissions.h"

namespace outpost::domain {
namespace {

constexpr const char* kUserColumns =
    "id, username, display_name, role, disabled, created_at, updated_at, "
    "coalesce(password_changed_at, created_at), password_temporary";
constexpr int kUserColumnCount = 9;  // a column selected after them has this index

User ReadUser(const storage::Statement& stmt) {
  User u;
  u.id = stmt.ColumnInt64(0);
  u.username = stmt.ColumnText(1);
  u.display_name = stmt.ColumnText(2);
  u.role = stmt.ColumnText(3);
  u.disabled = stmt.ColumnInt64(4) != 0;
  u.created_at = stmt.ColumnInt64(5);
  u.updated_at = stmt.ColumnInt64(6);
  u.password_changed_at = stmt.ColumnInt64(7);
  u.password_temporary = stmt.ColumnInt64(8) != 0;
  return u;
}

// Whether a password set at `changed_at` must be changed before anything else: it is
// temporary (set by an administrator under stig) or older than the maximum age (stig).
bool MustChange(const AccountPolicy& policy, UnixMillis changed_at, bool temporary,
                UnixMillis now) {
  if (policy.password_profile != PasswordProfile::kStig) return false;
  const int64_t max_age = policy.password().max_age_ms();
  return temporary || (max_age > 0 && now - changed_at >= max_age);
}

void MarkExpiry(User& user, const AccountPolicy& policy, UnixMillis now) {
  user.password_expired =
      MustChange(policy, user.password_changed_at, user.password_temporary, now);
}

Status CheckDisplayName(std::string_view name) {
  int len = Utf8Length(name);
  if (len < 0) return Status::InvalidArgument("the display name is not valid UTF-8 text");
  if (len < 1 || len > 100) {
    return Status::InvalidArgument("the display name must be 1 to 100 characters long");
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return Status::InvalidArgument("the display name must not contain control characters");
    }
  }
  return Status::Ok();
}

// Ends every session of the user, inside the caller's transaction (disable, password reset).
Status EndSessions(storage::Connection& conn, std::string_view username) {
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement del,
      conn.Prepare("DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE "
                   "username = ?)"));
  del.Bind(1, username);
  return del.Run();
}

// A hash of a random password, verified against when the user name is unknown so that an
// unknown name costs the same time as a wrong password.
const std::string& DummyHash(HashCost cost) {
  static std::once_flag once;
  static std::string hash;
  std::call_once(once, [cost] {
    Result<std::string> h = HashPassword("outpost-timing-equalizer", cost);
    hash = h.ok() ? *h : "";
  });
  return hash;
}

}  // namespace

// The roles table (domain/permissions.h) decides which ids exist: the database refuses an
// account an unknown role.
bool IsValidRole(std::string_view role) { return CheckRoleId(role).ok(); }

Status CheckUsername(std::string_view username) {
  if (username.empty() || username.size() > 64) {
    return Status::InvalidArgument("a user name must be 1 to 64 characters long");
  }
  for (size_t i = 0; i < username.size(); ++i) {
    char c = username[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (i == 0 && !alnum) {
      return Status::InvalidArgument("a user name must start with a letter or a digit");
    }
    if (!alnum && c != '.' && c != '_' && c != '-') {
      return Status::InvalidArgument(
          "a user name may hold only letters a-z, digits, '.', '_' and '-'");
    }
  }
  return Status::Ok();
}

Result<User> Accounts::Create(std::string_view username, std::string_view display_name,
                              std::string_view role, std::string_view password) {
  OUTPOST_RETURN_IF_ERROR(CheckUsername(username));
  OUTPOST_RETURN_IF_ERROR(CheckDisplayName(display_name));
  if (!IsValidRole(role)) {
    return Status::InvalidArgument("unknown role '" + std::string(role) +
                                   "' (outpost role list shows the roles)");
  }
  OUTPOST_RETURN_IF_ERROR(
      CheckPasswordPolicy(password, policy_.password(), username, policy_.site_name));
  OUTPOST_ASSIGN_OR_RETURN(std::string hash, HashPassword(password, policy_.hash_cost));
  User user;
  Status st = db_->Write([&](storage::Connection& conn) {
    UnixMillis now = clock_->NowMillis();
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("INSERT INTO users(username, display_name, role, password_hash, created_at, "
                     "updated_at, password_changed_at) VALUES(?, ?, ?, ?, ?, ?, ?)"));
    stmt.Bind(1, username).Bind(2, display_name).Bind(3, role).Bind(4, hash);
    stmt.Bind(5, now).Bind(6, now).Bind(7, now);
    OUTPOST_RETURN_IF_ERROR(stmt.Run());
    user = User{conn.LastInsertRowId(), std::string(username), std::string(display_name),
                std::string(role), false, now, now, now};
    return Status::Ok();
  });
  if (st.IsAlreadyExists()) {
    return Status::AlreadyExists("a user named '" + std::string(username) + "' already exists");
  }
  if (st.code() == Code::kInvalidArgument &&
      st.message().find("unknown role") != std::string::npos) {
    return Status::InvalidArgument("unknown role '" + std::string(role) +
                                   "' (outpost role list shows the roles)");
  }
  OUTPOST_RETURN_IF_ERROR(st);
  return user;
}

Result<User> Accounts::FindByName(std::string_view username) {
  User user;
  bool found = false;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement stmt,
                             conn.Prepare(std::string("SELECT ") + kUserColumns +
                                          " FROM users WHERE username = ?"));
    stmt.Bind(1, username);
    OUTPOST_ASSIGN_OR_RETURN(found, stmt.Step());
    if (found) user = ReadUser(stmt);
    return Status::Ok();
  }));
  if (!found) return Status::NotFound("no user named '" + std::string(username) + "'");
  MarkExpiry(user, policy_, clock_->NowMillis());
  return user;
}

Result<User> Accounts::FindById(int64_t id) {
  User user;
  bool found = false;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare(std::string("SELECT ") + kUserColumns + " FROM users WHERE id = ?"));
    stmt.Bind(1, id);
    OUTPOST_ASSIGN_OR_RETURN(found, stmt.Step());
    if (found) user = ReadUser(stmt);
    return Status::Ok();
  }));
  if (!found) return Status::NotFound("no user with id " + std::to_string(id));
  MarkExpiry(user, policy_, clock_->NowMillis());
  return user;
}

Result<std::vector<User>> Accounts::List() {
  std::vector<User> users;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare(std::string("SELECT ") + kUserColumns + " FROM users ORDER BY username"));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      users.push_back(ReadUser(stmt));
    }
    return Status::Ok();
  }));
  for (User& u : users) MarkExpiry(u, policy_, clock_->NowMillis());
  return users;
}

Status Accounts::SetDisabled(std::string_view username, bool disabled) {
  bool found = false;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("UPDATE users SET disabled = ?, updated_at = ? WHERE username = ?"));
    stmt.Bind(1, int64_t{disabled}).Bind(2, clock_->NowMillis()).Bind(3, username);
    OUTPOST_RETURN_IF_ERROR(stmt.Run());
    found = conn.Changes() > 0;
    if (!found || !disabled) return Status::Ok();
    return EndSessions(conn, username);
  }));
  if (!found) return Status::NotFound("no user named '" + std::string(username) + "'");
  return Status::Ok();
}

Result<int64_t> UserIdByName(storage::Connection& conn, std::string_view username) {
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement stmt,
                           conn.Prepare("SELECT id FROM users WHERE username = ?"));
  stmt.Bind(1, username);
  OUTPOST_ASSIGN_OR_RETURN(bool found, stmt.Step());
  if (!found) return Status::NotFound("no user named '" + std::string(username) + "'");
  return stmt.ColumnInt64(0);
}

Status Accounts::ResetPassword(std::string_view username, std::string_view password) {
  OUTPOST_RETURN_IF_ERROR(
      CheckPasswordPolicy(password, policy_.password(), username, policy_.site_name));
  OUTPOST_ASSIGN_OR_RETURN(User user, FindByName(username));
  OUTPOST_RETURN_IF_ERROR(CheckHistory(user.id, password));
  OUTPOST_ASSIGN_OR_RETURN(std::string hash, HashPassword(password, policy_.hash_cost));
  bool found = false;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement find,
                             conn.Prepare("SELECT 1 FROM users WHERE id = ?"));
    find.Bind(1, user.id);
    OUTPOST_ASSIGN_OR_RETURN(found, find.Step());
    if (!found) return Status::Ok();  // erased meanwhile
    OUTPOST_RETURN_IF_ERROR(StorePassword(conn, user.id, hash));
    if (policy_.password_profile == PasswordProfile::kStig) {
      // The administrator knows it: the owner must replace it at the next sign-in.
      OUTPOST_ASSIGN_OR_RETURN(
          storage::Statement temp,
          conn.Prepare("UPDATE users SET password_temporary = 1 WHERE id = ?"));
      temp.Bind(1, user.id);
      OUTPOST_RETURN_IF_ERROR(temp.Run());
    }
    return EndSessions(conn, user.username);
  }));
  if (!found) return Status::NotFound("no user named '" + std::string(username) + "'");
  return Status::Ok();
}

namespace {

constexpr int64_t kHourMs = 3600 * 1000;

// Ends the user's sessions but `keep_session_id` (0 keeps none), inside the caller's
// transaction; `*ended` receives their ids.
Status EndOtherSessions(storage::Connection& conn, int64_t user_id, int64_t keep_session_id,
                        std::vector<int64_t>* ended) {
  ended->clear();
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement list,
                           conn.Prepare("SELECT id FROM sessions WHERE user_id = ? AND id != ?"));
  list.Bind(1, user_id).Bind(2, keep_session_id);
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, list.Step());
    if (!row) break;
    ended->push_back(list.ColumnInt64(0));
  }
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement del,
                           conn.Prepare("DELETE FROM sessions WHERE user_id = ? AND id != ?"));
  del.Bind(1, user_id).Bind(2, keep_session_id);
  return del.Run();
}

std::string LowerName(std::string_view name) {
  std::string out(name.substr(0, 64));
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

// The lock row of `user_id` as of `now`. An expired lock reads as unlocked.
struct LockRow {
  bool exists = false;
  int64_t counted_after_id = 0;  // failures with this id or lower no longer count
  bool locked = false;
  bool expired = false;  // a lock that has run out and was not yet cleared
  UnixMillis locked_at = 0;
  UnixMillis locked_until = 0;
};

Result<LockRow> ReadLock(storage::Connection& conn, int64_t user_id, UnixMillis now) {
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement stmt,
      conn.Prepare("SELECT counted_after_id, locked_at, locked_until FROM account_lockouts "
                   "WHERE user_id = ?"));
  stmt.Bind(1, user_id);
  LockRow row;
  OUTPOST_ASSIGN_OR_RETURN(row.exists, stmt.Step());
  if (!row.exists) return row;
  row.counted_after_id = stmt.ColumnInt64(0);
  if (!stmt.ColumnIsNull(1)) {
    row.locked_at = stmt.ColumnInt64(1);
    row.locked_until = stmt.ColumnInt64(2);
    row.locked = row.locked_until == 0 || now < row.locked_until;
    row.expired = !row.locked;
  }
  return row;
}

// Failures of `user_id` later than `since` with an id above `after_id`.
Result<int> CountFailures(storage::Connection& conn, int64_t user_id, UnixMillis since,
                          int64_t after_id = 0) {
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement stmt,
      conn.Prepare("SELECT count(*) FROM login_failures WHERE user_id = ? AND at > ? AND id > ?"));
  stmt.Bind(1, user_id).Bind(2, since).Bind(3, after_id);
  OUTPOST_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? static_cast<int>(stmt.ColumnInt64(0)) : 0;
}

// Ends a lock (if any), and makes every failure recorded so far stop counting toward the next.
// Returns the new boundary.
Result<int64_t> ClearLock(storage::Connection& conn, int64_t user_id) {
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement last,
                           conn.Prepare("SELECT coalesce(max(id), 0) FROM login_failures"));
  OUTPOST_ASSIGN_OR_RETURN(bool row, last.Step());
  const int64_t boundary = row ? last.ColumnInt64(0) : 0;
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement stmt,
      conn.Prepare("INSERT INTO account_lockouts(user_id, counted_after_id) VALUES(?, ?) "
                   "ON CONFLICT(user_id) DO UPDATE SET "
                   "counted_after_id = excluded.counted_after_id, "
                   "locked_at = NULL, locked_until = NULL"));
  stmt.Bind(1, user_id).Bind(2, boundary);
  OUTPOST_RETURN_IF_ERROR(stmt.Run());
  return boundary;
}

}  // namespace

bool Accounts::Verify(std::string_view hash, std::string_view password) {
  ++argon2_runs_;
  return VerifyPassword(hash, password);
}

void Accounts::RecordAudit(AuditEvent event) {
  if (audit_ == nullptr) return;
  // Lockout records describe access taken away or given back by the rules themselves: a lost
  // one must not undo or block the lock, so it is logged instead.
  if (Result<int64_t> r = audit_->Append(event); !r.ok()) {
    log::Error("audit record lost", {{"action", event.action}, {"error", r.status().ToString()}});
  }
}

bool Accounts::AdmitUnknownName(std::string_view name) {
  const UnixMillis now = clock_->NowMillis();
  std::lock_guard<std::mutex> lock(mu_);
  // Bounded under a flood of made-up names: stale counters go first.
  if (unknown_names_.size() > 10000) {
    for (auto it = unknown_names_.begin(); it != unknown_names_.end();) {
      it = now - it->second.hour_start >= kHourMs ? unknown_names_.erase(it) : std::next(it);
    }
    if (unknown_names_.size() > 10000) unknown_names_.clear();
  }
  UnknownName& n = unknown_names_[LowerName(name)];
  if (now - n.hour_start >= kHourMs) n = UnknownName{now, 0};
  if (n.failures >= policy_.max_failures_per_hour) return false;
  ++n.failures;
  return true;
}

Result<User> Accounts::Authenticate(std::string_view username, std::string_view password,
                                    LoginAttempt* attempt) {
  LoginAttempt scratch;
  if (attempt == nullptr) attempt = &scratch;
  attempt->failure.clear();
  attempt->locked_now = false;
  const Status wrong = Status::Unauthenticated(kLoginFailedMessage);
  if (password.empty() || static_cast<int>(password.size()) > 4 * policy_.password_max_length) {
    attempt->failure = "wrong_password";
    return wrong;
  }
  // First, in one write: the account, its lock (ending one that ran out), the hourly cap, and
  // a failure row reserved before argon2id runs, so that concurrent attempts cannot together
  // pass the cap. A success removes the reservation.
  User user;
  std::string hash;
  bool found = false, capped = false;
  LockRow lock;
  int64_t reserved_id = 0;
  UnixMillis now = 0;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    found = capped = false;
    reserved_id = 0;
    lock = LockRow{};
    now = clock_->NowMillis();
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare(std::string("SELECT ") + kUserColumns +
                     ", password_hash FROM users WHERE username = ?"));
    stmt.Bind(1, username);
    OUTPOST_ASSIGN_OR_RETURN(found, stmt.Step());
    if (!found) return Status::Ok();
    user = ReadUser(stmt);
    hash = stmt.ColumnText(kUserColumnCount);
    OUTPOST_ASSIGN_OR_RETURN(lock, ReadLock(conn, user.id, now));
    if (lock.expired) {
      OUTPOST_ASSIGN_OR_RETURN(lock.counted_after_id, ClearLock(conn, user.id));
    }
    OUTPOST_ASSIGN_OR_RETURN(int last_hour, CountFailures(conn, user.id, now - kHourMs));
    if (last_hour >= policy_.max_failures_per_hour) {
      capped = true;
      return Status::Ok();
    }
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement ins,
                             conn.Prepare("INSERT INTO login_failures(user_id, at) VALUES(?, ?)"));
    ins.Bind(1, user.id).Bind(2, now);
    OUTPOST_RETURN_IF_ERROR(ins.Run());
    reserved_id = conn.LastInsertRowId();
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement prune,
        conn.Prepare("DELETE FROM login_failures WHERE user_id = ? AND at <= ?"));
    prune.Bind(1, user.id).Bind(2, now - kHourMs);
    return prune.Run();
  }));
  if (lock.expired) {
    AuditEvent e{"system", 0, attempt->source_ip, "auth.unlock", "user:" + user.username};
    e.details = {{"reason", "expired"}, {"locked_at", FormatIso8601(lock.locked_at)},
                 {"locked_until", FormatIso8601(lock.locked_until)}};
    RecordAudit(std::move(e));
  }
  if (!found || hash.empty()) {
    if (!AdmitUnknownName(username)) {
      attempt->failure = "hourly_cap";
      return wrong;
    }
    (void)Verify(DummyHash(policy_.hash_cost), password);
    attempt->failure = "unknown_user";
    return wrong;
  }
  if (capped) {
    attempt->failure = "hourly_cap";
    return wrong;
  }
  if (lock.locked) {
    // The password is not checked: a locked account cannot be guessed at. The dummy check
    // makes the answer take as long as a real one.
    (void)Verify(DummyHash(policy_.hash_cost), password);
    attempt->failure = "locked";
    return wrong;
  }
  if (!Verify(hash, password)) {
    attempt->failure = "wrong_password";
    OUTPOST_RETURN_IF_ERROR(RecordFailure(user, attempt));
    return wrong;
  }
  std::string fresh;
  if (NeedsRehash(hash, policy_.hash_cost)) {
    Result<std::string> h = HashPassword(password, policy_.hash_cost);
    if (h.ok()) fresh = std::move(*h);
  }
  // The right password: the reservation goes, and the count starts afresh unless a second
  // factor is still to come.
  const bool reset = !attempt->keep_failure_count;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement del,
                             conn.Prepare("DELETE FROM login_failures WHERE id = ?"));
    del.Bind(1, reserved_id);
    OUTPOST_RETURN_IF_ERROR(del.Run());
    if (reset) {
      OUTPOST_RETURN_IF_ERROR(ClearLock(conn, user.id).status());
    }
    if (fresh.empty()) return Status::Ok();
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?"));
    stmt.Bind(1, fresh).Bind(2, user.id).Bind(3, hash);
    return stmt.Run();
  }));
  if (user.disabled) {
    attempt->failure = "disabled";
    return Status::FailedPrecondition("this account is disabled");
  }
  MarkExpiry(user, policy_, clock_->NowMillis());
  return user;
}

Status Accounts::RecordFailure(const User& user, LoginAttempt* attempt) {
  if (policy_.lockout_attempts <= 0) return Status::Ok();
  UnixMillis locked_until = 0;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    attempt->locked_now = false;
    const UnixMillis now = clock_->NowMillis();
    OUTPOST_ASSIGN_OR_RETURN(LockRow lock, ReadLock(conn, user.id, now));
    if (lock.locked) return Status::Ok();  // a concurrent attempt locked it already
    const UnixMillis since = now - int64_t{policy_.lockout_window_minutes} * 60000;
    OUTPOST_ASSIGN_OR_RETURN(int failures,
                             CountFailures(conn, user.id, since, lock.counted_after_id));
    if (failures < policy_.lockout_attempts) return Status::Ok();
    locked_until =
        policy_.lockout_minutes > 0 ? now + int64_t{policy_.lockout_minutes} * 60000 : 0;
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("INSERT INTO account_lockouts(user_id, locked_at, locked_until) "
                     "VALUES(?1, ?2, ?3) ON CONFLICT(user_id) DO UPDATE SET locked_at = ?2, "
                     "locked_until = ?3"));
    stmt.Bind(1, user.id).Bind(2, now).Bind(3, locked_until);
    OUTPOST_RETURN_IF_ERROR(stmt.Run());
    attempt->locked_now = true;
    return Status::Ok();
  }));
  if (attempt->locked_now) {
    AuditEvent e{"system", 0, attempt->source_ip, "auth.lockout", "user:" + user.username};
    e.outcome = AuditOutcome::kDenied;
    e.details = {{"failures", policy_.lockout_attempts},
                 {"window_minutes", policy_.lockout_window_minutes},
                 {"locked_until", locked_until != 0 ? nlohmann::json(FormatIso8601(locked_until))
                                                    : nlohmann::json("until unlocked")}};
    RecordAudit(std::move(e));
    log::Warn("account locked", {{"user", user.username}, {"remote", attempt->source_ip}});
  }
  return Status::Ok();
}

Status Accounts::RecordSecondFactorFailure(const User& user, LoginAttempt* attempt) {
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement ins,
                             conn.Prepare("INSERT INTO login_failures(user_id, at) VALUES(?, ?)"));
    ins.Bind(1, user.id).Bind(2, clock_->NowMillis());
    return ins.Run();
  }));
  return RecordFailure(user, attempt);
}

Status Accounts::ResetFailures(int64_t user_id) {
  return db_->Write([&](storage::Connection& conn) { return ClearLock(conn, user_id).status(); });
}

Status Accounts::Unlock(std::string_view username, bool* was_locked) {
  bool locked = false;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(const int64_t user_id, UserIdByName(conn, username));
    const UnixMillis now = clock_->NowMillis();
    OUTPOST_ASSIGN_OR_RETURN(LockRow lock, ReadLock(conn, user_id, now));
    locked = lock.locked;
    return ClearLock(conn, user_id).status();
  }));
  if (was_locked != nullptr) *was_locked = locked;
  return Status::Ok();
}

Result<LockState> Accounts::GetLockState(std::string_view username) {
  LockState state;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(const int64_t user_id, UserIdByName(conn, username));
    const UnixMillis now = clock_->NowMillis();
    OUTPOST_ASSIGN_OR_RETURN(LockRow lock, ReadLock(conn, user_id, now));
    state.locked = lock.locked;
    if (lock.locked) {
      state.locked_at = lock.locked_at;
      state.locked_until = lock.locked_until;
    }
    UnixMillis since = now - int64_t{policy_.lockout_window_minutes} * 60000;
    if (lock.expired) since = std::max(since, lock.locked_until);
    OUTPOST_ASSIGN_OR_RETURN(state.recent_failures,
                             CountFailures(conn, user_id, since, lock.counted_after_id));
    return Status::Ok();
  }));
  return state;
}

Result<bool> Accounts::PasswordChangeRequired(int64_t user_id) {
  if (policy_.password_profile != PasswordProfile::kStig) return false;
  OUTPOST_ASSIGN_OR_RETURN(PasswordAge age, ReadPasswordAge(user_id));
  return MustChange(policy_, age.changed_at, age.temporary, clock_->NowMillis());
}

Result<Accounts::PasswordAge> Accounts::ReadPasswordAge(int64_t user_id) {
  PasswordAge age;
  bool found = false;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("SELECT coalesce(password_changed_at, created_at), password_temporary "
                     "FROM users WHERE id = ?"));
    stmt.Bind(1, user_id);
    OUTPOST_ASSIGN_OR_RETURN(found, stmt.Step());
    if (found) {
      age.changed_at = stmt.ColumnInt64(0);
      age.temporary = stmt.ColumnInt64(1) != 0;
    }
    return Status::Ok();
  }));
  if (!found) return Status::NotFound("no user with id " + std::to_string(user_id));
  return age;
}

Status Accounts::CheckHistory(int64_t user_id, std::string_view password) {
  const int depth = policy_.password().history_depth();
  if (depth <= 0) return Status::Ok();
  // The current password and the depth - 1 before it: "the last `depth` passwords".
  std::vector<std::string> hashes;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("SELECT password_hash FROM users WHERE id = ?1 AND password_hash IS NOT "
                     "NULL UNION ALL SELECT * FROM (SELECT password_hash FROM password_history "
                     "WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2)"));
    stmt.Bind(1, user_id).Bind(2, int64_t{depth - 1});
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      hashes.push_back(stmt.ColumnText(0));
    }
    return Status::Ok();
  }));
  // argon2id outside any transaction: the writer thread must never wait for it.
  for (const std::string& h : hashes) {
    if (Verify(h, password)) {
      return Status::InvalidArgument("the new password must differ from the last " +
                                     std::to_string(depth) + " passwords of this account");
    }
  }
  return Status::Ok();
}

Status Accounts::StorePassword(storage::Connection& conn, int64_t user_id,
                               std::string_view hash) {
  const int depth = policy_.password().history_depth();
  const UnixMillis now = clock_->NowMillis();
  if (depth > 1) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement keep,
        conn.Prepare("INSERT INTO password_history(user_id, password_hash, replaced_at) "
                     "SELECT id, password_hash, ? FROM users WHERE id = ? AND password_hash IS "
                     "NOT NULL"));
    keep.Bind(1, now).Bind(2, user_id);
    OUTPOST_RETURN_IF_ERROR(keep.Run());
  }
  // Only what the rule needs is kept: old hashes are still guessable material.
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement prune,
      conn.Prepare("DELETE FROM password_history WHERE user_id = ?1 AND id NOT IN (SELECT id "
                   "FROM password_history WHERE user_id = ?1 ORDER BY id DESC LIMIT ?2)"));
  prune.Bind(1, user_id).Bind(2, int64_t{std::max(depth - 1, 0)});
  OUTPOST_RETURN_IF_ERROR(prune.Run());
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement stmt,
      conn.Prepare("UPDATE users SET password_hash = ?, password_changed_at = ?, updated_at = ?, "
                   "password_temporary = 0 WHERE id = ?"));
  stmt.Bind(1, hash).Bind(2, now).Bind(3, now).Bind(4, user_id);
  return stmt.Run();
}

Result<std::vector<int64_t>> Accounts::ChangePassword(int64_t user_id, std::string_view current,
                                                      std::string_view password,
                                                      int64_t keep_session_id,
                                                      LoginAttempt* attempt) {
  OUTPOST_ASSIGN_OR_RETURN(User user, FindById(user_id));
  Result<User> checked = Authenticate(user.username, current, attempt);
  if (!checked.ok()) {
    // Not Unauthenticated: the caller is signed in, and a client must not take this for the
    // end of its session.
    if (checked.status().code() == Code::kUnauthenticated) {
      return Status::PermissionDenied("the current password is wrong, or the account is locked");
    }
    return checked.status();
  }
  OUTPOST_RETURN_IF_ERROR(
      CheckPasswordPolicy(password, policy_.password(), user.username, policy_.site_name));
  const int64_t min_age = policy_.password().min_age_ms();
  if (min_age > 0) {
    OUTPOST_ASSIGN_OR_RETURN(PasswordAge age, ReadPasswordAge(user_id));
    const UnixMillis changed_at = age.changed_at;
    // A temporary password is meant to be replaced at once.
    if (!age.temporary && clock_->NowMillis() - changed_at < min_age) {
      return Status::FailedPrecondition(
          "the password was changed less than " + std::to_string(policy_.password_min_age_days) +
          " day(s) ago; it can be changed again from " + FormatIso8601(changed_at + min_age) +
          ", or an administrator can reset it");
    }
  }
  OUTPOST_RETURN_IF_ERROR(CheckHistory(user_id, password));
  OUTPOST_ASSIGN_OR_RETURN(std::string hash, HashPassword(password, policy_.hash_cost));
  std::vector<int64_t> ended;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_RETURN_IF_ERROR(StorePassword(conn, user_id, hash));
    return EndOtherSessions(conn, user_id, keep_session_id, &ended);
  }));
  return ended;
}

}  // namespace outpost::domain
