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

namespace {

using P = domain::Permission;

// Every command that runs, by its words after "outpost". Group commands ("user", "user
// token") only select; their leaves are here.
constexpr CommandPermission kCommandPermissions[] = {
    {"serve", P::kSystemServe},
    {"init", P::kSystemInit},
    {"user add", P::kUsersCreate},
    {"user list", P::kUsersView},
    {"user disable", P::kUsersDisable},
    {"user enable", P::kUsersEnable},
    {"user reset-password", P::kUsersResetPassword},
    {"user unlock", P::kUsersUnlock},
    {"user reset-2fa", P::kUsersResetTwoFactor},
    {"user set-role", P::kRolesAssign},
    {"user token create", P::kTokensManageAny},
    {"user token list", P::kTokensManageAny},
    {"user token revoke", P::kTokensManageAny},
    {"user export", P::kDataExport},
    {"user erase", P::kUsersErase},
    {"user cert-bind", P::kUsersResetPassword},  // a credential, as a password is
    {"user cert-unbind", P::kUsersResetPassword},
    {"user cert-list", P::kUsersView},
    {"role list", P::kRolesView},
    {"role show", P::kRolesView},
    {"role create", P::kRolesManage},
    {"role update", P::kRolesManage},
    {"role delete", P::kRolesManage},
    {"audit verify", P::kAuditVerify},
    {"audit export", P::kAuditExport},
    {"audit checkpoint export", P::kAuditCheckpoint},
    {"cert import", P::kCertsManage},
    {"cert show", P::kCertsView},
    {"config check", P::kSettingsView},
    {"config defaults", P::kNone},
    {"backup keygen", P::kBackupsManageKeys},
    {"backup create", P::kBackupsCreate},
    {"backup verify", P::kBackupsVerify},
    {"backup restore", P::kBackupsRestore},
    {"backup list", P::kBackupsView},
    {"db check", P::kSystemMaintain},
    {"db vacuum", P::kSystemMaintain},
    {"doctor", P::kSystemDiagnose},
    {"retention purge", P::kRetentionRun},
    {"files list", P::kFilesViewAll},
    {"files verify", P::kFilesVerify},
    {"version", P::kNone},
    {"release keygen", P::kReleasesSign},
    {"release sign", P::kReleasesSign},
    {"release verify", P::kNone},
    {"release fingerprint", P::kNone},
    {"health", P::kMetricsView},
};

// "user token create" for the innermost subcommand the command line selected; "" for none.
std::string SelectedPath(const CLI::App& app) {
  std::string path;
  const CLI::App* at = &app;
  while (true) {
    std::vector<CLI::App*> chosen = at->get_subcommands();
    if (chosen.empty()) break;
    at = chosen.front();
    path += (path.empty() ? "" : " ") + at->get_name();
  }
  return path;
}

}  // namespace

std::span<const CommandPermission> CommandPermissions() { return kCommandPermissions; }

const CommandPermission* FindCommandPermission(std::string_view path) {
  for (const CommandPermission& c : kCommandPermissions) {
    if (c.path == path) return &c;
  }
  return nullptr;
}

void AddCommands(CLI::App* app, GlobalOptions* global, Action* action) {
  AddServeCommand(app, global, action);
  AddInitCommand(app, global, action);
  AddUserCommands(app, global, action);
  AddRoleCommands(app, global, action);
  AddAuditCommands(app, global, action);
  AddCertCommands(app, global, action);
  AddConfigCommands(app, global, action);
  AddBackupCommands(app, global, action);
  AddDbCommands(app, global, action);
  AddRetentionCommands(app, global, action);
  AddFilesCommands(app, global, action);
  AddVersionCommand(app, global, action);
  AddReleaseCommands(app, global, action);
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
  AddCommands(&app, &global, &action);
  app.footer("Exit codes: 0 ok, 1 internal error, 2 usage, 3 invalid configuration, 4 not found, "
             "5 already exists, 6 refused, 7 I/O error, 8 corrupt data, 9 unavailable.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  if (!action) return kExitUsage;
  const std::string selected = SelectedPath(app);
  if (FindCommandPermission(selected) == nullptr) {
    return Fail(Status::Internal("'outpost " + selected +
                                 "' is missing from the command permission table "
                                 "(cli/main_command.cc): a build error, not yours"));
  }
  return action();
}

}  // namespace outpost::cli
