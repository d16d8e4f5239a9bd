#include "domain/audit_verify.h"

#include <sodium.h>

#include <vector>

#include "util/crypto.h"

namespace outpost::domain {
namespace {

constexpr size_t kHashBytes = crypto_generichash_BYTES;

// The hash before record 1.
std::string Genesis() { return std::string(kHashBytes, '\0'); }

bool SignatureValid(const AuditCheckpoint& c, const std::string& public_key) {
  if (c.signature.size() != crypto_sign_BYTES || public_key.size() != crypto_sign_PUBLICKEYBYTES) {
    return false;
  }
  const std::string msg = CheckpointMessage(c.seq, c.hash, c.ts_ms);
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(c.signature.data()),
                                     reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                                     reinterpret_cast<const unsigned char*>(public_key.data())) ==
         0;
}

// Why a checkpoint's signature does not prove anything, or "" when it does.
std::string SignatureProblem(const AuditCheckpoint& c, const std::string& public_key) {
  const std::string expected_id = KeyId(public_key);
  if (c.key_id != expected_id) {
    return "is signed by key " + c.key_id + ", not by this appliance's key " + expected_id;
  }
  if (!SignatureValid(c, public_key))
    return "has a signature that does not verify (forged or altered)";
  return "";
}

// "record 5 was" or "records 5 to 8 were".
std::string RangeWere(int64_t from, int64_t to) {
  return from == to ? "record " + std::to_string(from) + " was"
                    : "records " + std::to_string(from) + " to " + std::to_string(to) + " were";
}

// Walks the chain once, in seq order, stopping at the first problem.
class Verifier {
 public:
  Verifier(const std::string& public_key, const std::optional<ExportedCheckpoint>& external,
           std::vector<AuditCheckpoint> checkpoints)
      : public_key_(public_key), external_(external), checkpoints_(std::move(checkpoints)) {}

  // Returns false once a problem is recorded in the report.
  bool CheckExternalKey() {
    if (!external_) return true;
    const AuditCheckpoint& c = external_->checkpoint;
    if (!SignatureValid(c, external_->public_key)) {
      return Fail(AuditProblem::kBadCheckpoint, 0, c.seq,
                  "the exported checkpoint's signature does not verify (the file was altered)");
    }
    if (!ConstantTimeEquals(external_->public_key, public_key_)) {
      return Fail(AuditProblem::kKeyMismatch, 0, c.seq,
                  "the exported checkpoint was signed by key " + c.key_id +
                      ", but this appliance's key is " + KeyId(public_key_) +
                      ": the appliance's keys were replaced");
    }
    return true;
  }

  bool Record(const AuditRecord& r) {
    if (r.seq != expected_) {
      if (r.seq > expected_) {
        return Fail(AuditProblem::kMissing, expected_, 0,
                    RangeWere(expected_, r.seq - 1) + " removed: the log goes from " +
                        std::to_string(expected_ - 1) + " to " + std::to_string(r.seq));
      }
      return Fail(AuditProblem::kModified, r.seq, 0,
                  "a record has seq " + std::to_string(r.seq) + "; the log starts at 1");
    }
    const bool self_ok = r.hash.size() == kHashBytes && AuditRecordHash(r.prev_hash, r) == r.hash;
    const bool link_ok = r.prev_hash == prev_hash_;
    if (!link_ok && prev2_hash_ && r.prev_hash == *prev2_hash_) {
      // It links past its predecessor, so the predecessor was put in between.
      return Fail(AuditProblem::kInserted, r.seq - 1, 0,
                  "record " + std::to_string(r.seq - 1) + " was inserted: record " +
                      std::to_string(r.seq) + " links to record " + std::to_string(r.seq - 2));
    }
    if (!self_ok) {
      return Fail(AuditProblem::kModified, r.seq, 0,
                  "record " + std::to_string(r.seq) +
                      " does not match its hash: it was changed, or moved from another place");
    }
    if (!link_ok) {
      if (r.seq == 1) {
        return Fail(AuditProblem::kModified, 1, 0, "record 1 does not start the chain");
      }
      return Fail(AuditProblem::kModified, r.seq - 1, 0,
                  "record " + std::to_string(r.seq - 1) + " was changed and re-hashed: record " +
                      std::to_string(r.seq) + " no longer links to it");
    }
    // The exported checkpoint first: checkpoints on the appliance at the same seq must not
    // count as proof for the very records it disputes.
    if (external_ && external_->checkpoint.seq == r.seq) {
      if (external_->checkpoint.hash != r.hash) return ExternalMismatch(r);
      report_.external_checked = true;
    }
    while (next_cp_ < checkpoints_.size() && checkpoints_[next_cp_].seq <= r.seq) {
      if (!Checkpoint(checkpoints_[next_cp_++], r)) return false;
    }
    prev2_hash_ = prev_hash_;
    prev_hash_ = r.hash;
    expected_ = r.seq + 1;
    report_.records++;
    report_.last_seq = r.seq;
    return true;
  }

  // After the last record: whatever is signed beyond it was cut off.
  bool End() {
    for (; next_cp_ < checkpoints_.size(); ++next_cp_) {
      const AuditCheckpoint& c = checkpoints_[next_cp_];
      if (std::string why = SignatureProblem(c, public_key_); !why.empty()) {
        return Fail(AuditProblem::kBadCheckpoint, anchor_ + 1, c.seq,
                    "the checkpoint at record " + std::to_string(c.seq) + " " + why);
      }
      return Fail(AuditProblem::kTruncated, report_.last_seq + 1, c.seq,
                  RangeWere(report_.last_seq + 1, c.seq) + " removed: a signed checkpoint " +
                      "covers up to " + std::to_string(c.seq) + " but the log ends at " +
                      std::to_string(report_.last_seq));
    }
    if (external_ && external_->checkpoint.seq > report_.last_seq) {
      const int64_t to = external_->checkpoint.seq;
      return Fail(AuditProblem::kTruncated, report_.last_seq + 1, to,
                  RangeWere(report_.last_seq + 1, to) + " removed: the exported checkpoint " +
                      "covers up to " + std::to_string(to) + " but the log ends at " +
                      std::to_string(report_.last_seq));
    }
    return true;
  }

  VerifyReport& report() { return report_; }

 private:
  bool ExternalMismatch(const AuditRecord& r) {
    // A valid appliance signature over the rewritten hash at the same seq means the forger
    // held the key: then no checkpoint on the appliance proves anything.
    for (size_t i = next_cp_; i < checkpoints_.size() && checkpoints_[i].seq == r.seq; ++i) {
      if (checkpoints_[i].hash == r.hash &&
          SignatureProblem(checkpoints_[i], public_key_).empty()) {
        return Fail(AuditProblem::kExternalMismatch, 1, r.seq,
                    "the chain's hash at record " + std::to_string(r.seq) +
                        " differs from the exported checkpoint, and the appliance's key signed "
                        "the rewritten chain: the key is compromised and no record can be "
                        "trusted");
      }
    }
    return Fail(AuditProblem::kExternalMismatch, anchor_ + 1, r.seq,
                RangeWere(anchor_ + 1, r.seq) + " rewritten: the chain's hash at record " +
                    std::to_string(r.seq) + " differs from the exported checkpoint");
  }

  bool Checkpoint(const AuditCheckpoint& c, const AuditRecord& r) {
    if (c.seq != r.seq) {  // only a seq below 1 can be skipped over by the walk
      return Fail(AuditProblem::kBadCheckpoint, 1, c.seq,
                  "a checkpoint names record " + std::to_string(c.seq) + ", which cannot exist");
    }
    if (std::string why = SignatureProblem(c, public_key_); !why.empty()) {
      return Fail(AuditProblem::kBadCheckpoint, anchor_ + 1, c.seq,
                  "the checkpoint at record " + std::to_string(c.seq) + " " + why);
    }
    if (c.hash != r.hash) {
      return Fail(AuditProblem::kCheckpointMismatch, anchor_ + 1, c.seq,
                  RangeWere(anchor_ + 1, c.seq) + " rewritten: the chain's hash at record " +
                      std::to_string(c.seq) + " differs from the signed checkpoint");
    }
    anchor_ = c.seq;
    report_.checkpoints++;
    report_.last_checkpoint_seq = c.seq;
    return true;
  }

  bool Fail(AuditProblem problem, int64_t first_bad, int64_t checkpoint_seq, std::string detail) {
    report_.problem = problem;
    report_.first_bad_seq = first_bad;
    report_.checkpoint_seq = checkpoint_seq;
    report_.detail = std::move(detail);
    return false;
  }

  const std::string& public_key_;
  const std::optional<ExportedCheckpoint>& external_;
  const std::vector<AuditCheckpoint> checkpoints_;  // by seq
  size_t next_cp_ = 0;
  int64_t expected_ = 1;
  int64_t anchor_ = 0;  // seq of the last proven checkpoint: everything up to it is sound
  std::string prev_hash_ = Genesis();
  std::optional<std::string> prev2_hash_;  // the hash two records back, once there is one
  VerifyReport report_;
};

}  // namespace

std::string_view AuditProblemName(AuditProblem problem) {
  switch (problem) {
    case AuditProblem::kNone:
      return "none";
    case AuditProblem::kMissing:
      return "missing";
    case AuditProblem::kModified:
      return "modified";
    case AuditProblem::kInserted:
      return "inserted";
    case AuditProblem::kBadCheckpoint:
      return "bad_checkpoint";
    case AuditProblem::kCheckpointMismatch:
      return "checkpoint_mismatch";
    case AuditProblem::kTruncated:
      return "truncated";
    case AuditProblem::kExternalMismatch:
      return "external_mismatch";
    case AuditProblem::kKeyMismatch:
      return "key_mismatch";
  }
  return "modified";
}

std::string VerifyReport::Summary() const {
  if (!ok()) {
    std::string where =
        first_bad_seq > 0 ? "at record " + std::to_string(first_bad_seq) : "(checkpoint)";
    return "audit log damaged " + where + ": " + detail;
  }
  std::string s = "audit log intact: " + std::to_string(records) + " records, " +
                  std::to_string(checkpoints) + " signed checkpoints";
  if (checkpoints > 0) s += " (the last at record " + std::to_string(last_checkpoint_seq) + ")";
  if (last_seq > last_checkpoint_seq) {
    s += "; " + std::to_string(last_seq - last_checkpoint_seq) + " newer records not yet signed";
  }
  if (external_checked) s += "; matches the exported checkpoint";
  return s;
}

Result<VerifyReport> Verify(storage::Connection& conn, const std::string& public_key,
                            const std::optional<ExportedCheckpoint>& external) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES) {
    return Status::InvalidArgument("the appliance public key must be 32 bytes");
  }
  std::vector<AuditCheckpoint> checkpoints;
  {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("SELECT seq, hash, ts_ms, signature, key_id FROM audit_checkpoints "
                     "ORDER BY seq"));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      checkpoints.push_back(
          {s.ColumnInt64(0), s.ColumnBlob(1), s.ColumnInt64(2), s.ColumnBlob(3), s.ColumnText(4)});
    }
  }
  Verifier v(public_key, external, std::move(checkpoints));
  if (!v.CheckExternalKey()) return v.report();
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement s,
                           conn.Prepare(std::string("SELECT ") + kAuditRecordColumns +
                                        " FROM audit_records ORDER BY seq"));
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    if (!v.Record(ReadAuditRecord(s))) return v.report();
  }
  v.End();
  return v.report();
}

}  // namespace outpost::domain
