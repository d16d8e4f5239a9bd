// The auditor view: searching the audit log, newest first, one page at a time.
#include <httplib.h>

#include <charconv>
#include <limits>

#include "api/handlers.h"
#include "domain/audit.h"

namespace outpost::api {
namespace {

constexpr int64_t kDefaultPage = 100;
constexpr int64_t kMaxPage = 1000;

// The query parameter `name`, or "" when absent. InvalidArgument when it is unreasonably long.
Result<std::string> Param(const httplib::Request& req, const char* name) {
  std::string value = req.has_param(name) ? req.get_param_value(name) : "";
  if (value.size() > 256) return Status::InvalidArgument(std::string("'") + name + "' is too long");
  return value;
}

Result<int64_t> PositiveParam(const httplib::Request& req, const char* name, int64_t fallback,
                              int64_t max) {
  OUTPOST_ASSIGN_OR_RETURN(std::string text, Param(req, name));
  if (text.empty()) return fallback;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 1 || value > max) {
    return Status::InvalidArgument(std::string("'") + name + "' must be a whole number from 1 to " +
                                   std::to_string(max));
  }
  return value;
}

}  // namespace

Status HandleAuditSearch(Call& call) {
  if (call.svc.audit == nullptr) return Status::Unavailable("the audit log is not available");
  const httplib::Request& req = call.req;
  domain::AuditQuery q;
  q.newest_first = true;
  OUTPOST_ASSIGN_OR_RETURN(q.actor, Param(req, "actor"));
  OUTPOST_ASSIGN_OR_RETURN(q.action_prefix, Param(req, "action"));
  for (auto [name, bound] : {std::pair{"since", &q.since}, std::pair{"until", &q.until}}) {
    OUTPOST_ASSIGN_OR_RETURN(std::string text, Param(req, name));
    if (text.empty()) continue;
    Result<UnixMillis> t = domain::ParseIso8601(text);
    if (!t.ok()) return t.status().WithContext(name);
    *bound = *t;
  }
  OUTPOST_ASSIGN_OR_RETURN(
      q.before_seq, PositiveParam(req, "before_seq", 0, std::numeric_limits<int64_t>::max()));
  OUTPOST_ASSIGN_OR_RETURN(int64_t limit, PositiveParam(req, "limit", kDefaultPage, kMaxPage));
  q.limit = limit + 1;  // one more than asked tells whether another page follows
  OUTPOST_ASSIGN_OR_RETURN(std::vector<domain::AuditRecord> records, call.svc.audit->Query(q));
  nlohmann::json next = nullptr;
  if (static_cast<int64_t>(records.size()) > limit) {
    records.pop_back();
    next = records.back().seq;
  }
  nlohmann::json list = nlohmann::json::array();
  for (const auto& r : records) list.push_back(domain::AuditRecordJson(r));
  SetJson(call.res, 200, {{"records", list}, {"next_before_seq", next}});
  return Status::Ok();
}

nlohmann::json AuditHealthJson(const Services& svc) {
  nlohmann::json storage = nullptr;
  if (svc.audit_storage != nullptr) {
    const domain::AuditStorageStatus s = svc.audit_storage->status();
    storage = {{"measured", s.measured},
               {"size_bytes", s.size_bytes},
               {"max_bytes", s.max_bytes},
               {"ratio", s.ratio},
               {"alert", s.alert},
               {"checked_at", s.checked_at ? nlohmann::json(FormatIso8601(s.checked_at))
                                           : nlohmann::json(nullptr)}};
  }
  nlohmann::json forward = {{"enabled", false}};
  if (svc.audit_forwarder != nullptr) {
    const domain::ForwarderStatus f = svc.audit_forwarder->status();
    auto time = [](UnixMillis t) {
      return t ? nlohmann::json(FormatIso8601(t)) : nlohmann::json(nullptr);
    };
    forward = {{"enabled", true},
               {"target", svc.audit_forwarder->options().target},
               {"connected", f.connected},
               {"down", f.down},
               {"down_since", time(f.down_since)},
               {"cursor", f.cursor},
               {"head", f.head},
               {"lag_records", f.lag},
               {"last_success", time(f.last_success)},
               {"last_error", f.last_error.empty() ? nlohmann::json(nullptr)
                                                   : nlohmann::json(f.last_error)}};
  }
  return {{"storage", storage}, {"forward", forward}};
}

Status HandleAuditStatus(Call& call) {
  SetJson(call.res, 200, AuditHealthJson(call.svc));
  return Status::Ok();
}

}  // namespace outpost::api
