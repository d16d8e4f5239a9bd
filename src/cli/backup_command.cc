// outpost backup keygen|create|verify|restore|list: encrypted, signed archives of a data folder,
// made while the server runs (docs/backup.md).
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "domain/backup.h"

namespace outpost::cli {
namespace {

// A backup passphrase guards the keys of the whole appliance; as long as a user password.
constexpr size_t kMinPassphraseLength = 15;

struct BackupArgs {
  std::string out;
  std::string key_file;
  std::string passphrase_file;
  std::string file;
  std::string dir;
  bool json = false;
  bool force = false;
};

std::string MiB(int64_t bytes) {
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << static_cast<double>(bytes) / (1 << 20) << " MiB";
  return s.str();
}

const char* KeyKindName(domain::BackupKeyKind kind) {
  return kind == domain::BackupKeyKind::kPassphrase ? "passphrase" : "key-file";
}

// The key of an archive: a key file, or a passphrase from a file or the terminal (never from
// the command line, where other users could read it in the process list).
Result<domain::BackupSecret> ReadSecret(const BackupArgs& a, bool creating) {
  if (!a.key_file.empty()) return domain::LoadBackupKeyFile(a.key_file);
  if (a.passphrase_file.empty()) {
    int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (tty < 0) {
      return Status::InvalidArgument(
          "backups are always encrypted: give --key-file FILE or "
          "--passphrase-file FILE (or run on a terminal to type a "
          "passphrase)");
    }
    close(tty);
  }
  OUTPOST_ASSIGN_OR_RETURN(SecretString pass, ReadPassword(a.passphrase_file, "Backup passphrase: ",
                                                           creating && a.passphrase_file.empty()));
  if (pass.empty()) return Status::InvalidArgument("the backup passphrase is empty");
  if (creating && pass.size() < kMinPassphraseLength) {
    return Status::InvalidArgument("a backup passphrase needs at least " +
                                   std::to_string(kMinPassphraseLength) + " characters");
  }
  domain::BackupSecret s;
  s.kind = domain::BackupKeyKind::kPassphrase;
  s.secret = std::move(pass);
  return s;
}

// "backup  42.0% (84.0 of 200.0 MiB)" redrawn on stderr at most 5 times a second, only when
// stderr is a terminal: scripts and logs get no control characters.
class ProgressLine {
 public:
  ProgressLine(std::string label, bool quiet) : label_(std::move(label)) {
    enabled_ = !quiet && isatty(2);
  }
  ~ProgressLine() {
    if (drawn_) std::fputs("\r\033[K", stderr);
  }
  domain::BackupProgress Callback() {
    if (!enabled_) return nullptr;
    return [this](int64_t done, int64_t total) {
      auto now = std::chrono::steady_clock::now();
      if (drawn_ && now - last_ < std::chrono::milliseconds(200) && done < total) return;
      last_ = now;
      drawn_ = true;
      double pct = total > 0 ? 100.0 * static_cast<double>(done) / static_cast<double>(total) : 0;
      std::fprintf(stderr, "\r\033[K%s %5.1f%% (%s of %s)", label_.c_str(), pct, MiB(done).c_str(),
                   MiB(total).c_str());
      std::fflush(stderr);
    };
  }

 private:
  std::string label_;
  bool enabled_ = false;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point last_;
};

nlohmann::json SummaryJson(const domain::BackupSummary& s) {
  return {{"path", s.path},
          {"created_at", FormatIso8601(s.created_at)},
          {"format_version", s.format_version},
          {"outpost_version", s.outpost_version},
          {"signing_public_key", s.signing_public_key},
          {"key", KeyKindName(s.key_kind)},
          {"members", s.members},
          {"bytes", s.bytes},
          {"archive_size", s.archive_size}};
}

// With --json a failure is also reported on stdout, so that automation reads one document.
int FailMaybeJson(const Status& st, bool json) {
  if (json) {
    nlohmann::json out = {
        {"ok", false}, {"error", st.message()}, {"code", std::string(CodeName(st.code()))}};
    std::cout << out.dump(2) << "\n";
  }
  return Fail(st);
}

int Keygen(const GlobalOptions&, const BackupArgs& a) {
  if (Status st = domain::CreateBackupKeyFile(a.out); !st.ok()) return Fail(st);
  std::cout << "backup key written to " << a.out << " (mode 0600)\n"
            << "Keep a copy away from the appliance: without it no backup made with it can be "
               "read.\n";
  return kExitOk;
}

int Create(const GlobalOptions& global, const BackupArgs& a) {
  Result<config::Config> cfg = LoadConfig(global);
  if (!cfg.ok()) return ConfigFailure(cfg.status());
  domain::DataLayout layout = LayoutFor(*cfg);
  Result<domain::ApplianceKeys> keys = domain::LoadKeys(layout);
  if (!keys.ok()) return FailMaybeJson(keys.status(), a.json);
  Result<domain::BackupSecret> secret = ReadSecret(a, true);
  if (!secret.ok()) return FailMaybeJson(secret.status(), a.json);
  // A copy of everything leaves the appliance: no backup without its audit record.
  Result<std::unique_ptr<storage::Database>> db = OpenDatabase(*cfg);
  if (!db.ok()) return FailMaybeJson(db.status(), a.json);
  CommandAudit audit(db->get(), *cfg);
  if (Status st = audit.log().Admit(); !st.ok()) return FailMaybeJson(st, a.json);
  domain::CreateBackupOptions options;
  options.out_path = a.out;
  options.busy_timeout_ms = cfg->database.busy_timeout_ms;
  auto started = std::chrono::steady_clock::now();
  Result<domain::BackupSummary> made = [&] {
    ProgressLine progress("backup", a.json);
    options.progress = progress.Callback();
    return domain::CreateBackup(layout, *keys, *secret, options);
  }();
  nlohmann::json details = {{"key", a.key_file.empty() ? "passphrase" : "key_file"}};
  if (made.ok()) {
    details["members"] = made->members;
    details["archive_size"] = made->archive_size;
  }
  Status audited = audit.Record("backup.create", made.ok() ? "file:" + made->path : "backup",
                                made.status(), details);
  if (!made.ok()) return FailMaybeJson(made.status(), a.json);
  if (!audited.ok()) return FailMaybeJson(audited, a.json);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  for (const auto& s : made->skipped) {
    std::cerr << "outpost: warning: left out " << s << " (not a regular file)\n";
  }
  if (a.json) {
    nlohmann::json out = SummaryJson(*made);
    out["ok"] = true;
    out["seconds"] = seconds;
    out["skipped"] = made->skipped;
    std::cout << out.dump(2) << "\n";
  } else {
    std::cout << "backup written to " << made->path << "\n"
              << "  " << made->members << " files (" << MiB(made->bytes) << "), archive "
              << MiB(made->archive_size) << ", " << std::fixed << std::setprecision(1) << seconds
              << " s\n";
  }
  return kExitOk;
}

int Verify(const GlobalOptions&, const BackupArgs& a) {
  Result<domain::BackupSecret> secret = ReadSecret(a, false);
  if (!secret.ok()) return FailMaybeJson(secret.status(), a.json);
  Result<domain::BackupSummary> s = [&] {
    ProgressLine progress("verify", a.json);
    return domain::VerifyBackup(a.file, *secret, progress.Callback());
  }();
  if (!s.ok()) return FailMaybeJson(s.status().WithContext(a.file), a.json);
  if (a.json) {
    nlohmann::json out = SummaryJson(*s);
    out["ok"] = true;
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << a.file << ": good, every byte and the signature check out\n"
            << "  created   " << FormatIso8601(s->created_at) << "\n"
            << "  version   format " << s->format_version << ", outpost " << s->outpost_version
            << "\n"
            << "  members   " << s->members << " files, " << s->bytes << " bytes (" << MiB(s->bytes)
            << ")\n"
            << "  signed by " << s->signing_public_key << "\n";
  return kExitOk;
}

int Restore(const GlobalOptions& global, const BackupArgs& a) {
  Result<config::Config> cfg = LoadConfig(global);
  if (!cfg.ok()) return ConfigFailure(cfg.status());
  Result<domain::BackupSecret> secret = ReadSecret(a, false);
  if (!secret.ok()) return Fail(secret.status());
  domain::RestoreBackupOptions options;
  options.force = a.force;
  Result<domain::RestoreResult> r = [&] {
    ProgressLine progress("verify", false);
    options.progress = progress.Callback();
    return domain::RestoreBackup(a.file, cfg->data.dir, *secret, options);
  }();
  if (!r.ok()) return Fail(r.status().WithContext("restore of " + a.file));
  // The restored log goes on: the restore is its next record (the archive's own log ends with
  // the backup). A restore that cannot be recorded is reported; the data is in place by now.
  {
    config::Config restored = *cfg;
    restored.data.dir = r->target;
    Result<std::unique_ptr<storage::Database>> db = OpenDatabase(restored);
    Status audited = db.status();
    if (db.ok()) {
      CommandAudit audit(db->get(), restored);
      audited = audit.Record("backup.restore", "file:" + a.file, Status::Ok(),
                             {{"created_at", FormatIso8601(r->summary.created_at)},
                              {"outpost_version", r->summary.outpost_version},
                              {"members", r->summary.members},
                              {"replaced", r->replaced}});
    }
    if (!audited.ok()) {
      std::cerr << "outpost: warning: the restore could not be audited: " << audited.ToString()
                << "\n";
    }
  }
  std::cout << "restored " << a.file << " into " << r->target << "\n"
            << "  " << r->summary.members << " files (" << MiB(r->summary.bytes) << "), made "
            << FormatIso8601(r->summary.created_at) << " by outpost " << r->summary.outpost_version
            << "\n";
  if (!r->replaced.empty())
    std::cout << "  the previous folder was kept as " << r->replaced << "\n";
  std::cout << "Start the server with: outpost serve --data " << r->target << "\n";
  return kExitOk;
}

int List(const GlobalOptions& global, const BackupArgs& a) {
  std::string dir = a.dir;
  if (dir.empty()) {
    Result<config::Config> cfg = LoadConfig(global);
    if (!cfg.ok()) return ConfigFailure(cfg.status());
    dir = LayoutFor(*cfg).root + "/backups";
  }
  Result<std::vector<domain::ListedBackup>> list = domain::ListBackups(dir);
  if (!list.ok()) return FailMaybeJson(list.status(), a.json);
  if (a.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& b : *list) {
      out.push_back({{"name", b.name},
                     {"path", b.path},
                     {"size", b.size},
                     {"created_at", b.created_at ? FormatIso8601(b.created_at) : ""},
                     {"key", KeyKindName(b.key_kind)},
                     {"complete", b.complete},
                     {"problem", b.problem}});
    }
    std::cout << out.dump(2) << "\n";
    return kExitOk;
  }
  if (list->empty()) {
    std::cout << "no backups in " << dir << "\n";
    return kExitOk;
  }
  std::cout << std::left << std::setw(36) << "NAME" << std::setw(12) << "SIZE" << std::setw(26)
            << "CREATED"
            << "STATE\n";
  for (const auto& b : *list) {
    std::cout << std::setw(36) << b.name << std::setw(12) << MiB(b.size) << std::setw(26)
              << (b.created_at ? FormatIso8601(b.created_at) : "?")
              << (b.complete ? "complete" : "INCOMPLETE: " + b.problem) << "\n";
  }
  return kExitOk;
}

void AddSecretOptions(CLI::App* cmd, BackupArgs* a) {
  CLI::Option* key =
      cmd->add_option("--key-file", a->key_file, "32-byte key made by 'outpost backup keygen'");
  CLI::Option* pass = cmd->add_option(
      "--passphrase-file", a->passphrase_file,
      "Read the passphrase from the first line of FILE ('-': stdin); without either option "
      "the passphrase is asked on the terminal");
  key->excludes(pass);
}

}  // namespace

void AddBackupCommands(CLI::App* app, GlobalOptions* global, Action* action) {
  auto a = std::make_shared<BackupArgs>();
  CLI::App* backup = AddSubcommand(app, "backup", "Encrypted, signed backups of the data folder");
  backup->require_subcommand(1);
  auto bind = [&](CLI::App* cmd, std::function<int(const GlobalOptions&, const BackupArgs&)> fn) {
    cmd->callback(
        [global, a, action, fn] { *action = [global, a, fn] { return fn(*global, *a); }; });
  };

  CLI::App* keygen = AddSubcommand(backup, "keygen", "Create a random backup key file (0600)");
  keygen->add_option("--out", a->out, "Where to write the key")->required();
  bind(keygen, Keygen);

  CLI::App* create = AddSubcommand(backup, "create", "Back up the data folder (server may run)");
  create->add_option("--out", a->out,
                     "Archive to write (default: <data>/backups/outpost-<UTC time>.obk)");
  AddSecretOptions(create, a.get());
  create->add_flag("--json", a->json, "Print JSON");
  bind(create, Create);

  CLI::App* verify = AddSubcommand(backup, "verify",
                                   "Check every byte of an archive; writes nothing");
  verify->add_option("file", a->file, "Archive")->required();
  AddSecretOptions(verify, a.get());
  verify->add_flag("--json", a->json, "Print JSON");
  bind(verify, Verify);

  CLI::App* restore = AddSubcommand(backup, "restore",
                                    "Verify an archive, then restore it into the data folder");
  restore->add_option("file", a->file, "Archive")->required();
  AddSecretOptions(restore, a.get());
  restore->add_flag("--force", a->force,
                    "Replace a folder that is not empty (kept as <folder>.replaced-<time>)");
  bind(restore, Restore);

  CLI::App* list = AddSubcommand(backup, "list", "List archives and whether they look complete");
  list->add_option("--dir", a->dir, "Folder to list (default: <data>/backups)");
  list->add_flag("--json", a->json, "Print JSON");
  bind(list, List);
}

}  // namespace outpost::cli
