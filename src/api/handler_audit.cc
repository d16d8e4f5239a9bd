#include "api/handler_audit.h"

#include <httplib.h>

#include "util/log.h"

namespace outpost::api {

domain::AuditEvent AuditEventFor(const Call& call, std::string action, std::string target) {
  domain::AuditEvent e;
  if (call.principal) {
    e.actor = call.principal->user.username;
    e.actor_id = call.principal->user.id;
  }
  e.source_ip = call.req.remote_addr;
  e.action = std::move(action);
  e.target = std::move(target);
  return e;
}

Status AdmitAudit(Call& call) {
  return call.svc.audit != nullptr ? call.svc.audit->Admit() : Status::Ok();
}

Status Audit(Call& call, domain::AuditEvent event, const Status& result) {
  if (call.svc.audit == nullptr) return Status::Ok();
  if (!result.ok()) {
    event.outcome = domain::AuditOutcome::kFailure;
    event.details["reason"] = CodeName(result.code());
  }
  return call.svc.audit->Append(event).status();
}

void AuditAnyway(Call& call, domain::AuditEvent event, const Status& result) {
  if (Status st = Audit(call, event, result); !st.ok()) {
    log::Error("audit record lost", {{"action", event.action}, {"error", st.ToString()}});
  }
}

Status AuditedChange(Call& call, domain::AuditEvent event,
                     const std::function<Status(domain::AuditEvent&)>& change) {
  OUTPOST_RETURN_IF_ERROR(AdmitAudit(call));
  Status st = change(event);
  if (st.ok()) return Audit(call, std::move(event), st);
  if (st.code() == Code::kPermissionDenied) AuditAnyway(call, std::move(event), st);
  return st;
}

Result<std::string> StringField(const nlohmann::json& body, const char* name, size_t max_bytes) {
  auto it = body.find(name);
  if (it == body.end() || !it->is_string()) {
    return Status::InvalidArgument(std::string("'") + name + "' is required and must be a string");
  }
  std::string value = it->get<std::string>();
  if (value.size() > max_bytes) {
    return Status::InvalidArgument(std::string("'") + name + "' is too long");
  }
  return value;
}

}  // namespace outpost::api
