#include "api/cert_handlers.h"

#include "api/handler_audit.h"

#include <httplib.h>

#include "api/handlers.h"
#include "api/http_status.h"
#include "net/client_cert.h"
#include "net/https_server.h"
#include "util/log.h"

namespace outpost::api {
namespace {

// Records a refusal. Never a reason to answer otherwise: the caller is refused either way.
void AuditRefusal(Call& call, domain::AuditEvent event) {
  if (call.svc.audit == nullptr) return;
  if (event.outcome == domain::AuditOutcome::kSuccess)
    event.outcome = domain::AuditOutcome::kFailure;
  if (Result<int64_t> seq = call.svc.audit->Append(event); !seq.ok()) {
    log::Error("audit record lost", {{"action", event.action}, {"error", seq.status().ToString()}});
  }
}

bool IsPrivileged(const Call& call, const domain::User& user) {
  return call.svc.roles != nullptr ? call.svc.roles->IsPrivileged(user.role)
                                   : user.role == domain::kRoleAdmin;
}

// Answers a refused certificate sign-in: audited with `reason`, 401 to the client.
Status RefuseCertificate(Call& call, std::string_view reason, std::string_view message,
                         nlohmann::json details, const domain::User* user) {
  details["method"] = "certificate";
  details["reason"] = reason;
  domain::AuditEvent event =
      AuditEventFor(call, "auth.login_failed", user != nullptr ? "user:" + user->username : "");
  if (user != nullptr) {
    event.actor = user->username;
    event.actor_id = user->id;
  }
  event.details = std::move(details);
  log::Warn("certificate login refused", {{"remote", call.req.remote_addr}, {"reason", reason}});
  AuditRefusal(call, std::move(event));
  nlohmann::json body = {
      {"error", {{"code", "certificate_refused"}, {"reason", reason}, {"message", message}}}};
  SetJson(call.res, 401, body);
  return Status::Ok();
}

// The value of `kind` the certificate carries ("" when it has none).
std::string IdentityOf(const net::ClientCertIdentity& id, domain::CertIdentityKind kind) {
  switch (kind) {
    case domain::CertIdentityKind::kUpn:
      return id.upns.empty() ? "" : id.upns.front();
    case domain::CertIdentityKind::kEmail:
      return id.emails.empty() ? "" : id.emails.front();
    case domain::CertIdentityKind::kSubject:
      return id.subject;
  }
  return "";
}

nlohmann::json BindingJson(const domain::CertIdentity& c) {
  return {{"id", c.id},
          {"kind", domain::CertIdentityKindName(c.kind)},
          {"value", c.value},
          {"created_at", FormatIso8601(c.created_at)}};
}

Status NeedBindings(const Call& call) {
  if (call.svc.cert_identities == nullptr) {
    return Status::Unavailable("smart-card identities are not available on this server");
  }
  return Status::Ok();
}

}  // namespace

bool PasswordLoginRefused(Call& call, std::string_view username, const domain::User* user) {
  const domain::PasswordLoginPolicy policy = call.svc.options->password_login;
  bool refuse = false;
  if (policy == domain::PasswordLoginPolicy::kNone) {
    refuse = true;
  } else if (policy == domain::PasswordLoginPolicy::kUnprivileged && user != nullptr) {
    refuse = IsPrivileged(call, *user);
  }
  if (!refuse) return false;
  const std::string claimed =
      user != nullptr ? user->username
                      : (domain::CheckUsername(username).ok() ? std::string(username)
                                                              : std::string("(not a user name)"));
  domain::AuditEvent event = AuditEventFor(call, "auth.login_failed", "user:" + claimed);
  event.actor = claimed;
  if (user != nullptr) event.actor_id = user->id;
  event.outcome = domain::AuditOutcome::kDenied;
  event.details = {{"method", "password"}, {"reason", "password_login_disabled"}};
  AuditRefusal(call, std::move(event));
  log::Warn("password login refused by [auth] password_login",
            {{"user", claimed}, {"remote", call.req.remote_addr}});
  call.res.status = 403;
  call.res.set_content(
      ErrorBody("password_login_disabled",
                policy == domain::PasswordLoginPolicy::kNone
                    ? "password sign-in is turned off: sign in with your smart card"
                    : "this account must sign in with a smart card"),
      "application/json");
  return true;
}

Status HandleCertificateLogin(Call& call) {
  if (!call.svc.login_throttle->Allow(call.req.remote_addr)) {
    return Status::ResourceExhausted("too many sign-in attempts from this address; wait a minute");
  }
  const net::PeerCertificate* peer = net::CurrentPeerCertificate();
  if (!call.svc.options->cert_map_by || peer == nullptr) {
    return Status::FailedPrecondition("smart-card sign-in is not turned on for this server");
  }
  OUTPOST_RETURN_IF_ERROR(NeedBindings(call));
  const std::optional<bool> consent = ConsentOrRefuse(call);
  if (!consent) return Status::Ok();
  const bool consented = *consent;
  if (call.svc.audit != nullptr) OUTPOST_RETURN_IF_ERROR(call.svc.audit->Admit());

  nlohmann::json details = nlohmann::json::object();
  net::ClientCertIdentity id;
  if (!peer->der.empty()) {
    Result<net::ClientCertIdentity> described = net::DescribeClientCertificate(peer->der);
    if (!described.ok()) {
      return RefuseCertificate(call, "untrusted", described.status().message(), details, nullptr);
    }
    id = std::move(*described);
    details["serial"] = id.serial;
    details["issuer"] = id.issuer;
    details["subject"] = id.subject;
  }
  if (std::string_view reason = net::CertificateRefusal(peer->verify_flags, !peer->der.empty());
      !reason.empty()) {
    return RefuseCertificate(call, reason, net::CertificateRefusalMessage(reason), details,
                             nullptr);
  }
  const domain::CertIdentityKind kind = *call.svc.options->cert_map_by;
  const std::string value = IdentityOf(id, kind);
  if (value.empty()) {
    return RefuseCertificate(call, "no_identity",
                             "the certificate carries no " +
                                 std::string(domain::CertIdentityKindName(kind)) +
                                 " to sign in with",
                             details, nullptr);
  }
  details["identity"] = value;
  Result<domain::CertIdentity> binding = call.svc.cert_identities->Find(kind, value);
  if (!binding.ok()) {
    if (!binding.status().IsNotFound() && binding.status().code() != Code::kInvalidArgument) {
      return binding.status();
    }
    return RefuseCertificate(call, "unknown_identity",
                             "this certificate is not bound to an account here; ask an "
                             "administrator to bind it",
                             details, nullptr);
  }
  OUTPOST_ASSIGN_OR_RETURN(domain::User user, call.svc.accounts->FindById(binding->user_id));
  if (user.disabled) {
    return RefuseCertificate(call, "disabled", "this account is disabled", details, &user);
  }
  OUTPOST_ASSIGN_OR_RETURN(domain::LockState lock, call.svc.accounts->GetLockState(user.username));
  if (lock.locked) {
    return RefuseCertificate(call, "locked",
                             "this account is locked after failed sign-ins; ask an administrator",
                             details, &user);
  }
  // A card is possession plus PIN: two factors. No TOTP is asked after it, whatever
  // [auth] require_2fa says (docs/security.md).
  details.erase("identity");
  details["method"] = "certificate";
  if (peer->crl_stale) {
    details["crl_stale"] = true;
    log::Warn("certificate login with a CRL past its nextUpdate (tls.crl_stale = accept)",
              {{"user", user.username}, {"issuer", id.issuer}});
  }
  if (call.svc.options->require_consent || consented) details["consent"] = consented;
  return StartSession(call, user, std::move(details));
}

Status HandleListCertIdentities(Call& call) {
  OUTPOST_RETURN_IF_ERROR(NeedBindings(call));
  OUTPOST_ASSIGN_OR_RETURN(std::vector<domain::CertIdentity> list,
                           call.svc.cert_identities->ListForUser(std::string(call.req.matches[1])));
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : list) out.push_back(BindingJson(c));
  SetJson(call.res, 200, {{"certificates", out}});
  return Status::Ok();
}

Status HandleBindCertIdentity(Call& call) {
  OUTPOST_RETURN_IF_ERROR(NeedBindings(call));
  const std::string name = call.req.matches[1];
  auto kind_field = call.body.find("kind");
  auto value_field = call.body.find("value");
  if (kind_field == call.body.end() || !kind_field->is_string() || value_field == call.body.end() ||
      !value_field->is_string()) {
    return Status::InvalidArgument(
        "'kind' (upn, email or subject) and 'value' are required strings");
  }
  OUTPOST_ASSIGN_OR_RETURN(domain::CertIdentityKind kind,
                           domain::ParseCertIdentityKind(kind_field->get<std::string>()));
  const std::string value = value_field->get<std::string>();
  if (call.svc.audit != nullptr) OUTPOST_RETURN_IF_ERROR(call.svc.audit->Admit());
  Result<domain::CertIdentity> bound = call.svc.cert_identities->Bind(name, kind, value);
  domain::AuditEvent event = AuditEventFor(call, "user.cert_bind", "user:" + name);
  event.details = {{"kind", domain::CertIdentityKindName(kind)},
                   {"value", bound.ok() ? bound->value : value.substr(0, 256)}};
  Status audited = Audit(call, event, bound.status());
  OUTPOST_RETURN_IF_ERROR(bound.status());
  if (!audited.ok()) {
    (void)call.svc.cert_identities->UnbindById(name, bound->id);  // no unaudited credential
    return audited;
  }
  log::Info("certificate identity bound", {{"user", name},
                                           {"kind", domain::CertIdentityKindName(kind)},
                                           {"by", call.principal->user.username}});
  SetJson(call.res, 201, {{"certificate", BindingJson(*bound)}});
  return Status::Ok();
}

Status HandleUnbindCertIdentity(Call& call) {
  OUTPOST_RETURN_IF_ERROR(NeedBindings(call));
  const std::string name = call.req.matches[1];
  const int64_t id = std::stoll(call.req.matches[2]);  // the pattern allows 1-18 digits
  Result<domain::CertIdentity> removed = call.svc.cert_identities->UnbindById(name, id);
  domain::AuditEvent event = AuditEventFor(call, "user.cert_unbind", "user:" + name);
  event.details = {{"id", id}};
  if (removed.ok()) {
    event.details["kind"] = domain::CertIdentityKindName(removed->kind);
    event.details["value"] = removed->value;
  }
  // Taking a credential away is never refused for want of an audit record.
  if (Status st = Audit(call, event, removed.status()); !st.ok()) {
    log::Error("audit record lost", {{"action", event.action}, {"error", st.ToString()}});
  }
  OUTPOST_RETURN_IF_ERROR(removed.status());
  // Its sessions ended with the binding: close their sockets now, not at the next sweep.
  if (call.svc.realtime != nullptr) {
    call.svc.realtime->EndUser(removed->user_id, "a smart-card certificate was removed");
  }
  call.res.status = 204;
  return Status::Ok();
}

}  // namespace outpost::api
