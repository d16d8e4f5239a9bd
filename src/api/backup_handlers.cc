// Scheduled backups in the admin API: what the folder holds and how the last runs went, and a
// backup made on demand through the same path as the scheduled one.
#include <httplib.h>

#include "api/lifecycle_handlers.h"
#include "domain/backup.h"

namespace outpost::api {
namespace {

nlohmann::json TimeOrNull(UnixMillis t) { return t ? nlohmann::json(FormatIso8601(t)) : nullptr; }

nlohmann::json StatusJson(const domain::BackupScheduler& s) {
  const domain::BackupRunStatus st = s.status();
  const domain::BackupSchedule& sch = s.schedule();
  nlohmann::json at = nullptr;
  if (sch.daily_minute >= 0) {
    const int h = sch.daily_minute / 60, m = sch.daily_minute % 60;
    at = std::string{static_cast<char>('0' + h / 10), static_cast<char>('0' + h % 10), ':',
                     static_cast<char>('0' + m / 10), static_cast<char>('0' + m % 10)};
  }
  return {{"schedule", at},
          {"dir", sch.dir},
          {"keep", sch.keep},
          {"next_run_at", TimeOrNull(st.next_run_at)},
          {"runs", st.runs},
          {"failures", st.failures},
          {"last_attempt_at", TimeOrNull(st.last_attempt_at)},
          {"last_success_at", TimeOrNull(st.last_success_at)},
          {"last_duration_seconds", st.last_duration_seconds},
          {"last_bytes", st.last_bytes},
          {"last_file", st.last_file.empty() ? nlohmann::json() : nlohmann::json(st.last_file)},
          {"last_error", st.last_error.empty() ? nlohmann::json() : nlohmann::json(st.last_error)}};
}

}  // namespace

Status HandleListBackups(Call& call) {
  if (call.svc.backups == nullptr) return Status::Unavailable("backups are not available");
  const domain::BackupScheduler& s = *call.svc.backups;
  OUTPOST_ASSIGN_OR_RETURN(std::vector<domain::ListedBackup> listed,
                           domain::ListBackups(s.schedule().dir));
  nlohmann::json archives = nlohmann::json::array();
  // Newest first: names carry the UTC time, and the header's time decides between others.
  std::sort(listed.begin(), listed.end(), [](const auto& a, const auto& b) {
    return a.created_at != b.created_at ? a.created_at > b.created_at : a.name > b.name;
  });
  for (const domain::ListedBackup& b : listed) {
    archives.push_back(
        {{"name", b.name},
         {"size", b.size},
         {"created_at", TimeOrNull(b.created_at)},
         {"key", b.key_kind == domain::BackupKeyKind::kPassphrase ? "passphrase" : "key-file"},
         {"status", b.complete ? "complete" : "incomplete"},
         {"problem", b.problem.empty() ? nlohmann::json() : nlohmann::json(b.problem)},
         {"scheduled", domain::IsScheduledArchiveName(b.name)}});
  }
  SetJson(call.res, 200, {{"scheduler", StatusJson(s)}, {"backups", archives}});
  return Status::Ok();
}

Status HandleRunBackup(Call& call) {
  if (call.svc.backups == nullptr) return Status::Unavailable("backups are not available");
  const domain::BackupSchedule& sch = call.svc.backups->schedule();
  if (sch.key_file.empty() && sch.passphrase_file.empty()) {
    // Not the caller's fault and nothing they can fix over the API: 503, not 403.
    return Status::Unavailable(
        "backups by the server are not configured: set [backup] key_file or passphrase_file");
  }
  OUTPOST_ASSIGN_OR_RETURN(domain::BackupSummary made,
                           call.svc.backups->RunNow(call.principal->user.username));
  SetJson(call.res, 201,
          {{"name", made.path.substr(made.path.rfind('/') + 1)},
           {"size", made.archive_size},
           {"members", made.members},
           {"created_at", FormatIso8601(made.created_at)},
           {"scheduler", StatusJson(*call.svc.backups)}});
  return Status::Ok();
}

}  // namespace outpost::api
