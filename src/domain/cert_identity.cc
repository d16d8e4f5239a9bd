#include "domain/cert_identity.h"

#include "domain/accounts.h"

namespace outpost::domain {
namespace {

constexpr size_t kMaxValueBytes = 1024;

constexpr const char* kSelect =
    "SELECT c.id, c.user_id, u.username, c.kind, c.value, c.created_at "
    "FROM cert_identities c JOIN users u ON u.id = c.user_id ";

CertIdentity ReadIdentity(const storage::Statement& stmt) {
  CertIdentity c;
  c.id = stmt.ColumnInt64(0);
  c.user_id = stmt.ColumnInt64(1);
  c.username = stmt.ColumnText(2);
  Result<CertIdentityKind> kind = ParseCertIdentityKind(stmt.ColumnText(3));
  c.kind = kind.ok() ? *kind : CertIdentityKind::kSubject;  // the CHECK allows only the three
  c.value = stmt.ColumnText(4);
  c.created_at = stmt.ColumnInt64(5);
  return c;
}

}  // namespace

std::string_view PasswordLoginPolicyName(PasswordLoginPolicy policy) {
  switch (policy) {
    case PasswordLoginPolicy::kAll:
      return "all";
    case PasswordLoginPolicy::kUnprivileged:
      return "unprivileged";
    case PasswordLoginPolicy::kNone:
      return "none";
  }
  return "all";
}

std::string_view CertIdentityKindName(CertIdentityKind kind) {
  switch (kind) {
    case CertIdentityKind::kUpn:
      return "upn";
    case CertIdentityKind::kEmail:
      return "email";
    case CertIdentityKind::kSubject:
      return "subject";
  }
  return "subject";
}

Result<CertIdentityKind> ParseCertIdentityKind(std::string_view name) {
  if (name == "upn") return CertIdentityKind::kUpn;
  if (name == "email") return CertIdentityKind::kEmail;
  if (name == "subject") return CertIdentityKind::kSubject;
  return Status::InvalidArgument("the identity kind must be upn, email or subject");
}

Result<std::string> NormalizeCertIdentity(CertIdentityKind kind, std::string_view value) {
  const std::string_view name = CertIdentityKindName(kind);
  if (value.empty() || value.size() > kMaxValueBytes) {
    return Status::InvalidArgument("the " + std::string(name) + " must be 1 to 1024 bytes long");
  }
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return Status::InvalidArgument("the " + std::string(name) +
                                     " must not contain control characters");
    }
    out += kind == CertIdentityKind::kSubject || u < 'A' || u > 'Z' ? c : static_cast<char>(u + 32);
  }
  if (kind != CertIdentityKind::kSubject && out.find('@') == std::string::npos) {
    return Status::InvalidArgument("the " + std::string(name) + " must contain '@', got '" + out +
                                   "'");
  }
  return out;
}

Result<CertIdentity> CertIdentities::Bind(std::string_view username, CertIdentityKind kind,
                                          std::string_view value) {
  OUTPOST_ASSIGN_OR_RETURN(std::string normalized, NormalizeCertIdentity(kind, value));
  CertIdentity bound;
  std::string holder;
  Status st = db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(int64_t user_id, UserIdByName(conn, username));
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement find,
        conn.Prepare("SELECT u.username FROM cert_identities c JOIN users u ON u.id = c.user_id "
                     "WHERE c.kind = ? AND c.value = ?"));
    find.Bind(1, CertIdentityKindName(kind)).Bind(2, normalized);
    OUTPOST_ASSIGN_OR_RETURN(bool taken, find.Step());
    if (taken) {
      holder = find.ColumnText(0);
      return Status::AlreadyExists("this " + std::string(CertIdentityKindName(kind)) +
                                   " is already bound to '" + holder + "'");
    }
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement insert,
        conn.Prepare("INSERT INTO cert_identities (user_id, kind, value, created_at) "
                     "VALUES (?, ?, ?, ?)"));
    bound.user_id = user_id;
    bound.kind = kind;
    bound.value = normalized;
    bound.created_at = clock_->NowMillis();
    insert.Bind(1, user_id)
        .Bind(2, CertIdentityKindName(kind))
        .Bind(3, normalized)
        .Bind(4, bound.created_at);
    OUTPOST_RETURN_IF_ERROR(insert.Run());
    bound.id = conn.LastInsertRowId();
    return Status::Ok();
  });
  OUTPOST_RETURN_IF_ERROR(st);
  OUTPOST_ASSIGN_OR_RETURN(std::vector<CertIdentity> all, ListForUser(username));
  for (CertIdentity& c : all) {
    if (c.id == bound.id) return std::move(c);
  }
  return Status::Internal("the binding just written is gone");
}

Result<CertIdentity> CertIdentities::Unbind(std::string_view username, CertIdentityKind kind,
                                            std::string_view value) {
  OUTPOST_ASSIGN_OR_RETURN(std::string normalized, NormalizeCertIdentity(kind, value));
  OUTPOST_ASSIGN_OR_RETURN(std::vector<CertIdentity> all, ListForUser(username));
  for (const CertIdentity& c : all) {
    if (c.kind == kind && c.value == normalized) return UnbindById(username, c.id);
  }
  return Status::NotFound("'" + std::string(username) + "' has no " +
                          std::string(CertIdentityKindName(kind)) + " '" + normalized + "'");
}

Result<CertIdentity> CertIdentities::UnbindById(std::string_view username, int64_t id) {
  CertIdentity removed;
  Status st = db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(int64_t user_id, UserIdByName(conn, username));
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement find,
        conn.Prepare(std::string(kSelect) + "WHERE c.id = ? AND c.user_id = ?"));
    find.Bind(1, id).Bind(2, user_id);
    OUTPOST_ASSIGN_OR_RETURN(bool found, find.Step());
    if (!found) {
      return Status::NotFound("'" + std::string(username) + "' has no certificate binding " +
                              std::to_string(id));
    }
    removed = ReadIdentity(find);
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement del,
                             conn.Prepare("DELETE FROM cert_identities WHERE id = ?"));
    del.Bind(1, id);
    OUTPOST_RETURN_IF_ERROR(del.Run());
    // A card taken away (lost, or its holder leaving) must not leave a session it opened:
    // sessions do not record how they began, so all of the account's end, as on a password
    // reset. API tokens are not sessions and stay.
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement end,
                             conn.Prepare("DELETE FROM sessions WHERE user_id = ?"));
    end.Bind(1, user_id);
    return end.Run();
  });
  OUTPOST_RETURN_IF_ERROR(st);
  return removed;
}

Result<std::vector<CertIdentity>> CertIdentities::ListForUser(std::string_view username) {
  std::vector<CertIdentity> out;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(int64_t user_id, UserIdByName(conn, username));
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare(std::string(kSelect) + "WHERE c.user_id = ? ORDER BY c.id"));
    stmt.Bind(1, user_id);
    for (;;) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      out.push_back(ReadIdentity(stmt));
    }
    return Status::Ok();
  }));
  return out;
}

Result<CertIdentity> CertIdentities::Find(CertIdentityKind kind, std::string_view value) {
  OUTPOST_ASSIGN_OR_RETURN(std::string normalized, NormalizeCertIdentity(kind, value));
  CertIdentity found_identity;
  bool found = false;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement stmt,
        conn.Prepare(std::string(kSelect) + "WHERE c.kind = ? AND c.value = ?"));
    stmt.Bind(1, CertIdentityKindName(kind)).Bind(2, normalized);
    OUTPOST_ASSIGN_OR_RETURN(found, stmt.Step());
    if (found) found_identity = ReadIdentity(stmt);
    return Status::Ok();
  }));
  if (!found) return Status::NotFound("no account is bound to this certificate");
  return found_identity;
}

}  // namespace outpost::domain
