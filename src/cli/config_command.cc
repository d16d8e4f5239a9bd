// outpost config check: validates a configuration file without starting anything.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "cli/smartcard.h"

namespace outpost::cli {
namespace {

int Check(const GlobalOptions& global, bool print) {
  Result<config::Config> cfg = LoadConfig(global);
  if (!cfg.ok()) return ConfigFailure(cfg.status());
  // The files the configuration names for smart-card login must exist and parse too.
  std::vector<std::string> warnings;
  Result<std::shared_ptr<const net::ClientTrust>> trust = LoadClientTrust(*cfg, &warnings);
  if (!trust.ok()) return ConfigFailure(trust.status());
  for (const std::string& w : warnings) std::cerr << "outpost: warning: " << w << "\n";
  if (print) {
    std::cout << config::Describe(*cfg);
  } else {
    std::cout << (global.config_path.empty() ? std::string("built-in defaults")
                                             : global.config_path)
              << ": configuration is valid\n";
  }
  return kExitOk;
}

}  // namespace

void AddConfigCommands(CLI::App* app, GlobalOptions* global, Action* action) {
  auto print = std::make_shared<bool>(false);
  CLI::App* config = AddSubcommand(app, "config", "Inspect the configuration");
  config->require_subcommand(1);
  CLI::App* check = AddSubcommand(config, "check", "Validate the configuration file; print "
                                                   "every problem with file:line:column");
  check->add_flag("--print", *print, "Print the effective configuration as TOML");
  check->callback([global, print, action] {
    *action = [global, print] { return Check(*global, *print); };
  });
  CLI::App* defaults = AddSubcommand(config, "defaults", "Print the commented default "
                                                         "configuration (every key)");
  defaults->callback([action] {
    *action = [] {
      std::cout << config::DefaultToml();
      return int{kExitOk};
    };
  });
}

}  // namespace outpost::cli
