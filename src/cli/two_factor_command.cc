#include "cli/two_factor_command.h"

#include <CLI/CLI.hpp>
#include <iostream>
#include <memory>

#include "cli/cli_audit.h"
#include "domain/accounts.h"
#include "domain/totp.h"

namespace outpost::cli {
namespace {

int ResetTwoFactor(const GlobalOptions& global, const std::string& name) {
  Result<config::Config> cfg = LoadConfig(global);
  if (!cfg.ok()) return ConfigFailure(cfg.status());
  Result<std::unique_ptr<storage::Database>> db = OpenDatabase(*cfg);
  if (!db.ok()) return Fail(db.status());
  domain::Accounts accounts(db->get(), SystemClock(), AccountPolicyFor(*cfg));
  Result<domain::User> user = accounts.FindByName(name);
  if (!user.ok()) return Fail(user.status());
  CommandAudit audit(db->get(), *cfg);
  // Resetting takes a factor away from the account: refused when it could not be recorded.
  if (Status st = audit.log().Admit(); !st.ok()) return Fail(st);
  Result<bool> removed = domain::RemoveTwoFactor(db->get(), user->id);
  nlohmann::json details = nlohmann::json::object();
  if (removed.ok()) details["had_2fa"] = *removed;
  Status audited = audit.Record("auth.2fa_reset", "user:" + user->username, removed.status(),
                                details);
  if (!removed.ok()) return Fail(removed.status());
  if (!audited.ok()) return Fail(audited);
  if (*removed) {
    std::cout << "two-factor authentication of " << user->username
              << " removed (secret and recovery codes); they enrol again at their next sign-in "
                 "if it is required, or from the Security page\n";
  } else {
    std::cout << user->username << " had no two-factor authentication; nothing changed\n";
  }
  return int{kExitOk};
}

}  // namespace

void AddUserTwoFactorCommands(CLI::App* user, GlobalOptions* global, Action* action) {
  auto name = std::make_shared<std::string>();
  CLI::App* reset = AddSubcommand(
      user, "reset-2fa", "Remove an account's two-factor secret and recovery codes");
  reset->add_option("name", *name, "User name")->required();
  reset->callback([global, name, action] {
    *action = [global, name] { return ResetTwoFactor(*global, *name); };
  });
}

}  // namespace outpost::cli
