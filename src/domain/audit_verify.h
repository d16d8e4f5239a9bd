// Verification of a stored audit log: walks the whole chain and proves that nothing was
// modified, inserted, deleted, reordered or truncated, and names the first record that cannot
// be trusted. What it can prove:
//   - any change to a record, or a record moved, inserted or removed in the middle: by the chain;
//   - a chain rewritten and re-hashed up to a signed checkpoint: by that checkpoint's hash;
//   - checkpoints rewritten to match: by their ed25519 signatures (the key is needed);
//   - records cut off the end that a checkpoint covered: by that checkpoint;
//   - records cut off or rewritten after the last checkpoint on the appliance: only with a
//     checkpoint exported earlier to separate media.
#ifndef OUTPOST_DOMAIN_AUDIT_VERIFY_H_
#define OUTPOST_DOMAIN_AUDIT_VERIFY_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "domain/audit.h"
#include "storage/db.h"
#include "util/status.h"

namespace outpost::domain {

enum class AuditProblem {
  kNone,
  kMissing,             // a seq is absent: a record was deleted
  kModified,            // a record does not match its hash, or was re-hashed after a change
  kInserted,            // a record was placed between two that were linked directly
  kBadCheckpoint,       // a checkpoint's signature is wrong or from another key
  kCheckpointMismatch,  // the chain's hash at a checkpoint differs from the signed one
  kTruncated,           // a checkpoint covers records that are no longer there
  kExternalMismatch,    // the chain's hash differs from the exported checkpoint
  kKeyMismatch,         // the exported checkpoint is not from this appliance's key
};
// "missing", "modified", ... ("none" for kNone).
std::string_view AuditProblemName(AuditProblem problem);

struct VerifyReport {
  int64_t records = 0;              // records read
  int64_t last_seq = 0;             // seq of the newest record; 0 for an empty log
  int64_t checkpoints = 0;          // checkpoints whose signature and hash were proven
  int64_t last_checkpoint_seq = 0;  // newest proven checkpoint; 0 when none
  bool external_checked = false;    // an exported checkpoint was matched against the chain
  AuditProblem problem = AuditProblem::kNone;
  // The first record that cannot be trusted; 0 when intact, or when the problem is not about a
  // record (kKeyMismatch, a bad signature on the exported checkpoint). When a signed checkpoint
  // disagrees, this is the first record after the previous proven checkpoint: the hashes cannot
  // say which record in between was changed.
  int64_t first_bad_seq = 0;
  int64_t checkpoint_seq = 0;  // the checkpoint involved in a checkpoint problem
  std::string detail;          // one sentence for the operator

  bool ok() const { return problem == AuditProblem::kNone; }
  // One line: "audit log intact: ..." or "audit log damaged at record N: ...".
  std::string Summary() const;
};

// Verifies the log readable on `conn` (a read snapshot suffices) against the appliance's raw
// ed25519 `public_key`, and against `external` when given. Tampering is reported in the
// report (ok() false), not as a Status; the Status is non-OK only when the log cannot be read
// (or the key is malformed: InvalidArgument).
Result<VerifyReport> Verify(storage::Connection& conn, const std::string& public_key,
                            const std::optional<ExportedCheckpoint>& external);

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_AUDIT_VERIFY_H_
