// What every API handler file uses to audit what a caller did, and to read a string member of
// a JSON body. One definition for all of them (handler_audit.cc).
#ifndef OUTPOST_API_HANDLER_AUDIT_H_
#define OUTPOST_API_HANDLER_AUDIT_H_

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/routes.h"
#include "domain/audit.h"
#include "util/status.h"

namespace outpost::api {

// The audit event for `action` on `target` by the caller (when signed in), from the caller's
// address.
domain::AuditEvent AuditEventFor(const Call& call, std::string action, std::string target);

// Refuses an action before it runs when its audit record could not be written (for actions
// that run in transactions of their own, which the audit log cannot join).
Status AdmitAudit(Call& call);

// Records `event` with the outcome of `result` (a failure with its code as details.reason).
// Returns the audit log's verdict: under the refuse policy, an error the caller must return.
Status Audit(Call& call, domain::AuditEvent event, const Status& result);

// For records of refusals and of access taken away (logout, revoking, disabling): never a
// reason to answer otherwise, since refusing them would leave the access in place; a lost
// record is logged instead.
void AuditAnyway(Call& call, domain::AuditEvent event, const Status& result);

// Runs `change`, an action by the caller in a transaction the audit log cannot join, and
// records it as `event` (which `change` may complete, e.g. with the id it created): refused
// before it runs when no record can be written; afterwards the record carries the outcome. Of
// the failures only refusals (PermissionDenied) are recorded, so that mistyped ids do not fill
// the log. Returns the change's status, or the audit log's error after a change that ran.
Status AuditedChange(Call& call, domain::AuditEvent event,
                     const std::function<Status(domain::AuditEvent&)>& change);

// A required string member of the JSON body, at most `max_bytes` long.
Result<std::string> StringField(const nlohmann::json& body, const char* name, size_t max_bytes);

}  // namespace outpost::api

#endif  // OUTPOST_API_HANDLER_AUDIT_H_
