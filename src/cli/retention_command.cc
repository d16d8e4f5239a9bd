// outpost retention purge [--dry-run]: deletes the messages and files the [retention] policy
// and the rooms' own settings have expired, as the server's daily job does (domain/retention.h).
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "domain/retention.h"

namespace outpost::cli {
namespace {

struct RetentionArgs {
  bool dry_run = false;
  bool json = false;
};

std::string Days(int days) { return days ? std::to_string(days) + " days" : "forever"; }

int Purge(const GlobalOptions& global, const RetentionArgs& a) {
  return WithFiles(global, [&](FilesContext& ctx) -> int {
    const config::Config& cfg = ctx.cfg;
    CommandAudit audit(ctx.db, cfg);
    if (!a.dry_run) {
      if (Status st = audit.log().Admit(); !st.ok()) return Fail(st);
    }
    domain::Retention retention(ctx.db, SystemClock(), &ctx.files, &audit.log(),
                                {cfg.retention.messages_days, cfg.retention.files_days});
    Result<domain::PurgeCounts> purged = retention.Purge(a.dry_run, CliActor());
    if (!purged.ok()) return Fail(purged.status().WithContext("retention purge"));
    const domain::PurgeCounts& c = *purged;
    if (a.json) {
      nlohmann::json out = {{"dry_run", a.dry_run},      {"messages", c.messages},
                            {"files", c.files},          {"file_bytes", c.file_bytes},
                            {"blobs", c.blobs},          {"events", c.events},
                            {"messages_days", cfg.retention.messages_days},
                            {"files_days", cfg.retention.files_days}};
      std::cout << out.dump(2) << "\n";
      return kExitOk;
    }
    std::cout << (a.dry_run ? "retention purge (dry run, nothing deleted) would delete:\n"
                            : "retention purge deleted:\n")
              << "  " << c.messages << " messages\n"
              << "  " << c.files << " files (" << c.file_bytes << " bytes), " << c.blobs
              << " stored blobs\n"
              << "  " << c.events << " chat events\n"
              << "global policy: messages " << Days(cfg.retention.messages_days) << ", files "
              << Days(cfg.retention.files_days)
              << " (rooms may set their own)\n";
    return kExitOk;
  });
}

}  // namespace

void AddRetentionCommands(CLI::App* app, GlobalOptions* global, Action* action) {
  auto a = std::make_shared<RetentionArgs>();
  CLI::App* retention = AddSubcommand(app, "retention", "Delete expired messages and files");
  retention->require_subcommand(1);
  CLI::App* purge = AddSubcommand(retention, "purge",
                                  "Delete what the retention policies have expired (audited)");
  purge->add_flag("--dry-run", a->dry_run, "Only count what would be deleted");
  purge->add_flag("--json", a->json, "Print JSON");
  purge->callback([global, a, action] { *action = [global, a] { return Purge(*global, *a); }; });
}

}  // namespace outpost::cli
