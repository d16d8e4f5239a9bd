// Messages: posting (with threads, mentions and idempotent retries), editing with kept history,
// deleting to a tombstone, history pages, reactions, pins, thread follows, read markers and
// notifications. Every change is recorded as a chat event in the same transaction.
#ifndef OUTPOST_DOMAIN_MESSAGES_H_
#define OUTPOST_DOMAIN_MESSAGES_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "domain/rooms.h"

namespace outpost::domain {

struct ReactionSummary {
  std::string emoji;
  int64_t count = 0;
  bool mine = false;  // the reader reacted with it
};

// A file posted with a message, as message JSON shows it (the file's own record is
// domain/files.h FileInfo).
struct AttachedFile {
  int64_t id = 0;
  std::string name;
  int64_t size = 0;
  std::string content_type;
  int64_t width = 0, height = 0;  // images whose header tells; 0 otherwise
};

struct Message {
  int64_t id = 0;
  int64_t room_id = 0;
  int64_t seq = 0;  // per room, strictly increasing: a client sees gaps
  int64_t author_id = 0;  // 0 when the author's account was erased
  std::string author_username;
  std::string author_display_name;
  int64_t thread_root_id = 0;  // 0 for a top-level message
  std::string body;            // Markdown source; "" once deleted
  UnixMillis created_at = 0;
  UnixMillis edited_at = 0;
  UnixMillis deleted_at = 0;
  std::string client_id;
  int64_t reply_count = 0;
  UnixMillis last_reply_at = 0;
  std::vector<std::string> participants;  // thread roots: who replied (up to 5 names)
  bool has_file = false;
  std::vector<AttachedFile> files;  // empty once deleted (the files go with the message)
  UnixMillis pinned_at = 0;
  std::vector<ReactionSummary> reactions;
};

nlohmann::json MessageJson(const Message& m);

struct PostRequest {
  int64_t room_id = 0;
  std::string body;
  std::string client_id;       // optional idempotency key, 1..64 characters
  int64_t thread_root_id = 0;  // reply to this message
};

struct PostResult {
  Message message;
  bool duplicate = false;                 // a retry: the message posted before is returned
  std::vector<std::string> not_in_room;  // mentioned users who are not members
};

// A page of messages, newest first.
struct Page {
  std::vector<Message> messages;
  bool has_older = false;
  bool has_newer = false;
};

enum class Anchor { kLatest, kBefore, kAfter, kAround };

struct MessageEdit {
  std::string kind;  // "edit" or "delete"
  std::string old_body;
  int64_t changed_by = 0;
  UnixMillis changed_at = 0;
};

struct Notification {
  int64_t id = 0;
  int64_t room_id = 0;
  int64_t message_id = 0;
  int64_t seq = 0;
  std::string kind;  // user, here, all, dm, thread
  UnixMillis created_at = 0;
  bool unread = false;
};

// Writes what belongs to a message being posted (its files), inside the posting transaction:
// called after the message row exists and before the message is read back for its event, so
// that both commit together and the "message.created" event shows them. An error rolls the
// whole post back.
using AttachFn = std::function<Status(storage::Connection& conn, int64_t message_id)>;

// Thread-safe. Pointers must outlive it; `sink` may be null.
class Messages {
 public:
  Messages(storage::Database* db, const Clock* clock, EventSink* sink, ChatOptions options)
      : db_(db), clock_(clock), sink_(sink), options_(std::move(options)) {}

  // NotFound for a room the actor cannot read; PermissionDenied when they may read but not
  // post (not a member, announcement room); FailedPrecondition for an archived room;
  // InvalidArgument for a bad body, client id or thread root. `attach` (may be null) runs in
  // the same transaction, only for a new message (not for a retry with a known client_id).
  Result<PostResult> Post(const User& actor, const PostRequest& request,
                          const AttachFn& attach = nullptr);
  // Only the author edits; the previous text is kept for moderators.
  Result<Message> Edit(const User& actor, int64_t message_id, std::string_view body);
  // The author or a moderator; the text is kept only in the moderators' edit history.
  Status Delete(const User& actor, int64_t message_id);
  // NotFound when the message does not exist or is in a room the actor cannot read.
  Result<Message> Get(const User& actor, int64_t message_id);

  // Top-level messages of a room: the newest `limit`, or those before/after `seq`, or `limit`
  // around it (the message at `seq` included).
  Result<Page> History(const User& actor, int64_t room_id, Anchor anchor, int64_t seq, int limit);
  // A thread: the root and the replies after `after_seq`, oldest first, at most `limit`.
  Result<Page> Thread(const User& actor, int64_t root_id, int64_t after_seq, int limit);

  // The messages with these ids, in the same order, inside the caller's read transaction.
  // Checks no access: for callers that selected the ids with access rules of their own
  // (search). Missing ids are skipped.
  Result<std::vector<Message>> LoadMany(storage::Connection& conn,
                                        const std::vector<int64_t>& ids, int64_t reader_id);
  Result<std::vector<MessageEdit>> Edits(const User& actor, int64_t message_id);

  Status React(const User& actor, int64_t message_id, std::string_view emoji, bool add);
  // Who reacted with what, in the order they did.
  Result<std::vector<std::pair<std::string, std::vector<std::string>>>> Reactions(
      const User& actor, int64_t message_id);
  Status SetPinned(const User& actor, int64_t message_id, bool pinned);
  Result<std::vector<Message>> Pins(const User& actor, int64_t room_id);
  Status Follow(const User& actor, int64_t root_id, bool follow);

  // Moves the read marker forward to `seq` (never back; capped at the room's last message).
  Status MarkRead(const User& actor, int64_t room_id, int64_t seq);
  Status MarkAllRead(const User& actor);
  // The actor's notifications, newest first, with ids below `before_id` (0: from the newest).
  Result<std::vector<Notification>> Notifications(const User& actor, int64_t before_id,
                                                  int limit);

 private:
  Status Change(const ChangeFn& fn) { return WriteWithEvents(db_, sink_, fn); }
  Result<std::vector<Message>> Load(storage::Connection& conn, const std::string& where,
                                    const std::vector<int64_t>& args, int64_t reader_id);
  Result<Message> LoadOne(storage::Connection& conn, int64_t id, int64_t reader_id);
  // Loads the message and the actor's access to its room; NotFound when it may not be read.
  Result<std::pair<Message, RoomAccess>> Readable(storage::Connection& conn, const User& actor,
                                                  int64_t message_id);

  storage::Database* const db_;
  const Clock* const clock_;
  EventSink* const sink_;
  const ChatOptions options_;
};

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_MESSAGES_H_
