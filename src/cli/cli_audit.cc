#include "cli/cli_audit.h"

#include <cstdlib>

namespace outpost::cli {

std::string CliActor() {
  for (const char* var : {"SUDO_USER", "USER"}) {
    const char* value = std::getenv(var);
    if (value != nullptr && *value != '\0') return std::string("cli:") + value;
  }
  return "cli";
}

CommandAudit::CommandAudit(storage::Database* db, const config::Config& cfg) {
  if (Result<domain::ApplianceKeys> keys = domain::LoadKeys(LayoutFor(cfg)); keys.ok()) {
    keys_ = std::move(*keys);
  }
  log_ = std::make_unique<domain::AuditLog>(db, SystemClock(), keys_ ? &*keys_ : nullptr);
}

Status CommandAudit::Record(const std::string& action, const std::string& target,
                            const Status& result, nlohmann::json details) {
  domain::AuditEvent event;
  event.actor = CliActor();
  event.action = action;
  event.target = target;
  event.outcome = result.ok() ? domain::AuditOutcome::kSuccess : domain::AuditOutcome::kFailure;
  if (!result.ok()) details["reason"] = CodeName(result.code());
  event.details = std::move(details);
  return log_->Append(event).status();
}

}  // namespace outpost::cli
