// Rooms: public and private channels, direct messages and group DMs; membership with the room
// roles owner / moderator / member; who may do what in a room. A room the caller may not see
// answers NotFound exactly like a room that does not exist.
#ifndef OUTPOST_DOMAIN_ROOMS_H_
#define OUTPOST_DOMAIN_ROOMS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "domain/accounts.h"
#include "domain/chat_events.h"
#include "storage/database.h"
#include "util/clock.h"
#include "util/status.h"

namespace outpost::domain {

enum class RoomKind { kPublic, kPrivate, kDm, kGroup };
std::string_view RoomKindName(RoomKind kind);
bool ParseRoomKind(std::string_view name, RoomKind* out);

enum class RoomRole { kNone = 0, kMember = 1, kModerator = 2, kOwner = 3 };
std::string_view RoomRoleName(RoomRole role);
bool ParseRoomRole(std::string_view name, RoomRole* out);

struct Room {
  int64_t id = 0;
  RoomKind kind = RoomKind::kPublic;
  std::string name;  // empty for DMs and group DMs
  std::string topic;
  std::string description;
  bool read_only = false;  // announcement room: only owners and moderators post
  bool archived = false;
  bool is_default = false;
  int64_t created_by = 0;
  UnixMillis created_at = 0;
  UnixMillis updated_at = 0;
  int64_t last_seq = 0;  // the newest message's sequence number in this room
  UnixMillis last_message_at = 0;
  int64_t member_count = 0;
};

// What one user may do in one room. Derived, never stored.
struct RoomAccess {
  RoomRole role = RoomRole::kNone;  // kNone: not a member
  bool admin = false;  // manages every channel (rooms.manage_any); never set for DMs
  bool can_read = false;
  bool can_post = false;
  bool can_moderate = false;  // as the room's moderator: delete others' messages, remove
                              // members, pin, see edits
  bool can_manage = false;    // rename, describe, archive, set roles
  // Site-wide permissions (domain/permissions.h) of the actor that reach into this channel
  // (never into DMs), each also true when the room role alone allows the same thing.
  bool can_edit_any = false;        // messages.edit_any
  bool can_delete_any = false;      // messages.delete_any
  bool can_pin = false;             // messages.pin
  bool can_view_edits = false;      // messages.view_edits
  bool can_manage_members = false;  // rooms.manage_members
  bool can_archive = false;         // rooms.archive
  bool can_delete_room = false;     // rooms.delete
  bool can_set_retention = false;   // rooms.set_retention: also beyond the global setting
};
RoomAccess AccessFor(const Room& room, const User& user, RoomRole role);

// A room as listed for one member: with their unread and mention counts.
struct MyRoom {
  Room room;
  RoomRole role = RoomRole::kMember;
  int64_t last_read_seq = 0;
  int64_t unread = 0;    // top-level messages by others after the read marker (capped at 1000)
  int64_t mentions = 0;  // mentions, DMs and thread replies to them after the read marker
  bool starred = false;
  std::vector<std::string> dm_members;  // for DMs and group DMs: the other members' names
};

struct Member {
  User user;
  RoomRole role = RoomRole::kMember;
  UnixMillis joined_at = 0;
};

struct ChatOptions {
  int max_message_chars = 4000;
  int max_group_members = 8;  // a group DM holds at most this many people, the creator included
  std::string default_room = "general";  // every new user joins it; "" for none
};

// Thread-safe. Pointers must outlive it; `sink` may be null.
class Rooms {
 public:
  Rooms(storage::Database* db, const Clock* clock, EventSink* sink, ChatOptions options)
      : db_(db), clock_(clock), sink_(sink), options_(std::move(options)) {}

  // Creates a public or private channel; the creator becomes its owner. AlreadyExists when the
  // name is taken (channel names are unique without regard to case).
  Result<Room> CreateChannel(const User& actor, RoomKind kind, std::string_view name,
                             std::string_view topic, std::string_view description,
                             bool read_only);

  // Opens the DM or group DM between the actor and `others` (user names), creating it the first
  // time. NotFound for an unknown or disabled user; InvalidArgument past max_group_members.
  Result<Room> OpenDirect(const User& actor, const std::vector<std::string>& others);

  // The room with the actor's access to it. NotFound when it does not exist or the actor may
  // not read it.
  Result<std::pair<Room, RoomAccess>> Get(const User& actor, int64_t room_id);

  // The actor's rooms with unread and mention counts, most recent activity first.
  Result<std::vector<MyRoom>> ListMine(const User& actor);

  // Public channels whose name or topic contains `query` (any case), by name, after the
  // name `after_name` (paging), at most `limit`. `joined` tells which the actor belongs to.
  Result<std::vector<std::pair<Room, bool>>> Directory(const User& actor, std::string_view query,
                                                       std::string_view after_name, int limit);

  struct Update {
    std::optional<std::string> name, topic, description;
    std::optional<bool> read_only;
  };
  Result<Room> Modify(const User& actor, int64_t room_id, const Update& update);
  Status SetArchived(const User& actor, int64_t room_id, bool archived);
  Status Delete(const User& actor, int64_t room_id);

  Status Join(const User& actor, int64_t room_id);
  Status Leave(const User& actor, int64_t room_id);
  Status Invite(const User& actor, int64_t room_id, std::string_view username);
  Status Remove(const User& actor, int64_t room_id, std::string_view username);
  Status SetRole(const User& actor, int64_t room_id, std::string_view username, RoomRole role);
  Status SetStarred(const User& actor, int64_t room_id, bool starred);
  Result<std::vector<Member>> Members(const User& actor, int64_t room_id);

  // Creates the configured default room if missing (owned by nobody, every active user a
  // member) and returns its id, or 0 when none is configured.
  Result<int64_t> EnsureDefaultRoom();
  // Adds the user to every default room (new accounts).
  Status JoinDefaultRooms(int64_t user_id);

  const ChatOptions& options() const { return options_; }

 private:
  Status Change(const ChangeFn& fn) { return WriteWithEvents(db_, sink_, fn); }
  Status AddMember(storage::Connection& conn, EventBatch& events, const Room& room,
                   int64_t user_id, RoomRole role, int64_t by_user_id);

  storage::Database* const db_;
  const Clock* const clock_;
  EventSink* const sink_;
  const ChatOptions options_;
};

// Shared by the chat services: reading rooms and memberships inside a transaction.
Result<std::optional<Room>> LoadRoom(storage::Connection& conn, int64_t room_id);
Result<RoomRole> LoadRole(storage::Connection& conn, int64_t room_id, int64_t user_id);
// Loads the room and the actor's access; NotFound("no such room") when it may not be read.
Result<std::pair<Room, RoomAccess>> LoadReadable(storage::Connection& conn, const User& actor,
                                                 int64_t room_id);
nlohmann::json RoomJson(const Room& room);

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_ROOMS_H_
