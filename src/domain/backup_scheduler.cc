#include "domain/backup_scheduler.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>

#include "util/fs.h"
#include "util/log.h"

namespace outpost::domain {
namespace {

// A passphrase guards the keys of the whole appliance; as `outpost backup create` asks.
constexpr size_t kMinPassphraseLength = 15;
// The thread re-reads the clock at least this often, so a clock set forward (NTP after a
// cold start) is noticed within a minute.
constexpr int64_t kMaxSleepMillis = 60 * 1000;

std::string BaseName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

bool IsScheduledArchiveName(std::string_view name) {
  return name.size() > 12 && name.starts_with("outpost-") && name.ends_with(".obk");
}

UnixMillis NextDailyRun(UnixMillis after, int daily_minute) {
  time_t secs = static_cast<time_t>(after / 1000);
  struct tm day;
  localtime_r(&secs, &day);
  for (int extra_days = 0; extra_days < 3; ++extra_days) {
    struct tm at = day;
    at.tm_mday += extra_days;
    at.tm_hour = daily_minute / 60;
    at.tm_min = daily_minute % 60;
    at.tm_sec = 0;
    at.tm_isdst = -1;  // let mktime decide for that day
    time_t t = mktime(&at);
    if (t != static_cast<time_t>(-1) && int64_t{t} * 1000 > after) return int64_t{t} * 1000;
  }
  return after + 86400LL * 1000;  // unreachable with a sane time zone database
}

BackupScheduler::BackupScheduler(DataLayout layout, const ApplianceKeys* keys, AuditLog* audit,
                                 const Clock* clock, BackupSchedule schedule)
    : layout_(std::move(layout)), keys_(keys), audit_(audit), clock_(clock),
      schedule_(std::move(schedule)) {
  if (scheduled()) status_.next_run_at = NextDailyRun(clock_->NowMillis(), schedule_.daily_minute);
}

BackupScheduler::~BackupScheduler() { Stop(); }

Result<BackupSecret> BackupScheduler::LoadSecret() const {
  if (!schedule_.key_file.empty()) return LoadBackupKeyFile(schedule_.key_file);
  if (schedule_.passphrase_file.empty()) {
    return Status::FailedPrecondition(
        "no backup key configured: set [backup] key_file or passphrase_file");
  }
  OUTPOST_ASSIGN_OR_RETURN(std::string text, ReadFile(schedule_.passphrase_file));
  SecretString pass(text.substr(0, text.find('\n')));
  WipeString(&text);
  if (!pass.empty() && pass.value().back() == '\r') pass.mutable_value()->pop_back();
  if (pass.size() < kMinPassphraseLength) {
    return Status::InvalidArgument("the passphrase in " + schedule_.passphrase_file +
                                   " is shorter than " + std::to_string(kMinPassphraseLength) +
                                   " characters");
  }
  BackupSecret secret;
  secret.kind = BackupKeyKind::kPassphrase;
  secret.secret = std::move(pass);
  return secret;
}

std::vector<std::string> BackupScheduler::Prune() {
  std::vector<std::string> deleted;
  Result<std::vector<ListedBackup>> listed = ListBackups(schedule_.dir);
  if (!listed.ok()) {
    log::Warn("backup pruning could not list the folder", {{"error", listed.status().ToString()}});
    return deleted;
  }
  // Only complete scheduled archives count and go: an incomplete one is evidence for the
  // operator, and other names were put there by someone else.
  std::vector<ListedBackup> ours;
  for (ListedBackup& b : *listed) {
    if (b.complete && IsScheduledArchiveName(b.name)) ours.push_back(std::move(b));
  }
  std::sort(ours.begin(), ours.end(), [](const ListedBackup& a, const ListedBackup& b) {
    return a.created_at != b.created_at ? a.created_at > b.created_at : a.name > b.name;
  });
  for (size_t i = static_cast<size_t>(schedule_.keep); i < ours.size(); ++i) {
    if (::unlink(ours[i].path.c_str()) == 0) {
      deleted.push_back(ours[i].name);
    } else {
      log::Warn("could not delete an old backup", {{"file", ours[i].path}});
    }
  }
  return deleted;
}

Result<BackupSummary> BackupScheduler::RunNow(const std::string& actor) {
  std::lock_guard<std::mutex> run_lock(run_mu_);
  const auto started = std::chrono::steady_clock::now();
  const UnixMillis attempt_at = clock_->NowMillis();
  std::vector<std::string> pruned;
  Result<BackupSummary> made = [&]() -> Result<BackupSummary> {
    OUTPOST_ASSIGN_OR_RETURN(BackupSecret secret, LoadSecret());
    OUTPOST_RETURN_IF_ERROR(MakeDirs(schedule_.dir, 0700));
    CreateBackupOptions options;
    options.clock = clock_;
    options.busy_timeout_ms = schedule_.busy_timeout_ms;
    const std::string stem = schedule_.dir + "/outpost-" + CompactUtcTime(attempt_at);
    options.out_path = stem + ".obk";
    // Two runs in one second (a run now right after the scheduled one) get distinct names.
    for (int n = 2; PathExists(options.out_path) && n < 100; ++n) {
      options.out_path = stem + "-" + std::to_string(n) + ".obk";
    }
    OUTPOST_ASSIGN_OR_RETURN(BackupSummary summary, CreateBackup(layout_, *keys_, secret, options));
    pruned = Prune();
    return summary;
  }();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++status_.runs;
    status_.last_attempt_at = attempt_at;
    status_.last_duration_seconds = seconds;
    if (made.ok()) {
      status_.last_success_at = clock_->NowMillis();
      status_.last_bytes = made->archive_size;
      status_.last_file = BaseName(made->path);
      status_.last_error.clear();
      status_.last_error_reason.clear();
    } else {
      ++status_.failures;
      status_.last_error = made.status().ToString();
      status_.last_error_reason = std::string(CodeName(made.status().code()));
    }
  }
  if (made.ok()) {
    log::Info("backup made", {{"file", made->path},
                              {"bytes", made->archive_size},
                              {"seconds", seconds},
                              {"pruned", pruned.size()}});
  } else {
    log::Error("backup failed", {{"error", made.status().ToString()}});
  }
  if (audit_ != nullptr) {
    AuditEvent event;
    event.actor = actor;
    event.action = "backup.create";
    if (made.ok()) {
      event.target = "backup:" + BaseName(made->path);
      event.details = {{"file", BaseName(made->path)},
                       {"bytes", made->archive_size},
                       {"seconds", seconds},
                       {"pruned", pruned}};
    } else {
      event.outcome = AuditOutcome::kFailure;
      event.details = {{"reason", CodeName(made.status().code())},
                       {"error", made.status().message()}};
    }
    if (Status st = audit_->Append(event).status(); !st.ok()) {
      log::Error("could not audit a backup", {{"error", st.ToString()}});
    }
  }
  return made;
}

bool BackupScheduler::RunIfDue() {
  if (!scheduled()) return false;
  const UnixMillis now = clock_->NowMillis();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (now < status_.next_run_at) return false;
    status_.next_run_at = NextDailyRun(now, schedule_.daily_minute);
  }
  (void)RunNow("system");
  return true;
}

void BackupScheduler::Start() {
  if (!scheduled() || thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void BackupScheduler::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void BackupScheduler::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    int64_t wait = std::clamp<int64_t>(status_.next_run_at - clock_->NowMillis(), 0,
                                       kMaxSleepMillis);
    if (wake_.wait_for(lock, std::chrono::milliseconds(wait), [this] { return stopping_; })) {
      break;
    }
    lock.unlock();
    RunIfDue();
    lock.lock();
  }
}

BackupRunStatus BackupScheduler::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

}  // namespace outpost::domain
