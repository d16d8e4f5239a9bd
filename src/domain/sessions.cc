#include "domain/sessions.h"

#include <algorithm>

#include "util/crypto.h"

namespace outpost::domain {
namespace {

constexpr int64_t kTouchIntervalMs = 60 * 1000;

// Tokens are 43 base64url characters; anything else is refused before touching the database.
bool LooksLikeToken(std::string_view t) {
  if (t.size() != 43) return false;
  return std::all_of(t.begin(), t.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
  });
}

User UserFromColumns(const storage::Statement& stmt, int first) {
  User u;
  u.id = stmt.ColumnInt64(first);
  u.username = stmt.ColumnText(first + 1);
  u.display_name = stmt.ColumnText(first + 2);
  u.role = stmt.ColumnText(first + 3);
  u.disabled = stmt.ColumnInt64(first + 4) != 0;
  u.created_at = stmt.ColumnInt64(first + 5);
  u.updated_at = stmt.ColumnInt64(first + 6);
  return u;
}

}  // namespace

int64_t Sessions::IdleTimeoutFor(std::string_view role) const {
  const bool privileged =
      policy_.is_privileged ? policy_.is_privileged(role) : role == kRoleAdmin;
  return privileged ? policy_.admin_idle_timeout_ms : policy_.idle_timeout_ms;
}

Result<Session> Sessions::Create(const User& user, std::string_view remote_addr,
                                 std::string_view user_agent, std::string* token) {
  OUTPOST_ASSIGN_OR_RETURN(Session s, Create(user.id, remote_addr, user_agent, token));
  s.idle_timeout_ms = IdleTimeoutFor(user.role);
  return s;
}

Result<Session> Sessions::Create(int64_t user_id, std::string_view remote_addr,
                                 std::string_view user_agent, std::string* token) {
  std::string secret = RandomToken();
  Session s;
  s.user_id = user_id;
  s.idle_timeout_ms = policy_.idle_timeout_ms;
  s.remote_addr = std::string(remote_addr.substr(0, 64));
  s.user_agent = std::string(user_agent.substr(0, 256));
  s.csrf_token = RandomToken();
  s.created_at = s.last_seen_at = clock_->NowMillis();
  s.expires_at = s.created_at + policy_.absolute_timeout_ms;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("INSERT INTO sessions(token_hash, user_id, csrf_token, created_at, "
                     "last_seen_at, expires_at, remote_addr, user_agent) "
                     "VALUES(?, ?, ?, ?, ?, ?, ?, ?)"));
    stmt.BindBlob(1, HashToken(secret)).Bind(2, user_id).Bind(3, s.csrf_token);
    stmt.Bind(4, s.created_at).Bind(5, s.last_seen_at).Bind(6, s.expires_at);
    stmt.Bind(7, remote_addr.substr(0, 64)).Bind(8, user_agent.substr(0, 256));
    OUTPOST_RETURN_IF_ERROR(stmt.Run());
    s.id = conn.LastInsertRowId();
    return Status::Ok();
  }));
  *token = std::move(secret);
  return s;
}

UnixMillis Sessions::EffectiveExpiry(const Session& s) const {
  const int64_t idle = s.idle_timeout_ms > 0 ? s.idle_timeout_ms : policy_.idle_timeout_ms;
  return std::min(s.expires_at, s.last_seen_at + idle);
}

Result<Principal> Sessions::Authenticate(std::string_view token) {
  const Status refused = Status::Unauthenticated("not signed in, or the session has ended");
  if (!LooksLikeToken(token)) return refused;
  std::string hash = HashToken(token);
  Principal p;
  bool found = false;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("SELECT s.id, s.user_id, s.csrf_token, s.created_at, s.last_seen_at, "
                     "s.expires_at, u.id, u.username, u.display_name, u.role, u.disabled, "
                     "u.created_at, u.updated_at FROM sessions s JOIN users u ON u.id = s.user_id "
                     "WHERE s.token_hash = ?"));
    stmt.BindBlob(1, hash);
    OUTPOST_ASSIGN_OR_RETURN(found, stmt.Step());
    if (found) {
      p.session.id = stmt.ColumnInt64(0);
      p.session.user_id = stmt.ColumnInt64(1);
      p.session.csrf_token = stmt.ColumnText(2);
      p.session.created_at = stmt.ColumnInt64(3);
      p.session.last_seen_at = stmt.ColumnInt64(4);
      p.session.expires_at = stmt.ColumnInt64(5);
      p.user = UserFromColumns(stmt, 6);
    }
    return Status::Ok();
  }));
  if (!found) return refused;
  // The role as it is now: a user made an administrator gets the shorter timeout at once.
  p.session.idle_timeout_ms = IdleTimeoutFor(p.user.role);
  UnixMillis now = clock_->NowMillis();
  if (now >= EffectiveExpiry(p.session) || p.user.disabled) {
    (void)Revoke(token);
    return refused;
  }
  if (now - p.session.last_seen_at >= kTouchIntervalMs) {
    OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
      OUTPOST_ASSIGN_OR_RETURN(storage::Statement stmt,
                               conn.Prepare("UPDATE sessions SET last_seen_at = ? WHERE id = ?"));
      stmt.Bind(1, now).Bind(2, p.session.id);
      return stmt.Run();
    }));
    p.session.last_seen_at = now;
  }
  return p;
}

Status Sessions::Revoke(std::string_view token) {
  if (!LooksLikeToken(token)) return Status::Ok();
  return db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement stmt,
                             conn.Prepare("DELETE FROM sessions WHERE token_hash = ?"));
    stmt.BindBlob(1, HashToken(token));
    return stmt.Run();
  });
}

Status Sessions::RevokeById(int64_t session_id) {
  return db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement stmt,
                             conn.Prepare("DELETE FROM sessions WHERE id = ?"));
    stmt.Bind(1, session_id);
    return stmt.Run();
  });
}

Result<int> Sessions::RevokeAll(int64_t user_id) {
  int n = 0;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement stmt,
                             conn.Prepare("DELETE FROM sessions WHERE user_id = ?"));
    stmt.Bind(1, user_id);
    OUTPOST_RETURN_IF_ERROR(stmt.Run());
    n = conn.Changes();
    return Status::Ok();
  }));
  return n;
}

Result<std::vector<int64_t>> Sessions::RevokeAllOf(int64_t user_id, int64_t keep) {
  std::vector<int64_t> ids;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    ids.clear();  // the writer may run this again after a failed group
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement q,
        conn.Prepare("SELECT id FROM sessions WHERE user_id = ? AND id != ?"));
    q.Bind(1, user_id).Bind(2, keep);
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, q.Step());
      if (!row) break;
      ids.push_back(q.ColumnInt64(0));
    }
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement d, conn.Prepare("DELETE FROM sessions WHERE user_id = ? AND id != ?"));
    d.Bind(1, user_id).Bind(2, keep);
    return d.Run();
  }));
  return ids;
}

Status Sessions::RevokeOf(int64_t user_id, int64_t session_id) {
  bool found = false;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("DELETE FROM sessions WHERE id = ? AND user_id = ?"));
    stmt.Bind(1, session_id).Bind(2, user_id);
    OUTPOST_RETURN_IF_ERROR(stmt.Run());
    found = conn.Changes() > 0;
    return Status::Ok();
  }));
  if (!found) return Status::NotFound("no session with id " + std::to_string(session_id));
  return Status::Ok();
}

Result<std::vector<Session>> Sessions::List(int64_t user_id) {
  std::vector<Session> out;
  std::string role;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement r,
                             conn.Prepare("SELECT role FROM users WHERE id = ?"));
    r.Bind(1, user_id);
    OUTPOST_ASSIGN_OR_RETURN(bool found, r.Step());
    if (found) role = r.ColumnText(0);
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("SELECT id, created_at, last_seen_at, expires_at, remote_addr, user_agent "
                     "FROM sessions WHERE user_id = ? ORDER BY id DESC"));
    stmt.Bind(1, user_id);
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      Session s;
      s.id = stmt.ColumnInt64(0);
      s.user_id = user_id;
      s.created_at = stmt.ColumnInt64(1);
      s.last_seen_at = stmt.ColumnInt64(2);
      s.expires_at = stmt.ColumnInt64(3);
      s.remote_addr = stmt.ColumnText(4);
      s.user_agent = stmt.ColumnText(5);
      out.push_back(std::move(s));
    }
    return Status::Ok();
  }));
  const UnixMillis now = clock_->NowMillis();
  const int64_t idle = IdleTimeoutFor(role);
  for (Session& s : out) s.idle_timeout_ms = idle;
  out.erase(std::remove_if(out.begin(), out.end(),
                           [&](const Session& s) { return now >= EffectiveExpiry(s); }),
            out.end());
  return out;
}

Result<bool> Sessions::StillValid(int64_t session_id) {
  bool found = false;
  Session s;
  std::string role;
  bool disabled = false;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("SELECT s.last_seen_at, s.expires_at, u.role, u.disabled FROM sessions s "
                     "JOIN users u ON u.id = s.user_id WHERE s.id = ?"));
    stmt.Bind(1, session_id);
    OUTPOST_ASSIGN_OR_RETURN(found, stmt.Step());
    if (found) {
      s.last_seen_at = stmt.ColumnInt64(0);
      s.expires_at = stmt.ColumnInt64(1);
      role = stmt.ColumnText(2);
      disabled = stmt.ColumnInt64(3) != 0;
    }
    return Status::Ok();
  }));
  if (!found || disabled) return false;
  s.idle_timeout_ms = IdleTimeoutFor(role);
  return clock_->NowMillis() < EffectiveExpiry(s);
}

Status Sessions::Touch(int64_t session_id) {
  return db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement stmt,
                             conn.Prepare("UPDATE sessions SET last_seen_at = ? WHERE id = ?"));
    stmt.Bind(1, clock_->NowMillis()).Bind(2, session_id);
    return stmt.Run();
  });
}

Result<int> Sessions::PurgeExpired() {
  int n = 0;
  UnixMillis now = clock_->NowMillis();
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at + ? <= ?"));
    // The longer of the two idle timeouts: Authenticate refuses the others' sessions already.
    stmt.Bind(1, now)
        .Bind(2, std::max(policy_.idle_timeout_ms, policy_.admin_idle_timeout_ms))
        .Bind(3, now);
    OUTPOST_RETURN_IF_ERROR(stmt.Run());
    n = conn.Changes();
    return Status::Ok();
  }));
  return n;
}

Result<ApiToken> ApiTokens::Create(int64_t user_id, std::string_view name, UnixMillis expires_at,
                                   std::string* secret) {
  int len = Utf8Length(name);
  if (len < 1 || len > 100) {
    return Status::InvalidArgument("a token name must be 1 to 100 characters of text");
  }
  std::string raw = RandomToken();
  ApiToken t;
  t.user_id = user_id;
  t.name = std::string(name);
  t.created_at = clock_->NowMillis();
  t.expires_at = expires_at;
  if (expires_at != 0 && expires_at <= t.created_at) {
    return Status::InvalidArgument("the token's expiry is in the past");
  }
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("INSERT INTO api_tokens(token_hash, user_id, name, created_at, expires_at) "
                     "VALUES(?, ?, ?, ?, ?)"));
    stmt.BindBlob(1, HashToken(raw)).Bind(2, user_id).Bind(3, name).Bind(4, t.created_at);
    if (expires_at != 0) stmt.Bind(5, expires_at);
    else stmt.BindNull(5);
    OUTPOST_RETURN_IF_ERROR(stmt.Run());
    t.id = conn.LastInsertRowId();
    return Status::Ok();
  }));
  *secret = std::string(kApiTokenPrefix) + raw;
  WipeString(&raw);
  return t;
}

Result<Principal> ApiTokens::Authenticate(std::string_view secret) {
  const Status refused = Status::Unauthenticated("unknown or expired API token");
  if (secret.substr(0, kApiTokenPrefix.size()) != kApiTokenPrefix) return refused;
  std::string_view raw = secret.substr(kApiTokenPrefix.size());
  if (!LooksLikeToken(raw)) return refused;
  Principal p;
  UnixMillis expires_at = 0, last_used = 0;
  bool found = false;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("SELECT t.id, t.expires_at, t.last_used_at, u.id, u.username, "
                     "u.display_name, u.role, u.disabled, u.created_at, u.updated_at "
                     "FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?"));
    stmt.BindBlob(1, HashToken(raw));
    OUTPOST_ASSIGN_OR_RETURN(found, stmt.Step());
    if (found) {
      p.api_token_id = stmt.ColumnInt64(0);
      expires_at = stmt.ColumnInt64(1);
      last_used = stmt.ColumnInt64(2);
      p.user = UserFromColumns(stmt, 3);
    }
    return Status::Ok();
  }));
  if (!found || p.user.disabled) return refused;
  UnixMillis now = clock_->NowMillis();
  if (expires_at != 0 && now >= expires_at) return refused;
  if (now - last_used >= kTouchIntervalMs) {
    OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
      OUTPOST_ASSIGN_OR_RETURN(
          storage::Statement stmt,
          conn.Prepare("UPDATE api_tokens SET last_used_at = ? WHERE id = ?"));
      stmt.Bind(1, now).Bind(2, p.api_token_id);
      return stmt.Run();
    }));
  }
  return p;
}

Result<std::vector<ApiToken>> ApiTokens::List(int64_t user_id) {
  std::vector<ApiToken> out;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("SELECT id, name, created_at, last_used_at, expires_at FROM api_tokens "
                     "WHERE user_id = ? ORDER BY id"));
    stmt.Bind(1, user_id);
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      ApiToken t;
      t.id = stmt.ColumnInt64(0);
      t.user_id = user_id;
      t.name = stmt.ColumnText(1);
      t.created_at = stmt.ColumnInt64(2);
      t.last_used_at = stmt.ColumnInt64(3);
      t.expires_at = stmt.ColumnInt64(4);
      out.push_back(std::move(t));
    }
    return Status::Ok();
  }));
  return out;
}

Result<bool> ApiTokens::StillValid(int64_t token_id) {
  bool found = false, disabled = false;
  UnixMillis expires_at = 0;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("SELECT t.expires_at, u.disabled FROM api_tokens t "
                     "JOIN users u ON u.id = t.user_id WHERE t.id = ?"));
    stmt.Bind(1, token_id);
    OUTPOST_ASSIGN_OR_RETURN(found, stmt.Step());
    if (found) {
      expires_at = stmt.ColumnInt64(0);
      disabled = stmt.ColumnInt64(1) != 0;
    }
    return Status::Ok();
  }));
  if (!found || disabled) return false;
  return expires_at == 0 || clock_->NowMillis() < expires_at;
}

Status ApiTokens::Revoke(int64_t user_id, int64_t token_id) {
  bool found = false;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement stmt,
                             conn.Prepare("DELETE FROM api_tokens WHERE id = ? AND user_id = ?"));
    stmt.Bind(1, token_id).Bind(2, user_id);
    OUTPOST_RETURN_IF_ERROR(stmt.Run());
    found = conn.Changes() > 0;
    return Status::Ok();
  }));
  if (!found) return Status::NotFound("no API token with id " + std::to_string(token_id));
  return Status::Ok();
}

std::string PendingLogins::Create(int64_t user_id, PendingStep step, bool consented) {
  std::string token = RandomToken();
  PendingLogin p;
  p.user_id = user_id;
  p.step = step;
  p.consented = consented;
  const UnixMillis now = clock_->NowMillis();
  p.expires_at = now + kLifetimeMs;
  std::lock_guard<std::mutex> lock(mu_);
  PurgeLocked(now);
  pending_[HashToken(token)] = p;
  return token;
}

Result<PendingLogin> PendingLogins::Find(std::string_view token) {
  const Status refused =
      Status::Unauthenticated("the sign-in has expired or was already used; sign in again");
  if (!LooksLikeToken(token)) return refused;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(HashToken(token));
  if (it == pending_.end()) return refused;
  if (clock_->NowMillis() >= it->second.expires_at) {
    pending_.erase(it);
    return refused;
  }
  return it->second;
}

void PendingLogins::RecordFailure(std::string_view token) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find(HashToken(token));
  if (it != pending_.end() && ++it->second.failures >= kMaxFailures) pending_.erase(it);
}

void PendingLogins::Consume(std::string_view token) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_.erase(HashToken(token));
}

void PendingLogins::PurgeLocked(UnixMillis now) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    it = now >= it->second.expires_at ? pending_.erase(it) : std::next(it);
  }
}

}  // namespace outpost::domain
