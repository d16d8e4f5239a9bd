// Runs the real outpost binary for integration tests: an initialized data folder in a temporary
// directory, `outpost serve` on a free loopback port, and helpers to sign in. The server is
// stopped (SIGTERM, then SIGKILL) when the object dies.
#ifndef OUTPOST_TESTS_SUPPORT_APPLIANCE_H_
#define OUTPOST_TESTS_SUPPORT_APPLIANCE_H_

#include <sys/types.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/https_client.h"
#include "support/temp_dir.h"
#include "util/status.h"

namespace outpost::testing {

inline constexpr const char* kAdminPassword = "integration admin passphrase";

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the outpost binary with `args`, feeding `input` on stdin, with no terminal.
CliResult RunOutpost(const std::vector<std::string>& args, const std::string& input = "");

// A free TCP port on 127.0.0.1 (bound and released; fine for tests).
int FreePort();

class TestAppliance {
 public:
  // Creates and initializes a data folder with administrator "admin". `config_toml` is written
  // to config.toml in the folder and passed with --config to every command.
  explicit TestAppliance(const std::string& config_toml = "");
  ~TestAppliance();

  // Starts `outpost serve` and waits until /healthz answers (10 s at most).
  Status Start();
  // Sends `sig` and waits for the exit (10 s, then SIGKILL). Returns the exit code, or 128+n
  // when killed by signal n.
  int Stop(int sig = 15);

  // Runs an outpost command against this appliance's data and config.
  CliResult Cli(std::vector<std::string> args, const std::string& input = "") const;

  HttpsClient NewClient() const;
  // Every client NewClient makes (the start-up probe included) presents this certificate when
  // the server asks for one (tls.client_auth = "required" needs it); "" for none.
  void SetClientCertificate(std::string cert_pem, std::string key_pem) {
    client_cert_pem_ = std::move(cert_pem);
    client_key_pem_ = std::move(key_pem);
  }
  // Trusts `ca_pem` (and sends `server_name`) from now on, after a certificate import.
  void TrustCa(std::string ca_pem, std::string server_name) {
    ca_pem_ = std::move(ca_pem);
    server_name_ = std::move(server_name);
  }
  int port() const { return port_; }
  const std::string& ca_pem() const { return ca_pem_; }
  std::string data_dir() const { return dir_.Sub("data"); }
  const TempDir& dir() const { return dir_; }
  // What the server wrote on stderr so far.
  std::string Log() const;
  pid_t pid() const { return pid_; }

 private:
  TempDir dir_;
  std::string config_path_;
  std::string ca_pem_;
  std::string server_name_ = "localhost";
  std::string client_cert_pem_;
  std::string client_key_pem_;
  int port_ = 0;
  pid_t pid_ = -1;
};

// A signed-in browser: the session cookie and CSRF token from a login.
struct BrowserSession {
  std::string cookie;  // "__Host-outpost=..."
  std::string csrf;
  // Headers for a request in this session; `state_changing` adds the CSRF token and Origin.
  std::vector<std::pair<std::string, std::string>> Headers(bool state_changing = false) const;
};

// Logs in through the API; fails the current test when the login does not answer 200.
BrowserSession Login(HttpsClient& client, const std::string& user, const std::string& password);

// A request with `headers` (a session's, or none) and `body` sent as JSON unless it is null;
// fails the current test when no answer comes.
HttpResponse JsonRequest(HttpsClient& client,
                         std::vector<std::pair<std::string, std::string>> headers,
                         const std::string& method, const std::string& path,
                         const nlohmann::json& body = nullptr);

// Fails the current test, naming `what` and the answer, unless `r` has status `expect`;
// returns the body parsed (null when empty).
nlohmann::json ExpectStatus(const HttpResponse& r, int expect, const std::string& what);

}  // namespace outpost::testing

#endif  // OUTPOST_TESTS_SUPPORT_APPLIANCE_H_
