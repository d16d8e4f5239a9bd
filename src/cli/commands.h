// The command table of the outpost binary. Each Add* function registers one command group on
// the root app; when the command line selects it, it stores what to run in `*action`.
#ifndef OUTPOST_CLI_COMMANDS_H_
#define OUTPOST_CLI_COMMANDS_H_

#include <functional>
#include <span>
#include <string_view>

#include "cli/common.h"
#include "domain/appliance.h"
#include "domain/files.h"
#include "domain/permissions.h"

namespace outpost::cli {

void AddServeCommand(CLI::App* app, GlobalOptions* global, Action* action);
void AddInitCommand(CLI::App* app, GlobalOptions* global, Action* action);
void AddUserCommands(CLI::App* app, GlobalOptions* global, Action* action);
void AddAuditCommands(CLI::App* app, GlobalOptions* global, Action* action);
void AddCertCommands(CLI::App* app, GlobalOptions* global, Action* action);
void AddConfigCommands(CLI::App* app, GlobalOptions* global, Action* action);
void AddBackupCommands(CLI::App* app, GlobalOptions* global, Action* action);
void AddDbCommands(CLI::App* app, GlobalOptions* global, Action* action);
void AddRetentionCommands(CLI::App* app, GlobalOptions* global, Action* action);
void AddFilesCommands(CLI::App* app, GlobalOptions* global, Action* action);
// The [files] table as the files service takes it (files_command.cc).
domain::FilesOptions FilesOptionsFor(const config::Config& cfg);
// What an offline command that touches files needs: the configuration, the database, the
// appliance keys and the files service (with the messages it posts through).
struct FilesContext {
  const config::Config& cfg;
  storage::Database* db;
  const domain::ApplianceKeys& keys;
  domain::Files& files;
};
// Loads the configuration, opens the data folder and runs `fn`; a failure on the way is
// reported and its exit code returned (files_command.cc).
int WithFiles(const GlobalOptions& global, const std::function<int(FilesContext&)>& fn);
void AddVersionCommand(CLI::App* app, GlobalOptions* global, Action* action);
// release keygen|sign|verify|fingerprint and health (release_command.cc).
void AddReleaseCommands(CLI::App* app, GlobalOptions* global, Action* action);

// role list|show|create|update|delete (role_command.cc).
void AddRoleCommands(CLI::App* app, GlobalOptions* global, Action* action);

// Registers every command group on the root app (what Main parses; tests walk it).
void AddCommands(CLI::App* app, GlobalOptions* global, Action* action);

// The permission each command that acts corresponds to: the CLI's route table. A command runs
// as the local operator, who can read the data folder and its keys and therefore holds every
// permission already (the database, not the binary, is what is guarded; see docs/security.md):
// the table refuses no one. It names what each command does in the terms the API uses (for
// the audit trail and docs/permissions.md, printed by `outpost role list --markdown`), and Main
// refuses to run a command missing from it, so no command is added without that decision.
struct CommandPermission {
  std::string_view path;  // the words after "outpost": "user token create"
  domain::Permission permission;  // kNone: acts on nothing (version, help-like commands)
};
std::span<const CommandPermission> CommandPermissions();
// Null when `path` is not in the table.
const CommandPermission* FindCommandPermission(std::string_view path);

// Parses argv and runs the selected command; returns the process exit code.
int Main(int argc, char** argv);

}  // namespace outpost::cli

#endif  // OUTPOST_CLI_COMMANDS_H_
