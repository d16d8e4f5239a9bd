// What every command shares: the global options (--config, --data), loading the configuration,
// opening the database, reading passwords without echo, and the one mapping from Status to
// process exit codes (documented in docs/operations.md).
#ifndef OUTPOST_CLI_COMMON_H_
#define OUTPOST_CLI_COMMON_H_

#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "domain/accounts.h"
#include "domain/appliance.h"
#include "domain/rooms.h"
#include "storage/database.h"
#include "util/crypto.h"
#include "util/status.h"

namespace CLI {
class App;
}

namespace outpost::cli {

// Exit codes. Scripts rely on them: never renumber.
enum ExitCode {
  kExitOk = 0,
  kExitInternal = 1,       // a bug or an unexpected failure
  kExitUsage = 2,          // the command line is wrong
  kExitConfig = 3,         // the configuration file is invalid
  kExitNotFound = 4,       // no such user, file or database
  kExitConflict = 5,       // already exists (user name taken, data folder initialized)
  kExitRefused = 6,        // not allowed in the current state, or bad input
  kExitIo = 7,             // the system refused: disk, permissions, a port in use
  kExitCorrupt = 8,        // stored data is damaged
  kExitUnavailable = 9,    // try again later
};

int ExitCodeFor(const Status& status);

// Prints "outpost: <message>" on stderr and returns ExitCodeFor(status).
int Fail(const Status& status);

struct GlobalOptions {
  std::string config_path;  // empty: /etc/outpost/outpost.toml when present, else defaults
  std::string data_dir;     // empty: data.dir from the configuration
};

// What a subcommand runs once the command line has been parsed; returns the exit code.
using Action = std::function<int()>;

// Adds a subcommand that accepts the global options after its own name too.
CLI::App* AddSubcommand(CLI::App* parent, const std::string& name, const std::string& help);

// The effective configuration: the file (when any) with --data applied. InvalidArgument with
// every problem for a bad file (exit code kExitConfig via ConfigFailure).
Result<config::Config> LoadConfig(const GlobalOptions& global);
// Like Fail, but bad configuration maps to kExitConfig.
int ConfigFailure(const Status& status);

domain::DataLayout LayoutFor(const config::Config& cfg);

// Opens the initialized database (NotFound with a hint to run `outpost init` otherwise).
Result<std::unique_ptr<storage::Database>> OpenDatabase(const config::Config& cfg);

domain::AccountPolicy AccountPolicyFor(const config::Config& cfg);
domain::ChatOptions ChatOptionsFor(const config::Config& cfg);

// Puts a new account into the default rooms (creating them when missing), as the API does for
// accounts made by administrators.
Status JoinDefaultRooms(storage::Database* db, const config::Config& cfg, int64_t user_id);

// Reads a password: the first line of `password_file` when given ("-" is standard input),
// else from the terminal with echo off, asked twice when `confirm`. InvalidArgument when there
// is no terminal to ask on, or the answers differ.
Result<SecretString> ReadPassword(const std::string& password_file, const std::string& prompt,
                                  bool confirm);

// Asks for one line on the terminal with echo on ("" when there is no terminal).
std::string AskLine(const std::string& prompt);

}  // namespace outpost::cli

#endif  // OUTPOST_CLI_COMMON_H_
