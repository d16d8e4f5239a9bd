// outpost cert import|show: the HTTPS certificate. `init` makes one from the appliance's own
// CA; sites with their own PKI import theirs.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "net/tls.h"
#include "util/fs.h"

namespace outpost::cli {
namespace {

struct CertArgs {
  std::string cert_file;
  std::string key_file;
};

void PrintInfo(const net::CertInfo& info) {
  std::cout << "subject:    " << info.subject << "\n"
            << "issuer:     " << info.issuer << "\n"
            << "valid from: " << FormatIso8601(info.not_before * 1000) << "\n"
            << "valid to:   " << FormatIso8601(info.not_after * 1000) << "\n"
            << "names:     ";
  for (const auto& n : info.dns_names) std::cout << " " << n;
  for (const auto& n : info.ip_addresses) std::cout << " " << n;
  std::cout << "\n";
}

int Import(const GlobalOptions& global, const CertArgs& a) {
  Result<config::Config> cfg = LoadConfig(global);
  if (!cfg.ok()) return ConfigFailure(cfg.status());
  Result<std::string> cert = ReadFile(a.cert_file);
  if (!cert.ok()) return Fail(cert.status());
  Result<std::string> read_key = ReadFile(a.key_file);
  if (!read_key.ok()) return Fail(read_key.status());
  const SecretString key(std::move(*read_key));  // wiped on every way out
  // Everything is checked before the installed pair is touched.
  if (Status st = net::CheckKeyMatchesCert(*cert, key.value()); !st.ok()) return Fail(st);
  Result<std::shared_ptr<const net::TlsContext>> tls = net::TlsContext::Create(*cert, key.value());
  if (!tls.ok()) return Fail(tls.status());
  Result<net::CertInfo> info = net::InspectCertificate(*cert);
  if (!info.ok()) return Fail(info.status());
  if (info->is_ca) {
    return Fail(Status::InvalidArgument(a.cert_file + " is a CA certificate, not a server's"));
  }
  std::string cert_out = config::CertFile(*cfg), key_out = config::KeyFile(*cfg);
  // Replacing the server's identity is a security event: no import without its record.
  Result<std::unique_ptr<storage::Database>> db = OpenDatabase(*cfg);
  if (!db.ok()) return Fail(db.status());
  CommandAudit audit(db->get(), *cfg);
  if (Status st = audit.log().Admit(); !st.ok()) return Fail(st);
  if (Status st = MakeDirs(LayoutFor(*cfg).tls_dir(), 0700); !st.ok()) return Fail(st);
  // Key first: a crash between the two writes leaves the new key with the old certificate,
  // which the server refuses to load (mismatch) rather than serving something unexpected;
  // re-running the import repairs it.
  Status written = WriteFileAtomic(key_out, key.value(), 0600);
  if (written.ok()) written = WriteFileAtomic(cert_out, *cert, 0644);
  nlohmann::json details = {{"subject", info->subject},
                            {"issuer", info->issuer},
                            {"not_after", FormatIso8601(info->not_after * 1000)},
                            {"dns_names", info->dns_names},
                            {"ip_addresses", info->ip_addresses}};
  Status audited = audit.Record("cert.import", "cert:" + cert_out, written, details);
  if (!written.ok()) return Fail(written);
  if (!audited.ok()) return Fail(audited);
  std::cout << "installed " << cert_out << " and " << key_out << "\n";
  PrintInfo(*info);
  std::cout << "a running server picks it up on SIGHUP (systemctl reload outpost) or restart\n";
  return kExitOk;
}

int Show(const GlobalOptions& global) {
  Result<config::Config> cfg = LoadConfig(global);
  if (!cfg.ok()) return ConfigFailure(cfg.status());
  Result<std::string> cert = ReadFile(config::CertFile(*cfg));
  if (!cert.ok()) return Fail(cert.status());
  Result<net::CertInfo> info = net::InspectCertificate(*cert);
  if (!info.ok()) return Fail(info.status());
  std::cout << "file:       " << config::CertFile(*cfg) << "\n";
  PrintInfo(*info);
  return kExitOk;
}

}  // namespace

void AddCertCommands(CLI::App* app, GlobalOptions* global, Action* action) {
  auto a = std::make_shared<CertArgs>();
  CLI::App* cert = AddSubcommand(app, "cert", "Manage the HTTPS certificate");
  cert->require_subcommand(1);
  CLI::App* import = AddSubcommand(cert, "import", "Install a certificate and key from the "
                                                   "site's PKI (PEM; chain after the leaf)");
  import->add_option("--cert", a->cert_file, "Certificate chain file (PEM)")->required();
  import->add_option("--key", a->key_file, "Private key file (PEM, unencrypted)")->required();
  import->callback([global, a, action] { *action = [global, a] { return Import(*global, *a); }; });
  CLI::App* show = AddSubcommand(cert, "show", "Describe the installed certificate");
  show->callback([global, action] { *action = [global] { return Show(*global); }; });
}

}  // namespace outpost::cli
