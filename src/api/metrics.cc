#include "api/metrics.h"

#include <cstdio>
#include <sstream>

#include "domain/audit_forwarder.h"
#include "domain/audit_watch.h"
#include "domain/backup_scheduler.h"

namespace outpost::api {
namespace {

// Label values are route names and methods we chose ourselves, but escape anyway.
std::string Escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

std::string Num(double v) {
  char buf[64];
  snprintf(buf, sizeof(buf), "%.17g", v);
  return buf;
}

}  // namespace

void Metrics::RecordRequest(const std::string& route, const std::string& method, int status,
                            double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{route, method, status}];
  Histogram& h = latency_[route];
  for (size_t i = 0; i < kBuckets.size(); ++i) {
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  }
  ++h.count;
  h.sum += seconds;
}

std::string Metrics::Render(int open_connections, int64_t db_size_bytes,
                            double uptime_seconds) const {
  std::ostringstream out;
  out << "# HELP outpost_http_requests_total HTTP requests served, by route, method and status.\n"
      << "# TYPE outpost_http_requests_total counter\n";
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [key, n] : requests_) {
    const auto& [route, method, status] = key;
    out << "outpost_http_requests_total{route=\"" << Escape(route) << "\",method=\""
        << Escape(method) << "\",status=\"" << status << "\"} " << n << "\n";
  }
  out << "# HELP outpost_http_request_duration_seconds Time to serve a request, by route.\n"
      << "# TYPE outpost_http_request_duration_seconds histogram\n";
  for (const auto& [route, h] : latency_) {
    std::string r = Escape(route);
    for (size_t i = 0; i < kBuckets.size(); ++i) {
      out << "outpost_http_request_duration_seconds_bucket{route=\"" << r << "\",le=\""
          << Num(kBuckets[i]) << "\"} " << h.buckets[i] << "\n";
    }
    out << "outpost_http_request_duration_seconds_bucket{route=\"" << r << "\",le=\"+Inf\"} "
        << h.count << "\n";
    out << "outpost_http_request_duration_seconds_sum{route=\"" << r << "\"} " << Num(h.sum)
        << "\n";
    out << "outpost_http_request_duration_seconds_count{route=\"" << r << "\"} " << h.count
        << "\n";
  }
  out << "# HELP outpost_open_connections TLS connections open now.\n"
      << "# TYPE outpost_open_connections gauge\n"
      << "outpost_open_connections " << open_connections << "\n"
      << "# HELP outpost_db_size_bytes Size of the database file and its write-ahead log.\n"
      << "# TYPE outpost_db_size_bytes gauge\n"
      << "outpost_db_size_bytes " << db_size_bytes << "\n"
      << "# HELP outpost_uptime_seconds Seconds since the server started.\n"
      << "# TYPE outpost_uptime_seconds gauge\n"
      << "outpost_uptime_seconds " << Num(uptime_seconds) << "\n";
  if (const domain::BackupScheduler* backups = backups_.load()) {
    const domain::BackupRunStatus s = backups->status();
    out << "# HELP outpost_backup_scheduled 1 when [backup] schedule makes a daily backup.\n"
        << "# TYPE outpost_backup_scheduled gauge\n"
        << "outpost_backup_scheduled " << (backups->scheduled() ? 1 : 0) << "\n"
        << "# HELP outpost_backup_runs_total Backups the server made or tried since it started.\n"
        << "# TYPE outpost_backup_runs_total counter\n"
        << "outpost_backup_runs_total " << s.runs << "\n"
        << "# HELP outpost_backup_failures_total Backups that failed since the server started.\n"
        << "# TYPE outpost_backup_failures_total counter\n"
        << "outpost_backup_failures_total " << s.failures << "\n"
        << "# HELP outpost_backup_last_success_timestamp_seconds When the last backup succeeded "
           "(0: none since start).\n"
        << "# TYPE outpost_backup_last_success_timestamp_seconds gauge\n"
        << "outpost_backup_last_success_timestamp_seconds "
        << Num(static_cast<double>(s.last_success_at) / 1000.0) << "\n"
        << "# HELP outpost_backup_last_duration_seconds How long the last backup took.\n"
        << "# TYPE outpost_backup_last_duration_seconds gauge\n"
        << "outpost_backup_last_duration_seconds " << Num(s.last_duration_seconds) << "\n"
        << "# HELP outpost_backup_last_size_bytes Archive size of the last successful backup.\n"
        << "# TYPE outpost_backup_last_size_bytes gauge\n"
        << "outpost_backup_last_size_bytes " << s.last_bytes << "\n"
        << "# HELP outpost_backup_last_failed 1 when the last backup failed (see the admin API "
           "for the error).\n"
        << "# TYPE outpost_backup_last_failed gauge\n"
        << "outpost_backup_last_failed " << (s.last_error.empty() ? 0 : 1) << "\n";
    if (!s.last_error_reason.empty()) {
      out << "# HELP outpost_backup_last_error_info Why the last backup failed (a status code).\n"
          << "# TYPE outpost_backup_last_error_info gauge\n"
          << "outpost_backup_last_error_info{reason=\"" << Escape(s.last_error_reason)
          << "\"} 1\n";
    }
  }
  if (const domain::AuditStorageMonitor* storage = audit_storage_.load()) {
    const domain::AuditStorageStatus a = storage->status();
    out << "# HELP outpost_audit_storage_bytes Database pages held by the audit log.\n"
        << "# TYPE outpost_audit_storage_bytes gauge\n"
        << "outpost_audit_storage_bytes " << a.size_bytes << "\n"
        << "# HELP outpost_audit_storage_max_bytes The audit log's budget ([audit] max_size_mb).\n"
        << "# TYPE outpost_audit_storage_max_bytes gauge\n"
        << "outpost_audit_storage_max_bytes " << a.max_bytes << "\n"
        << "# HELP outpost_audit_storage_ratio Audit log size over its budget (alert at 0.75).\n"
        << "# TYPE outpost_audit_storage_ratio gauge\n"
        << "outpost_audit_storage_ratio " << Num(a.ratio) << "\n"
        << "# HELP outpost_audit_storage_alert 1 when the audit log uses 75% or more of its "
           "budget, or its size cannot be measured.\n"
        << "# TYPE outpost_audit_storage_alert gauge\n"
        << "outpost_audit_storage_alert " << (a.alert ? 1 : 0) << "\n";
  }
  const domain::AuditForwarder* forwarder = audit_forwarder_.load();
  out << "# HELP outpost_audit_forward_enabled 1 when audit records are forwarded to a SIEM.\n"
      << "# TYPE outpost_audit_forward_enabled gauge\n"
      << "outpost_audit_forward_enabled " << (forwarder != nullptr ? 1 : 0) << "\n";
  if (forwarder != nullptr) {
    const domain::ForwarderStatus f = forwarder->status();
    out << "# HELP outpost_audit_forward_connected 1 while connected to the SIEM.\n"
        << "# TYPE outpost_audit_forward_connected gauge\n"
        << "outpost_audit_forward_connected " << (f.connected ? 1 : 0) << "\n"
        << "# HELP outpost_audit_forward_down 1 during a recorded SIEM outage.\n"
        << "# TYPE outpost_audit_forward_down gauge\n"
        << "outpost_audit_forward_down " << (f.down ? 1 : 0) << "\n"
        << "# HELP outpost_audit_forward_cursor Newest audit seq the SIEM acknowledged.\n"
        << "# TYPE outpost_audit_forward_cursor gauge\n"
        << "outpost_audit_forward_cursor " << f.cursor << "\n"
        << "# HELP outpost_audit_forward_lag_records Audit records not yet acknowledged by the "
           "SIEM.\n"
        << "# TYPE outpost_audit_forward_lag_records gauge\n"
        << "outpost_audit_forward_lag_records " << f.lag << "\n"
        << "# HELP outpost_audit_forward_last_success_timestamp_seconds When the SIEM last "
           "acknowledged a record (0: not since start).\n"
        << "# TYPE outpost_audit_forward_last_success_timestamp_seconds gauge\n"
        << "outpost_audit_forward_last_success_timestamp_seconds "
        << Num(static_cast<double>(f.last_success) / 1000.0) << "\n"
        << "# HELP outpost_audit_forward_sent_total Syslog messages written (resends "
           "included).\n"
        << "# TYPE outpost_audit_forward_sent_total counter\n"
        << "outpost_audit_forward_sent_total " << f.sent << "\n"
        << "# HELP outpost_audit_forward_failures_total Failed connects and broken "
           "connections.\n"
        << "# TYPE outpost_audit_forward_failures_total counter\n"
        << "outpost_audit_forward_failures_total " << f.failures << "\n";
  }
  return out.str();
}

}  // namespace outpost::api
