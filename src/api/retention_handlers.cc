// Per-room retention in the chat API. Who may set what is decided by domain::Retention.
#include <httplib.h>

#include "api/chat_handlers.h"
#include "api/lifecycle_handlers.h"

namespace outpost::api {
namespace {

// The member `name` as a day count: absent or null is nullopt (follow the global policy).
Status OptionalDays(const nlohmann::json& body, const char* name, std::optional<int>* out) {
  auto it = body.find(name);
  if (it == body.end() || it->is_null()) return Status::Ok();
  if (!it->is_number_integer() || it->get<int64_t>() < 0 ||
      it->get<int64_t>() > domain::kMaxRetentionDays) {
    return Status::InvalidArgument(std::string("'") + name +
                                   "' must be a whole number of days from 0 (keep forever) to " +
                                   std::to_string(domain::kMaxRetentionDays) + ", or null");
  }
  *out = static_cast<int>(it->get<int64_t>());
  return Status::Ok();
}

}  // namespace

Status HandleSetRoomRetention(Call& call) {
  if (call.svc.retention == nullptr) return Status::Unavailable("retention is not available");
  for (const auto& [key, value] : call.body.items()) {
    (void)value;
    if (key != "messages_days" && key != "files_days") {
      return Status::InvalidArgument("unknown member '" + key +
                                     "' (expected messages_days, files_days)");
    }
  }
  std::optional<int> messages_days, files_days;
  OUTPOST_RETURN_IF_ERROR(OptionalDays(call.body, "messages_days", &messages_days));
  OUTPOST_RETURN_IF_ERROR(OptionalDays(call.body, "files_days", &files_days));
  OUTPOST_ASSIGN_OR_RETURN(
      domain::RoomRetention r,
      call.svc.retention->Set(call.principal->user, PathId(call), messages_days, files_days,
                              call.req.remote_addr));
  SetJson(call.res, 200, {{"retention", domain::RoomRetentionJson(r)}});
  return Status::Ok();
}

}  // namespace outpost::api
