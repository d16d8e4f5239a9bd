// outpost user cert-bind | cert-unbind | cert-list, and the client-certificate trust that
// `outpost serve` and `outpost config check` load (cli/smartcard.h).
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/cli_audit.h"
#include "cli/smartcard.h"
#include "domain/cert_identity.h"
#include "net/client_cert.h"
#include "util/fs.h"

namespace outpost::cli {
namespace {

struct CertArgs {
  std::string name;
  std::string upn;
  std::string email;
  std::string subject;
  std::string cert_file;
};

domain::CertIdentityKind KindOf(config::CertMapBy map_by) {
  switch (map_by) {
    case config::CertMapBy::kUpn:
      return domain::CertIdentityKind::kUpn;
    case config::CertMapBy::kEmail:
      return domain::CertIdentityKind::kEmail;
    case config::CertMapBy::kSubject:
      return domain::CertIdentityKind::kSubject;
  }
  return domain::CertIdentityKind::kUpn;
}

// The one identity the command line names: given, or read from a certificate file by
// tls.map_by. InvalidArgument unless exactly one source is given.
Result<std::pair<domain::CertIdentityKind, std::string>> IdentityArg(const config::Config& cfg,
                                                                     const CertArgs& a) {
  int given = !a.upn.empty() + !a.email.empty() + !a.subject.empty() + !a.cert_file.empty();
  if (given != 1) {
    return Status::InvalidArgument("give exactly one of --upn, --email, --subject or --cert");
  }
  if (!a.cert_file.empty()) {
    OUTPOST_ASSIGN_OR_RETURN(std::string text, ReadFile(a.cert_file));
    Result<net::ClientCertIdentity> id = net::DescribeClientCertificate(text);
    if (!id.ok()) return id.status().WithContext(a.cert_file);
    const domain::CertIdentityKind kind = KindOf(cfg.tls.map_by);
    const std::vector<std::string>& list =
        kind == domain::CertIdentityKind::kUpn ? id->upns : id->emails;
    if (kind == domain::CertIdentityKind::kSubject) return std::make_pair(kind, id->subject);
    if (list.empty()) {
      return Status::InvalidArgument(a.cert_file + ": the certificate has no " +
                                     std::string(domain::CertIdentityKindName(kind)) +
                                     " (tls.map_by)");
    }
    return std::make_pair(kind, list.front());
  }
  if (!a.upn.empty()) return std::make_pair(domain::CertIdentityKind::kUpn, a.upn);
  if (!a.email.empty()) return std::make_pair(domain::CertIdentityKind::kEmail, a.email);
  return std::make_pair(domain::CertIdentityKind::kSubject, a.subject);
}

int WithIdentities(
    const GlobalOptions& global,
    const std::function<int(const config::Config&, domain::CertIdentities&, CommandAudit&)>& fn) {
  Result<config::Config> cfg = LoadConfig(global);
  if (!cfg.ok()) return ConfigFailure(cfg.status());
  Result<std::unique_ptr<storage::Database>> db = OpenDatabase(*cfg);
  if (!db.ok()) return Fail(db.status());
  domain::CertIdentities identities(db->get(), SystemClock());
  CommandAudit audit(db->get(), *cfg);
  return fn(*cfg, identities, audit);
}

int Bind(const GlobalOptions& global, const CertArgs& a) {
  return WithIdentities(global, [&](const config::Config& cfg, domain::CertIdentities& identities,
                                    CommandAudit& audit) {
    Result<std::pair<domain::CertIdentityKind, std::string>> id = IdentityArg(cfg, a);
    if (!id.ok()) return Fail(id.status());
    if (Status st = audit.log().Admit(); !st.ok()) return Fail(st);
    Result<domain::CertIdentity> bound = identities.Bind(a.name, id->first, id->second);
    const std::string kind(domain::CertIdentityKindName(id->first));
    Status audited =
        audit.Record("user.cert_bind", "user:" + a.name, bound.status(),
                     {{"kind", kind}, {"value", bound.ok() ? bound->value : id->second}});
    if (!bound.ok()) return Fail(bound.status());
    if (!audited.ok()) {
      (void)identities.UnbindById(a.name, bound->id);  // no unaudited credential
      return Fail(audited);
    }
    std::cout << "bound " << kind << " '" << bound->value << "' to " << bound->username << "\n";
    if (cfg.tls.client_auth == config::ClientAuth::kOff) {
      std::cerr << "note: smart-card login is off (tls.client_auth); the binding takes effect "
                   "once it is turned on\n";
    } else if (KindOf(cfg.tls.map_by) != id->first) {
      std::cerr << "note: the server maps certificates by tls.map_by, not by " << kind
                << "; this binding is not used until map_by is " << kind << "\n";
    }
    return int{kExitOk};
  });
}

int Unbind(const GlobalOptions& global, const CertArgs& a) {
  return WithIdentities(global, [&](const config::Config& cfg, domain::CertIdentities& identities,
                                    CommandAudit& audit) {
    Result<std::pair<domain::CertIdentityKind, std::string>> id = IdentityArg(cfg, a);
    if (!id.ok()) return Fail(id.status());
    Result<domain::CertIdentity> removed = identities.Unbind(a.name, id->first, id->second);
    const std::string kind(domain::CertIdentityKindName(id->first));
    // Taking a credential away is never refused for want of an audit record.
    if (Status st = audit.Record("user.cert_unbind", "user:" + a.name, removed.status(),
                                 {{"kind", kind}, {"value", id->second.substr(0, 256)}});
        !st.ok()) {
      std::cerr << "outpost: warning: " << st.message() << "\n";
    }
    if (!removed.ok()) return Fail(removed.status());
    std::cout << "removed " << kind << " '" << removed->value << "' from " << a.name << "\n";
    return int{kExitOk};
  });
}

int List(const GlobalOptions& global, const CertArgs& a) {
  return WithIdentities(
      global, [&](const config::Config&, domain::CertIdentities& identities, CommandAudit&) {
        Result<std::vector<domain::CertIdentity>> list = identities.ListForUser(a.name);
        if (!list.ok()) return Fail(list.status());
        for (const auto& c : *list) {
          std::cout << c.id << "\t" << domain::CertIdentityKindName(c.kind) << "\t" << c.value
                    << "\tbound " << FormatIso8601(c.created_at) << "\n";
        }
        return int{kExitOk};
      });
}

}  // namespace

net::ClientAuthOptions ClientAuthOptionsFor(const config::Config& cfg) {
  net::ClientAuthOptions o;
  o.mode = cfg.tls.client_auth == config::ClientAuth::kRequired   ? net::ClientAuthMode::kRequired
           : cfg.tls.client_auth == config::ClientAuth::kOptional ? net::ClientAuthMode::kOptional
                                                                  : net::ClientAuthMode::kOff;
  o.ca_file = cfg.tls.client_ca_file;
  o.crl_files = cfg.tls.crl_files;
  o.accept_stale_crl = cfg.tls.crl_stale == config::CrlStale::kAccept;
  return o;
}

Result<std::shared_ptr<const net::ClientTrust>> LoadClientTrust(
    const config::Config& cfg, std::vector<std::string>* warnings) {
  const net::ClientAuthOptions options = ClientAuthOptionsFor(cfg);
  if (options.mode == net::ClientAuthMode::kOff) {
    return std::shared_ptr<const net::ClientTrust>();
  }
  Result<std::shared_ptr<const net::ClientTrust>> trust =
      net::ClientTrust::Load(options, SystemClock()->NowMillis() / 1000, warnings);
  if (!trust.ok()) return trust.status().WithContext("[tls] smart-card login");
  return trust;
}

void AddUserCertCommands(CLI::App* user, GlobalOptions* global, Action* action) {
  auto a = std::make_shared<CertArgs>();
  auto bind = [&](CLI::App* cmd, std::function<int(const GlobalOptions&, const CertArgs&)> fn) {
    cmd->callback(
        [global, a, action, fn] { *action = [global, a, fn] { return fn(*global, *a); }; });
  };
  auto identity_options = [&](CLI::App* cmd) {
    cmd->add_option("name", a->name, "User name")->required();
    cmd->add_option("--upn", a->upn, "Microsoft UPN from the card's subjectAltName");
    cmd->add_option("--email", a->email, "Email (rfc822Name) from the subjectAltName");
    cmd->add_option("--subject", a->subject,
                    "Full subject DN, as the audit record of a refused card sign-in shows it");
    cmd->add_option("--cert", a->cert_file,
                    "Read the identity (by tls.map_by) from this certificate (PEM or DER)");
  };
  CLI::App* bind_cmd =
      AddSubcommand(user, "cert-bind", "Let a smart-card certificate sign in as this account");
  identity_options(bind_cmd);
  bind(bind_cmd, Bind);
  CLI::App* unbind_cmd =
      AddSubcommand(user, "cert-unbind", "Remove a smart-card certificate from an account");
  identity_options(unbind_cmd);
  bind(unbind_cmd, Unbind);
  CLI::App* list_cmd =
      AddSubcommand(user, "cert-list", "List the certificate identities bound to an account");
  list_cmd->add_option("name", a->name, "User name")->required();
  bind(list_cmd, List);
}

}  // namespace outpost::cli
