#include "domain/audit_watch.h"

#include <sodium.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "util/crypto.h"
#include "util/log.h"

namespace outpost::domain {
namespace {

constexpr std::string_view kConfigFingerprintKey = "audit.config_fingerprint";

// Keyed BLAKE2b-256 of `data`, raw.
std::string KeyedHash(std::string_view key, std::string_view data) {
  std::string out(crypto_generichash_BYTES, '\0');
  const size_t key_len = std::min<size_t>(key.size(), crypto_generichash_KEYBYTES_MAX);
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                     reinterpret_cast<const unsigned char*>(key.data()), key_len);
  return out;
}

// Whether a raised alert is on record. Compared in SQL: GCC 12 reports a false
// maybe-uninitialized on the std::string comparison here at -O3.
Result<bool> AlertOnRecord(storage::Connection& conn) {
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement s,
      conn.Prepare("SELECT count(*) FROM settings WHERE key = ? AND value = '1'"));
  s.Bind(1, kStorageAlertKey);
  OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
  return row && s.ColumnInt64(0) > 0;
}

}  // namespace

AuditStorageMonitor::AuditStorageMonitor(storage::Database* db, AuditLog* log, const Clock* clock,
                                         int64_t max_bytes)
    : db_(db), log_(log), clock_(clock), max_bytes_(max_bytes) {}

AuditStorageStatus AuditStorageMonitor::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

Status AuditStorageMonitor::Check() {
  std::lock_guard<std::mutex> check(check_mu_);
  AuditStorageStatus now;
  now.max_bytes = max_bytes_;
  now.checked_at = clock_->NowMillis();
  Result<int64_t> size = log_->SizeBytes();
  if (size.ok()) {
    now.measured = true;
    now.size_bytes = *size;
    now.ratio = max_bytes_ > 0 ? static_cast<double>(*size) / static_cast<double>(max_bytes_) : 0;
    now.alert = max_bytes_ > 0 && *size >= max_bytes_ - max_bytes_ / 4;
  } else {
    // An alert that stays silent when it cannot see is worse than a false one.
    now.alert = true;
    log::Error("the audit log's size cannot be measured", {{"error", size.status().ToString()}});
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_ = now;
  }

  const int percent = static_cast<int>(std::lround(now.ratio * 100));
  // Most checks change nothing: look before taking a write transaction.
  bool same = false;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(bool on_record, AlertOnRecord(conn));
    same = now.alert == on_record;
    return Status::Ok();
  }));
  if (same) return Status::Ok();
  bool recorded = false;
  Status st = db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(bool on_record, AlertOnRecord(conn));
    if (now.alert == on_record) return Status::Ok();
    AuditEvent event{"system", 0, "", now.alert ? "audit.storage_alert" : "audit.storage_ok",
                     "audit", now.alert ? AuditOutcome::kFailure : AuditOutcome::kSuccess,
                     {{"size_bytes", now.size_bytes},
                      {"max_bytes", now.max_bytes},
                      {"percent", percent},
                      {"measured", now.measured}}};
    OUTPOST_RETURN_IF_ERROR(log_->AppendIn(conn, event));
    OUTPOST_RETURN_IF_ERROR(WriteAuditState(conn, kStorageAlertKey, now.alert ? "1" : "0"));
    recorded = true;
    return Status::Ok();
  });
  if (recorded && now.alert) {
    log::Error("audit storage is at or over 75% of [audit] max_size_mb: export and archive the "
               "log, or raise the limit",
               {{"size_bytes", now.size_bytes}, {"max_bytes", now.max_bytes}, {"percent", percent}});
  } else if (recorded) {
    log::Info("audit storage is back under 75% of [audit] max_size_mb",
              {{"size_bytes", now.size_bytes}, {"max_bytes", now.max_bytes}});
  }
  return st;
}

Result<ConfigChange> AuditConfigChanges(storage::Database* db, AuditLog* log,
                                        const ConfigEntries& entries, std::string_view hash_key) {
  // A key of its own, derived from the caller's, so that the fingerprint reveals nothing about
  // any other use of that key.
  SecretString subkey(KeyedHash(hash_key, "outpost-config-fingerprint-v1"));
  nlohmann::json fingerprint = nlohmann::json::object();
  std::string all;
  for (const auto& [key, value] : entries) {
    fingerprint[key] = HexEncode(KeyedHash(subkey.value(), value));
    all += key;
    all.push_back('\0');
    all += value;
    all.push_back('\0');
  }
  ConfigChange change;
  change.config_hash = HexEncode(KeyedHash(subkey.value(), all));
  OUTPOST_RETURN_IF_ERROR(db->Write([&](storage::Connection& conn) {
    change = ConfigChange{change.config_hash, {}, {}, {}, false};
    OUTPOST_ASSIGN_OR_RETURN(std::string stored, ReadAuditState(conn, kConfigFingerprintKey));
    nlohmann::json before = stored.empty() ? nlohmann::json()
                                           : nlohmann::json::parse(stored, nullptr, false);
    const std::string text = fingerprint.dump();
    if (!before.is_object()) {
      change.first = true;
      return WriteAuditState(conn, kConfigFingerprintKey, text);
    }
    for (const auto& [key, hash] : fingerprint.items()) {
      auto it = before.find(key);
      if (it == before.end()) {
        change.added.push_back(key);
      } else if (*it != hash) {
        change.changed.push_back(key);
      }
    }
    for (const auto& [key, hash] : before.items()) {
      if (!fingerprint.contains(key)) change.removed.push_back(key);
    }
    if (change.changed.empty() && change.added.empty() && change.removed.empty()) {
      return Status::Ok();
    }
    AuditEvent event{"system", 0, "", "config.changed", "config", AuditOutcome::kSuccess,
                     {{"changed", change.changed},
                      {"added", change.added},
                      {"removed", change.removed},
                      {"config_hash", change.config_hash}}};
    OUTPOST_RETURN_IF_ERROR(log->AppendIn(conn, event));
    return WriteAuditState(conn, kConfigFingerprintKey, text);
  }));
  return change;
}

}  // namespace outpost::domain
