// The command table of the outpost binary. Each Add* function registers one command group on
// the root app; when the command line selects it, it stores what to run in `*action`.
#ifndef OUTPOST_CLI_COMMANDS_H_
#define OUTPOST_CLI_COMMANDS_H_

#include <functional>

#include "cli/common.h"
#include "domain/appliance.h"
#include "domain/files.h"

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

// Parses argv and runs the selected command; returns the process exit code.
int Main(int argc, char** argv);

}  // namespace outpost::cli

#endif  // OUTPOST_CLI_COMMANDS_H_
