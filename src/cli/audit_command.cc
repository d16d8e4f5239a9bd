// outpost audit verify|export|checkpoint export: proving the audit log intact, handing it to
// auditors and SIEMs, and carrying signed checkpoints to separate media (docs/audit.md).
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "domain/audit_verify.h"
#include "util/fs.h"

namespace outpost::cli {
namespace {

struct AuditArgs {
  std::string checkpoint_file;
  std::string format = "jsonl";
  std::string since;
  std::string until;
  std::string actor;
  std::string action;
  std::string out;
};

// CEF escapes: the header may not hold '|' and the extension may not hold '=' unescaped.
std::string CefHeader(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\' || c == '|') out.push_back('\\');
    out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  }
  return out;
}

std::string CefValue(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\r')
      out += "\\r";
    else {
      if (c == '\\' || c == '=') out.push_back('\\');
      out.push_back(c);
    }
  }
  return out;
}

std::string CefLine(const domain::AuditRecord& r) {
  int severity = r.outcome == "success" ? 3 : r.outcome == "failure" ? 5 : 7;
  std::string line = "CEF:0|Outpost|Outpost|" + CefHeader(OUTPOST_VERSION) + "|" +
                     CefHeader(r.action) + "|" + CefHeader(r.action) + "|" +
                     std::to_string(severity) + "|";
  line += "rt=" + std::to_string(r.ts_ms) + " externalId=" + std::to_string(r.seq);
  line += " suser=" + CefValue(r.actor) + " suid=" + std::to_string(r.actor_id);
  if (!r.source_ip.empty()) line += " src=" + CefValue(r.source_ip);
  line += " act=" + CefValue(r.action) + " outcome=" + CefValue(r.outcome);
  line += " cs1Label=target cs1=" + CefValue(r.target);
  line += " cs2Label=details cs2=" + CefValue(r.details);
  line += " cs3Label=hash cs3=" + HexEncode(r.hash);
  return line;
}

// Opens the database of the configured data folder and runs `fn` with it.
int WithDatabase(const GlobalOptions& global,
                 const std::function<int(const config::Config&, storage::Database&)>& fn) {
  Result<config::Config> cfg = LoadConfig(global);
  if (!cfg.ok()) return ConfigFailure(cfg.status());
  Result<std::unique_ptr<storage::Database>> db = OpenDatabase(*cfg);
  if (!db.ok()) return Fail(db.status());
  return fn(*cfg, **db);
}

int Verify(const GlobalOptions& global, const AuditArgs& a) {
  return WithDatabase(global, [&](const config::Config& cfg, storage::Database& db) {
    Result<std::string> public_key = ReadFile(LayoutFor(cfg).signing_pub());
    if (!public_key.ok()) return Fail(public_key.status());
    std::optional<domain::ExportedCheckpoint> external;
    if (!a.checkpoint_file.empty()) {
      Result<std::string> text = ReadFile(a.checkpoint_file);
      if (!text.ok()) return Fail(text.status());
      Result<domain::ExportedCheckpoint> parsed = domain::ParseExportedCheckpoint(*text);
      if (!parsed.ok()) return Fail(parsed.status().WithContext(a.checkpoint_file));
      external = std::move(*parsed);
    }
    std::optional<domain::VerifyReport> report;
    Status st = db.Read([&](storage::Connection& conn) {
      OUTPOST_ASSIGN_OR_RETURN(domain::VerifyReport r, domain::Verify(conn, *public_key, external));
      report = std::move(r);
      return Status::Ok();
    });
    if (!st.ok()) return Fail(st);
    if (!report->ok()) return Fail(Status::Corruption(report->Summary()));
    std::cout << report->Summary() << "\n";
    return int{kExitOk};
  });
}

int Export(const GlobalOptions& global, const AuditArgs& a) {
  domain::AuditQuery query;
  query.actor = a.actor;
  query.action_prefix = a.action;
  for (auto [text, bound] :
       {std::pair{&a.since, &query.since}, std::pair{&a.until, &query.until}}) {
    if (text->empty()) continue;
    Result<UnixMillis> t = domain::ParseIso8601(*text);
    if (!t.ok()) return Fail(t.status());
    *bound = *t;
  }
  return WithDatabase(global, [&](const config::Config& cfg, storage::Database& db) {
    CommandAudit audit(&db, cfg);
    if (Status st = audit.log().Admit(); !st.ok()) return Fail(st);
    FILE* out = stdout;
    if (!a.out.empty()) {
      out = std::fopen(a.out.c_str(), "w");
      if (out == nullptr) return Fail(ErrnoStatus(a.out, errno));
    }
    int64_t count = 0;
    Status st = audit.log().Scan(query, [&](const domain::AuditRecord& r) {
      std::string line = a.format == "cef"
                             ? CefLine(r)
                             : domain::AuditRecordJson(r).dump(
                                   -1, ' ', false, nlohmann::json::error_handler_t::replace);
      line.push_back('\n');
      if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) {
        return ErrnoStatus(a.out.empty() ? "standard output" : a.out, errno);
      }
      ++count;
      return Status::Ok();
    });
    // An export that a crash could leave half-written on the auditor's media is no export.
    if (st.ok() && (std::fflush(out) != 0 || (out != stdout && fsync(fileno(out)) != 0))) {
      st = ErrnoStatus(a.out, errno);
    }
    if (out != stdout) std::fclose(out);
    nlohmann::json details = {{"format", a.format}, {"records", count}};
    for (auto [key, value] : {std::pair{"since", &a.since}, std::pair{"until", &a.until},
                              std::pair{"actor", &a.actor}, std::pair{"action", &a.action}}) {
      if (!value->empty()) details[key] = *value;
    }
    Status audited =
        audit.Record("audit.export", a.out.empty() ? "stdout" : "file:" + a.out, st, details);
    if (!st.ok()) return Fail(st);
    if (!audited.ok()) return Fail(audited);
    if (!a.out.empty()) std::cerr << "exported " << count << " audit records to " << a.out << "\n";
    return int{kExitOk};
  });
}

int ExportCheckpoint(const GlobalOptions& global, const AuditArgs& a) {
  return WithDatabase(global, [&](const config::Config& cfg, storage::Database& db) {
    // Without the secret key there is nothing to sign with: say so instead of exporting an
    // older checkpoint as if it were fresh.
    if (Result<domain::ApplianceKeys> keys = domain::LoadKeys(LayoutFor(cfg)); !keys.ok()) {
      return Fail(keys.status());
    }
    CommandAudit audit(&db, cfg);
    // The export is itself an event, and the checkpoint covers it: the file is always newer
    // than anything already signed.
    if (Status st = audit.Record("audit.checkpoint_export", "file:" + a.out, Status::Ok());
        !st.ok()) {
      return Fail(st);
    }
    Result<domain::ExportedCheckpoint> cp = audit.log().ExportCheckpoint();
    if (!cp.ok()) return Fail(cp.status());
    std::string text = domain::ExportedCheckpointJson(*cp).dump(2) + "\n";
    if (Status st = WriteFileAtomic(a.out, text, 0644); !st.ok()) return Fail(st);
    std::cout << "checkpoint at record " << cp->checkpoint.seq << " (hash "
              << HexEncode(cp->checkpoint.hash).substr(0, 16) << "..., key "
              << cp->checkpoint.key_id << ") written to " << a.out
              << "; keep it on separate media\n";
    return int{kExitOk};
  });
}

}  // namespace

void AddAuditCommands(CLI::App* app, GlobalOptions* global, Action* action) {
  auto a = std::make_shared<AuditArgs>();
  CLI::App* audit = AddSubcommand(app, "audit", "Verify and export the tamper-evident audit log");
  audit->require_subcommand(1);
  auto bind = [&](CLI::App* cmd, int (*fn)(const GlobalOptions&, const AuditArgs&)) {
    cmd->callback(
        [global, a, action, fn] { *action = [global, a, fn] { return fn(*global, *a); }; });
  };

  CLI::App* verify =
      AddSubcommand(audit, "verify",
                    "Prove that no record was changed, inserted, removed, reordered or cut off "
                    "(exit 8 naming the first bad record otherwise)");
  verify->add_option("--checkpoint", a->checkpoint_file,
                     "Also check against a checkpoint exported earlier (from separate media)");
  bind(verify, Verify);

  CLI::App* exp = AddSubcommand(audit, "export", "Write audit records as JSON Lines or CEF");
  exp->add_option("--format", a->format, "jsonl (default) or cef")
      ->check(CLI::IsMember({"jsonl", "cef"}));
  exp->add_option("--since", a->since, "Only records at or after this time (ISO 8601, UTC)");
  exp->add_option("--until", a->until, "Only records before this time (ISO 8601, UTC)");
  exp->add_option("--actor", a->actor, "Only records by this actor (user name, system, cli:...)");
  exp->add_option("--action", a->action, "Only actions starting with this (e.g. auth.)");
  exp->add_option("--out", a->out, "Write to FILE instead of standard output");
  bind(exp, Export);

  CLI::App* checkpoint = AddSubcommand(audit, "checkpoint", "Signed checkpoints of the chain");
  checkpoint->require_subcommand(1);
  CLI::App* cexp = AddSubcommand(checkpoint, "export",
                                 "Sign a fresh checkpoint and write it, with the public key, "
                                 "as JSON for separate media");
  cexp->add_option("--out", a->out, "File to write")->required();
  bind(cexp, ExportCheckpoint);
}

}  // namespace outpost::cli
