#include "cli/cli_audit.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "domain/audit_forwarder.h"
#include "util/fs.h"

namespace outpost::cli {

std::string CliActor() {
  for (const char* var : {"SUDO_USER", "USER"}) {
    const char* value = std::getenv(var);
    if (value != nullptr && *value != '\0') return std::string("cli:") + value;
  }
  return "cli";
}

domain::AuditOptions AuditOptionsFor(const config::Config& cfg) {
  domain::AuditOptions o;
  o.on_failure = cfg.audit.on_failure == config::AuditOnFailure::kContinue
                     ? domain::AuditFailurePolicy::kContinue
                     : domain::AuditFailurePolicy::kRefuse;
  o.checkpoint_every_records = cfg.audit.checkpoint_every_records;
  o.checkpoint_every_ms = int64_t{cfg.audit.checkpoint_every_minutes} * 60 * 1000;
  return o;
}

std::vector<AuditDoctorLine> AuditDoctorChecks(const config::Config& cfg,
                                               storage::Connection& conn) {
  std::vector<AuditDoctorLine> lines;
  const int64_t max_bytes = int64_t{cfg.audit.max_size_mb} << 20;
  if (Result<int64_t> size = domain::AuditSizeBytes(conn); size.ok()) {
    const double mib = static_cast<double>(*size) / (1 << 20);
    const int percent = static_cast<int>(100.0 * static_cast<double>(*size) /
                                         static_cast<double>(max_bytes));
    char text[160];
    std::snprintf(text, sizeof(text), "%.1f MiB of %d MiB ([audit] max_size_mb), %d%%", mib,
                  cfg.audit.max_size_mb, percent);
    if (*size >= max_bytes - max_bytes / 4) {
      lines.push_back({1, "audit log",
                       std::string(text) + ": over the 75% alert; export and archive the log "
                                           "(outpost audit export), or raise the limit"});
    } else {
      lines.push_back({0, "audit log", text});
    }
  } else {
    lines.push_back({1, "audit log", "size unknown: " + size.status().message()});
  }

  if (!cfg.siem.enabled) {
    lines.push_back({0, "siem", "forwarding off ([siem] enabled = false)"});
    return lines;
  }
  const bool tls = cfg.siem.transport == config::SiemTransport::kTls;
  std::string target = cfg.siem.host + ":" + std::to_string(cfg.siem.port) +
                       (tls ? " (tls)" : " (tcp, unencrypted)");
  if (tls) {
    if (Result<std::string> ca = ReadFile(cfg.siem.ca_file); !ca.ok()) {
      lines.push_back({2, "siem", target + ": " + ca.status().message()});
      return lines;
    }
  }
  int64_t cursor = 0, head = 0;
  std::string down;
  Status st = [&]() -> Status {
    OUTPOST_ASSIGN_OR_RETURN(std::string c, domain::ReadAuditState(conn, domain::kForwardCursorKey));
    OUTPOST_ASSIGN_OR_RETURN(std::string d, domain::ReadAuditState(conn, domain::kForwardDownKey));
    if (!c.empty()) cursor = std::atoll(c.c_str());
    if (!d.empty()) down = FormatIso8601(std::atoll(d.c_str()));
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement s,
                             conn.Prepare("SELECT coalesce(max(seq), 0) FROM audit_records"));
    OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
    head = row ? s.ColumnInt64(0) : 0;
    return Status::Ok();
  }();
  if (!st.ok()) {
    lines.push_back({1, "siem", target + ": state unreadable: " + st.message()});
    return lines;
  }
  const std::string waiting = std::to_string(std::max<int64_t>(0, head - cursor)) +
                              " records not yet acknowledged (sent up to " +
                              std::to_string(cursor) + " of " + std::to_string(head) + ")";
  if (!down.empty()) {
    lines.push_back({1, "siem", target + " unreachable since " + down + "; " + waiting});
  } else {
    lines.push_back({0, "siem", target + ": " + waiting});
  }
  return lines;
}

CommandAudit::CommandAudit(storage::Database* db, const config::Config& cfg) {
  if (Result<domain::ApplianceKeys> keys = domain::LoadKeys(LayoutFor(cfg)); keys.ok()) {
    keys_ = std::move(*keys);
  }
  log_ = std::make_unique<domain::AuditLog>(db, SystemClock(), keys_ ? &*keys_ : nullptr,
                                            AuditOptionsFor(cfg));
}

Status CommandAudit::Record(const std::string& action, const std::string& target,
                            const Status& result, nlohmann::json details) {
  domain::AuditEvent event;
  event.actor = CliActor();
  event.action = action;
  event.target = target;
  event.outcome = result.ok() ? domain::AuditOutcome::kSuccess : domain::AuditOutcome::kFailure;
  if (!result.ok()) details["reason"] = CodeName(result.code());
  event.details = std::move(details);
  return log_->Append(event).status();
}

}  // namespace outpost::cli
