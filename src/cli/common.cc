#include "cli/common.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "util/fs.h"

namespace outpost::cli {

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case Code::kOk: return kExitOk;
    case Code::kNotFound: return kExitNotFound;
    case Code::kAlreadyExists: return kExitConflict;
    case Code::kInvalidArgument:
    case Code::kFailedPrecondition:
    case Code::kPermissionDenied:
    case Code::kUnauthenticated:
    case Code::kTooLarge:
    case Code::kResourceExhausted:
    case Code::kInsufficientStorage: return kExitRefused;
    case Code::kIoError: return kExitIo;
    case Code::kCorruption: return kExitCorrupt;
    case Code::kUnavailable: return kExitUnavailable;
    case Code::kInternal: return kExitInternal;
  }
  return kExitInternal;
}

int Fail(const Status& status) {
  std::cerr << "outpost: " << status.message() << "\n";
  return ExitCodeFor(status);
}

int ConfigFailure(const Status& status) {
  if (status.code() == Code::kInvalidArgument) {
    std::cerr << "outpost: invalid configuration:\n" << status.message() << "\n";
    return kExitConfig;
  }
  return Fail(status);
}

CLI::App* AddSubcommand(CLI::App* parent, const std::string& name, const std::string& help) {
  CLI::App* sub = parent->add_subcommand(name, help);
  sub->fallthrough();
  return sub;
}

Result<config::Config> LoadConfig(const GlobalOptions& global) {
  config::Config cfg;
  if (!global.config_path.empty()) {
    OUTPOST_ASSIGN_OR_RETURN(cfg, config::LoadFile(global.config_path));
  } else if (PathExists(std::string(config::kDefaultConfigPath))) {
    OUTPOST_ASSIGN_OR_RETURN(cfg, config::LoadFile(std::string(config::kDefaultConfigPath)));
  } else {
    cfg = config::Defaults();
  }
  if (!global.data_dir.empty()) {
    std::string dir = global.data_dir;
    while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
    cfg.data.dir = dir;
  }
  return cfg;
}

domain::DataLayout LayoutFor(const config::Config& cfg) { return domain::DataLayout{cfg.data.dir}; }

Result<std::unique_ptr<storage::Database>> OpenDatabase(const config::Config& cfg) {
  domain::DataLayout layout = LayoutFor(cfg);
  if (!PathExists(layout.database())) {
    return Status::NotFound("no Outpost database in " + layout.root +
                            " (run 'outpost init --data " + layout.root + "' first)");
  }
  storage::OpenOptions options;
  options.busy_timeout_ms = cfg.database.busy_timeout_ms;
  options.wal_autocheckpoint_pages = cfg.database.wal_autocheckpoint_pages;
  return storage::Database::Open(layout.database(), options);
}

domain::AccountPolicy AccountPolicyFor(const config::Config& cfg) {
  domain::AccountPolicy policy;
  policy.password_min_length = cfg.auth.password_min_length;
  policy.password_max_length = cfg.auth.password_max_length;
  switch (cfg.auth.argon2_ops) {
    case config::Argon2Ops::kInteractive: policy.hash_cost = domain::HashCost::kInteractive; break;
    case config::Argon2Ops::kModerate: policy.hash_cost = domain::HashCost::kModerate; break;
    case config::Argon2Ops::kSensitive: policy.hash_cost = domain::HashCost::kSensitive; break;
  }
  policy.password_profile = cfg.auth.password_profile == config::PasswordProfile::kStig
                                ? domain::PasswordProfile::kStig
                                : domain::PasswordProfile::kNist;
  policy.password_max_age_days = cfg.auth.password_max_age_days;
  policy.password_min_age_days = cfg.auth.password_min_age_days;
  policy.password_history = cfg.auth.password_history;
  policy.site_name = cfg.site.name;
  policy.lockout_attempts = cfg.auth.lockout_attempts;
  policy.lockout_window_minutes = cfg.auth.lockout_window_minutes;
  policy.lockout_minutes = cfg.auth.lockout_minutes;
  policy.max_failures_per_hour = cfg.auth.max_failures_per_hour;
  return policy;
}

domain::ChatOptions ChatOptionsFor(const config::Config& cfg) {
  domain::ChatOptions o;
  o.max_message_chars = cfg.chat.max_message_length;
  o.max_group_members = cfg.chat.max_group_members;
  o.default_room = cfg.chat.default_room;
  return o;
}

Status JoinDefaultRooms(storage::Database* db, const config::Config& cfg, int64_t user_id) {
  domain::Rooms rooms(db, SystemClock(), nullptr, ChatOptionsFor(cfg));
  OUTPOST_ASSIGN_OR_RETURN(int64_t room_id, rooms.EnsureDefaultRoom());
  (void)room_id;
  return rooms.JoinDefaultRooms(user_id);
}

namespace {

// Reads one line from `fd`, without the line end.
Result<SecretString> ReadLineFd(int fd) {
  SecretString line;
  char c;
  while (true) {
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    line.mutable_value()->push_back(c);
    if (line.size() > 65536) return Status::InvalidArgument("the password line is too long");
  }
  if (!line.empty() && line.value().back() == '\r') line.mutable_value()->pop_back();
  return line;
}

Result<SecretString> PromptNoEcho(int tty, const std::string& prompt) {
  (void)!write(tty, prompt.data(), prompt.size());
  termios old_mode;
  bool have_mode = tcgetattr(tty, &old_mode) == 0;
  if (have_mode) {
    termios quiet = old_mode;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(tty, TCSAFLUSH, &quiet);
  }
  Result<SecretString> line = ReadLineFd(tty);
  if (have_mode) tcsetattr(tty, TCSAFLUSH, &old_mode);
  (void)!write(tty, "\n", 1);
  return line;
}

}  // namespace

Result<SecretString> ReadPassword(const std::string& password_file, const std::string& prompt,
                                  bool confirm) {
  if (!password_file.empty()) {
    if (password_file == "-") return ReadLineFd(0);
    int fd = open(password_file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus("password file " + password_file, errno);
    Result<SecretString> line = ReadLineFd(fd);
    close(fd);
    if (line.ok() && line->empty()) {
      return Status::InvalidArgument("password file " + password_file + " is empty");
    }
    return line;
  }
  int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (tty < 0) {
    return Status::InvalidArgument(
        "no terminal to ask for the password on: give --password-file FILE (or - for stdin)");
  }
  Result<SecretString> first = PromptNoEcho(tty, prompt);
  if (first.ok() && confirm) {
    Result<SecretString> second = PromptNoEcho(tty, "Repeat the password: ");
    if (second.ok() && !ConstantTimeEquals(first->value(), second->value())) {
      close(tty);
      return Status::InvalidArgument("the two passwords differ");
    }
  }
  close(tty);
  return first;
}

std::string AskLine(const std::string& prompt) {
  int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (tty < 0) return "";
  (void)!write(tty, prompt.data(), prompt.size());
  Result<SecretString> line = ReadLineFd(tty);
  close(tty);
  return line.ok() ? line->value() : "";
}

}  // namespace outpost::cli
