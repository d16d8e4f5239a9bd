#include "domain/retention.h"

#include <string>
#include <vector>

#include "domain/rooms.h"

namespace outpost::domain {
namespace {

constexpr int64_t kDayMillis = 86400LL * 1000;
// Rows per write during a real purge: small enough that chat writes queued behind a batch
// wait milliseconds, not seconds.
constexpr int kBatchRows = 500;

// Rooms whose messages (or files) expire, with the cutoff time: ?1 now, ?2 the global days.
// `column` is "messages_days" or "files_days" (our own constant, never user input).
std::string PolicyCte(const char* column) {
  return std::string("WITH p(room_id, cutoff) AS (SELECT r.id, ?1 - coalesce(rr.") + column +
         ", ?2) * " + std::to_string(kDayMillis) +
         " FROM rooms r LEFT JOIN room_retention rr ON rr.room_id = r.id WHERE coalesce(rr." +
         column + ", ?2) > 0) ";
}

Status CheckDays(std::optional<int> days, const char* name) {
  if (days && (*days < 0 || *days > kMaxRetentionDays)) {
    return Status::InvalidArgument(std::string("'") + name + "' must be a whole number of days "
                                   "from 0 (keep forever) to " +
                                   std::to_string(kMaxRetentionDays) + ", or null");
  }
  return Status::Ok();
}

// An owner may only shorten what the site keeps: with a global limit, 0 (forever) and longer
// values are for administrators.
Status CheckNotLonger(std::optional<int> days, int global, const char* name) {
  if (days && global > 0 && (*days == 0 || *days > global)) {
    return Status::PermissionDenied(std::string("only administrators may keep ") + name +
                                    " longer than the site's " + std::to_string(global) +
                                    " days");
  }
  return Status::Ok();
}

Result<RoomRetention> LoadRoomRetention(storage::Connection& conn, int64_t room_id,
                                        const RetentionPolicy& global) {
  RoomRetention r;
  r.room_id = room_id;
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement s,
      conn.Prepare("SELECT messages_days, files_days FROM room_retention WHERE room_id = ?"));
  s.Bind(1, room_id);
  OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
  if (row) {
    if (!s.ColumnIsNull(0)) r.messages_days = static_cast<int>(s.ColumnInt64(0));
    if (!s.ColumnIsNull(1)) r.files_days = static_cast<int>(s.ColumnInt64(1));
  }
  r.effective.messages_days = r.messages_days.value_or(global.messages_days);
  r.effective.files_days = r.files_days.value_or(global.files_days);
  return r;
}

Result<int64_t> CountQuery(storage::Connection& conn, const char* sql) {
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement s, conn.Prepare(sql));
  OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
  return row ? s.ColumnInt64(0) : 0;
}

}  // namespace

nlohmann::json RoomRetentionJson(const RoomRetention& r) {
  auto days = [](std::optional<int> d) { return d ? nlohmann::json(*d) : nlohmann::json(); };
  return {{"room_id", r.room_id},
          {"messages_days", days(r.messages_days)},
          {"files_days", days(r.files_days)},
          {"effective",
           {{"messages_days", r.effective.messages_days},
            {"files_days", r.effective.files_days}}}};
}

Result<int64_t> DeleteEventsOfMissingMessages(storage::Connection& conn) {
  OUTPOST_RETURN_IF_ERROR(conn.Exec(
      "DELETE FROM events WHERE seq IN (SELECT seq FROM (SELECT seq, coalesce("
      "json_extract(payload, '$.message.id'), json_extract(payload, '$.message_id')) AS mid "
      "FROM events WHERE json_valid(payload)) WHERE mid IS NOT NULL AND NOT EXISTS "
      "(SELECT 1 FROM messages WHERE messages.id = mid))"));
  return static_cast<int64_t>(conn.Changes());
}

Result<bool> Retention::Active() {
  if (global_.messages_days > 0 || global_.files_days > 0) return true;
  bool active = false;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(int64_t n, CountQuery(conn,
                                                   "SELECT count(*) FROM room_retention WHERE "
                                                   "messages_days > 0 OR files_days > 0"));
    active = n > 0;
    return Status::Ok();
  }));
  return active;
}

Result<RoomRetention> Retention::Get(const User& actor, int64_t room_id) {
  RoomRetention out;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(auto readable, LoadReadable(conn, actor, room_id));
    (void)readable;
    OUTPOST_ASSIGN_OR_RETURN(out, LoadRoomRetention(conn, room_id, global_));
    return Status::Ok();
  }));
  return out;
}

Result<RoomRetention> Retention::Set(const User& actor, int64_t room_id,
                                     std::optional<int> messages_days,
                                     std::optional<int> files_days,
                                     const std::string& source_ip) {
  OUTPOST_RETURN_IF_ERROR(CheckDays(messages_days, "messages_days"));
  OUTPOST_RETURN_IF_ERROR(CheckDays(files_days, "files_days"));
  RoomRetention out;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) -> Status {
    OUTPOST_ASSIGN_OR_RETURN(auto readable, LoadReadable(conn, actor, room_id));
    const RoomAccess& access = readable.second;
    if (!access.can_manage && !access.can_set_retention) {
      return Status::PermissionDenied(
          "only the channel's owners and administrators set its retention");
    }
    if (!access.can_set_retention) {
      OUTPOST_RETURN_IF_ERROR(CheckNotLonger(messages_days, global_.messages_days, "messages"));
      OUTPOST_RETURN_IF_ERROR(CheckNotLonger(files_days, global_.files_days, "files"));
    }
    if (!messages_days && !files_days) {
      OUTPOST_ASSIGN_OR_RETURN(storage::Statement del,
                               conn.Prepare("DELETE FROM room_retention WHERE room_id = ?"));
      OUTPOST_RETURN_IF_ERROR(del.Bind(1, room_id).Run());
    } else {
      OUTPOST_ASSIGN_OR_RETURN(
          storage::Statement up,
          conn.Prepare("INSERT INTO room_retention(room_id, messages_days, files_days, "
                       "updated_by, updated_at) VALUES(?, ?, ?, ?, ?) ON CONFLICT(room_id) DO "
                       "UPDATE SET messages_days = excluded.messages_days, files_days = "
                       "excluded.files_days, updated_by = excluded.updated_by, updated_at = "
                       "excluded.updated_at"));
      up.Bind(1, room_id);
      if (messages_days) up.Bind(2, int64_t{*messages_days}); else up.BindNull(2);
      if (files_days) up.Bind(3, int64_t{*files_days}); else up.BindNull(3);
      up.Bind(4, actor.id).Bind(5, clock_->NowMillis());
      OUTPOST_RETURN_IF_ERROR(up.Run());
    }
    OUTPOST_ASSIGN_OR_RETURN(out, LoadRoomRetention(conn, room_id, global_));
    if (audit_ == nullptr) return Status::Ok();
    AuditEvent event{actor.username, actor.id, source_ip, "retention.set",
                     "room:" + std::to_string(room_id), AuditOutcome::kSuccess,
                     RoomRetentionJson(out)};
    return audit_->AppendIn(conn, event);
  }));
  return out;
}

Status Retention::PurgeBatches(storage::Connection& conn, UnixMillis now, bool until_done,
                               bool* more, PurgeCounts* counts) {
  // Replies first, then first messages whose whole thread has expired. No ORDER BY: each
  // query walks a room's messages oldest first and stops at the limit, so a batch costs
  // about its own size however much has expired (a sort would read every expired row).
  const std::string replies_sql =
      PolicyCte("messages_days") +
      "SELECT m.id, m.thread_root_id FROM messages m JOIN p ON p.room_id = m.room_id WHERE "
      "m.created_at < p.cutoff AND m.thread_root_id IS NOT NULL LIMIT ?3";
  const std::string roots_sql =
      PolicyCte("messages_days") +
      "SELECT m.id, 0 FROM messages m JOIN p ON p.room_id = m.room_id WHERE m.created_at < "
      "p.cutoff AND m.thread_root_id IS NULL AND coalesce(m.last_reply_at, 0) < p.cutoff "
      "LIMIT ?3";
  const std::string files_sql = PolicyCte("files_days") +
                                "SELECT f.id, f.size FROM files f JOIN p ON p.room_id = "
                                "f.room_id WHERE f.created_at < p.cutoff LIMIT ?3";
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement files_of,
                           conn.Prepare("SELECT count(*), coalesce(sum(size), 0) FROM files "
                                        "WHERE message_id = ?"));
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement uncount,
                           conn.Prepare("UPDATE messages SET reply_count = max(reply_count - 1, "
                                        "0) WHERE id = ?"));
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement del_message,
                           conn.Prepare("DELETE FROM messages WHERE id = ?"));
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement del_file,
                           conn.Prepare("DELETE FROM files WHERE id = ?"));
  do {
    // Replies first: a thread's first message goes only after them, so the cascade from it
    // deletes nothing that was not counted.
    std::vector<std::pair<int64_t, int64_t>> expired;
    for (const std::string* sql : {&replies_sql, &roots_sql}) {
      const int64_t room_left = kBatchRows - static_cast<int64_t>(expired.size());
      if (room_left == 0) break;
      OUTPOST_ASSIGN_OR_RETURN(storage::Statement s, conn.Prepare(*sql));
      s.Bind(1, now).Bind(2, int64_t{global_.messages_days}).Bind(3, room_left);
      while (true) {
        OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        expired.emplace_back(s.ColumnInt64(0), s.ColumnInt64(1));
      }
    }
    for (const auto& [id, root] : expired) {
      files_of.Reset();
      files_of.Bind(1, id);
      OUTPOST_ASSIGN_OR_RETURN(bool row, files_of.Step());
      if (row) {
        counts->files += files_of.ColumnInt64(0);
        counts->file_bytes += files_of.ColumnInt64(1);
      }
      if (root != 0) {
        uncount.Reset();
        OUTPOST_RETURN_IF_ERROR(uncount.Bind(1, root).Run());
      }
      del_message.Reset();
      OUTPOST_RETURN_IF_ERROR(del_message.Bind(1, id).Run());
      counts->messages += conn.Changes();
    }
    std::vector<std::pair<int64_t, int64_t>> old_files;
    {
      OUTPOST_ASSIGN_OR_RETURN(storage::Statement s, conn.Prepare(files_sql));
      s.Bind(1, now).Bind(2, int64_t{global_.files_days}).Bind(3, int64_t{kBatchRows});
      while (true) {
        OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
        if (!row) break;
        old_files.emplace_back(s.ColumnInt64(0), s.ColumnInt64(1));
      }
    }
    for (const auto& [id, size] : old_files) {
      del_file.Reset();
      OUTPOST_RETURN_IF_ERROR(del_file.Bind(1, id).Run());
      if (conn.Changes() > 0) {
        ++counts->files;
        counts->file_bytes += size;
      }
    }
    // A query that returned fewer rows than asked found everything that has expired.
    *more = expired.size() == static_cast<size_t>(kBatchRows) ||
            old_files.size() == static_cast<size_t>(kBatchRows);
  } while (until_done && *more);
  return Status::Ok();
}

Result<PurgeCounts> Retention::Purge(bool dry_run, const std::string& actor) {
  const UnixMillis now = clock_->NowMillis();
  PurgeCounts counts;
  auto purge_events = [&](storage::Connection& conn) -> Status {
    const std::string old_events =
        PolicyCte("messages_days") +
        "DELETE FROM events WHERE seq IN (SELECT e.seq FROM events e JOIN p ON p.room_id = "
        "e.room_id WHERE e.created_at < p.cutoff)";
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement s, conn.Prepare(old_events));
    OUTPOST_RETURN_IF_ERROR(s.Bind(1, now).Bind(2, int64_t{global_.messages_days}).Run());
    counts.events += conn.Changes();
    if (counts.messages == 0) return Status::Ok();  // no event can have lost its message
    OUTPOST_ASSIGN_OR_RETURN(int64_t orphans, DeleteEventsOfMissingMessages(conn));
    counts.events += orphans;
    return Status::Ok();
  };

  if (dry_run) {
    // The real deletions inside one transaction that is then rolled back: the counts are
    // exactly what a purge would do now, triggers and cascades included.
    bool finished = false;
    Status st = db_->Write([&](storage::Connection& conn) -> Status {
      counts = PurgeCounts{};
      bool more = false;
      OUTPOST_RETURN_IF_ERROR(PurgeBatches(conn, now, true, &more, &counts));
      OUTPOST_RETURN_IF_ERROR(purge_events(conn));
      OUTPOST_ASSIGN_OR_RETURN(counts.blobs,
                               CountQuery(conn, "SELECT count(*) FROM blobs WHERE NOT EXISTS "
                                                "(SELECT 1 FROM files WHERE files.blob_id = "
                                                "blobs.id)"));
      finished = true;
      return Status::FailedPrecondition("dry run: rolled back");
    });
    if (!finished) return st;
    return counts;
  }

  Status st;
  for (bool more = true; more && st.ok();) {
    st = db_->Write([&](storage::Connection& conn) {
      return PurgeBatches(conn, now, false, &more, &counts);
    });
  }
  if (st.ok()) st = db_->Write(purge_events);
  if (st.ok() && files_ != nullptr) {
    Result<int> blobs = files_->CollectGarbage();
    if (blobs.ok()) counts.blobs = *blobs;
    st = blobs.status();
  }
  if (audit_ != nullptr) {
    AuditEvent event{actor, 0, "", "retention.purge", "",
                     st.ok() ? AuditOutcome::kSuccess : AuditOutcome::kFailure,
                     {{"messages", counts.messages},
                      {"files", counts.files},
                      {"file_bytes", counts.file_bytes},
                      {"blobs", counts.blobs},
                      {"events", counts.events}}};
    if (!st.ok()) event.details["reason"] = CodeName(st.code());
    Status audited = audit_->Append(event).status();
    if (st.ok()) st = audited;
  }
  if (!st.ok()) return st;
  return counts;
}

}  // namespace outpost::domain
