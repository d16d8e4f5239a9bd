// Retention: how long messages and files are kept, globally ([retention] in the configuration)
// and per room (room_retention, migration 5), and the purge that deletes what has expired from
// the database, the search index (the FTS triggers follow every deleted row), the event log and
// the blob store. A purge is audited with counts only, never content.
//
// What a purge deletes, room by room, with `cutoff` = now - days:
//   - messages created before the message cutoff, with everything the schema hangs on them
//     (reactions, edit history, notifications, thread follows, their files rows). A thread's
//     first message goes only when its last reply has expired too, so a live thread keeps its
//     start; its reply count drops by the replies purged.
//   - files uploaded before the file cutoff (rows; the message that carried one stays), then
//     every blob no file refers to any more (Files::CollectGarbage).
//   - chat events older than the message cutoff, and every event that shows a message that no
//     longer exists (a later edit or reaction of an expired message).
#ifndef OUTPOST_DOMAIN_RETENTION_H_
#define OUTPOST_DOMAIN_RETENTION_H_

#include <cstdint>
#include <optional>

#include "domain/accounts.h"
#include "domain/audit.h"
#include "domain/files.h"
#include "storage/database.h"
#include "util/clock.h"
#include "util/status.h"

namespace outpost::domain {

// The most days a policy may name (100 years); larger values are mistakes.
inline constexpr int kMaxRetentionDays = 36500;

// Days to keep; 0 keeps forever.
struct RetentionPolicy {
  int messages_days = 0;
  int files_days = 0;
};

// A room's own setting: nullopt follows the global policy.
struct RoomRetention {
  int64_t room_id = 0;
  std::optional<int> messages_days;
  std::optional<int> files_days;
  RetentionPolicy effective;  // what the purge applies to this room
};
nlohmann::json RoomRetentionJson(const RoomRetention& r);

// What a purge deleted (or, for a dry run, would delete).
struct PurgeCounts {
  int64_t messages = 0;
  int64_t files = 0;       // files rows, those that went with their message included
  int64_t file_bytes = 0;  // their sizes
  int64_t blobs = 0;       // blob files removed from disk (a dry run: unreferenced afterwards)
  int64_t events = 0;
};

// Deletes, on `conn` inside the caller's write, every chat event that shows a message which no
// longer exists (its "message" or "message_id"), so that no copy of a purged or erased
// message's text stays in the event log. Returns how many went.
Result<int64_t> DeleteEventsOfMissingMessages(storage::Connection& conn);

// Thread-safe. Pointers must outlive it; `files` may be null (no blob is collected then) and
// `audit` may be null (nothing is audited: tests of other layers).
class Retention {
 public:
  Retention(storage::Database* db, const Clock* clock, Files* files, AuditLog* audit,
            RetentionPolicy global)
      : db_(db), clock_(clock), files_(files), audit_(audit), global_(global) {}

  // The room's setting. NotFound when the room does not exist or `actor` may not read it.
  Result<RoomRetention> Get(const User& actor, int64_t room_id);

  // Sets the room's own setting (nullopt: follow the global policy). Channel owners and
  // administrators only (PermissionDenied otherwise; NotFound as Get). An owner who is not an
  // administrator may only keep content for a shorter time than the global policy (a site
  // that must delete after 90 days cannot be overruled by one room); administrators may set
  // any value. InvalidArgument outside 0..kMaxRetentionDays. Audited ("retention.set").
  Result<RoomRetention> Set(const User& actor, int64_t room_id, std::optional<int> messages_days,
                            std::optional<int> files_days, const std::string& source_ip = "");

  // Deletes what has expired at the clock's now, in batches (each its own short write, so a
  // serving appliance keeps answering), then collects unreferenced blobs and appends one
  // "retention.purge" audit record by `actor` with the counts. With `dry_run` everything is
  // done inside one transaction that is rolled back, nothing is audited, and the counts say
  // what a purge would delete now.
  Result<PurgeCounts> Purge(bool dry_run, const std::string& actor = "system");

  // True when some policy (the global one or a room's) expires anything: the daily job skips
  // the purge, and its audit record, on an appliance that keeps everything forever.
  Result<bool> Active();

  const RetentionPolicy& global() const { return global_; }

 private:
  Status PurgeBatches(storage::Connection& conn, UnixMillis now, bool until_done, bool* more,
                      PurgeCounts* counts);

  storage::Database* const db_;
  const Clock* const clock_;
  Files* const files_;
  AuditLog* const audit_;
  const RetentionPolicy global_;
};

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_RETENTION_H_
