#include "domain/chat_events.h"

namespace outpost::domain {

Status EventBatch::Add(storage::Connection& conn, ChatEvent event, UnixMillis now) {
  event.at = now;
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement stmt,
      conn.Prepare("INSERT INTO events(room_id, user_id, also_user_id, type, payload, created_at) "
                   "VALUES(?, ?, ?, ?, ?, ?)"));
  stmt.Bind(1, event.room_id).Bind(2, event.user_id).Bind(3, event.also_user_id);
  stmt.Bind(4, event.type).Bind(5, event.payload.dump()).Bind(6, now);
  OUTPOST_RETURN_IF_ERROR(stmt.Run());
  event.seq = conn.LastInsertRowId();
  events_.push_back(std::move(event));
  return Status::Ok();
}

void EventBatch::Flush(EventSink* sink) {
  if (sink != nullptr && !events_.empty()) sink->Deliver(events_);
  events_.clear();
}

Status WriteWithEvents(storage::Database* db, EventSink* sink, const ChangeFn& fn) {
  EventBatch events;
  // Flushed on the writer thread right after the commit, so that the sink hears events in
  // commit (seq) order across every writer.
  return db->Write([&](storage::Connection& conn) { return fn(conn, events); },
                   [&] { events.Flush(sink); });
}

Result<std::vector<ChatEvent>> EventsAfter(storage::Connection& conn, int64_t user_id,
                                           int64_t after_seq, int limit) {
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement stmt,
      conn.Prepare("SELECT seq, room_id, user_id, also_user_id, type, payload, created_at "
                   "FROM events WHERE seq > ?1 AND ("
                   "  (room_id != 0 AND room_id IN (SELECT room_id FROM room_members "
                   "                                 WHERE user_id = ?2))"
                   "  OR (room_id = 0 AND user_id = ?2) OR also_user_id = ?2) "
                   "ORDER BY seq LIMIT ?3"));
  stmt.Bind(1, after_seq).Bind(2, user_id).Bind(3, int64_t{limit});
  std::vector<ChatEvent> out;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    ChatEvent e;
    e.seq = stmt.ColumnInt64(0);
    e.room_id = stmt.ColumnInt64(1);
    e.user_id = stmt.ColumnInt64(2);
    e.also_user_id = stmt.ColumnInt64(3);
    e.type = stmt.ColumnText(4);
    e.payload = nlohmann::json::parse(stmt.ColumnText(5), nullptr, false);
    e.at = stmt.ColumnInt64(6);
    out.push_back(std::move(e));
  }
  return out;
}

Result<int64_t> LatestEventSeq(storage::Connection& conn) {
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement stmt,
                           conn.Prepare("SELECT coalesce(max(seq), 0) FROM events"));
  OUTPOST_ASSIGN_OR_RETURN(bool row, stmt.Step());
  return row ? stmt.ColumnInt64(0) : 0;
}

}  // namespace outpost::domain
