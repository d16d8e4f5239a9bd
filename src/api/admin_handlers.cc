// The admin console's routes: what the system status page shows, every channel for the rooms
// page, and an administrator's password reset. Read-only figures come straight from the
// services and the file system; nothing here is cached, since an administrator who presses
// "Refresh" wants the figure of now.
#include "api/admin_handlers.h"

#include "api/handler_audit.h"

#include <httplib.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <charconv>
#include <limits>

#include "api/handlers.h"
#include "domain/backup.h"
#include "domain/site_settings.h"
#include "util/crypto.h"
#include "util/log.h"

namespace outpost::api {
namespace {

constexpr int64_t kDefaultRoomPage = 100;
constexpr int64_t kMaxRoomPage = 500;

nlohmann::json TimeOrNull(UnixMillis t) { return t ? nlohmann::json(FormatIso8601(t)) : nullptr; }
nlohmann::json TextOrNull(const std::string& s) { return s.empty() ? nlohmann::json() : nlohmann::json(s); }

// Size of the file at `path`; 0 when it does not exist (a WAL between checkpoints may not).
int64_t FileBytes(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

std::string DirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// Free and total bytes of the file system holding `dir`, as an unprivileged process may use
// them (f_bavail: root's reserve is not the service's to spend). Null figures when statvfs fails.
nlohmann::json DiskJson(const std::string& dir) {
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) != 0) {
    return {{"path", dir}, {"free_bytes", nullptr}, {"total_bytes", nullptr}};
  }
  const auto unit = static_cast<int64_t>(vfs.f_frsize);
  return {{"path", dir},
          {"free_bytes", static_cast<int64_t>(vfs.f_bavail) * unit},
          {"total_bytes", static_cast<int64_t>(vfs.f_blocks) * unit}};
}

// One query's single row of integers, on a read connection.
Status ReadInts(storage::Connection& conn, std::string_view sql, std::vector<int64_t*> out) {
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement s, conn.Prepare(sql));
  OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
  for (size_t i = 0; i < out.size(); ++i) *out[i] = row ? s.ColumnInt64(static_cast<int>(i)) : 0;
  return Status::Ok();
}

nlohmann::json BackupJson(const domain::BackupScheduler& b) {
  const domain::BackupRunStatus st = b.status();
  const bool configured = !b.schedule().key_file.empty() || !b.schedule().passphrase_file.empty();
  nlohmann::json last_result = nullptr;
  if (st.last_attempt_at != 0) last_result = st.last_error.empty() ? "success" : "failure";
  return {{"scheduled", b.scheduled()},
          {"configured", configured},
          {"next_run_at", TimeOrNull(st.next_run_at)},
          {"runs", st.runs},
          {"failures", st.failures},
          {"last_result", last_result},
          {"last_attempt_at", TimeOrNull(st.last_attempt_at)},
          {"last_success_at", TimeOrNull(st.last_success_at)},
          {"last_file", TextOrNull(st.last_file)},
          {"last_bytes", st.last_bytes},
          {"last_error", TextOrNull(st.last_error)}};
}

// The query parameter `name` as an integer in [min, max], or `fallback` when absent.
Result<int64_t> IntParam(const httplib::Request& req, const char* name, int64_t fallback,
                         int64_t min, int64_t max) {
  if (!req.has_param(name)) return fallback;
  const std::string text = req.get_param_value(name);
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || value < min ||
      value > max) {
    return Status::InvalidArgument(std::string("'") + name + "' must be a whole number from " +
                                   std::to_string(min) + " to " + std::to_string(max));
  }
  return value;
}

// LIKE pattern matching `text` anywhere, with the wildcards in it taken literally (ESCAPE '\').
std::string ContainsPattern(const std::string& text) {
  std::string out = "%";
  for (char c : text) {
    if (c == '%' || c == '_' || c == '\\') out += '\\';
    out += c;
  }
  return out + "%";
}

nlohmann::json SettingsJson(const domain::SiteSettings& s) {
  const domain::SiteText now = s.Current();
  const std::vector<std::string> overridden = s.Overridden();
  nlohmann::json out = nlohmann::json::object();
  auto add = [&](const char* key, const std::string& value, const std::string& fallback) {
    out[key] = {{"value", value},
                {"default", fallback},
                {"overridden", std::find(overridden.begin(), overridden.end(), key) !=
                                   overridden.end()}};
  };
  add("banner_text", now.banner_text, s.defaults().banner_text);
  add("banner_color", now.banner_color, s.defaults().banner_color);
  add("login_notice", now.login_notice, s.defaults().login_notice);
  return {{"settings", out},
          {"banner_colors", {"green", "blue", "red", "orange", "yellow", "purple"}}};
}

}  // namespace

Status HandleAdminStatus(Call& call) {
  Services& svc = call.svc;
  const UnixMillis now = svc.clock->NowMillis();
  const std::string& db_path = svc.db->path();
  const std::string data_dir = DirOf(db_path);

  int64_t users = 0, disabled = 0, public_rooms = 0, private_rooms = 0, direct = 0,
          archived = 0, blobs = 0, blob_bytes = 0, audit_last_seq = 0;
  OUTPOST_RETURN_IF_ERROR(svc.db->Read([&](storage::Connection& conn) {
    OUTPOST_RETURN_IF_ERROR(ReadInts(
        conn, "SELECT COUNT(*), COALESCE(SUM(disabled != 0), 0) FROM users", {&users, &disabled}));
    OUTPOST_RETURN_IF_ERROR(ReadInts(conn,
                                     "SELECT COALESCE(SUM(kind = 'public'), 0), "
                                     "COALESCE(SUM(kind = 'private'), 0), "
                                     "COALESCE(SUM(kind IN ('dm', 'group')), 0), "
                                     "COALESCE(SUM(archived != 0), 0) FROM rooms",
                                     {&public_rooms, &private_rooms, &direct, &archived}));
    OUTPOST_RETURN_IF_ERROR(ReadInts(conn, "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs",
                                     {&blobs, &blob_bytes}));
    return ReadInts(conn, "SELECT COALESCE(MAX(seq), 0) FROM audit_records", {&audit_last_seq});
  }));

  nlohmann::json realtime = {{"websockets", nullptr}, {"online_users", nullptr}};
  if (svc.realtime != nullptr) {
    realtime["websockets"] = svc.realtime->hub_stats().connections;
    realtime["online_users"] = svc.realtime->OnlineUsers();
  }

  // "storage" (size against [audit] max_size_mb and the 75% alert) and "forward" (SIEM), as
  // the auditor's own GET /api/v1/audit/status reports them; plus the log's own figures.
  nlohmann::json audit = AuditHealthJson(svc);
  audit["last_seq"] = audit_last_seq;
  audit["bytes"] = nullptr;
  if (svc.audit != nullptr) {
    if (Result<int64_t> bytes = svc.audit->SizeBytes(); bytes.ok()) {
      audit["bytes"] = *bytes;
    } else {
      log::Warn("audit size unavailable", {{"error", bytes.status().ToString()}});
    }
  }

  SetJson(call.res, 200,
          {{"version", OUTPOST_VERSION},
           {"now", FormatIso8601(now)},
           {"started_at", TimeOrNull(svc.started_at)},
           {"uptime_seconds", svc.started_at ? (now - svc.started_at) / 1000 : 0},
           {"connections",
            {{"https", svc.open_connections ? svc.open_connections() : 0},
             {"websockets", realtime["websockets"]},
             {"online_users", realtime["online_users"]}}},
           {"database",
            {{"path", db_path},
             {"file_bytes", FileBytes(db_path)},
             {"wal_bytes", FileBytes(db_path + "-wal")}}},
           {"disk", DiskJson(data_dir)},
           {"files", {{"blobs", blobs}, {"stored_bytes", blob_bytes}}},
           {"audit", audit},
           {"users", {{"total", users}, {"disabled", disabled}}},
           {"rooms",
            {{"public", public_rooms},
             {"private", private_rooms},
             {"direct", direct},
             {"archived", archived}}},
           {"backup", svc.backups != nullptr ? BackupJson(*svc.backups) : nlohmann::json()}});
  return Status::Ok();
}

Status HandleAdminRooms(Call& call) {
  const httplib::Request& req = call.req;
  OUTPOST_ASSIGN_OR_RETURN(int64_t after_id, IntParam(req, "after_id", 0, 0,
                                                      std::numeric_limits<int64_t>::max()));
  OUTPOST_ASSIGN_OR_RETURN(int64_t limit,
                           IntParam(req, "limit", kDefaultRoomPage, 1, kMaxRoomPage));
  const std::string q = req.has_param("q") ? req.get_param_value("q") : "";
  if (q.size() > 100) return Status::InvalidArgument("'q' is too long");
  const std::string archived = req.has_param("archived") ? req.get_param_value("archived") : "all";
  std::string archived_sql;
  if (archived == "only") {
    archived_sql = " AND r.archived != 0";
  } else if (archived == "none") {
    archived_sql = " AND r.archived = 0";
  } else if (archived != "all") {
    return Status::InvalidArgument("'archived' must be all, only or none");
  }

  nlohmann::json rooms = nlohmann::json::array();
  bool more = false;
  OUTPOST_RETURN_IF_ERROR(call.svc.db->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("SELECT r.id, r.kind, r.name, r.topic, r.read_only, r.archived, "
                     "r.is_default, r.created_at, r.last_message_at, "
                     "(SELECT COUNT(*) FROM room_members m WHERE m.room_id = r.id) "
                     "FROM rooms r WHERE r.kind IN ('public', 'private') AND r.id > ? "
                     "AND (? = '' OR r.name LIKE ? ESCAPE '\\' OR r.topic LIKE ? ESCAPE '\\')" +
                     archived_sql + " ORDER BY r.id LIMIT ?"));
    const std::string pattern = ContainsPattern(q);
    s.Bind(1, after_id).Bind(2, q).Bind(3, pattern).Bind(4, pattern).Bind(5, limit + 1);
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement owners,
        conn.Prepare("SELECT u.id, u.username, u.display_name FROM room_members m "
                     "JOIN users u ON u.id = m.user_id WHERE m.room_id = ? AND m.role = 'owner' "
                     "ORDER BY u.username"));
    while (true) {
      OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
      if (!row) break;
      if (static_cast<int64_t>(rooms.size()) == limit) {
        more = true;
        break;
      }
      const int64_t id = s.ColumnInt64(0);
      nlohmann::json owner_list = nlohmann::json::array();
      owners.Reset();
      owners.Bind(1, id);
      while (true) {
        OUTPOST_ASSIGN_OR_RETURN(bool o, owners.Step());
        if (!o) break;
        owner_list.push_back({{"id", owners.ColumnInt64(0)},
                              {"username", owners.ColumnText(1)},
                              {"display_name", owners.ColumnText(2)}});
      }
      rooms.push_back({{"id", id},
                       {"kind", s.ColumnText(1)},
                       {"name", s.ColumnText(2)},
                       {"topic", s.ColumnText(3)},
                       {"read_only", s.ColumnInt64(4) != 0},
                       {"archived", s.ColumnInt64(5) != 0},
                       {"default", s.ColumnInt64(6) != 0},
                       {"created_at", FormatIso8601(s.ColumnInt64(7))},
                       {"last_message_at", s.ColumnIsNull(8)
                                               ? nlohmann::json()
                                               : nlohmann::json(FormatIso8601(s.ColumnInt64(8)))},
                       {"member_count", s.ColumnInt64(9)},
                       {"owners", owner_list}});
    }
    return Status::Ok();
  }));
  nlohmann::json next = more ? nlohmann::json(rooms.back()["id"]) : nlohmann::json();
  SetJson(call.res, 200, {{"rooms", rooms}, {"next_after_id", next}});
  return Status::Ok();
}

Status HandleResetUserPassword(Call& call) {
  const std::string name = call.req.matches[1];
  auto it = call.body.find("password");
  if (it == call.body.end() || !it->is_string()) {
    return Status::InvalidArgument("'password' is required and must be a string");
  }
  std::string password = it->get<std::string>();
  if (password.size() > 4096) {
    WipeString(&password);
    return Status::InvalidArgument("'password' is too long");
  }
  // The new password must not be set without its record: check the log can take one first.
  if (call.svc.audit != nullptr) {
    if (Status admitted = call.svc.audit->Admit(); !admitted.ok()) {
      WipeString(&password);
      return admitted;
    }
  }
  Status st = call.svc.accounts->ResetPassword(name, password);
  WipeString(&password);
  if (call.svc.audit != nullptr) {
    domain::AuditEvent event = AuditEventFor(call, "user.password_reset", "user:" + name);
    if (!st.ok()) {
      event.outcome = domain::AuditOutcome::kFailure;
      event.details["reason"] = CodeName(st.code());
    }
    Status audited = call.svc.audit->Append(event).status();
    // A reset that happened stays: it already ended the sessions, and undoing it would need
    // the old hash. The error tells the administrator that it went unaudited.
    if (st.ok() && !audited.ok()) return audited;
  }
  OUTPOST_RETURN_IF_ERROR(st);
  if (call.svc.realtime != nullptr) {
    if (Result<domain::User> u = call.svc.accounts->FindByName(name); u.ok()) {
      call.svc.realtime->EndUser(u->id, "the password was reset");
    }
  }
  log::Info("password reset", {{"user", name}, {"by", call.principal->user.username}});
  call.res.status = 204;
  return Status::Ok();
}

Status HandleGetSettings(Call& call) {
  if (call.svc.site_settings == nullptr) return Status::Unavailable("settings are not available");
  SetJson(call.res, 200, SettingsJson(*call.svc.site_settings));
  return Status::Ok();
}

Status HandlePatchSettings(Call& call) {
  if (call.svc.site_settings == nullptr) return Status::Unavailable("settings are not available");
  domain::SiteTextUpdate update;
  for (const auto& [key, value] : call.body.items()) {
    std::optional<std::optional<std::string>>* slot = nullptr;
    if (key == "banner_text") slot = &update.banner_text;
    if (key == "banner_color") slot = &update.banner_color;
    if (key == "login_notice") slot = &update.login_notice;
    if (slot == nullptr) {
      return Status::InvalidArgument("'" + key.substr(0, 64) +
                                     "' cannot be changed here (banner_text, banner_color, "
                                     "login_notice)");
    }
    if (value.is_null()) {
      *slot = std::optional<std::string>();  // back to the configuration file's value
    } else if (value.is_string()) {
      *slot = value.get<std::string>();
    } else {
      return Status::InvalidArgument("'" + key + "' must be a string, or null to reset it");
    }
  }
  OUTPOST_RETURN_IF_ERROR(
      call.svc.site_settings->Update(update, AuditEventFor(call, "settings.update", "settings:site"))
          .status());
  log::Info("site settings changed", {{"by", call.principal->user.username}});
  SetJson(call.res, 200, SettingsJson(*call.svc.site_settings));
  return Status::Ok();
}

}  // namespace outpost::api
