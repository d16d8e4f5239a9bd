// Auditing for operator commands: who the operator is, and an audit log over the command's
// database that signs checkpoints when the appliance keys can be read.
#ifndef OUTPOST_CLI_CLI_AUDIT_H_
#define OUTPOST_CLI_CLI_AUDIT_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "cli/common.h"
#include "domain/audit.h"

namespace outpost::cli {

// "cli:<login>" from $SUDO_USER (the person behind sudo, not root) or else $USER; "cli" when
// neither is set. Environment values are the operator's claim, which is all a shell offers.
std::string CliActor();

// One command's audit log. Not thread-safe (commands are single-threaded); `db` must outlive it.
class CommandAudit {
 public:
  // Checkpoints are signed when the keys load; a command that cannot read them still audits,
  // and the server (which holds the keys) signs those records at its next checkpoint.
  CommandAudit(storage::Database* db, const config::Config& cfg);
  CommandAudit(const CommandAudit&) = delete;
  CommandAudit& operator=(const CommandAudit&) = delete;

  domain::AuditLog& log() { return *log_; }

  // Records `action` on `target` by the operator: success when `result` is OK, else failure
  // with its code as details.reason. Returns the audit log's verdict (see AuditLog::Append);
  // callers report the action's own error first when it failed.
  Status Record(const std::string& action, const std::string& target, const Status& result,
                nlohmann::json details = nlohmann::json::object());

 private:
  std::optional<domain::ApplianceKeys> keys_;
  std::unique_ptr<domain::AuditLog> log_;
};

}  // namespace outpost::cli

#endif  // OUTPOST_CLI_CLI_AUDIT_H_
