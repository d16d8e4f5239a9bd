// outpost files verify|list: checks that every stored blob decrypts and matches its keyed hash,
// and lists files with usage per user and room. docs/files.md describes both.
#include <CLI/CLI.hpp>
#include <functional>
#include <iostream>

#include "cli/commands.h"
#include "domain/files.h"

namespace outpost::cli {
namespace {

int FilesVerify(const GlobalOptions& global) {
  return WithFiles(global, [](FilesContext& ctx) {
    domain::Files& files = ctx.files;
    Result<std::vector<std::string>> problems = files.Verify();
    if (!problems.ok()) return Fail(problems.status());
    for (const auto& p : *problems) std::cout << "PROBLEM " << p << "\n";
    if (problems->empty()) {
      std::cout << "files verify: every blob decrypts and matches its hash\n";
      return static_cast<int>(kExitOk);
    }
    std::cerr << "outpost: " << problems->size()
              << " damaged or missing blob(s); restore them from a backup\n";
    return static_cast<int>(kExitCorrupt);
  });
}

int FilesList(const GlobalOptions& global, const std::string& order) {
  return WithFiles(global, [&](FilesContext& ctx) {
    domain::Files& files = ctx.files;
    auto list = files.ListAll(order, 1000);
    if (!list.ok()) return Fail(list.status());
    for (const auto& f : *list) {
      std::cout << f.id << "\t" << f.size << "\troom " << f.room_id << "\t"
                << f.uploader_username << "\t" << f.content_type << "\t" << f.name << "\n";
    }
    auto users = files.UsageByUser();
    if (!users.ok()) return Fail(users.status());
    for (const auto& u : *users) {
      std::cout << "user " << u.key << ": " << u.files << " files, " << u.bytes << " bytes\n";
    }
    auto rooms = files.UsageByRoom();
    if (!rooms.ok()) return Fail(rooms.status());
    for (const auto& r : *rooms) {
      std::cout << "room " << r.key << ": " << r.files << " files, " << r.bytes << " bytes\n";
    }
    return static_cast<int>(kExitOk);
  });
}

}  // namespace

int WithFiles(const GlobalOptions& global, const std::function<int(FilesContext&)>& fn) {
  Result<config::Config> cfg = LoadConfig(global);
  if (!cfg.ok()) return ConfigFailure(cfg.status());
  domain::DataLayout layout = LayoutFor(*cfg);
  Result<std::unique_ptr<storage::Database>> db = OpenDatabase(*cfg);
  if (!db.ok()) return Fail(db.status());
  Result<domain::ApplianceKeys> keys = domain::LoadKeys(layout);
  if (!keys.ok()) return Fail(keys.status());
  domain::Messages messages(db->get(), SystemClock(), nullptr, ChatOptionsFor(*cfg));
  domain::Files files(db->get(), SystemClock(), &messages, layout.root + "/blobs",
                      keys->master_key.value(), FilesOptionsFor(*cfg));
  FilesContext ctx{*cfg, db->get(), *keys, files};
  return fn(ctx);
}

domain::FilesOptions FilesOptionsFor(const config::Config& cfg) {
  domain::FilesOptions o;
  o.max_file_bytes = int64_t{cfg.files.max_file_mb} << 20;
  o.user_quota_bytes = int64_t{cfg.files.user_quota_mb} << 20;
  o.room_quota_bytes = int64_t{cfg.files.room_quota_mb} << 20;
  o.allow_types = cfg.files.allow_types;
  o.deny_types = cfg.files.deny_types;
  return o;
}

void AddFilesCommands(CLI::App* app, GlobalOptions* global, Action* action) {
  CLI::App* files = AddSubcommand(app, "files", "Check and list shared files");
  files->require_subcommand(1);
  CLI::App* verify = AddSubcommand(
      files, "verify", "decrypt every blob and check its hash; exit 8 on problems");
  verify->callback([global, action] { *action = [global] { return FilesVerify(*global); }; });
  CLI::App* list = AddSubcommand(files, "list", "every file (largest first) and usage");
  auto order = std::make_shared<std::string>("size");
  list->add_option("--order", *order, "size or new")->check(CLI::IsMember({"size", "new"}));
  list->callback([global, action, order] {
    *action = [global, order] { return FilesList(*global, *order); };
  });
}

}  // namespace outpost::cli
