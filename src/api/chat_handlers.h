// Handlers of the chat routes (rooms, messages, search, events), named in routes.cc. Each
// follows the Handler contract of routes.h; room-level access is decided by the domain.
#ifndef OUTPOST_API_CHAT_HANDLERS_H_
#define OUTPOST_API_CHAT_HANDLERS_H_

#include "api/routes.h"

namespace outpost::api {

// Rooms (room_handlers.cc).
Status HandleListRooms(Call& call);
Status HandleCreateRoom(Call& call);
Status HandleRoomDirectory(Call& call);
Status HandleOpenDirect(Call& call);
Status HandleGetRoom(Call& call);
Status HandleUpdateRoom(Call& call);
Status HandleDeleteRoom(Call& call);
Status HandleArchiveRoom(Call& call);
Status HandleUnarchiveRoom(Call& call);
Status HandleJoinRoom(Call& call);
Status HandleLeaveRoom(Call& call);
Status HandleListMembers(Call& call);
Status HandleInviteMember(Call& call);
Status HandleRemoveMember(Call& call);
Status HandleSetMemberRole(Call& call);
Status HandleStarRoom(Call& call);
Status HandleMarkRead(Call& call);
Status HandleMarkAllRead(Call& call);
Status HandlePeople(Call& call);

// Messages (message_handlers.cc).
Status HandleHistory(Call& call);
Status HandlePostMessage(Call& call);
Status HandlePins(Call& call);
Status HandleGetMessage(Call& call);
Status HandleEditMessage(Call& call);
Status HandleDeleteMessage(Call& call);
Status HandleMessageEdits(Call& call);
Status HandleThread(Call& call);
Status HandleFollowThread(Call& call);
Status HandleAddReaction(Call& call);
Status HandleRemoveReaction(Call& call);
Status HandleListReactions(Call& call);
Status HandlePinMessage(Call& call);
Status HandleNotifications(Call& call);
Status HandleSearch(Call& call);
Status HandleEvents(Call& call);

// Request helpers shared by the chat handlers.
// The path parameter `index` as a positive id (the route's pattern guarantees digits).
int64_t PathId(const Call& call, size_t index = 1);
// A query parameter as an integer in [min, max]; `fallback` when absent; InvalidArgument when
// present but not such an integer.
Result<int64_t> QueryInt(const Call& call, const char* name, int64_t fallback, int64_t min,
                         int64_t max);
// An optional body member of the given JSON type; InvalidArgument when present with another.
Result<std::optional<std::string>> OptionalString(const nlohmann::json& body, const char* name);
Result<std::optional<bool>> OptionalBool(const nlohmann::json& body, const char* name);
Result<std::string> RequiredString(const nlohmann::json& body, const char* name);

}  // namespace outpost::api

#endif  // OUTPOST_API_CHAT_HANDLERS_H_
