#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "util/crypto.h"

namespace outpost::cli {

void AddVersionCommand(CLI::App* app, GlobalOptions*, Action* action) {
  CLI::App* cmd = AddSubcommand(app, "version", "Print the version of this binary");
  cmd->callback([action] {
    *action = [] {
      std::cout << "outpost " << OUTPOST_VERSION << "\n";
      return kExitOk;
    };
  });
}

int Main(int argc, char** argv) {
  // Everything the appliance writes (database, keys, backups) is private unless a file asks
  // for more (public keys, certificates).
  umask(077);
  Status crypto = InitCrypto();
  if (!crypto.ok()) return Fail(crypto);

  CLI::App app{"Outpost: a secure team-chat appliance for sites without internet", "outpost"};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  GlobalOptions global;
  app.add_option("--config", global.config_path,
                 "Configuration file (default: /etc/outpost/outpost.toml when it exists)");
  app.add_option("--data", global.data_dir, "Data folder (overrides data.dir)");
  Action action;
  AddServeCommand(&app, &global, &action);
  AddInitCommand(&app, &global, &action);
  AddUserCommands(&app, &global, &action);
  AddAuditCommands(&app, &global, &action);
  AddCertCommands(&app, &global, &action);
  AddConfigCommands(&app, &global, &action);
  AddBackupCommands(&app, &global, &action);
  AddDbCommands(&app, &global, &action);
  AddRetentionCommands(&app, &global, &action);
  AddFilesCommands(&app, &global, &action);
  AddVersionCommand(&app, &global, &action);
  AddReleaseCommands(&app, &global, &action);
  app.footer("Exit codes: 0 ok, 1 internal error, 2 usage, 3 invalid configuration, 4 not found, "
             "5 already exists, 6 refused, 7 I/O error, 8 corrupt data, 9 unavailable.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (!action) return kExitUsage;
  return action();
}

}  // namespace outpost::cli
