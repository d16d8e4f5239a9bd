#include "domain/audit.h"

#include <sodium.h>

#include <cctype>
#include <cstdio>
#include <ctime>

#include "util/crypto.h"
#include "util/log.h"

namespace outpost::domain {
namespace {

constexpr size_t kHashBytes = crypto_generichash_BYTES;  // 32
static_assert(kHashBytes == 32, "the chain uses BLAKE2b-256");
// The same key signs backup manifests: a tag keeps one kind of signature from passing as the
// other.
constexpr std::string_view kCheckpointTag = "outpost-audit-checkpoint-v1";
constexpr std::string_view kExportFormat = "outpost-audit-checkpoint/1";

void PutU64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

// Every field is its length (8 bytes, big-endian) and its bytes, so that no two different
// records encode alike ("ab","c" vs "a","bc").
void PutField(std::string* out, std::string_view bytes) {
  PutU64(out, bytes.size());
  out->append(bytes);
}

void PutInt(std::string* out, int64_t v) {
  std::string be;
  PutU64(&be, static_cast<uint64_t>(v));
  PutField(out, be);
}

std::string Blake2b256(std::string_view data) {
  std::string out(kHashBytes, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(data.data()), data.size(), nullptr, 0);
  return out;
}

bool HexDecode(std::string_view hex, size_t bytes, std::string* out) {
  if (hex.size() != bytes * 2) return false;
  out->assign(bytes, '\0');
  size_t len = 0;
  return sodium_hex2bin(reinterpret_cast<unsigned char*>(out->data()), out->size(), hex.data(),
                        hex.size(), nullptr, &len, nullptr) == 0 &&
         len == bytes;
}

Status Refused(const Status& cause) {
  return Status::Unavailable("the audit log cannot be written (" + cause.ToString() +
                             "), so the action is refused");
}

}  // namespace

const char* const kAuditRecordColumns =
    "seq, ts_ms, actor, actor_id, source_ip, action, target, outcome, details, prev_hash, hash";

AuditRecord ReadAuditRecord(const storage::Statement& s) {
  AuditRecord r;
  r.seq = s.ColumnInt64(0);
  r.ts_ms = s.ColumnInt64(1);
  r.actor = s.ColumnText(2);
  r.actor_id = s.ColumnInt64(3);
  r.source_ip = s.ColumnText(4);
  r.action = s.ColumnText(5);
  r.target = s.ColumnText(6);
  r.outcome = s.ColumnText(7);
  r.details = s.ColumnText(8);
  r.prev_hash = s.ColumnBlob(9);
  r.hash = s.ColumnBlob(10);
  return r;
}

std::string_view AuditOutcomeName(AuditOutcome outcome) {
  switch (outcome) {
    case AuditOutcome::kSuccess:
      return "success";
    case AuditOutcome::kFailure:
      return "failure";
    case AuditOutcome::kDenied:
      return "denied";
  }
  return "failure";
}

std::string AuditRecordHash(std::string_view prev_hash, const AuditRecord& r) {
  std::string buf(prev_hash);
  PutInt(&buf, r.seq);
  PutInt(&buf, r.ts_ms);
  PutField(&buf, r.actor);
  PutInt(&buf, r.actor_id);
  PutField(&buf, r.source_ip);
  PutField(&buf, r.action);
  PutField(&buf, r.target);
  PutField(&buf, r.outcome);
  PutField(&buf, r.details);
  return Blake2b256(buf);
}

std::string CheckpointMessage(int64_t seq, std::string_view hash, UnixMillis ts_ms) {
  std::string msg;
  PutField(&msg, kCheckpointTag);
  PutInt(&msg, seq);
  PutField(&msg, hash);
  PutInt(&msg, ts_ms);
  return msg;
}

std::string KeyId(std::string_view public_key) {
  return HexEncode(Blake2b256(public_key).substr(0, 8));
}

AuditLog::AuditLog(storage::Database* db, const Clock* clock, const ApplianceKeys* keys,
                   AuditOptions options)
    : db_(db), clock_(clock), keys_(keys), options_(options) {}

Status AuditLog::AppendLocked(storage::Connection& conn, const AuditEvent& event,
                              bool may_checkpoint, int64_t* seq) {
  AuditRecord r;
  r.prev_hash.assign(kHashBytes, '\0');
  {
    // Read inside the write transaction: another writer (a CLI command next to the server)
    // cannot slip a record in between, so the chain stays linear.
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement head,
        conn.Prepare("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"));
    OUTPOST_ASSIGN_OR_RETURN(bool found, head.Step());
    if (found) {
      r.seq = head.ColumnInt64(0);
      r.prev_hash = head.ColumnBlob(1);
    }
  }
  r.seq += 1;
  r.ts_ms = clock_->NowMillis();
  r.actor = event.actor;
  r.actor_id = event.actor_id;
  r.source_ip = event.source_ip;
  r.action = event.action;
  r.target = event.target;
  r.outcome = std::string(AuditOutcomeName(event.outcome));
  const nlohmann::json details =
      event.details.is_object() ? event.details : nlohmann::json{{"value", event.details}};
  r.details = details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.hash = AuditRecordHash(r.prev_hash, r);

  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement insert,
      conn.Prepare(std::string("INSERT INTO audit_records(") + kAuditRecordColumns +
                   ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
  insert.Bind(1, r.seq).Bind(2, r.ts_ms).Bind(3, r.actor).Bind(4, r.actor_id);
  insert.Bind(5, r.source_ip).Bind(6, r.action).Bind(7, r.target).Bind(8, r.outcome);
  insert.Bind(9, r.details).BindBlob(10, r.prev_hash).BindBlob(11, r.hash);
  OUTPOST_RETURN_IF_ERROR(insert.Run());
  *seq = r.seq;
  if (may_checkpoint && keys_ != nullptr) return CheckpointLocked(conn, /*only_when_due=*/true);
  return Status::Ok();
}

Status AuditLog::CheckpointLocked(storage::Connection& conn, bool only_when_due) {
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement head,
      conn.Prepare("SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"));
  OUTPOST_ASSIGN_OR_RETURN(bool any, head.Step());
  if (!any) return Status::Ok();
  const int64_t head_seq = head.ColumnInt64(0);
  const std::string head_hash = head.ColumnBlob(1);

  // The schedule lives in the database, not in memory, so a restart or a second process
  // neither resets it nor doubles it.
  int64_t covered = 0;
  std::optional<UnixMillis> since;
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement last,
      conn.Prepare("SELECT seq, ts_ms FROM audit_checkpoints ORDER BY seq DESC LIMIT 1"));
  OUTPOST_ASSIGN_OR_RETURN(bool have_last, last.Step());
  if (have_last) {
    covered = last.ColumnInt64(0);
    since = last.ColumnInt64(1);
  }
  if (covered >= head_seq) return Status::Ok();
  const UnixMillis now = clock_->NowMillis();
  if (only_when_due) {
    if (!since) {
      // Never signed: count time from the first record, the oldest one left uncovered.
      OUTPOST_ASSIGN_OR_RETURN(
          storage::Statement first,
          conn.Prepare("SELECT ts_ms FROM audit_records ORDER BY seq LIMIT 1"));
      OUTPOST_ASSIGN_OR_RETURN(bool have_first, first.Step());
      since = have_first ? first.ColumnInt64(0) : now;
    }
    bool due = head_seq - covered >= options_.checkpoint_every_records ||
               now - *since >= options_.checkpoint_every_ms;
    if (!due) return Status::Ok();
  }
  if (keys_ == nullptr) {
    return Status::FailedPrecondition("the audit log has no signing key to sign checkpoints with");
  }
  const std::string msg = CheckpointMessage(head_seq, head_hash, now);
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(
      reinterpret_cast<unsigned char*>(sig.data()), nullptr,
      reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
      reinterpret_cast<const unsigned char*>(keys_->signing_secret.value().data()));
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement insert,
      conn.Prepare("INSERT INTO audit_checkpoints(seq, hash, ts_ms, signature, key_id) "
                   "VALUES(?, ?, ?, ?, ?)"));
  insert.Bind(1, head_seq).BindBlob(2, head_hash).Bind(3, now).BindBlob(4, sig);
  insert.Bind(5, KeyId(keys_->signing_public));
  return insert.Run();
}

Status AuditLog::Tolerate(const Status& failure, const AuditEvent& event) {
  if (options_.on_failure == AuditFailurePolicy::kRefuse) return Refused(failure);
  log::Error("audit record lost; continuing as configured",
             {{"action", event.action}, {"actor", event.actor}, {"error", failure.ToString()}});
  return Status::Ok();
}

Result<int64_t> AuditLog::Append(const AuditEvent& event) {
  int64_t seq = 0;
  Status st =
      db_->Write([&](storage::Connection& conn) { return AppendLocked(conn, event, true, &seq); });
  if (st.ok()) {
    if (on_append_) on_append_();
    return seq;
  }
  OUTPOST_RETURN_IF_ERROR(Tolerate(st, event));
  return int64_t{0};
}

Status AuditLog::AppendIn(storage::Connection& conn, const AuditEvent& event) {
  // A savepoint confines a failed append: under kContinue the caller's own changes commit
  // without a half-written record, whatever the statement that failed left behind.
  OUTPOST_RETURN_IF_ERROR(conn.Exec("SAVEPOINT audit_append"));
  int64_t seq = 0;
  Status st = AppendLocked(conn, event, true, &seq);
  if (st.ok()) return conn.Exec("RELEASE audit_append");
  (void)conn.Exec("ROLLBACK TO audit_append");
  (void)conn.Exec("RELEASE audit_append");
  return Tolerate(st, event);
}

Status AuditLog::Admit() {
  if (options_.on_failure == AuditFailurePolicy::kContinue) return Status::Ok();
  AuditEvent probe{"system", 0, "", "audit.probe", "", AuditOutcome::kSuccess, {}};
  bool written = false;
  Status st = db_->Write([&](storage::Connection& conn) {
    int64_t seq = 0;
    OUTPOST_RETURN_IF_ERROR(AppendLocked(conn, probe, /*may_checkpoint=*/false, &seq));
    written = true;
    return Status::Internal("probe written; rolled back on purpose");
  });
  if (written) return Status::Ok();
  return Refused(st);
}

Status AuditLog::Checkpoint() {
  if (keys_ == nullptr) {
    return Status::FailedPrecondition("the audit log has no signing key to sign checkpoints with");
  }
  return db_->Write([&](storage::Connection& conn) { return CheckpointLocked(conn, false); });
}

Status AuditLog::MaybeCheckpoint() {
  if (keys_ == nullptr) return Status::Ok();
  return db_->Write([&](storage::Connection& conn) { return CheckpointLocked(conn, true); });
}

Result<ExportedCheckpoint> AuditLog::ExportCheckpoint() {
  OUTPOST_RETURN_IF_ERROR(Checkpoint());
  ExportedCheckpoint out;
  bool found = false;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("SELECT seq, hash, ts_ms, signature, key_id FROM audit_checkpoints "
                     "ORDER BY seq DESC LIMIT 1"));
    OUTPOST_ASSIGN_OR_RETURN(found, s.Step());
    if (found) {
      out.checkpoint = {s.ColumnInt64(0), s.ColumnBlob(1), s.ColumnInt64(2), s.ColumnBlob(3),
                        s.ColumnText(4)};
    }
    return Status::Ok();
  }));
  if (!found) return Status::FailedPrecondition("the audit log is empty: nothing to checkpoint");
  out.public_key = keys_->signing_public;
  return out;
}

Status AuditLog::Scan(const AuditQuery& q, const std::function<Status(const AuditRecord&)>& fn) {
  std::string sql = std::string("SELECT ") + kAuditRecordColumns + " FROM audit_records WHERE 1";
  if (!q.actor.empty()) sql += " AND actor = ? COLLATE NOCASE";
  if (!q.action_prefix.empty()) sql += " AND substr(action, 1, length(?)) = ?";
  if (q.since) sql += " AND ts_ms >= ?";
  if (q.until) sql += " AND ts_ms < ?";
  if (q.before_seq > 0) sql += " AND seq < ?";
  if (q.after_seq > 0) sql += " AND seq > ?";
  sql += q.newest_first ? " ORDER BY seq DESC" : " ORDER BY seq";
  if (q.limit > 0) sql += " LIMIT ?";
  return db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement s, conn.Prepare(sql));
    int i = 0;
    if (!q.actor.empty()) s.Bind(++i, q.actor);
    if (!q.action_prefix.empty()) {
      s.Bind(++i, q.action_prefix);
      s.Bind(++i, q.action_prefix);
    }
    if (q.since) s.Bind(++i, *q.since);
    if (q.until) s.Bind(++i, *q.until);
    if (q.before_seq > 0) s.Bind(++i, q.before_seq);
    if (q.after_seq > 0) s.Bind(++i, q.after_seq);
    if (q.limit > 0) s.Bind(++i, q.limit);
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) return Status::Ok();
      OUTPOST_RETURN_IF_ERROR(fn(ReadAuditRecord(s)));
    }
  });
}

Result<std::vector<AuditRecord>> AuditLog::Query(const AuditQuery& query) {
  std::vector<AuditRecord> out;
  OUTPOST_RETURN_IF_ERROR(Scan(query, [&](const AuditRecord& r) {
    out.push_back(r);
    return Status::Ok();
  }));
  return out;
}

Result<int64_t> AuditLog::HeadSeq() {
  int64_t seq = 0;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement s,
                             conn.Prepare("SELECT coalesce(max(seq), 0) FROM audit_records"));
    OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
    seq = row ? s.ColumnInt64(0) : 0;
    return Status::Ok();
  }));
  return seq;
}

Result<std::string> ReadAuditState(storage::Connection& conn, std::string_view key) {
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement s,
                           conn.Prepare("SELECT value FROM settings WHERE key = ?"));
  s.Bind(1, key);
  OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.ColumnText(0) : std::string();
}

Status WriteAuditState(storage::Connection& conn, std::string_view key, std::string_view value) {
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement s,
      conn.Prepare("INSERT INTO settings(key, value) VALUES(?, ?) "
                   "ON CONFLICT(key) DO UPDATE SET value = excluded.value"));
  s.Bind(1, key).Bind(2, value);
  return s.Run();
}

Result<int64_t> AuditSizeBytes(storage::Connection& conn) {
  Result<storage::Statement> pages = conn.Prepare(
      "SELECT coalesce(sum(pgsize), 0) FROM dbstat "
      "WHERE name LIKE 'audit\\_%' ESCAPE '\\' "
      "OR name LIKE 'sqlite\\_autoindex\\_audit\\_%' ESCAPE '\\'");
  if (!pages.ok()) {
    // An SQLite built without the dbstat table: estimate from the stored bytes.
    pages = conn.Prepare(
        "SELECT (SELECT coalesce(sum(length(actor) + length(source_ip) + length(action) + "
        "length(target) + length(outcome) + length(details) + 100), 0) FROM audit_records) + "
        "(SELECT count(*) * 150 FROM audit_checkpoints)");
  }
  if (!pages.ok()) return pages.status();
  OUTPOST_ASSIGN_OR_RETURN(bool row, pages->Step());
  return row ? pages->ColumnInt64(0) : int64_t{0};
}

Result<int64_t> AuditLog::SizeBytes() {
  int64_t bytes = 0;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(bytes, AuditSizeBytes(conn));
    return Status::Ok();
  }));
  return bytes;
}

bool AuditLog::OverThreshold(int64_t max_bytes) {
  if (max_bytes <= 0) return false;
  Result<int64_t> size = SizeBytes();
  if (!size.ok()) return true;
  return *size >= max_bytes - max_bytes / 4;
}

nlohmann::json AuditRecordJson(const AuditRecord& r) {
  nlohmann::json details = nlohmann::json::parse(r.details, nullptr, /*allow_exceptions=*/false);
  if (details.is_discarded()) details = r.details;
  return {{"seq", r.seq},
          {"time", FormatIso8601(r.ts_ms)},
          {"ts_ms", r.ts_ms},
          {"actor", r.actor},
          {"actor_id", r.actor_id},
          {"source_ip", r.source_ip},
          {"action", r.action},
          {"target", r.target},
          {"outcome", r.outcome},
          {"details", details},
          {"hash", HexEncode(r.hash)}};
}

nlohmann::json ExportedCheckpointJson(const ExportedCheckpoint& e) {
  const AuditCheckpoint& c = e.checkpoint;
  return {{"format", kExportFormat},
          {"seq", c.seq},
          {"hash", HexEncode(c.hash)},
          {"ts_ms", c.ts_ms},
          {"time", FormatIso8601(c.ts_ms)},
          {"signature", HexEncode(c.signature)},
          {"key_id", c.key_id},
          {"public_key", HexEncode(e.public_key)}};
}

Result<ExportedCheckpoint> ParseExportedCheckpoint(std::string_view text) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument("the checkpoint file is not a JSON object");
  }
  auto bad = [](const char* field) {
    return Status::InvalidArgument(std::string("the checkpoint file has no valid '") + field + "'");
  };
  if (!j.contains("format") || j["format"] != kExportFormat) return bad("format");
  ExportedCheckpoint e;
  AuditCheckpoint& c = e.checkpoint;
  if (!j.contains("seq") || !j["seq"].is_number_integer() || j["seq"].get<int64_t>() < 1) {
    return bad("seq");
  }
  c.seq = j["seq"].get<int64_t>();
  if (!j.contains("ts_ms") || !j["ts_ms"].is_number_integer()) return bad("ts_ms");
  c.ts_ms = j["ts_ms"].get<int64_t>();
  struct HexField {
    const char* name;
    size_t bytes;
    std::string* out;
  };
  for (const HexField& f : {HexField{"hash", kHashBytes, &c.hash},
                            HexField{"signature", crypto_sign_BYTES, &c.signature},
                            HexField{"public_key", crypto_sign_PUBLICKEYBYTES, &e.public_key}}) {
    if (!j.contains(f.name) || !j[f.name].is_string() ||
        !HexDecode(j[f.name].get<std::string>(), f.bytes, f.out)) {
      return bad(f.name);
    }
  }
  c.key_id = KeyId(e.public_key);
  return e;
}

Result<UnixMillis> ParseIso8601(std::string_view text) {
  const Status bad = Status::InvalidArgument(
      "'" + std::string(text) +
      "' is not a time in the form 2026-11-23 or 2026-11-23T01:02:03[.456][Z|+01:00]");
  std::string s(text);
  int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0, consumed = 0;
  if (std::sscanf(s.c_str(), "%4d-%2d-%2d%n", &year, &mon, &day, &consumed) != 3 ||
      consumed != 10) {
    return bad;
  }
  size_t pos = 10;
  int64_t millis = 0;
  int64_t offset_min = 0;
  if (pos < s.size()) {
    if ((s[pos] != 'T' && s[pos] != ' ') ||
        std::sscanf(s.c_str() + pos + 1, "%2d:%2d:%2d%n", &hour, &min, &sec, &consumed) != 3 ||
        consumed != 8) {
      return bad;
    }
    pos += 9;
    if (pos < s.size() && s[pos] == '.') {
      int digits = 0;
      for (++pos; pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos])); ++pos) {
        if (digits++ < 3) millis = millis * 10 + (s[pos] - '0');
      }
      if (digits == 0) return bad;
      for (; digits < 3; ++digits) millis *= 10;
    }
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
      ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
      int oh = 0, om = 0;
      if (std::sscanf(s.c_str() + pos + 1, "%2d:%2d%n", &oh, &om, &consumed) != 2 ||
          consumed != 5 || oh > 23 || om > 59) {
        return bad;
      }
      offset_min = (s[pos] == '+' ? 1 : -1) * (oh * 60 + om);
      pos += 6;
    }
    if (pos != s.size()) return bad;
  }
  if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) return bad;
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = mon - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = min;
  tm.tm_sec = sec;
  time_t t = timegm(&tm);
  if (tm.tm_mday != day) return bad;  // timegm normalized an impossible date (Feb 30)
  return (static_cast<int64_t>(t) - offset_min * 60) * 1000 + millis;
}

}  // namespace outpost::domain
