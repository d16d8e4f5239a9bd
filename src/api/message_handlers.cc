#include <httplib.h>

#include <sodium.h>

#include "api/chat_handlers.h"
#include "api/handler_audit.h"

namespace outpost::api {
namespace {

const domain::User& Actor(const Call& call) { return call.principal->user; }

// Runs `change` to the message named in the path. An author changing their own message is
// not audited; anyone else (a moderator, an administrator) is, as `action` with the room and
// the author, never the text.
Status ByModeratorAudited(Call& call, const char* action,
                          const std::function<Status(domain::AuditEvent&)>& change) {
  Result<domain::Message> before = call.svc.messages->Get(Actor(call), PathId(call));
  domain::AuditEvent unused;
  if (!before.ok() || before->author_id == Actor(call).id) return change(unused);
  domain::AuditEvent event =
      AuditEventFor(call, action, "message:" + std::to_string(before->id));
  event.details = {{"room_id", before->room_id}, {"author", before->author_username}};
  return AuditedChange(call, event, change);
}

Status Done(Call& call) {
  call.res.status = 204;
  return Status::Ok();
}

nlohmann::json MessageList(const std::vector<domain::Message>& messages) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& m : messages) list.push_back(domain::MessageJson(m));
  return list;
}

// A message id given as a page anchor must be in the room: its seq is the anchor.
Result<int64_t> AnchorSeq(Call& call, int64_t room_id, const char* param) {
  OUTPOST_ASSIGN_OR_RETURN(int64_t id, QueryInt(call, param, 0, 1, INT64_MAX));
  OUTPOST_ASSIGN_OR_RETURN(domain::Message m, call.svc.messages->Get(Actor(call), id));
  if (m.room_id != room_id) return Status::NotFound("no such message in this room");
  return m.seq;
}

// Binds a search cursor to the query it continues, so that it cannot page another search.
int64_t QueryHash(const std::string& q, const std::string& sort) {
  std::string text = q + "\n" + sort;
  unsigned char h[8];
  crypto_generichash(h, sizeof(h), reinterpret_cast<const unsigned char*>(text.data()),
                     text.size(), nullptr, 0);
  int64_t v = 0;
  for (unsigned char b : h) v = (v << 8) | b;
  return v & INT64_MAX;
}

}  // namespace

Status HandleHistory(Call& call) {
  int64_t room_id = PathId(call);
  OUTPOST_ASSIGN_OR_RETURN(int64_t limit, QueryInt(call, "limit", 50, 1, 200));
  domain::Anchor anchor = domain::Anchor::kLatest;
  int64_t seq = 0;
  int anchors = call.req.has_param("before") + call.req.has_param("after") +
                call.req.has_param("around") + call.req.has_param("cursor");
  if (anchors > 1) {
    return Status::InvalidArgument("give at most one of before, after, around and cursor");
  }
  if (call.req.has_param("cursor")) {
    OUTPOST_ASSIGN_OR_RETURN(
        std::vector<int64_t> v,
        call.svc.cursors->Decode("hist", call.req.get_param_value("cursor"), 3));
    if (v[0] != room_id) return Status::InvalidArgument("invalid cursor");
    anchor = v[2] == 0 ? domain::Anchor::kBefore : domain::Anchor::kAfter;
    seq = v[1];
  } else if (call.req.has_param("before")) {
    anchor = domain::Anchor::kBefore;
    OUTPOST_ASSIGN_OR_RETURN(seq, AnchorSeq(call, room_id, "before"));
  } else if (call.req.has_param("after")) {
    anchor = domain::Anchor::kAfter;
    OUTPOST_ASSIGN_OR_RETURN(seq, AnchorSeq(call, room_id, "after"));
  } else if (call.req.has_param("around")) {
    anchor = domain::Anchor::kAround;
    OUTPOST_ASSIGN_OR_RETURN(seq, AnchorSeq(call, room_id, "around"));
  }
  OUTPOST_ASSIGN_OR_RETURN(domain::Page page,
                           call.svc.messages->History(Actor(call), room_id, anchor, seq,
                                                      static_cast<int>(limit)));
  nlohmann::json older = nullptr, newer = nullptr;
  if (!page.messages.empty()) {
    if (page.has_older) {
      older = call.svc.cursors->Encode("hist", {room_id, page.messages.back().seq, 0});
    }
    if (page.has_newer) {
      newer = call.svc.cursors->Encode("hist", {room_id, page.messages.front().seq, 1});
    }
  }
  SetJson(call.res, 200, {{"messages", MessageList(page.messages)}, {"older", older},
                          {"newer", newer}});
  return Status::Ok();
}

Status HandlePostMessage(Call& call) {
  if (RateLimiter* limit = call.svc.post_limiter; limit != nullptr) {
    if (int64_t wait = limit->Take(call.principal->user.id); wait > 0) {
      SetRateLimited(call.res, wait, "messages", limit->per_minute());
      return Status::Ok();
    }
  }
  domain::PostRequest req;
  req.room_id = PathId(call);
  OUTPOST_ASSIGN_OR_RETURN(req.body, RequiredString(call.body, "body"));
  OUTPOST_ASSIGN_OR_RETURN(std::optional<std::string> client_id,
                           OptionalString(call.body, "client_id"));
  if (client_id) {
    if (client_id->empty()) return Status::InvalidArgument("'client_id' must not be empty");
    req.client_id = *client_id;
  }
  if (auto it = call.body.find("thread_root_id"); it != call.body.end() && !it->is_null()) {
    if (!it->is_number_integer() || it->get<int64_t>() < 1) {
      return Status::InvalidArgument("'thread_root_id' must be a message id");
    }
    req.thread_root_id = it->get<int64_t>();
  }
  OUTPOST_ASSIGN_OR_RETURN(domain::PostResult r, call.svc.messages->Post(Actor(call), req));
  SetJson(call.res, r.duplicate ? 200 : 201,
          {{"message", domain::MessageJson(r.message)},
           {"duplicate", r.duplicate},
           {"not_in_room", r.not_in_room}});
  return Status::Ok();
}

Status HandlePins(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::vector<domain::Message> pins,
                           call.svc.messages->Pins(Actor(call), PathId(call)));
  SetJson(call.res, 200, {{"messages", MessageList(pins)}});
  return Status::Ok();
}

Status HandleGetMessage(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(domain::Message m, call.svc.messages->Get(Actor(call), PathId(call)));
  SetJson(call.res, 200, {{"message", domain::MessageJson(m)}});
  return Status::Ok();
}

Status HandleEditMessage(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::string body, RequiredString(call.body, "body"));
  domain::Message m;
  OUTPOST_RETURN_IF_ERROR(ByModeratorAudited(call, "message.edit", [&](domain::AuditEvent&) {
    OUTPOST_ASSIGN_OR_RETURN(m, call.svc.messages->Edit(Actor(call), PathId(call), body));
    return Status::Ok();
  }));
  SetJson(call.res, 200, {{"message", domain::MessageJson(m)}});
  return Status::Ok();
}

Status HandleDeleteMessage(Call& call) {
  OUTPOST_RETURN_IF_ERROR(ByModeratorAudited(call, "message.delete", [&](domain::AuditEvent&) {
    return call.svc.messages->Delete(Actor(call), PathId(call));
  }));
  return Done(call);
}

Status HandleMessageEdits(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::vector<domain::MessageEdit> edits,
                           call.svc.messages->Edits(Actor(call), PathId(call)));
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : edits) {
    list.push_back({{"kind", e.kind}, {"old_body", e.old_body}, {"changed_by", e.changed_by},
                    {"changed_at", FormatIso8601(e.changed_at)}});
  }
  SetJson(call.res, 200, {{"edits", list}});
  return Status::Ok();
}

Status HandleThread(Call& call) {
  int64_t root = PathId(call);
  OUTPOST_ASSIGN_OR_RETURN(int64_t limit, QueryInt(call, "limit", 100, 1, 200));
  int64_t after = 0;
  if (call.req.has_param("cursor")) {
    OUTPOST_ASSIGN_OR_RETURN(
        std::vector<int64_t> v,
        call.svc.cursors->Decode("thread", call.req.get_param_value("cursor"), 2));
    if (v[0] != root) return Status::InvalidArgument("invalid cursor");
    after = v[1];
  }
  OUTPOST_ASSIGN_OR_RETURN(domain::Page page, call.svc.messages->Thread(
                                                  Actor(call), root, after, static_cast<int>(limit)));
  nlohmann::json next = nullptr;
  if (page.has_newer) next = call.svc.cursors->Encode("thread", {root, page.messages.back().seq});
  nlohmann::json replies = nlohmann::json::array();
  for (size_t i = 1; i < page.messages.size(); ++i) {
    replies.push_back(domain::MessageJson(page.messages[i]));
  }
  SetJson(call.res, 200, {{"root", domain::MessageJson(page.messages.front())},
                          {"replies", replies}, {"next", next}});
  return Status::Ok();
}

Status HandleFollowThread(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::optional<bool> following, OptionalBool(call.body, "following"));
  if (!following) return Status::InvalidArgument("'following' is required");
  OUTPOST_RETURN_IF_ERROR(call.svc.messages->Follow(Actor(call), PathId(call), *following));
  return Done(call);
}

Status HandleAddReaction(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::string emoji, RequiredString(call.body, "emoji"));
  OUTPOST_RETURN_IF_ERROR(call.svc.messages->React(Actor(call), PathId(call), emoji, true));
  return Done(call);
}

Status HandleRemoveReaction(Call& call) {
  OUTPOST_RETURN_IF_ERROR(call.svc.messages->React(Actor(call), PathId(call),
                                                   std::string(call.req.matches[2]), false));
  return Done(call);
}

Status HandleListReactions(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(auto reactions,
                           call.svc.messages->Reactions(Actor(call), PathId(call)));
  nlohmann::json list = nlohmann::json::array();
  for (const auto& [emoji, users] : reactions) {
    list.push_back({{"emoji", emoji}, {"users", users}});
  }
  SetJson(call.res, 200, {{"reactions", list}});
  return Status::Ok();
}

Status HandlePinMessage(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(std::optional<bool> pinned, OptionalBool(call.body, "pinned"));
  if (!pinned) return Status::InvalidArgument("'pinned' is required");
  OUTPOST_RETURN_IF_ERROR(call.svc.messages->SetPinned(Actor(call), PathId(call), *pinned));
  return Done(call);
}

Status HandleNotifications(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(int64_t before, QueryInt(call, "before", 0, 0, INT64_MAX));
  OUTPOST_ASSIGN_OR_RETURN(int64_t limit, QueryInt(call, "limit", 50, 1, 200));
  OUTPOST_ASSIGN_OR_RETURN(
      std::vector<domain::Notification> list,
      call.svc.messages->Notifications(Actor(call), before, static_cast<int>(limit)));
  nlohmann::json out = nlohmann::json::array();
  for (const auto& n : list) {
    out.push_back({{"id", n.id}, {"room_id", n.room_id}, {"message_id", n.message_id},
                   {"seq", n.seq}, {"kind", n.kind}, {"created_at", FormatIso8601(n.created_at)},
                   {"unread", n.unread}});
  }
  SetJson(call.res, 200, {{"notifications", out}});
  return Status::Ok();
}

Status HandleSearch(Call& call) {
  std::string q = call.req.get_param_value("q");
  std::string sort = call.req.has_param("sort") ? call.req.get_param_value("sort") : "newest";
  if (sort != "newest" && sort != "best") {
    return Status::InvalidArgument("'sort' must be \"newest\" or \"best\"");
  }
  OUTPOST_ASSIGN_OR_RETURN(int64_t limit, QueryInt(call, "limit", 20, 1, 100));
  OUTPOST_ASSIGN_OR_RETURN(domain::SearchQuery query, domain::ParseSearchQuery(q));
  int64_t offset = 0;
  if (call.req.has_param("cursor")) {
    OUTPOST_ASSIGN_OR_RETURN(
        std::vector<int64_t> v,
        call.svc.cursors->Decode("search", call.req.get_param_value("cursor"), 2));
    if (v[1] != QueryHash(q, sort)) return Status::InvalidArgument("invalid cursor");
    offset = v[0];
  }
  OUTPOST_ASSIGN_OR_RETURN(
      domain::SearchPage page,
      call.svc.search->Run(Actor(call), query,
                           sort == "best" ? domain::SearchOrder::kBest : domain::SearchOrder::kNewest,
                           offset, static_cast<int>(limit)));
  nlohmann::json hits = nlohmann::json::array();
  for (const auto& h : page.hits) {
    hits.push_back({{"message", domain::MessageJson(h.message)}, {"room_name", h.room_name},
                    {"snippet", h.snippet}});
  }
  nlohmann::json next = nullptr;
  if (page.next_offset >= 0) {
    next = call.svc.cursors->Encode("search", {page.next_offset, QueryHash(q, sort)});
  }
  SetJson(call.res, 200, {{"results", hits}, {"next", next}});
  return Status::Ok();
}

Status HandleEvents(Call& call) {
  OUTPOST_ASSIGN_OR_RETURN(int64_t after, QueryInt(call, "after", 0, 0, INT64_MAX));
  OUTPOST_ASSIGN_OR_RETURN(int64_t limit, QueryInt(call, "limit", 500, 1, 1000));
  std::vector<domain::ChatEvent> events;
  int64_t latest = 0;
  OUTPOST_RETURN_IF_ERROR(call.svc.db->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(events, domain::EventsAfter(conn, Actor(call).id, after,
                                                         static_cast<int>(limit)));
    OUTPOST_ASSIGN_OR_RETURN(latest, domain::LatestEventSeq(conn));
    return Status::Ok();
  }));
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : events) {
    list.push_back({{"cursor", e.seq}, {"type", e.type}, {"room_id", e.room_id},
                    {"at", FormatIso8601(e.at)}, {"data", e.payload}});
  }
  SetJson(call.res, 200, {{"events", list}, {"latest", latest}});
  return Status::Ok();
}

}  // namespace outpost::api
