// The tamper-evident audit log (DESIGN.md decision 5). Records are append-only and hash-chained:
//   hash(n) = BLAKE2b-256(hash(n-1) || length-prefixed encoding of every field of record n)
// with 32 zero bytes before record 1. Every N records or T minutes the appliance signs a
// checkpoint (seq, hash at seq, time) with its ed25519 key, so that a rewrite of the chain needs
// the key, and an exported checkpoint on separate media pins the chain even against that.
// audit_verify.h proves a stored log intact; docs/audit.md describes the formats.
#ifndef OUTPOST_DOMAIN_AUDIT_H_
#define OUTPOST_DOMAIN_AUDIT_H_

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "domain/appliance.h"
#include "storage/database.h"
#include "util/clock.h"
#include "util/status.h"

namespace outpost::domain {

enum class AuditOutcome { kSuccess, kFailure, kDenied };
// "success", "failure", "denied".
std::string_view AuditOutcomeName(AuditOutcome outcome);

// One security-relevant event, as a caller reports it. Never put a password, token or message
// body in any field: the log is exported to SIEMs and read by auditors.
struct AuditEvent {
  std::string actor;      // user name, "system" (the server itself) or "cli[:<login>]"
  int64_t actor_id = 0;   // users.id of the actor; 0 when the actor is not an account
  std::string source_ip;  // the client's address; "" when the event did not come over the network
  std::string action;     // dotted, e.g. "auth.login", "user.disable"
  std::string target;     // what was acted on, e.g. "user:bob", "token:12"; "" when nothing
  AuditOutcome outcome = AuditOutcome::kSuccess;
  nlohmann::json details = nlohmann::json::object();  // small facts (reason codes, roles)
};

// A record as stored. `details` is the JSON text exactly as hashed.
struct AuditRecord {
  int64_t seq = 0;
  UnixMillis ts_ms = 0;
  std::string actor;
  int64_t actor_id = 0;
  std::string source_ip;
  std::string action;
  std::string target;
  std::string outcome;
  std::string details;
  std::string prev_hash;  // 32 raw bytes
  std::string hash;       // 32 raw bytes
};

// A signed statement that the chain's hash at record `seq` was `hash` at time `ts_ms`.
struct AuditCheckpoint {
  int64_t seq = 0;
  std::string hash;  // 32 raw bytes
  UnixMillis ts_ms = 0;
  std::string signature;  // 64 raw bytes, ed25519 over CheckpointMessage()
  std::string key_id;     // KeyId() of the signing public key
};

// A checkpoint carried off the appliance with the public key that signed it.
struct ExportedCheckpoint {
  AuditCheckpoint checkpoint;
  std::string public_key;  // 32 raw bytes
};

// What happens to an action when its audit record cannot be written.
enum class AuditFailurePolicy {
  kRefuse,    // the action is refused (the default: no unaudited security event)
  kContinue,  // the failure is logged and the action goes ahead
};

struct AuditOptions {
  AuditFailurePolicy on_failure = AuditFailurePolicy::kRefuse;
  int64_t checkpoint_every_records = 1000;       // N
  int64_t checkpoint_every_ms = 60 * 60 * 1000;  // T
};

// Filters for reading the log. Empty strings and unset bounds match everything.
struct AuditQuery {
  std::string actor;                // exact match
  std::string action_prefix;        // "auth." matches "auth.login" and "auth.logout"
  std::optional<UnixMillis> since;  // ts_ms >= since
  std::optional<UnixMillis> until;  // ts_ms < until
  int64_t before_seq = 0;           // seq < before_seq when > 0 (cursor for newest-first pages)
  int64_t after_seq = 0;            // seq > after_seq when > 0 (the SIEM forwarder's cursor)
  int64_t limit = 0;                // at most this many records when > 0
  bool newest_first = false;        // seq descending instead of ascending
};

// Thread-safe: the log keeps no state of its own (the chain head and the checkpoint schedule
// are read inside each write transaction, so several processes may append to one database).
// `db`, `clock` and `keys` must outlive it; `keys` may be null, and then no checkpoint is
// signed (a later writer with the key covers those records).
class AuditLog {
 public:
  AuditLog(storage::Database* db, const Clock* clock, const ApplianceKeys* keys,
           AuditOptions options = {});

  // Appends `event` in its own write transaction and signs a checkpoint in the same transaction
  // when one is due. Returns the new record's seq. When the record cannot be written: under
  // kRefuse the error (Unavailable, naming the cause), under kContinue 0 after logging it.
  Result<int64_t> Append(const AuditEvent& event);

  // The same inside the caller's write transaction on `conn`, so the record commits or rolls
  // back with the action it describes. Under kRefuse a failure is returned and the caller must
  // fail its transaction; under kContinue it is logged, undone to a savepoint (the caller's
  // own changes stay intact) and OK is returned.
  Status AppendIn(storage::Connection& conn, const AuditEvent& event);

  // For an action that runs in a transaction the log cannot join (an Accounts or Sessions call):
  // proves that a record can be written right now by writing one and rolling it back, so the
  // action is refused before it runs. Unavailable when the log refuses; always OK under
  // kContinue. The window between this and the Append that follows the action is small but not
  // zero (a disk that fills in between); AppendIn has none.
  Status Admit();

  // Signs a checkpoint over the newest record when any record is not yet covered. OK (and
  // nothing written) when the log is empty or already covered. FailedPrecondition without keys.
  Status Checkpoint();

  // Signs a checkpoint when T has passed since the last one and records are not covered; for
  // a periodic timer, so that a quiet log is still signed. OK when none is due.
  Status MaybeCheckpoint();

  // Checkpoints (as Checkpoint()) and returns the newest checkpoint with the public key, for
  // separate media. FailedPrecondition when the log is empty or there are no keys.
  Result<ExportedCheckpoint> ExportCheckpoint();

  // Calls `fn` for each matching record, in seq order (or reverse), on a read snapshot; stops
  // at the first non-OK Status from `fn` and returns it.
  Status Scan(const AuditQuery& query, const std::function<Status(const AuditRecord&)>& fn);
  // The matching records; an empty vector when none match.
  Result<std::vector<AuditRecord>> Query(const AuditQuery& query);

  // Bytes of database pages held by the audit tables and their indexes.
  Result<int64_t> SizeBytes();
  // True when SizeBytes() is at or above 75% of `max_bytes` (the storage alert), or cannot be
  // measured (an alert that stays silent when it cannot see is worse than a false one).
  bool OverThreshold(int64_t max_bytes);

  // The newest record's seq; 0 when the log is empty.
  Result<int64_t> HeadSeq();

  // `fn` runs after every record Append() commits (not AppendIn, whose commit is the caller's),
  // on the appending thread; it must be quick (the SIEM forwarder's wake-up). Set it before
  // the log is shared between threads; not thread-safe itself.
  void set_on_append(std::function<void()> fn) { on_append_ = std::move(fn); }

  const AuditOptions& options() const { return options_; }

 private:
  Status AppendLocked(storage::Connection& conn, const AuditEvent& event, bool may_checkpoint,
                      int64_t* seq);
  Status CheckpointLocked(storage::Connection& conn, bool only_when_due);
  Status Tolerate(const Status& failure, const AuditEvent& event);

  storage::Database* const db_;
  const Clock* const clock_;
  const ApplianceKeys* const keys_;
  const AuditOptions options_;
  std::function<void()> on_append_;  // set once before sharing; may be empty
};

// Bytes of database pages held by the audit tables and their indexes (AuditLog::SizeBytes on
// a connection the caller holds, e.g. a read-only one in `outpost doctor`).
Result<int64_t> AuditSizeBytes(storage::Connection& conn);

// Small named values that the audit machinery keeps next to the log, in the `settings` table
// (the SIEM forwarder's cursor, the storage alert's state, the last configuration fingerprint).
// Keys start with "audit.". Read: "" when the key was never written (no value is ever "").
Result<std::string> ReadAuditState(storage::Connection& conn, std::string_view key);
Status WriteAuditState(storage::Connection& conn, std::string_view key, std::string_view value);

// The columns of audit_records in AuditRecord order, and the reader of one row selected with
// them; shared with the verifier so the two never disagree on the layout.
extern const char* const kAuditRecordColumns;
AuditRecord ReadAuditRecord(const storage::Statement& row);

// BLAKE2b-256(prev_hash || encoding of the record's fields); the record's own hash fields are
// not read. Exposed for the verifier and for tests that forge records.
std::string AuditRecordHash(std::string_view prev_hash, const AuditRecord& record);

// The bytes a checkpoint signature covers (a domain-separation tag, seq, hash, ts).
std::string CheckpointMessage(int64_t seq, std::string_view hash, UnixMillis ts_ms);

// A short name for a public key: hex of the first 8 bytes of its BLAKE2b-256 hash.
std::string KeyId(std::string_view public_key);

// The JSON form of a record (JSON Lines export and the API): times in ISO 8601 UTC, details
// parsed back into an object (a string when it is not valid JSON), hashes in hex.
nlohmann::json AuditRecordJson(const AuditRecord& record);

// The exported checkpoint file, and its parser. InvalidArgument naming the first bad field.
nlohmann::json ExportedCheckpointJson(const ExportedCheckpoint& exported);
Result<ExportedCheckpoint> ParseExportedCheckpoint(std::string_view text);

// Parses "2026-11-23", "2026-11-23T01:02:03Z", "2026-11-23T01:02:03.456+01:00" (no zone: UTC)
// into Unix milliseconds. InvalidArgument with the expected form otherwise.
Result<UnixMillis> ParseIso8601(std::string_view text);

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_AUDIT_H_
