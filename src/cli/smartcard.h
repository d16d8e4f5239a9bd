// Smart-card login for the operator: loading the client-certificate trust from the
// configuration (for `outpost serve`, its SIGHUP reload and `outpost config check`), and
// `outpost user cert-bind | cert-unbind | cert-list` (smartcard_command.cc).
#ifndef OUTPOST_CLI_SMARTCARD_H_
#define OUTPOST_CLI_SMARTCARD_H_

#include <memory>
#include <string>
#include <vector>

#include "cli/common.h"
#include "net/tls.h"

namespace outpost::cli {

// The [tls] client-certificate settings as net takes them.
net::ClientAuthOptions ClientAuthOptionsFor(const config::Config& cfg);

// Reads and checks tls.client_ca_file and tls.crl_files. Null (and OK) when client_auth is
// off; InvalidArgument naming the file and the problem otherwise (see net::ClientTrust::Load).
// Warnings (a stale CRL, a CA no CRL covers) go to `warnings`.
Result<std::shared_ptr<const net::ClientTrust>> LoadClientTrust(const config::Config& cfg,
                                                                std::vector<std::string>* warnings);

// Registers cert-bind, cert-unbind and cert-list under `user`.
void AddUserCertCommands(CLI::App* user, GlobalOptions* global, Action* action);

}  // namespace outpost::cli

#endif  // OUTPOST_CLI_SMARTCARD_H_
