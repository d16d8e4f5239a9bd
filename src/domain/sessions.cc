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

Result<Session> Sessions::Create(int64_t user_id, std::string_view remote_addr,
                                 std::string_view user_agent, std::string* token) {
  std::string secret = RandomToken();
  Session s;
  s.user_id = user_id;
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
  return std::min(s.expires_at, s.last_seen_at + policy_.idle_timeout_ms);
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

Result<int> Sessions::PurgeExpired() {
  int n = 0;
  UnixMillis now = clock_->NowMillis();
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare("DELETE FROM sessions WHERE expires_at <= ? OR last_seen_at + ? <= ?"));
    stmt.Bind(1, now).Bind(2, policy_.idle_timeout_ms).Bind(3, now);
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

}  // namespace outpost::domain
