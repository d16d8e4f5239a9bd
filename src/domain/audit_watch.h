// What the running server watches over the audit log: its storage (an alert at 75% of the
// configured size, raised once per crossing) and the configuration it was started with (a
// config.changed record naming the keys that differ from the last start). docs/audit.md.
#ifndef OUTPOST_DOMAIN_AUDIT_WATCH_H_
#define OUTPOST_DOMAIN_AUDIT_WATCH_H_

#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "domain/audit.h"
#include "storage/database.h"
#include "util/clock.h"
#include "util/status.h"

namespace outpost::domain {

// The state key that remembers a raised storage alert, so that a restart does not raise it
// again (once per crossing, not once per start).
inline constexpr std::string_view kStorageAlertKey = "audit.storage_alert";

// The last measurement.
struct AuditStorageStatus {
  bool measured = false;   // false until the first Check, or when the size cannot be read
  int64_t size_bytes = 0;  // pages of the audit tables and indexes
  int64_t max_bytes = 0;   // [audit] max_size_mb
  double ratio = 0;        // size_bytes / max_bytes
  bool alert = false;      // at or over 75%, or unmeasurable
  UnixMillis checked_at = 0;
};

// Thread-safe. `db`, `log` and `clock` must outlive it.
class AuditStorageMonitor {
 public:
  AuditStorageMonitor(storage::Database* db, AuditLog* log, const Clock* clock, int64_t max_bytes);

  // Measures the audit tables. When the size reaches 75% of max_bytes and no alert is on
  // record, logs an error and appends audit.storage_alert (system, outcome failure, details:
  // size_bytes, max_bytes, percent) together with the remembered state, in one transaction;
  // when it is back under (a larger max_size_mb), appends audit.storage_ok the same way.
  // Returns the failure to write those (the measurement is kept either way).
  Status Check();

  AuditStorageStatus status() const;

 private:
  storage::Database* const db_;
  AuditLog* const log_;
  const Clock* const clock_;
  const int64_t max_bytes_;
  mutable std::mutex mu_;
  AuditStorageStatus status_;  // guarded by mu_
  std::mutex check_mu_;        // one Check at a time, so a crossing is recorded once
};

// The effective configuration as (key, rendered value) pairs, e.g. ("server.listen",
// "\"127.0.0.1:8443\""). Keys are unique.
using ConfigEntries = std::vector<std::pair<std::string, std::string>>;

// What AuditConfigChanges found.
struct ConfigChange {
  std::string config_hash;            // hex; keyed BLAKE2b-256 over every entry
  std::vector<std::string> changed;   // keys whose value differs from the last start
  std::vector<std::string> added;     // keys the last start did not have (an upgrade)
  std::vector<std::string> removed;   // keys it had that are gone
  bool first = false;                 // no earlier fingerprint: nothing to compare with
};

// Compares `entries` with the fingerprint stored at the last start and, when any key differs,
// appends config.changed (system; details: changed, added, removed key names and the new
// config_hash; never a value) and stores the new fingerprint in the same transaction. The
// fingerprint keeps one keyed hash per value (key: `hash_key`, e.g. derived from the master
// key), so the database never holds the values and a guess cannot be checked without the key.
// The first start only stores the fingerprint. Errors: the audit log's (refuse policy).
Result<ConfigChange> AuditConfigChanges(storage::Database* db, AuditLog* log,
                                        const ConfigEntries& entries, std::string_view hash_key);

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_AUDIT_WATCH_H_
