#include "domain/audit_forwarder.h"

#include <algorithm>
#include <charconv>

#include "util/crypto.h"
#include "util/log.h"

namespace outpost::domain {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Frames are gathered into writes of about this size: one TLS record and one acknowledgement
// boundary each, instead of one per record.
constexpr size_t kWriteChunkBytes = 64 * 1024;
// The cursor is saved at most this often while records flow (and always when idle or on stop);
// a crash in between only means a few records are sent again.
constexpr auto kSaveEvery = std::chrono::seconds(1);

// RFC 5424 PRINTUSASCII (33..126), at most `max` characters; "-" when nothing is left.
std::string PrintUsAscii(std::string_view text, size_t max) {
  std::string out;
  for (unsigned char c : text) {
    if (out.size() == max) break;
    out.push_back(c >= 33 && c <= 126 ? static_cast<char>(c) : '_');
  }
  return out.empty() ? "-" : out;
}

// An SD-PARAM value: '"', '\' and ']' escaped with '\' (RFC 5424 section 6.3.3).
std::string ParamValue(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\' || c == ']') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

int Severity(std::string_view outcome) {
  return outcome == "success" ? 5 /* notice */ : 4 /* warning */;
}

}  // namespace

std::string SyslogMessage(const AuditRecord& r, const SyslogFormat& f) {
  const int pri = std::clamp(f.facility, 0, 23) * 8 + Severity(r.outcome);
  std::string m = "<" + std::to_string(pri) + ">1 " + FormatIso8601(r.ts_ms) + " " +
                  PrintUsAscii(f.hostname, 255) + " " + PrintUsAscii(f.app_name, 48) + " - " +
                  PrintUsAscii(r.action, 32) + " [outpost@32473";
  auto param = [&m](std::string_view name, std::string_view value) {
    m.append(" ").append(name).append("=\"").append(ParamValue(value)).append("\"");
  };
  param("seq", std::to_string(r.seq));
  param("ts_ms", std::to_string(r.ts_ms));
  param("actor", r.actor);
  param("actor_id", std::to_string(r.actor_id));
  param("source_ip", r.source_ip);
  param("action", r.action);
  param("target", r.target);
  param("outcome", r.outcome);
  param("hash", HexEncode(r.hash));
  param("prev_hash", HexEncode(r.prev_hash));
  m.append("] \xEF\xBB\xBF");  // MSG is UTF-8, announced by the BOM (RFC 5424 section 6.4)
  m.append(r.details);
  return m;
}

std::string OctetCountedFrame(std::string_view message) {
  return std::to_string(message.size()) + " " + std::string(message);
}

AuditForwarder::AuditForwarder(storage::Database* db, AuditLog* log, const Clock* clock,
                               SiemConnector connect, ForwarderOptions options)
    : db_(db), log_(log), clock_(clock), connect_(std::move(connect)), options_(options) {}

AuditForwarder::~AuditForwarder() { Stop(std::chrono::milliseconds(0)); }

Status AuditForwarder::Start() {
  int64_t cursor = 0;
  UnixMillis down_since = 0;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(std::string c, ReadAuditState(conn, kForwardCursorKey));
    OUTPOST_ASSIGN_OR_RETURN(std::string d, ReadAuditState(conn, kForwardDownKey));
    for (auto [text, out] : {std::pair{&c, &cursor}, std::pair{&d, &down_since}}) {
      if (text->empty()) continue;
      const std::string& v = *text;
      auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), *out);
      if (ec != std::errc() || end != v.data() + v.size() || *out < 0) {
        return Status::Corruption("the SIEM forwarder's saved state '" + v + "' is not a number");
      }
    }
    return Status::Ok();
  }));
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_.cursor = cursor;
    status_.down = down_since != 0;
    status_.down_since = down_since;
  }
  saved_cursor_ = cursor;
  sent_seq_ = cursor;
  thread_ = std::thread([this] { Loop(); });
  return Status::Ok();
}

void AuditForwarder::Notify() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    notified_ = true;
  }
  wake_.notify_all();
}

void AuditForwarder::Stop(std::chrono::milliseconds drain) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!thread_.joinable()) return;
    if (!stopping_) {
      stopping_ = true;
      drain_until_ = SteadyClock::now() + drain;
    }
    notified_ = true;
  }
  wake_.notify_all();
  // The loop leaves by itself once drained or out of time, unless blocked in a write to a
  // SIEM that stopped reading: abort that connection then.
  {
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait_until(lock, drain_until_ + std::chrono::milliseconds(200),
                     [this] { return exited_; });
  }
  {
    std::lock_guard<std::mutex> lock(conn_mu_);
    if (conn_ != nullptr) conn_->Abort();
  }
  thread_.join();
}

ForwarderStatus AuditForwarder::status() const {
  ForwarderStatus s;
  {
    std::lock_guard<std::mutex> lock(mu_);
    s = status_;
  }
  if (Result<int64_t> head = log_->HeadSeq(); head.ok()) {
    s.head = *head;
    s.lag = std::max<int64_t>(0, *head - s.cursor);
  }
  return s;
}

bool AuditForwarder::Wait(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lock(mu_);
  auto until = SteadyClock::now() + d;
  if (stopping_) until = std::min(until, drain_until_);
  wake_.wait_until(lock, until, [this] {
    return notified_ || (stopping_ && SteadyClock::now() >= drain_until_);
  });
  notified_ = false;
  return stopping_ && SteadyClock::now() >= drain_until_;
}

void AuditForwarder::Broken(const Status& why) {
  {
    std::lock_guard<std::mutex> lock(conn_mu_);
    conn_.reset();
  }
  in_flight_.clear();
  bool stopping = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sent_seq_ = status_.cursor;  // resend everything not acknowledged
    status_.connected = false;
    ++status_.failures;
    status_.last_error = why.ToString();
    stopping = stopping_;
  }
  // A connection aborted by our own shutdown is no outage of the SIEM.
  if (!stopping) RecordOutage(why);
}

void AuditForwarder::RecordOutage(const Status& why) {
  UnixMillis since = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_.down) return;  // once per outage, not per retry
    status_.down = true;
    status_.down_since = since = clock_->NowMillis();
  }
  log::Error("the SIEM cannot be reached; audit records wait in the log until it can",
             {{"target", options_.target}, {"error", why.ToString()}});
  AuditEvent event{"system", 0, "", "audit.forward_down", "siem:" + options_.target,
                   AuditOutcome::kFailure, {{"error", why.message()}}};
  Status st = db_->Write([&](storage::Connection& conn) {
    OUTPOST_RETURN_IF_ERROR(log_->AppendIn(conn, event));
    return WriteAuditState(conn, kForwardDownKey, std::to_string(since));
  });
  if (!st.ok()) log::Error("recording the SIEM outage failed", {{"error", st.ToString()}});
}

void AuditForwarder::RecordResumed() {
  UnixMillis since = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!status_.down) return;
    status_.down = false;
    since = status_.down_since;
    status_.down_since = 0;
  }
  const UnixMillis now = clock_->NowMillis();
  log::Info("the SIEM is reachable again", {{"target", options_.target},
                                            {"down_since", FormatIso8601(since)}});
  AuditEvent event{"system", 0, "", "audit.forward_resumed", "siem:" + options_.target,
                   AuditOutcome::kSuccess,
                   {{"down_since", FormatIso8601(since)}, {"down_ms", now - since}}};
  Status st = db_->Write([&](storage::Connection& conn) {
    OUTPOST_RETURN_IF_ERROR(log_->AppendIn(conn, event));
    return WriteAuditState(conn, kForwardDownKey, "");
  });
  if (!st.ok()) log::Error("recording the SIEM's return failed", {{"error", st.ToString()}});
}

bool AuditForwarder::Advance() {
  if (conn_ == nullptr) return false;
  if (in_flight_.empty()) return true;
  Result<int64_t> unacked = conn_->BytesUnacknowledged();
  if (!unacked.ok()) {
    Broken(unacked.status());
    return false;
  }
  const int64_t acked = conn_->BytesWritten() - *unacked;
  int64_t cursor = -1;
  while (!in_flight_.empty() && in_flight_.front().end_offset <= acked) {
    cursor = in_flight_.front().seq;
    in_flight_.pop_front();
  }
  if (cursor < 0) return true;
  bool was_down = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_.cursor = cursor;
    status_.last_success = clock_->NowMillis();
    was_down = status_.down;
  }
  if (was_down) RecordResumed();
  return true;
}

void AuditForwarder::SaveCursor() {
  int64_t cursor = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    cursor = status_.cursor;
  }
  if (cursor == saved_cursor_) return;
  Status st = db_->Write([&](storage::Connection& conn) {
    return WriteAuditState(conn, kForwardCursorKey, std::to_string(cursor));
  });
  if (st.ok()) {
    saved_cursor_ = cursor;
  } else {
    log::Error("saving the SIEM forwarder's cursor failed", {{"error", st.ToString()}});
  }
}

void AuditForwarder::Loop() {
  auto backoff = options_.min_backoff;
  bool retry_wait = false;
  auto last_save = SteadyClock::now();
  while (true) {
    bool stopping = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping = stopping_;
      if (stopping_ && SteadyClock::now() >= drain_until_) break;
    }
    if (conn_ == nullptr) {
      if (stopping) break;  // no new connection on the way out
      if (retry_wait) {
        if (Wait(backoff)) break;
        backoff = std::min(backoff * 2, options_.max_backoff);
      }
      retry_wait = true;
      Result<std::unique_ptr<SiemConnection>> c = connect_();
      if (!c.ok()) {
        Broken(c.status());
        continue;
      }
      {
        std::lock_guard<std::mutex> lock(conn_mu_);
        conn_ = std::move(*c);
      }
      in_flight_.clear();
      {
        std::lock_guard<std::mutex> lock(mu_);
        sent_seq_ = status_.cursor;
        status_.connected = true;
        ++status_.connects;
      }
      log::Info("forwarding the audit log to the SIEM",
                {{"target", options_.target}, {"from_seq", sent_seq_ + 1}});
    }
    if (!Advance()) continue;
    if (conn_->PeerClosed()) {
      Broken(Status::Unavailable("the SIEM closed the connection"));
      continue;
    }

    bool more = false;  // a full batch was read: records may be waiting
    if (static_cast<int64_t>(in_flight_.size()) < options_.max_unacknowledged) {
      AuditQuery q;
      q.after_seq = sent_seq_;
      q.limit = options_.batch_records;
      Result<std::vector<AuditRecord>> records = log_->Query(q);
      if (!records.ok()) {
        log::Error("reading audit records to forward failed",
                   {{"error", records.status().ToString()}});
        if (Wait(options_.max_backoff)) break;
        continue;
      }
      more = static_cast<int64_t>(records->size()) == options_.batch_records;
      std::string chunk;
      std::vector<int64_t> seqs;
      auto flush = [&]() -> bool {
        if (chunk.empty()) return true;
        if (Status st = conn_->Write(chunk); !st.ok()) {
          Broken(st);
          return false;
        }
        for (int64_t seq : seqs) in_flight_.push_back({seq, conn_->BytesWritten()});
        {
          std::lock_guard<std::mutex> lock(mu_);
          status_.sent += static_cast<int64_t>(seqs.size());
        }
        sent_seq_ = seqs.back();
        chunk.clear();
        seqs.clear();
        return true;
      };
      bool ok = true;
      for (const AuditRecord& r : *records) {
        chunk += OctetCountedFrame(SyslogMessage(r, options_.format));
        seqs.push_back(r.seq);
        if (chunk.size() >= kWriteChunkBytes && !(ok = flush())) break;
      }
      if (!ok || !flush()) continue;
    } else {
      more = true;
    }
    if (!Advance()) continue;
    bool caught_up = in_flight_.empty() && !more;
    if (caught_up || SteadyClock::now() - last_save >= kSaveEvery) {
      SaveCursor();
      last_save = SteadyClock::now();
    }
    if (caught_up) {
      backoff = options_.min_backoff;  // a healthy connection resets the backoff
      retry_wait = false;
      if (stopping) break;
      if (Wait(options_.idle_poll)) break;
    } else if (!more || static_cast<int64_t>(in_flight_.size()) >= options_.max_unacknowledged) {
      if (Wait(options_.ack_poll)) break;
    }
  }
  SaveCursor();
  {
    std::lock_guard<std::mutex> lock(conn_mu_);
    conn_.reset();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    status_.connected = false;
    exited_ = true;
  }
  wake_.notify_all();
}

}  // namespace outpost::domain
