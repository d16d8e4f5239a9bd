#include "domain/accounts.h"

#include <mutex>

namespace outpost::domain {
namespace {

constexpr const char* kUserColumns =
    "id, username, display_name, role, disabled, created_at, updated_at";

User ReadUser(const storage::Statement& stmt) {
  User u;
  u.id = stmt.ColumnInt64(0);
  u.username = stmt.ColumnText(1);
  u.display_name = stmt.ColumnText(2);
  u.role = stmt.ColumnText(3);
  u.disabled = stmt.ColumnInt64(4) != 0;
  u.created_at = stmt.ColumnInt64(5);
  u.updated_at = stmt.ColumnInt64(6);
  return u;
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

bool IsValidRole(std::string_view role) { return role == kRoleAdmin || role == kRoleUser; }

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
                                   "' (expected admin or user)");
  }
  OUTPOST_RETURN_IF_ERROR(CheckPasswordPolicy(password, username, policy_.password_min_length,
                                              policy_.password_max_length));
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
                std::string(role), false, now, now};
    return Status::Ok();
  });
  if (st.IsAlreadyExists()) {
    return Status::AlreadyExists("a user named '" + std::string(username) + "' already exists");
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

Status Accounts::ResetPassword(std::string_view username, std::string_view password) {
  OUTPOST_RETURN_IF_ERROR(CheckPasswordPolicy(password, username, policy_.password_min_length,
                                              policy_.password_max_length));
  OUTPOST_ASSIGN_OR_RETURN(std::string hash, HashPassword(password, policy_.hash_cost));
  bool found = false;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    UnixMillis now = clock_->NowMillis();
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("UPDATE users SET password_hash = ?, password_changed_at = ?, "
                     "updated_at = ? WHERE username = ?"));
    stmt.Bind(1, hash).Bind(2, now).Bind(3, now).Bind(4, username);
    OUTPOST_RETURN_IF_ERROR(stmt.Run());
    found = conn.Changes() > 0;
    if (!found) return Status::Ok();
    return EndSessions(conn, username);
  }));
  if (!found) return Status::NotFound("no user named '" + std::string(username) + "'");
  return Status::Ok();
}

Result<User> Accounts::Authenticate(std::string_view username, std::string_view password) {
  const Status wrong = Status::Unauthenticated("wrong user name or password");
  if (password.empty() || static_cast<int>(password.size()) > 4 * policy_.password_max_length) {
    return wrong;
  }
  User user;
  std::string hash;
  bool found = false;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement stmt,
                             conn.Prepare(std::string("SELECT ") + kUserColumns +
                                          ", password_hash FROM users WHERE username = ?"));
    stmt.Bind(1, username);
    OUTPOST_ASSIGN_OR_RETURN(found, stmt.Step());
    if (found) {
      user = ReadUser(stmt);
      hash = stmt.ColumnText(7);
    }
    return Status::Ok();
  }));
  if (!found || hash.empty()) {
    (void)VerifyPassword(DummyHash(policy_.hash_cost), password);
    return wrong;
  }
  if (!VerifyPassword(hash, password)) return wrong;
  if (user.disabled) return Status::FailedPrecondition("this account is disabled");
  if (NeedsRehash(hash, policy_.hash_cost)) {
    Result<std::string> fresh = HashPassword(password, policy_.hash_cost);
    if (fresh.ok()) {
      (void)db_->Write([&](storage::Connection& conn) {
        OUTPOST_ASSIGN_OR_RETURN(
            storage::Statement stmt,
            conn.Prepare("UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?"));
        stmt.Bind(1, *fresh).Bind(2, user.id).Bind(3, hash);
        return stmt.Run();
      });
    }
  }
  return user;
}

}  // namespace outpost::domain
