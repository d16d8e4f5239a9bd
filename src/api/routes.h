// The route table: every API route with its method, path pattern, the access it requires and
// its handler, in one place (like Redis's command table). The server registers exactly these;
// tests walk the table to prove that each non-public route refuses callers without access.
#ifndef OUTPOST_API_ROUTES_H_
#define OUTPOST_API_ROUTES_H_

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/cursor.h"
#include "api/login_throttle.h"
#include "api/rate_limit.h"
#include "api/metrics.h"
#include "api/realtime.h"
#include "domain/accounts.h"
#include "domain/cert_identity.h"
#include "domain/messages.h"
#include "domain/permissions.h"
#include "domain/rooms.h"
#include "domain/search.h"
#include "domain/audit.h"
#include "domain/audit_forwarder.h"
#include "domain/audit_watch.h"
#include "domain/backup_scheduler.h"
#include "domain/retention.h"
#include "domain/files.h"
#include "domain/sessions.h"
#include "domain/site_settings.h"
#include "domain/totp.h"
#include "storage/database.h"
#include "util/clock.h"
#include "util/status.h"

namespace httplib {
struct Request;
struct Response;
class ContentReader;
}  // namespace httplib

namespace outpost::api {

// Who may call a route. kPublic: anyone; kUser: any signed-in account (session cookie or API
// token) whose role holds the route's `permission` (kNone: every role). kAdmin is what rows
// said before permissions: such a row passes only for a role holding every permission, and
// the route-table test fails until it names its permission instead.
enum class Access { kPublic, kUser, kAdmin };
std::string_view AccessName(Access access);

// What the API layer needs from the configuration.
struct ApiOptions {
  std::vector<std::string> host_names = {"localhost"};  // accepted in Host and Origin
  int https_port = 8443;
  std::string cookie_name = "__Host-outpost";
  size_t max_header_bytes = 8192;
  std::string site_name = "Outpost";
  std::string banner_text;
  std::string banner_color = "green";
  std::string login_notice;
  bool require_consent = false;  // sign-in needs "consent": true ([site] require_consent)
  domain::TwoFactorRequirement require_2fa = domain::TwoFactorRequirement::kNone;
  int login_attempts_per_minute_per_ip = 20;
  // Smart-card login (cert_handlers.h): the certificate identity that names the account,
  // nullopt when client certificates are off; who may still sign in with a password.
  std::optional<domain::CertIdentityKind> cert_map_by;
  domain::PasswordLoginPolicy password_login = domain::PasswordLoginPolicy::kAll;
  bool log_requests = true;
};

// Everything a handler may use. Pointers are owned elsewhere and outlive the server.
struct Services {
  storage::Database* db = nullptr;
  domain::Accounts* accounts = nullptr;
  domain::Sessions* sessions = nullptr;
  domain::ApiTokens* api_tokens = nullptr;
  domain::CertIdentities* cert_identities = nullptr;  // null: the smart-card routes answer 503
  domain::TwoFactor* two_factor = nullptr;         // null: no two-factor routes (503)
  domain::PendingLogins* pending_logins = nullptr;  // set with two_factor
  // Role -> permissions. Null only in tests of other layers: then "admin" holds every
  // permission and every other role none but Permission::kNone.
  domain::Roles* roles = nullptr;
  domain::Rooms* rooms = nullptr;
  domain::Messages* messages = nullptr;
  domain::Search* search = nullptr;
  domain::Files* files = nullptr;  // null: the file routes answer 503
  const CursorCodec* cursors = nullptr;
  domain::AuditLog* audit = nullptr;  // null: nothing is audited (tests of other layers)
  Metrics* metrics = nullptr;
  domain::BackupScheduler* backups = nullptr;  // null: the backup routes answer 503
  domain::Retention* retention = nullptr;      // null: the retention route answers 503
  RealtimeBridge* realtime = nullptr;  // null: no WebSockets (presence is "offline" for all)
  LoginThrottle* login_throttle = nullptr;
  RateLimiter* post_limiter = nullptr;    // [chat] posts_per_minute; null: unlimited
  RateLimiter* upload_limiter = nullptr;  // [files] uploads_per_minute; null: unlimited
  domain::AuditStorageMonitor* audit_storage = nullptr;  // null: no storage alert reported
  domain::AuditForwarder* audit_forwarder = nullptr;     // null: SIEM forwarding is off
  // Banner and sign-in notice as changed in the admin console; null: ApiOptions' values.
  domain::SiteSettings* site_settings = nullptr;
  const Clock* clock = nullptr;
  const ApiOptions* options = nullptr;
  std::function<int()> open_connections;
  UnixMillis started_at = 0;
};

// One request as a handler sees it. `principal` is set for every non-public route.
struct Call {
  const httplib::Request& req;
  httplib::Response& res;
  Services& svc;
  std::optional<domain::Principal> principal;
  nlohmann::json body;  // the parsed JSON body for routes that take one; null otherwise
  // For streaming_body routes: reads the body in pieces (the handler must call it); null
  // otherwise.
  const httplib::ContentReader* content_reader = nullptr;
};

// A handler fills `call.res` on success and returns OK, or returns the failure (which the
// server turns into the JSON error through SetError).
using Handler = Status (*)(Call& call);

struct Route {
  std::string_view method;   // GET, POST, PUT, PATCH, DELETE
  std::string_view pattern;  // an httplib regex, anchored; groups are path parameters
  Access access;
  bool json_body;            // the request must carry a JSON object (Content-Type checked)
  Handler handler;
  std::string_view summary;  // one line for docs/api.md and logs
  // The body is not read before the handler: it streams it through Call::content_reader, and
  // enforces its own size limit (uploads are larger than server.max_body_bytes).
  bool streaming_body = false;
  // What the caller's role must hold (checked by the server before the handler runs; 403
  // naming it otherwise). kNone: any signed-in account (kUser) or anyone (kPublic).
  domain::Permission permission = domain::Permission::kNone;
};

// The table, in a stable order. Valid for the whole run.
std::span<const Route> RouteTable();

// JSON forms shared by handlers.
nlohmann::json UserJson(const domain::User& user);
nlohmann::json SessionJson(const domain::Session& session, const domain::Sessions& sessions);
void SetJson(httplib::Response& res, int status, const nlohmann::json& body);

}  // namespace outpost::api

#endif  // OUTPOST_API_ROUTES_H_
