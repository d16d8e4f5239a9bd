// Scheduled backups made by the running server ([backup] in the configuration): once a day at
// a local time, the same archive `outpost backup create` writes (CreateBackup, online), then the
// folder is pruned to the newest `keep` scheduled archives. Each run is audited ("backup.create"
// with the file name and size, or the failure) and its result kept for /metrics and the admin
// API. docs/operations.md "Scheduled backups" is the operator's side.
#ifndef OUTPOST_DOMAIN_BACKUP_SCHEDULER_H_
#define OUTPOST_DOMAIN_BACKUP_SCHEDULER_H_

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "domain/audit.h"
#include "domain/backup.h"
#include "util/clock.h"
#include "util/status.h"

namespace outpost::domain {

struct BackupSchedule {
  int daily_minute = -1;  // minutes after local midnight; -1: no scheduled backups
  std::string dir;        // where archives go (absolute)
  int keep = 7;           // newest scheduled archives kept, >= 1
  // Exactly one is set when daily_minute >= 0; read at every run, so a replaced file counts.
  std::string key_file;
  std::string passphrase_file;
  int busy_timeout_ms = 5000;
};

// What the runs so far did (since the server started).
struct BackupRunStatus {
  int64_t runs = 0;
  int64_t failures = 0;
  UnixMillis last_attempt_at = 0;  // 0: never
  UnixMillis last_success_at = 0;  // 0: never
  double last_duration_seconds = 0;
  int64_t last_bytes = 0;   // archive size of the last success
  std::string last_file;    // file name (no folder) of the last success
  std::string last_error;   // of the last failure; "" after a success
  std::string last_error_reason;  // its CodeName ("io_error"); "" after a success
  UnixMillis next_run_at = 0;  // 0: not scheduled
};

// Archive names the scheduler writes and prunes: "outpost-<UTC time>.obk" (as CreateBackup's
// default). Archives with other names in the folder are listed but never deleted.
bool IsScheduledArchiveName(std::string_view name);

// The first moment after `after` whose local time of day is `daily_minute` (minutes after
// midnight), in the process's time zone; daylight-saving gaps take the next valid time.
UnixMillis NextDailyRun(UnixMillis after, int daily_minute);

// Thread-safe. `keys`, `audit` (may be null: nothing audited) and `clock` must outlive it.
class BackupScheduler {
 public:
  BackupScheduler(DataLayout layout, const ApplianceKeys* keys, AuditLog* audit,
                  const Clock* clock, BackupSchedule schedule);
  ~BackupScheduler();  // stops the thread
  BackupScheduler(const BackupScheduler&) = delete;
  BackupScheduler& operator=(const BackupScheduler&) = delete;

  // Makes one backup now (whatever the schedule says, as long as a key is configured), prunes,
  // audits as `actor` and records the result. Runs are serialized: a second caller waits.
  // FailedPrecondition when no key or passphrase file is configured; otherwise CreateBackup's
  // errors and those of reading the key.
  Result<BackupSummary> RunNow(const std::string& actor = "system");

  // Runs the scheduled backup when its time has come by the clock (for the thread, and for
  // tests with a FakeClock). Returns true when it ran (whatever the outcome).
  bool RunIfDue();

  // Starts the thread that calls RunIfDue at the scheduled time; nothing when unscheduled.
  void Start();
  // Stops and joins the thread; a run in progress finishes first. Idempotent.
  void Stop();

  // Whether the configured key or passphrase can be read now (for a warning at start): OK, or
  // the error the next run would meet. FailedPrecondition when none is configured.
  Status CheckKey() const { return LoadSecret().status(); }

  BackupRunStatus status() const;
  const BackupSchedule& schedule() const { return schedule_; }
  bool scheduled() const { return schedule_.daily_minute >= 0; }

 private:
  Result<BackupSecret> LoadSecret() const;
  // Deletes scheduled archives beyond the newest `keep`; returns the names deleted.
  std::vector<std::string> Prune();
  void Loop();

  const DataLayout layout_;
  const ApplianceKeys* const keys_;
  AuditLog* const audit_;
  const Clock* const clock_;
  const BackupSchedule schedule_;

  std::mutex run_mu_;  // held for a whole run: one backup at a time

  mutable std::mutex mu_;
  std::condition_variable wake_;
  BackupRunStatus status_;  // guarded by mu_
  bool stopping_ = false;   // guarded by mu_
  std::thread thread_;
};

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_BACKUP_SCHEDULER_H_
