// The HTTPS API server: the route table wired onto net::HttpsServer with the middleware every
// request passes (request id, Host check, header limit, authentication, access, CSRF, JSON
// body, security headers, access log, metrics), the embedded web client, and the optional
// plain-HTTP listener that only redirects to HTTPS.
#ifndef OUTPOST_API_SERVER_H_
#define OUTPOST_API_SERVER_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "api/realtime.h"
#include "api/routes.h"
#include "net/tls.h"

namespace httplib {
class Server;
}

namespace outpost::net {
class HttpsServer;
}

namespace outpost::api {

struct ListenOptions {
  std::string host = "127.0.0.1";  // numeric address
  int port = 8443;                 // 0: any free port (tests)
  std::string redirect_host;       // empty: no plain-HTTP listener
  int redirect_port = 0;
  int worker_threads = 16;
  size_t max_body_bytes = 1 << 20;
  int read_timeout_seconds = 10;
  int write_timeout_seconds = 10;
  int keep_alive_timeout_seconds = 5;
  int keep_alive_max_requests = 100;
};

// Lifecycle: Start() once, then Stop() (from any thread) and Wait(). Not copyable.
class ApiServer {
 public:
  ApiServer(Services services, ApiOptions options, ListenOptions listen,
            std::shared_ptr<const net::TlsContext> tls);
  ~ApiServer();
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Binds the listeners and starts serving on background threads. IoError naming the address
  // when a port is taken or cannot be bound.
  Status Start();

  // The bound HTTPS port (useful when ListenOptions::port was 0), and the redirect port.
  int port() const { return port_; }
  int redirect_port() const { return redirect_port_; }

  // Accepts WebSocket upgrades at /api/v1/ws (authenticated like any route, Origin checked)
  // and hands them to `hub`, subscribed to the user's rooms through `bridge`. Call before
  // Start(); both must outlive the server.
  void EnableRealtime(net::Hub* hub, RealtimeBridge* bridge);

  // Serves new connections with `tls` (certificate reload). Thread-safe.
  void SetTlsContext(std::shared_ptr<const net::TlsContext> tls);

  // Stops accepting connections; requests in flight are finished. Thread-safe, idempotent.
  void Stop();
  // Waits for the listeners to finish after Stop().
  void Wait();

 private:
  void InstallRoutes();
  void InstallMiddleware();
  void InstallRedirect();

  Services services_;
  const ApiOptions options_;
  const ListenOptions listen_;
  std::unique_ptr<net::HttpsServer> https_;
  std::unique_ptr<httplib::Server> redirect_;
  std::thread https_thread_;
  std::thread redirect_thread_;
  int port_ = 0;
  int redirect_port_ = 0;
  std::atomic<bool> stopped_{false};
};

// The headers every response carries (HSTS, CSP, nosniff, frame and referrer policies).
const std::vector<std::pair<std::string, std::string>>& SecurityHeaders();

}  // namespace outpost::api

#endif  // OUTPOST_API_SERVER_H_
