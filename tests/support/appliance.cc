#include "support/appliance.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "util/fs.h"

#ifndef OUTPOST_BINARY
#error "the build defines OUTPOST_BINARY as the path of the outpost binary under test"
#endif

namespace outpost::testing {
namespace {

int ExitCodeOf(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

// fork + exec of the binary with stdout and stderr sent to files.
pid_t Spawn(const std::vector<std::string>& args, const std::string& out_path,
            const std::string& err_path, int stdin_fd) {
  std::vector<char*> argv;
  std::string bin = OUTPOST_BINARY;
  argv.push_back(bin.data());
  std::vector<std::string> copy = args;
  for (auto& a : copy) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    setsid();  // no controlling terminal: /dev/tty prompts fail as in a script
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(stdin_fd, 0);
    dup2(out, 1);
    dup2(err, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

}  // namespace

CliResult RunOutpost(const std::vector<std::string>& args, const std::string& input) {
  TempDir io;
  WriteTestFile(io.Sub("in"), input);
  int in = open(io.Sub("in").c_str(), O_RDONLY);
  pid_t pid = Spawn(args, io.Sub("out"), io.Sub("err"), in);
  close(in);
  int status = 0;
  waitpid(pid, &status, 0);
  CliResult r;
  r.exit_code = ExitCodeOf(status);
  r.out = ReadFile(io.Sub("out")).value();
  r.err = ReadFile(io.Sub("err")).value();
  return r;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

TestAppliance::TestAppliance(const std::string& config_toml) {
  config_path_ = dir_.Sub("config.toml");
  WriteTestFile(config_path_, config_toml);
  WriteTestFile(dir_.Sub("admin-password"), std::string(kAdminPassword) + "\n");
  CliResult init = Cli({"init", "--admin", "admin", "--password-file", dir_.Sub("admin-password"),
                        "--host", "localhost", "--host", "127.0.0.1"});
  INFO(init.err);
  REQUIRE(init.exit_code == 0);
  ca_pem_ = ReadFile(data_dir() + "/tls/ca.pem").value();
}

TestAppliance::~TestAppliance() {
  if (pid_ > 0) Stop(SIGKILL);
}

CliResult TestAppliance::Cli(std::vector<std::string> args, const std::string& input) const {
  args.insert(args.end(), {"--config", config_path_, "--data", data_dir()});
  return RunOutpost(args, input);
}

Status TestAppliance::Start() {
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = FreePort();
    int devnull = open("/dev/null", O_RDONLY);
    pid_ = Spawn({"serve", "--config", config_path_, "--data", data_dir(), "--listen",
                  "127.0.0.1:" + std::to_string(port_)},
                 dir_.Sub("serve.out"), dir_.Sub("serve.log"), devnull);
    close(devnull);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;  // exited: maybe the port was taken meanwhile; try another
      }
      HttpsClient probe = NewClient();
      probe.set_timeout_ms(1000);
      auto r = probe.Request("GET", "/healthz");
      if (r.ok() && r->status == 200) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid_ > 0) Stop(SIGKILL);
  }
  return Status::Unavailable("the server did not start: " + Log());
}

int TestAppliance::Stop(int sig) {
  if (pid_ <= 0) return -1;
  kill(pid_, sig);
  int status = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (waitpid(pid_, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  return ExitCodeOf(status);
}

HttpsClient TestAppliance::NewClient() const {
  HttpsClient client("127.0.0.1", port_, ca_pem_, server_name_);
  if (!client_cert_pem_.empty()) client.set_client_certificate(client_cert_pem_, client_key_pem_);
  return client;
}

std::string TestAppliance::Log() const {
  auto log = ReadFile(dir_.Sub("serve.log"));
  return log.ok() ? *log : "";
}

std::vector<std::pair<std::string, std::string>> BrowserSession::Headers(
    bool state_changing) const {
  std::vector<std::pair<std::string, std::string>> h = {{"Cookie", cookie}};
  if (state_changing) h.push_back({"X-CSRF-Token", csrf});
  return h;
}

HttpResponse JsonRequest(HttpsClient& client,
                         std::vector<std::pair<std::string, std::string>> headers,
                         const std::string& method, const std::string& path,
                         const nlohmann::json& body) {
  std::string text;
  if (!body.is_null()) {
    headers.push_back({"Content-Type", "application/json"});
    text = body.dump();
  }
  auto r = client.Request(method, path, headers, text);
  REQUIRE(r.ok());
  return *r;
}

nlohmann::json ExpectStatus(const HttpResponse& r, int expect, const std::string& what) {
  INFO(what << " -> " << r.status << " " << r.body);
  REQUIRE(r.status == expect);
  return r.body.empty() ? nlohmann::json() : nlohmann::json::parse(r.body);
}

BrowserSession Login(HttpsClient& client, const std::string& user, const std::string& password) {
  nlohmann::json body = {{"username", user}, {"password", password}};
  auto r = client.Request("POST", "/api/v1/auth/login", {{"Content-Type", "application/json"}},
                          body.dump());
  REQUIRE(r.ok());
  INFO(r->body);
  REQUIRE(r->status == 200);
  BrowserSession s;
  std::string set_cookie = r->Header("set-cookie");
  s.cookie = set_cookie.substr(0, set_cookie.find(';'));
  s.csrf = nlohmann::json::parse(r->body)["csrf_token"].get<std::string>();
  return s;
}

}  // namespace outpost::testing
