// outpost db check|vacuum and outpost doctor: the database's own health, and a one-screen
// check of what an appliance needs to keep running (permissions, keys, certificate, disk,
// database, clock). docs/backup.md describes both.
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#include <CLI/CLI.hpp>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <vector>

#include "cli/cli_audit.h"
#include "cli/commands.h"
#include "net/tls.h"
#include "util/fs.h"

namespace outpost::cli {
namespace {

constexpr int64_t kCertWarnDays = 30;
constexpr double kDiskWarnFraction = 0.10;
constexpr int kEarliestPlausibleYear = 2024;

// Opens the database without migrating it: a check must not change what it checks.
Result<std::unique_ptr<storage::Connection>> OpenRaw(const config::Config& cfg, bool read_only) {
  domain::DataLayout layout = LayoutFor(cfg);
  if (!PathExists(layout.database())) {
    return Status::NotFound("no Outpost database in " + layout.root);
  }
  storage::OpenOptions options;
  options.read_only = read_only;
  options.busy_timeout_ms = cfg.database.busy_timeout_ms;
  return storage::Connection::Open(layout.database(), options);
}

// Every row of a PRAGMA as one line, its columns joined by spaces.
Result<std::vector<std::string>> PragmaRows(storage::Connection* conn, const std::string& sql,
                                            int columns) {
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement stmt, conn->Prepare(sql));
  std::vector<std::string> rows;
  while (true) {
    OUTPOST_ASSIGN_OR_RETURN(bool row, stmt.Step());
    if (!row) break;
    std::string line;
    for (int c = 0; c < columns; ++c) line += (c ? " " : "") + stmt.ColumnText(c);
    rows.push_back(line);
  }
  return rows;
}

int DbCheck(const GlobalOptions& global) {
  Result<config::Config> cfg = LoadConfig(global);
  if (!cfg.ok()) return ConfigFailure(cfg.status());
  Result<std::unique_ptr<storage::Connection>> conn = OpenRaw(*cfg, true);
  if (!conn.ok()) return Fail(conn.status());
  Result<std::vector<std::string>> integrity = PragmaRows(conn->get(), "PRAGMA integrity_check", 1);
  if (!integrity.ok()) return Fail(integrity.status());
  Result<std::vector<std::string>> fk = PragmaRows(conn->get(), "PRAGMA foreign_key_check", 4);
  if (!fk.ok()) return Fail(fk.status());
  bool intact = integrity->size() == 1 && (*integrity)[0] == "ok";
  std::cout << "integrity_check: " << (intact ? "ok" : "PROBLEMS") << "\n";
  if (!intact) {
    for (const auto& line : *integrity) std::cout << "  " << line << "\n";
  }
  std::cout << "foreign_key_check: " << (fk->empty() ? "ok" : "PROBLEMS") << "\n";
  for (const auto& line : *fk) std::cout << "  table rowid parent fk: " << line << "\n";
  if (intact && fk->empty()) return kExitOk;
  std::cerr << "outpost: the database " << (*conn)->path()
            << " is damaged; restore it from a backup (docs/backup.md)\n";
  return kExitCorrupt;
}

int DbVacuum(const GlobalOptions& global) {
  Result<config::Config> cfg = LoadConfig(global);
  if (!cfg.ok()) return ConfigFailure(cfg.status());
  Result<std::unique_ptr<storage::Connection>> conn = OpenRaw(*cfg, false);
  if (!conn.ok()) return Fail(conn.status());
  // VACUUM rewrites the whole file under a write lock; the server's writes would wait and then
  // fail. An exclusive lock, which no other open connection allows, proves nobody else is in.
  Status lock = (*conn)->Exec("PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT;");
  if (lock.code() == Code::kUnavailable) {
    return Fail(Status::Unavailable("the database " + (*conn)->path() +
                                    " is in use by another process (is 'outpost serve' "
                                    "running?); stop the server, then vacuum"));
  }
  if (!lock.ok()) return Fail(lock);
  struct stat before, after;
  stat((*conn)->path().c_str(), &before);
  Status st = (*conn)->Exec("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);");
  if (!st.ok()) return Fail(st);
  stat((*conn)->path().c_str(), &after);
  std::cout << "vacuumed " << (*conn)->path() << ": " << before.st_size << " -> " << after.st_size
            << " bytes\n";
  return kExitOk;
}

// ---------------------------------------------------------------------------------------------
// doctor

enum class Level { kOk, kWarn, kFail };

struct Check {
  Level level;
  std::string name;
  std::string detail;
};

void Print(const Check& c) {
  const char* level = c.level == Level::kOk ? "OK" : c.level == Level::kWarn ? "WARN" : "FAIL";
  std::cout << std::left << std::setw(6) << level << std::setw(14) << c.name << c.detail << "\n";
}

Check Permissions(const config::Config& cfg) {
  domain::DataLayout l = LayoutFor(cfg);
  std::vector<std::string> fails, warns;
  for (const std::string& dir :
       {l.root, l.keys_dir(), l.tls_dir(), l.root + "/blobs", l.root + "/backups"}) {
    struct stat st;
    if (stat(dir.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      warns.push_back(dir + " is open to other users (chmod 700 " + dir + ")");
    }
  }
  for (const std::string& secret :
       {l.signing_key(), l.master_key(), l.ca_key(), config::KeyFile(cfg), l.database()}) {
    struct stat st;
    if (stat(secret.c_str(), &st) == 0 && (st.st_mode & 077) != 0) {
      fails.push_back(secret + " is readable by other users (chmod 600 " + secret + ")");
    }
  }
  if (!fails.empty()) {
    std::string all;
    for (const auto& f : fails) all += (all.empty() ? "" : "; ") + f;
    return {Level::kFail, "permissions", all};
  }
  if (!warns.empty()) return {Level::kWarn, "permissions", warns.front()};
  return {Level::kOk, "permissions", "folders 0700, secrets 0600"};
}

Check Keys(const config::Config& cfg) {
  Result<domain::ApplianceKeys> keys = domain::LoadKeys(LayoutFor(cfg));
  if (!keys.ok()) return {Level::kFail, "keys", keys.status().message()};
  return {Level::kOk, "keys", "signing key pair matches, master key present"};
}

Check TlsKey(const config::Config& cfg) {
  Result<std::string> cert = ReadFile(config::CertFile(cfg));
  Result<std::string> key = ReadFile(config::KeyFile(cfg));
  if (!cert.ok()) return {Level::kFail, "tls key", cert.status().message()};
  if (!key.ok()) return {Level::kFail, "tls key", key.status().message()};
  // Any time before expiry: expiry is the certificate check's business.
  Status st = net::CheckKeyMatchesCert(*cert, *key, 0);
  WipeString(&*key);
  if (!st.ok()) return {Level::kFail, "tls key", st.message()};
  return {Level::kOk, "tls key", "the server key matches " + config::CertFile(cfg)};
}

Check Certificate(const std::string& name, const std::string& path, int64_t now) {
  Result<std::string> pem = ReadFile(path);
  if (!pem.ok()) return {Level::kFail, name, pem.status().message()};
  Result<net::CertInfo> info = net::InspectCertificate(*pem);
  if (!info.ok()) return {Level::kFail, name, path + ": " + info.status().message()};
  int64_t days = (info->not_after - now) / 86400;
  std::string until = FormatIso8601(info->not_after * 1000).substr(0, 10);
  if (info->not_after <= now) {
    return {Level::kFail, name, path + " expired on " + until + " (outpost cert ...)"};
  }
  if (days < kCertWarnDays) {
    return {Level::kWarn, name,
            path + " expires in " + std::to_string(days) + " days (" + until + "): renew it"};
  }
  return {Level::kOk, name, "valid until " + until + " (" + std::to_string(days) + " days)"};
}

Check Disk(const std::string& dir) {
  struct statvfs vfs;
  if (statvfs(dir.c_str(), &vfs) != 0)
    return {Level::kFail, "disk", ErrnoStatus(dir, errno).message()};
  double total = static_cast<double>(vfs.f_blocks) * vfs.f_frsize;
  double avail = static_cast<double>(vfs.f_bavail) * vfs.f_frsize;
  double fraction = total > 0 ? avail / total : 0;
  std::ostringstream s;
  s << std::fixed << std::setprecision(1) << avail / (1 << 30) << " GiB free of "
    << total / (1 << 30) << " GiB (" << fraction * 100 << "%) for " << dir;
  if (fraction < kDiskWarnFraction) return {Level::kWarn, "disk", s.str() + ": make room"};
  return {Level::kOk, "disk", s.str()};
}

Check Database(const config::Config& cfg) {
  Result<std::unique_ptr<storage::Connection>> conn = OpenRaw(cfg, true);
  if (!conn.ok()) return {Level::kFail, "database", conn.status().message()};
  Result<std::vector<std::string>> rows = PragmaRows(conn->get(), "PRAGMA quick_check", 1);
  if (!rows.ok()) return {Level::kFail, "database", rows.status().message()};
  if (rows->size() != 1 || (*rows)[0] != "ok") {
    return {Level::kFail, "database",
            "quick_check: " + rows->front() + " (run 'outpost db check')"};
  }
  return {Level::kOk, "database", "quick_check ok"};
}

Check ClockSanity(const config::Config& cfg, int64_t now) {
  time_t t = static_cast<time_t>(now);
  struct tm tm;
  gmtime_r(&t, &tm);
  std::string shown = FormatIso8601(now * 1000);
  if (tm.tm_year + 1900 < kEarliestPlausibleYear) {
    return {Level::kWarn, "clock",
            "the system clock says " + shown +
                ": set the time (sessions, certificates and backups depend on it)"};
  }
  Result<std::string> pem = ReadFile(config::CertFile(cfg));
  Result<net::CertInfo> info =
      pem.ok() ? net::InspectCertificate(*pem) : Result<net::CertInfo>(pem.status());
  if (info.ok() && info->not_before > now) {
    return {Level::kWarn, "clock",
            "the server certificate is valid only from " + FormatIso8601(info->not_before * 1000) +
                " but the clock says " + shown + ": is the clock behind?"};
  }
  std::string sync = PathExists("/run/systemd/timesync/synchronized")
                         ? "synchronized by systemd-timesyncd"
                         : "no time synchronization seen; keep the clock set by hand or from a "
                           "local NTP source";
  return {Level::kOk, "clock", shown + ", " + sync};
}

int Doctor(const GlobalOptions& global) {
  Result<config::Config> cfg = LoadConfig(global);
  if (!cfg.ok()) return ConfigFailure(cfg.status());
  const int64_t now = SystemClock()->NowMillis() / 1000;
  domain::DataLayout layout = LayoutFor(*cfg);
  if (!PathExists(layout.root)) {
    return Fail(Status::NotFound("no data folder " + layout.root));
  }
  std::vector<Check> checks = {Permissions(*cfg), Keys(*cfg), TlsKey(*cfg),
                               Certificate("certificate", config::CertFile(*cfg), now)};
  if (PathExists(layout.ca_cert())) checks.push_back(Certificate("ca", layout.ca_cert(), now));
  checks.push_back(Disk(layout.root));
  checks.push_back(Database(*cfg));
  if (Result<std::unique_ptr<storage::Connection>> conn = OpenRaw(*cfg, true); conn.ok()) {
    for (const AuditDoctorLine& a : AuditDoctorChecks(*cfg, **conn)) {
      checks.push_back({static_cast<Level>(a.level), a.name, a.detail});
    }
  }
  checks.push_back(ClockSanity(*cfg, now));
  bool failed = false;
  for (const Check& c : checks) {
    Print(c);
    failed |= c.level == Level::kFail;
  }
  return failed ? kExitRefused : kExitOk;
}

}  // namespace

void AddDbCommands(CLI::App* app, GlobalOptions* global, Action* action) {
  CLI::App* db = AddSubcommand(app, "db", "Check or compact the database");
  db->require_subcommand(1);
  CLI::App* check = AddSubcommand(db, "check",
                                  "integrity_check and foreign_key_check; exit 8 when damaged");
  check->callback([global, action] { *action = [global] { return DbCheck(*global); }; });
  CLI::App* vacuum = AddSubcommand(db, "vacuum",
                                   "Rebuild the database file to reclaim space (stop the server)");
  vacuum->callback([global, action] { *action = [global] { return DbVacuum(*global); }; });

  CLI::App* doctor = AddSubcommand(app, "doctor",
                                   "Check permissions, keys, certificate, disk, database, clock");
  doctor->callback([global, action] { *action = [global] { return Doctor(*global); }; });
}

}  // namespace outpost::cli
