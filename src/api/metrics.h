// Request counters and latency histograms for /metrics (Prometheus text format 0.0.4).
#ifndef OUTPOST_API_METRICS_H_
#define OUTPOST_API_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <tuple>

namespace outpost::domain {
class AuditForwarder;
class AuditStorageMonitor;
class BackupScheduler;
}

namespace outpost::api {

// Thread-safe.
class Metrics {
 public:
  // `route` is the route's pattern name (never the raw path, which would let clients create
  // unbounded series).
  void RecordRequest(const std::string& route, const std::string& method, int status,
                     double seconds);

  // Everything recorded, plus the gauges passed in, as Prometheus exposition text.
  std::string Render(int open_connections, int64_t db_size_bytes, double uptime_seconds) const;

  // Render also shows the scheduled backups' state from now on; `backups` outlives this.
  void SetBackupScheduler(const domain::BackupScheduler* backups) { backups_ = backups; }

  // Render also shows the audit storage alert and, when `forwarder` is not null, the SIEM
  // forwarding figures. Both outlive this.
  void SetAudit(const domain::AuditStorageMonitor* storage, const domain::AuditForwarder* forwarder) {
    audit_storage_ = storage;
    audit_forwarder_ = forwarder;
  }

  static constexpr std::array<double, 12> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,   0.25,   0.5,   1.0,  2.5,   5.0};

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };
  mutable std::mutex mu_;
  std::map<std::tuple<std::string, std::string, int>, uint64_t> requests_;  // guarded by mu_
  std::map<std::string, Histogram> latency_;                                 // guarded by mu_
  std::atomic<const domain::BackupScheduler*> backups_{nullptr};
  std::atomic<const domain::AuditStorageMonitor*> audit_storage_{nullptr};
  std::atomic<const domain::AuditForwarder*> audit_forwarder_{nullptr};
};

}  // namespace outpost::api

#endif  // OUTPOST_API_METRICS_H_
