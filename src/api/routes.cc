#include "api/routes.h"

#include <httplib.h>

#include "api/handlers.h"

namespace outpost::api {
namespace {

constexpr Route kRoutes[] = {
    {"GET", "/healthz", Access::kPublic, false, HandleHealthz, "liveness: the process answers"},
    {"GET", "/readyz", Access::kPublic, false, HandleReadyz,
     "readiness: the database accepts writes"},
    {"GET", "/metrics", Access::kAdmin, false, HandleMetrics, "Prometheus metrics"},
    {"GET", "/api/v1/site", Access::kPublic, false, HandleSite,
     "site name, classification banner and login notice"},
    {"POST", "/api/v1/auth/login", Access::kPublic, true, HandleLogin,
     "sign in with user name and password; sets the session cookie"},
    {"POST", "/api/v1/auth/logout", Access::kUser, false, HandleLogout,
     "end the current session"},
    {"GET", "/api/v1/me", Access::kUser, false, HandleMe, "the signed-in account and session"},
    {"GET", "/api/v1/me/tokens", Access::kUser, false, HandleListTokens,
     "the caller's API tokens (never the secrets)"},
    {"POST", "/api/v1/me/tokens", Access::kUser, true, HandleCreateToken,
     "create an API token; the secret is shown once"},
    {"DELETE", R"(/api/v1/me/tokens/(\d{1,18}))", Access::kUser, false, HandleRevokeToken,
     "revoke one of the caller's API tokens"},
    {"GET", "/api/v1/users", Access::kAdmin, false, HandleListUsers, "list every account"},
    {"POST", "/api/v1/users", Access::kAdmin, true, HandleCreateUser, "create an account"},
    {"POST", R"(/api/v1/users/([A-Za-z0-9._-]{1,64})/disable)", Access::kAdmin, false,
     HandleDisableUser, "disable an account and end its sessions"},
    {"POST", R"(/api/v1/users/([A-Za-z0-9._-]{1,64})/enable)", Access::kAdmin, false,
     HandleEnableUser, "enable an account"},
};

}  // namespace

std::span<const Route> RouteTable() { return kRoutes; }

std::string_view AccessName(Access access) {
  switch (access) {
    case Access::kPublic: return "public";
    case Access::kUser: return "user";
    case Access::kAdmin: return "admin";
  }
  return "admin";
}

nlohmann::json UserJson(const domain::User& user) {
  return {{"id", user.id},
          {"username", user.username},
          {"display_name", user.display_name},
          {"role", user.role},
          {"disabled", user.disabled},
          {"created_at", FormatIso8601(user.created_at)}};
}

nlohmann::json SessionJson(const domain::Session& session, const domain::Sessions& sessions) {
  return {{"created_at", FormatIso8601(session.created_at)},
          {"expires_at", FormatIso8601(sessions.EffectiveExpiry(session))},
          {"absolute_expires_at", FormatIso8601(session.expires_at)},
          {"idle_timeout_seconds", sessions.policy().idle_timeout_ms / 1000}};
}

void SetJson(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
                  "application/json");
}

}  // namespace outpost::api
