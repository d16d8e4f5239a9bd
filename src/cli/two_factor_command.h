// `outpost user reset-2fa NAME`: an operator removes an account's two-factor secret and
// recovery codes (a user who lost their authenticator and their recovery codes), audited as
// auth.2fa_reset. The user enrols again at their next sign-in when [auth] require_2fa applies
// to them, or from the Security page otherwise.
#ifndef OUTPOST_CLI_TWO_FACTOR_COMMAND_H_
#define OUTPOST_CLI_TWO_FACTOR_COMMAND_H_

#include "cli/common.h"

namespace outpost::cli {

// Registers reset-2fa under `user`.
void AddUserTwoFactorCommands(CLI::App* user, GlobalOptions* global, Action* action);

}  // namespace outpost::cli

#endif  // OUTPOST_CLI_TWO_FACTOR_COMMAND_H_
