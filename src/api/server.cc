#include "api/server.h"

#include <arpa/inet.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <regex>

#include "api/account_handlers.h"
#include "api/handler_audit.h"
#include "api/http_status.h"
#include "net/assets.h"
#include "net/https_server.h"
#include "util/crypto.h"
#include "util/log.h"

namespace outpost::api {
namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// What the middleware learns about the request being served on this worker thread. httplib
// runs a request from pre-routing to the logger on one thread, so thread_local is exact.
struct RequestState {
  SteadyTime start{};
  std::string request_id;
  std::string route;  // route pattern, "static", or "" when no route matched
};
thread_local RequestState t_request;

// Whether `method path` is a route that streams its body (and so has its own size limit).
bool IsStreamingPath(const std::string& method, const std::string& path) {
  static const std::vector<std::pair<std::string, std::regex>>* streaming = [] {
    auto* v = new std::vector<std::pair<std::string, std::regex>>();
    for (const Route& r : RouteTable()) {
      if (!r.streaming_body) continue;
      v->emplace_back(std::string(r.method), std::regex(std::string(r.pattern)));
    }
    return v;
  }();
  for (const auto& [m, re] : *streaming) {
    if (m == method && std::regex_match(path, re)) return true;
  }
  return false;
}

constexpr const char* kCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'";

std::string ToLower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// "example:8443" -> "example"; "[::1]:8443" -> "::1".
std::string HostName(const std::string& host_header) {
  if (!host_header.empty() && host_header[0] == '[') {
    size_t close = host_header.find(']');
    return close == std::string::npos ? "" : host_header.substr(1, close - 1);
  }
  return host_header.substr(0, host_header.find(':'));
}

bool IsIpLiteral(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// DNS rebinding defence: a browser tricked into sending our cookie-less requests to a name the
// attacker controls carries that name in Host. IP literals cannot be rebound.
bool HostAllowed(const std::string& host_header, const ApiOptions& options) {
  std::string host = ToLower(HostName(host_header));
  if (host.empty()) return false;
  if (IsIpLiteral(host)) return true;
  return std::any_of(options.host_names.begin(), options.host_names.end(),
                     [&](const std::string& h) { return ToLower(h) == host; });
}

std::string CookieValue(const std::string& header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string::npos) end = header.size();
    std::string_view part(header.data() + pos, end - pos);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    if (part.size() > name.size() && part.substr(0, name.size()) == name &&
        part[name.size()] == '=') {
      return std::string(part.substr(name.size() + 1));
    }
    pos = end + 1;
  }
  return "";
}

bool IsStateChanging(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "OPTIONS";
}

// Authenticates by bearer token first (scripts), else by the session cookie (browsers).
Result<domain::Principal> AuthenticateHeaders(const std::string& auth, const std::string& cookie,
                                              Services& svc, bool* by_cookie) {
  *by_cookie = false;
  if (!auth.empty()) {
    if (auth.size() < 7 || ToLower(auth.substr(0, 7)) != "bearer ") {
      return Status::Unauthenticated("the Authorization header must be 'Bearer <token>'");
    }
    return svc.api_tokens->Authenticate(auth.substr(7));
  }
  std::string token = CookieValue(cookie, svc.options->cookie_name);
  if (token.empty()) return Status::Unauthenticated("sign in first");
  *by_cookie = true;
  Result<domain::Principal> principal = svc.sessions->Authenticate(token);
  WipeString(&token);  // this copy; the request's own header buffer is httplib's
  return principal;
}

Result<domain::Principal> Authenticate(const httplib::Request& req, Services& svc,
                                       bool* by_cookie) {
  return AuthenticateHeaders(req.get_header_value("Authorization"),
                             req.get_header_value("Cookie"), svc, by_cookie);
}

// Cross-site request forgery: a state-changing request must come from our own origin, and a
// cookie-authenticated one must echo the session's CSRF token (which only our pages can read
// from /api/v1/me or the login answer).
Status CheckCsrf(const httplib::Request& req, const domain::Principal* principal,
                 bool by_cookie) {
  if (req.get_header_value("Sec-Fetch-Site") == "cross-site") {
    return Status::PermissionDenied("cross-site requests are refused");
  }
  const std::string origin = req.get_header_value("Origin");
  if (!origin.empty() && origin != "https://" + req.get_header_value("Host")) {
    return Status::PermissionDenied("the request's Origin does not match this site");
  }
  if (principal != nullptr && by_cookie) {
    const std::string sent = req.get_header_value("X-CSRF-Token");
    if (sent.empty() || !ConstantTimeEquals(sent, principal->session.csrf_token)) {
      return Status::PermissionDenied("missing or wrong X-CSRF-Token header");
    }
  }
  return Status::Ok();
}

Status ParseJsonBody(const httplib::Request& req, nlohmann::json* out) {
  std::string type = ToLower(req.get_header_value("Content-Type"));
  std::string base = type.substr(0, type.find(';'));
  base.erase(std::remove(base.begin(), base.end(), ' '), base.end());
  if (base != "application/json") {
    return Status(Code::kInvalidArgument, "unsupported_media_type");
  }
  *out = nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (out->is_discarded()) return Status::InvalidArgument("the body is not valid JSON");
  if (!out->is_object()) return Status::InvalidArgument("the body must be a JSON object");
  return Status::Ok();
}

bool RoleHolds(const Services& svc, std::string_view role, domain::Permission p) {
  return svc.roles != nullptr ? svc.roles->Has(role, p) : domain::RoleHas(role, p);
}

domain::PermissionSet PermissionsOf(const Services& svc, std::string_view role) {
  return svc.roles != nullptr ? svc.roles->PermissionsOf(role) : domain::RolePermissions(role);
}

// The route's declared permission, and for a change to another account (any state-changing
// route under /api/v1/users/{name}) that the caller holds every permission the account holds:
// a user manager may reset a user's password, never an administrator's (which would make them
// one).
Status Authorize(const Route& route, Services& svc, const httplib::Request& req,
                 const domain::Principal& principal) {
  if (svc.roles != nullptr) {
    // Roles changed by an operator on the shell reach a running server within a second.
    if (Status st = svc.roles->Refresh(); !st.ok()) {
      log::Error("roles not reloaded", {{"error", st.ToString()}});
    }
  }
  const std::string& role = principal.user.role;
  domain::Permission needed = route.permission;
  if (needed == domain::Permission::kNone && route.access == Access::kAdmin) {
    // A row not yet converted to a permission: only a role holding everything passes.
    if ((PermissionsOf(svc, role) & domain::AllPermissions()) != domain::AllPermissions()) {
      return Status::PermissionDenied("this route needs every permission");
    }
  } else if (!RoleHolds(svc, role, needed)) {
    return Status::PermissionDenied("this needs the permission '" +
                                    std::string(domain::PermissionName(needed)) +
                                    "', which the role '" + role + "' does not hold");
  }
  static constexpr std::string_view kUsersPrefix = "/api/v1/users/(";
  if (IsStateChanging(req.method) && route.pattern.substr(0, kUsersPrefix.size()) == kUsersPrefix &&
      req.matches.size() > 1) {
    const std::string target = req.matches[1].str();
    if (svc.accounts != nullptr && target != principal.user.username) {
      Result<domain::User> other = svc.accounts->FindByName(target);
      if (other.ok()) {
        const domain::PermissionSet theirs = PermissionsOf(svc, other->role);
        if ((theirs & ~PermissionsOf(svc, role)).any()) {
          return Status::PermissionDenied(
              "'" + target + "' holds permissions that the role '" + role +
              "' does not: only someone who holds all of them may change that account");
        }
      }
    }
  }
  return Status::Ok();
}

// A signed-in caller tried a route their role does not allow: an unsuccessful attempt to use
// a privilege, recorded as access.denied (docs/audit.md). Never a reason to answer otherwise.
void AuditDenied(Call& call, const Route& route, const Status& why) {
  if (call.svc.audit == nullptr) return;
  domain::AuditEvent event =
      AuditEventFor(call, "access.denied", "route:" + call.req.method + " " + call.req.path);
  event.outcome = domain::AuditOutcome::kDenied;
  event.details = {{"route", std::string(route.pattern)}, {"reason", why.message()}};
  if (route.permission != domain::Permission::kNone) {
    event.details["permission"] = std::string(domain::PermissionName(route.permission));
  }
  if (Status st = call.svc.audit->Append(event).status(); !st.ok()) {
    log::Error("audit record lost", {{"action", event.action}, {"error", st.ToString()}});
  }
}

void Dispatch(const Route& route, Services& svc, const httplib::Request& req,
              httplib::Response& res, const httplib::ContentReader* reader = nullptr) {
  t_request.route = std::string(route.pattern);
  res.set_header("Cache-Control", "no-store");
  // A streamed body the handler refuses is left unread: the connection cannot be reused.
  if (reader != nullptr) res.set_header("Connection", "close");
  Call call{req, res, svc, std::nullopt, nullptr};
  call.content_reader = reader;
  bool by_cookie = false;
  if (route.access != Access::kPublic) {
    Result<domain::Principal> p = Authenticate(req, svc, &by_cookie);
    if (!p.ok()) return SetError(res, p.status());
    call.principal = std::move(*p);
    if (Status st = Authorize(route, svc, req, *call.principal); !st.ok()) {
      AuditDenied(call, route, st);
      return SetError(res, st);
    }
    if (PasswordChangeBlocks(route, svc, *call.principal, res)) return;  // stig maximum age
  }
  if (IsStateChanging(req.method)) {
    Status st = CheckCsrf(req, call.principal ? &*call.principal : nullptr, by_cookie);
    if (!st.ok()) return SetError(res, st);
  }
  if (route.json_body) {
    Status st = ParseJsonBody(req, &call.body);
    if (st.message() == "unsupported_media_type") {
      res.status = 415;
      res.set_content(ErrorBody("unsupported_media_type",
                                "the body must be JSON, sent as Content-Type: application/json"),
                      "application/json");
      return;
    }
    if (!st.ok()) return SetError(res, st);
  }
  Status st = route.handler(call);
  if (!st.ok()) {
    if (HttpStatusFor(st.code()) >= 500) {
      log::Error("request failed", {{"request_id", t_request.request_id},
                                    {"route", t_request.route},
                                    {"error", st.ToString()}});
    }
    SetError(res, st);
  }
}

// Serves the embedded web client. Paths without an extension are client-side routes and get
// index.html; other unknown paths get 404.
void ServeAsset(const httplib::Request& req, httplib::Response& res) {
  t_request.route = "static";
  const std::string& path = req.path;
  if (path.rfind("/api/", 0) == 0) {
    SetError(res, Status::NotFound("no such API route"));
    return;
  }
  const net::EmbeddedAsset* asset = net::FindAsset(path == "/" ? "/index.html" : path);
  if (asset == nullptr && path.find('.', path.find_last_of('/')) == std::string::npos) {
    asset = net::FindAsset("/index.html");
  }
  if (asset == nullptr) {
    SetError(res, Status::NotFound("no such file"));
    return;
  }
  res.set_header("ETag", std::string(asset->etag));
  res.set_header("Vary", "Accept-Encoding");
  res.set_header("Cache-Control", asset->immutable ? "public, max-age=31536000, immutable"
                                                   : "no-cache");
  if (req.get_header_value("If-None-Match") == asset->etag) {
    res.status = 304;
    return;
  }
  const std::string accept = req.get_header_value("Accept-Encoding");
  std::string_view body = asset->identity;
  if (!asset->brotli.empty() && accept.find("br") != std::string::npos) {
    body = asset->brotli;
    res.set_header("Content-Encoding", "br");
  } else if (!asset->gzip.empty() && accept.find("gzip") != std::string::npos) {
    body = asset->gzip;
    res.set_header("Content-Encoding", "gzip");
  }
  res.status = 200;
  res.set_content(body.data(), body.size(), std::string(asset->content_type).c_str());
}

}  // namespace

const std::vector<std::pair<std::string, std::string>>& SecurityHeaders() {
  static const std::vector<std::pair<std::string, std::string>> headers = {
      {"Strict-Transport-Security", "max-age=63072000; includeSubDomains"},
      {"X-Content-Type-Options", "nosniff"},
      {"X-Frame-Options", "DENY"},
      {"Content-Security-Policy", kCsp},
      {"Referrer-Policy", "no-referrer"},
      {"Cross-Origin-Opener-Policy", "same-origin"},
      {"Cross-Origin-Resource-Policy", "same-origin"},
      {"Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()"},
  };
  return headers;
}

ApiServer::ApiServer(Services services, ApiOptions options, ListenOptions listen,
                     std::shared_ptr<const net::TlsContext> tls)
    : services_(std::move(services)), options_(std::move(options)), listen_(std::move(listen)) {
  services_.options = &options_;
  https_ = std::make_unique<net::HttpsServer>(std::move(tls));
  services_.open_connections = [this] { return https_->open_connections(); };
  InstallMiddleware();
  InstallRoutes();
}

ApiServer::~ApiServer() {
  Stop();
  Wait();
}

void ApiServer::InstallMiddleware() {
  httplib::Server& s = *https_;
  const int workers = listen_.worker_threads;
  s.new_task_queue = [workers] { return new httplib::ThreadPool(static_cast<size_t>(workers)); };
  // httplib's limit is global; streaming routes (uploads) enforce their own, larger one, and
  // the pre-routing handler holds every other route to max_body_bytes.
  size_t payload_max = listen_.max_body_bytes;
  if (services_.files != nullptr) {
    payload_max = std::max(payload_max,
                           static_cast<size_t>(services_.files->options().max_file_bytes));
  }
  s.set_payload_max_length(payload_max);
  s.set_read_timeout(listen_.read_timeout_seconds, 0);
  s.set_write_timeout(listen_.write_timeout_seconds, 0);
  s.set_keep_alive_timeout(listen_.keep_alive_timeout_seconds);
  s.set_keep_alive_max_count(static_cast<size_t>(listen_.keep_alive_max_requests));
  s.set_tcp_nodelay(true);

  httplib::Headers defaults;
  for (const auto& [k, v] : SecurityHeaders()) defaults.emplace(k, v);
  s.set_default_headers(defaults);

  s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    t_request.start = std::chrono::steady_clock::now();
    t_request.request_id = HexEncode(RandomBytes(8));
    t_request.route.clear();
    res.set_header("X-Request-Id", t_request.request_id);
    size_t header_bytes = req.method.size() + req.target.size() + 12;
    for (const auto& [k, v] : req.headers) {
      // httplib adds these itself; they are not the client's bytes.
      if (k == "REMOTE_ADDR" || k == "REMOTE_PORT" || k == "LOCAL_ADDR" || k == "LOCAL_PORT") {
        continue;
      }
      header_bytes += k.size() + v.size() + 4;
    }
    if (header_bytes > options_.max_header_bytes) {
      res.status = 431;
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.has_header("Content-Length") &&
        std::strtoull(req.get_header_value("Content-Length").c_str(), nullptr, 10) >
            listen_.max_body_bytes &&
        !IsStreamingPath(req.method, req.path)) {
      res.status = 413;
      res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    }
    // httplib applies the body limit to a Content-Length only: a chunked body would be read
    // without bound. Only the streaming routes (which count what they read) may take one.
    if (req.has_header("Transfer-Encoding") && !IsStreamingPath(req.method, req.path)) {
      res.status = 411;
      res.set_header("Connection", "close");
      res.set_content(ErrorBody("length_required",
                                "send the body with a Content-Length, not chunked"),
                      "application/json");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (!HostAllowed(req.get_header_value("Host"), options_)) {
      res.status = 421;
      res.set_content(ErrorBody("misdirected_request",
                                "this server does not answer for that host name"),
                      "application/json");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Errors raised by httplib itself (malformed request, body too large, no route) get the
  // same JSON body as ours.
  s.set_error_handler(httplib::Server::HandlerWithResponse(
      [](const httplib::Request&, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        res.set_content(
            ErrorBody(ErrorCodeForHttp(res.status), DefaultMessageForHttp(res.status)),
            "application/json");
        return httplib::Server::HandlerResponse::Handled;
      }));

  s.set_exception_handler(
      [](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        log::Error("handler threw", {{"request_id", t_request.request_id}, {"error", what}});
        SetError(res, Status::Internal(what));
      });

  s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
    auto now = std::chrono::steady_clock::now();
    double seconds =
        t_request.start == SteadyTime{}
            ? 0.0
            : std::chrono::duration<double>(now - t_request.start).count();
    std::string route = t_request.route.empty() ? "unmatched" : t_request.route;
    services_.metrics->RecordRequest(route, req.method, res.status, seconds);
    if (options_.log_requests) {
      log::Info("request", {{"request_id", t_request.request_id},
                            {"method", req.method},
                            {"route", route},
                            {"status", res.status},
                            {"duration_ms", seconds * 1000.0},
                            {"remote", req.remote_addr}});
    }
    t_request = RequestState{};
  });
}

void ApiServer::InstallRoutes() {
  httplib::Server& s = *https_;
  for (const Route& route : RouteTable()) {
    const Route* r = &route;
    auto handler = [this, r](const httplib::Request& req, httplib::Response& res) {
      Dispatch(*r, services_, req, res);
    };
    std::string pattern(route.pattern);
    if (route.streaming_body && route.method == "POST") {
      s.Post(pattern, [this, r](const httplib::Request& req, httplib::Response& res,
                                const httplib::ContentReader& reader) {
        Dispatch(*r, services_, req, res, &reader);
      });
      continue;
    }
    if (route.method == "GET") s.Get(pattern, handler);
    else if (route.method == "POST") s.Post(pattern, handler);
    else if (route.method == "PUT") s.Put(pattern, handler);
    else if (route.method == "PATCH") s.Patch(pattern, handler);
    else if (route.method == "DELETE") s.Delete(pattern, handler);
  }
  s.Get("/.*", ServeAsset);
}

void ApiServer::InstallRedirect() {
  redirect_ = std::make_unique<httplib::Server>();
  redirect_->set_read_timeout(listen_.read_timeout_seconds, 0);
  redirect_->set_payload_max_length(0);
  auto handler = [this](const httplib::Request& req, httplib::Response& res) {
    std::string host = ToLower(HostName(req.get_header_value("Host")));
    if (!HostAllowed(host, options_)) host = options_.host_names.front();
    if (host.find(':') != std::string::npos) host = "[" + host + "]";
    std::string location = "https://" + host;
    if (options_.https_port != 443) location += ":" + std::to_string(options_.https_port);
    location += req.target.empty() || req.target[0] != '/' ? "/" : req.target;
    res.status = 308;
    res.set_header("Location", location);
    res.set_header("Cache-Control", "no-store");
  };
  redirect_->Get("/.*", handler);
  redirect_->Post("/.*", handler);
  redirect_->Put("/.*", handler);
  redirect_->Delete("/.*", handler);
  redirect_->Patch("/.*", handler);
}

Status ApiServer::Start() {
  https_->set_address_family(listen_.host.find(':') != std::string::npos ? AF_INET6 : AF_INET);
  auto bind = [](httplib::Server& s, const std::string& host, int port, int* bound) {
    errno = 0;
    if (port == 0) {
      *bound = s.bind_to_any_port(host);
      if (*bound > 0) return Status::Ok();
    } else if (s.bind_to_port(host, port)) {
      *bound = port;
      return Status::Ok();
    }
    std::string where = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                        std::to_string(port);
    int err = errno;
    return Status::IoError("cannot listen on " + where + ": " +
                           (err ? strerror(err) : "the address cannot be bound"));
  };
  OUTPOST_RETURN_IF_ERROR(bind(*https_, listen_.host, listen_.port, &port_));
  if (!listen_.redirect_host.empty()) {
    InstallRedirect();
    redirect_->set_address_family(listen_.redirect_host.find(':') != std::string::npos ? AF_INET6
                                                                                       : AF_INET);
    Status st = bind(*redirect_, listen_.redirect_host, listen_.redirect_port, &redirect_port_);
    if (!st.ok()) {
      https_->stop();
      return st;
    }
    redirect_thread_ = std::thread([this] { redirect_->listen_after_bind(); });
  }
  https_thread_ = std::thread([this] { https_->listen_after_bind(); });
  return Status::Ok();
}

void ApiServer::EnableRealtime(net::Hub* hub, RealtimeBridge* bridge) {
  https_->EnableWebSockets(
      "/api/v1/ws", hub, [this, bridge](const net::UpgradeRequest& req) {
        auto header = [&](const char* name) {
          auto it = req.headers.find(name);
          return it == req.headers.end() ? std::string() : it->second;
        };
        net::UpgradeDecision d;
        auto refuse = [&](const Status& st) {
          d.accept = false;
          d.status = HttpStatusFor(st.code());
          d.body = ErrorBody(CodeName(st.code()), st.message());
          d.headers = {{"Content-Type", "application/json"}};
          return d;
        };
        if (!HostAllowed(header("host"), options_)) {
          return refuse(Status::PermissionDenied("this server does not answer for that host"));
        }
        // A browser always sends Origin with a WebSocket upgrade: it must be this site, or any
        // page the user visits could open a socket with their cookie.
        const std::string origin = header("origin");
        if (!origin.empty() && origin != "https://" + header("host")) {
          return refuse(Status::PermissionDenied("the request's Origin does not match this site"));
        }
        bool by_cookie = false;
        Result<domain::Principal> p =
            AuthenticateHeaders(header("authorization"), header("cookie"), services_, &by_cookie);
        if (!p.ok()) return refuse(p.status());
        if (by_cookie && origin.empty()) {
          return refuse(Status::PermissionDenied("a browser upgrade must carry an Origin"));
        }
        if (Status st = PasswordChangeAllowsRealtime(services_, *p); !st.ok()) return refuse(st);
        // The socket carries every message of the caller's rooms as it is posted.
        if (!RoleHolds(services_, p->user.role, domain::Permission::kMessagesReadEvents)) {
          return refuse(Status::PermissionDenied(
              "this needs the permission 'messages.read_events', which the role '" +
              p->user.role + "' does not hold"));
        }
        if (Status st = bridge->SubscribeRooms(p->user.id); !st.ok()) return refuse(st);
        d.accept = true;
        d.user_id = p->user.id;
        d.session = RealtimeBridge::SocketKey(*p);  // revoking it closes exactly this socket
        return d;
      });
}

void ApiServer::SetTlsContext(std::shared_ptr<const net::TlsContext> tls) {
  https_->SetTlsContext(std::move(tls));
}

void ApiServer::Stop() {
  // httplib's stop() asserts when called twice before its listener has returned.
  if (stopped_.exchange(true)) return;
  if (https_) https_->stop();
  if (redirect_) redirect_->stop();
}

void ApiServer::Wait() {
  if (https_thread_.joinable()) https_thread_.join();
  if (redirect_thread_.joinable()) redirect_thread_.join();
}

}  // namespace outpost::api
