// Auditing for operator commands: who the operator is, and an audit log over the command's
// database that signs checkpoints when the appliance keys can be read.
#ifndef OUTPOST_CLI_CLI_AUDIT_H_
#define OUTPOST_CLI_CLI_AUDIT_H_

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cli/common.h"
#include "domain/audit.h"

namespace outpost::cli {

// "cli:<login>" from $SUDO_USER (the person behind sudo, not root) or else $USER; "cli" when
// neither is set. Environment values are the operator's claim, which is all a shell offers.
std::string CliActor();

// [audit] on_failure and the checkpoint schedule, for every AuditLog the binary makes.
domain::AuditOptions AuditOptionsFor(const config::Config& cfg);

// One line of `outpost doctor` about the audit log: its storage against [audit] max_size_mb,
// and SIEM forwarding (cursor, lag, an outage on record, the CA file). level: 0 OK, 1 WARN,
// 2 FAIL. `conn` is a read-only connection to the database.
struct AuditDoctorLine {
  int level = 0;
  std::string name;
  std::string detail;
};
std::vector<AuditDoctorLine> AuditDoctorChecks(const config::Config& cfg,
                                               storage::Connection& conn);

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
