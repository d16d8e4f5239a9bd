// The operator's commands, run as a script would run them: no terminal, exit codes checked.
#include <signal.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "net/tls.h"
#include "storage/database.h"
#include "storage/migrations.h"
#include "support/appliance.h"
#include "util/fs.h"

namespace outpost::testing {
namespace {

int ModeOf(const std::string& path) {
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

TEST_CASE("init creates private keys, certificates and the administrator without prompting",
          "[integration][cli]") {
  TestAppliance app;
  std::string d = app.data_dir();
  CHECK(ModeOf(d) == 0700);
  CHECK(ModeOf(d + "/keys") == 0700);
  CHECK(ModeOf(d + "/tls") == 0700);
  for (const char* secret : {"/keys/signing.key", "/keys/master.key", "/tls/ca.key",
                             "/tls/server.key", "/outpost.db"}) {
    INFO(secret);
    CHECK(ModeOf(d + secret) == 0600);
  }
  auto info = net::InspectCertificate(ReadFile(d + "/tls/server.pem").value());
  REQUIRE(info.ok());
  CHECK(info->dns_names == std::vector<std::string>{"localhost"});
  CHECK(info->ip_addresses == std::vector<std::string>{"127.0.0.1"});
  CHECK_FALSE(info->is_ca);
  auto list = app.Cli({"user", "list", "--json"});
  REQUIRE(list.exit_code == 0);
  auto users = nlohmann::json::parse(list.out);
  REQUIRE(users.size() == 1);
  CHECK(users[0]["username"] == "admin");
  CHECK(users[0]["role"] == "admin");
}

TEST_CASE("init refuses an initialized folder, a bad password and a missing answer",
          "[integration][cli]") {
  TestAppliance app;
  auto again = app.Cli({"init", "--admin", "root2", "--password-file", app.dir().Sub("admin-password")});
  CHECK(again.exit_code == 5);
  CHECK_THAT(again.err, Catch::Contains("already initialized"));

  TempDir fresh;
  WriteTestFile(fresh.Sub("short"), "short\n");
  auto weak = RunOutpost({"init", "--data", fresh.Sub("d"), "--admin", "a", "--password-file",
                          fresh.Sub("short")});
  CHECK(weak.exit_code == 6);
  CHECK_THAT(weak.err, Catch::Contains("at least 15 characters"));
  CHECK_FALSE(PathExists(fresh.Sub("d")));  // nothing half-made is left behind

  auto no_tty = RunOutpost({"init", "--data", fresh.Sub("d"), "--admin", "a"});
  CHECK(no_tty.exit_code == 6);
  CHECK_THAT(no_tty.err, Catch::Contains("--password-file"));
  CHECK_FALSE(PathExists(fresh.Sub("d")));

  auto stdin_pw = RunOutpost({"init", "--data", fresh.Sub("d"), "--admin", "a",
                              "--password-file", "-"},
                             "a passphrase from stdin\n");
  CHECK(stdin_pw.exit_code == 0);
}

TEST_CASE("init into a folder it cannot write explains and exits non-zero", "[integration][cli]") {
  if (geteuid() == 0) {
    // root writes anywhere; use a path under a regular file instead.
    TempDir t;
    WriteTestFile(t.Sub("file"), "x");
    WriteTestFile(t.Sub("pw"), "a good long passphrase\n");
    auto r = RunOutpost({"init", "--data", t.Sub("file") + "/data", "--admin", "a",
                         "--password-file", t.Sub("pw")});
    CHECK(r.exit_code == 7);
    CHECK_THAT(r.err, Catch::Contains(t.Sub("file")));
  } else {
    TempDir t;
    mkdir(t.Sub("ro").c_str(), 0500);
    WriteTestFile(t.Sub("pw"), "a good long passphrase\n");
    auto r = RunOutpost({"init", "--data", t.Sub("ro"), "--admin", "a", "--password-file",
                         t.Sub("pw")});
    CHECK(r.exit_code == 7);
  }
}

TEST_CASE("user commands add, list, disable, enable and reset passwords", "[integration][cli]") {
  TestAppliance app;
  WriteTestFile(app.dir().Sub("pw"), "erin's first passphrase\n");
  auto add = app.Cli({"user", "add", "erin", "--display-name", "Erin E.", "--password-file",
                      app.dir().Sub("pw")});
  REQUIRE(add.exit_code == 0);
  CHECK(app.Cli({"user", "add", "erin", "--password-file", app.dir().Sub("pw")}).exit_code == 5);
  CHECK(app.Cli({"user", "add", "bad name", "--password-file", app.dir().Sub("pw")}).exit_code ==
        6);
  // Any existing role id is accepted (custom roles too); an unknown one is refused (6).
  CHECK(app.Cli({"user", "add", "frank", "--role", "root", "--password-file",
                 app.dir().Sub("pw")}).exit_code == 6);
  auto list = app.Cli({"user", "list"});
  CHECK_THAT(list.out, Catch::Contains("erin") && Catch::Contains("Erin E.") &&
                           Catch::Contains("active"));
  CHECK(app.Cli({"user", "disable", "erin"}).exit_code == 0);
  CHECK_THAT(app.Cli({"user", "list"}).out, Catch::Contains("disabled"));
  CHECK(app.Cli({"user", "disable", "nobody"}).exit_code == 4);
  CHECK(app.Cli({"user", "enable", "erin"}).exit_code == 0);
  auto reset = app.Cli({"user", "reset-password", "erin", "--password-file", "-"},
                       "erin's second passphrase\n");
  CHECK(reset.exit_code == 0);
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  Login(client, "erin", "erin's second passphrase");
  auto old = client.Request("POST", "/api/v1/auth/login", {{"Content-Type", "application/json"}},
                            R"({"username":"erin","password":"erin's first passphrase"})");
  CHECK(old->status == 401);
}

TEST_CASE("an API token made on the shell is printed once and works", "[integration][cli]") {
  TestAppliance app;
  auto made = app.Cli({"user", "token", "create", "admin", "--label", "monitoring"});
  REQUIRE(made.exit_code == 0);
  std::string secret = made.out.substr(0, made.out.find('\n'));
  CHECK(secret.size() == 47);
  auto list = app.Cli({"user", "token", "list", "admin"});
  CHECK_THAT(list.out, Catch::Contains("monitoring"));
  CHECK(list.out.find(secret.substr(4)) == std::string::npos);
  REQUIRE(app.Start().ok());
  HttpsClient client = app.NewClient();
  auto metrics = client.Request("GET", "/metrics", {{"Authorization", "Bearer " + secret}});
  CHECK(metrics->status == 200);
  CHECK(app.Cli({"user", "token", "revoke", "admin", "1"}).exit_code == 0);
  CHECK(client.Request("GET", "/metrics", {{"Authorization", "Bearer " + secret}})->status == 401);
}

TEST_CASE("config check names file, line, column and key of every problem", "[integration][cli]") {
  TempDir t;
  WriteTestFile(t.Sub("bad.toml"),
                "[server]\nworker_threads = 0\nlisten = \"nowhere\"\n[sesion]\nx = 1\n");
  auto r = RunOutpost({"config", "check", "--config", t.Sub("bad.toml")});
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains(t.Sub("bad.toml") + ":2:") &&
                        Catch::Contains("server.worker_threads") &&
                        Catch::Contains("server.listen") && Catch::Contains("sesion"));
  WriteTestFile(t.Sub("good.toml"), "[site]\nname = \"Ops Center\"\n");
  auto ok = RunOutpost({"config", "check", "--config", t.Sub("good.toml"), "--print"});
  CHECK(ok.exit_code == 0);
  CHECK_THAT(ok.out, Catch::Contains("Ops Center"));
  auto missing = RunOutpost({"config", "check", "--config", t.Sub("none.toml")});
  CHECK(missing.exit_code == 4);
  // serve refuses a bad file before touching anything.
  auto serve = RunOutpost({"serve", "--config", t.Sub("bad.toml"), "--data", t.Sub("d")});
  CHECK(serve.exit_code == 3);
}

TEST_CASE("version, help and usage errors", "[integration][cli]") {
  auto v = RunOutpost({"version"});
  CHECK(v.exit_code == 0);
  CHECK_THAT(v.out, Catch::StartsWith("outpost " OUTPOST_VERSION));
  auto help = RunOutpost({"user", "--help"});
  CHECK(help.exit_code == 0);
  CHECK_THAT(help.out, Catch::Contains("reset-password"));
  CHECK(RunOutpost({}).exit_code == 2);
  CHECK(RunOutpost({"frobnicate"}).exit_code == 2);
  CHECK(RunOutpost({"user", "add"}).exit_code == 2);
}

TEST_CASE("serve refuses a port in use, a missing database, a corrupt one and a newer one",
          "[integration][cli]") {
  TestAppliance app;
  SECTION("port in use") {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    REQUIRE(listen(fd, 1) == 0);
    socklen_t len = sizeof(addr);
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    std::string port = std::to_string(ntohs(addr.sin_port));
    auto r = app.Cli({"serve", "--listen", "127.0.0.1:" + port});
    close(fd);
    CHECK(r.exit_code == 7);
    CHECK_THAT(r.err, Catch::Contains("cannot listen on 127.0.0.1:" + port) &&
                          Catch::Contains("in use"));
  }
  SECTION("no database") {
    TempDir t;
    auto r = RunOutpost({"serve", "--data", t.path(), "--listen", "127.0.0.1:1"});
    CHECK(r.exit_code == 4);
    CHECK_THAT(r.err, Catch::Contains("outpost init"));
  }
  SECTION("corrupt database") {
    std::string db = app.data_dir() + "/outpost.db";
    std::string junk(16384, '\x5a');
    WriteTestFile(db, junk);
    auto r = app.Cli({"serve", "--listen", "127.0.0.1:" + std::to_string(FreePort())});
    CHECK(r.exit_code == 8);
    CHECK_THAT(r.err, Catch::Contains("backup"));
    CHECK(ReadFile(db).value() == junk);  // left as it was for the operator
  }
  SECTION("database from a newer version") {
    {
      auto db = storage::Database::Open(app.data_dir() + "/outpost.db", storage::OpenOptions{});
      REQUIRE(db.ok());
      REQUIRE((*db)->Write([](storage::Connection& c) {
        return c.Exec("PRAGMA user_version=" +
                      std::to_string(storage::LatestSchemaVersion() + 1));
      }).ok());
    }
    auto r = app.Cli({"serve", "--listen", "127.0.0.1:" + std::to_string(FreePort())});
    CHECK(r.exit_code == 6);
    CHECK_THAT(r.err, Catch::Contains("newer"));
  }
  SECTION("keys readable by others") {
    chmod((app.data_dir() + "/keys/master.key").c_str(), 0644);
    auto r = app.Cli({"serve", "--listen", "127.0.0.1:" + std::to_string(FreePort())});
    CHECK(r.exit_code == 6);
    CHECK_THAT(r.err, Catch::Contains("chmod 600"));
  }
}

TEST_CASE("cert import installs the site's own certificate and refuses a mismatched key",
          "[integration][cli]") {
  TestAppliance app;
  auto ca = net::GenerateCa("Site PKI Root", 365);
  REQUIRE(ca.ok());
  auto leaf = net::IssueServerCert(*ca, "chat.site.example", {"chat.site.example", "localhost"},
                                   {"127.0.0.1"}, 90);
  REQUIRE(leaf.ok());
  auto other = net::IssueServerCert(*ca, "other", {"other"}, {}, 90);
  REQUIRE(other.ok());
  WriteTestFile(app.dir().Sub("leaf.pem"), leaf->cert_pem + ca->cert_pem);
  WriteTestFile(app.dir().Sub("leaf.key"), leaf->key_pem);
  WriteTestFile(app.dir().Sub("other.key"), other->key_pem);
  std::string before = ReadFile(app.data_dir() + "/tls/server.pem").value();
  auto bad = app.Cli({"cert", "import", "--cert", app.dir().Sub("leaf.pem"), "--key",
                      app.dir().Sub("other.key")});
  CHECK(bad.exit_code == 6);
  CHECK(ReadFile(app.data_dir() + "/tls/server.pem").value() == before);
  auto ca_as_leaf = app.Cli({"cert", "import", "--cert", app.dir().Sub("leaf.key"), "--key",
                             app.dir().Sub("leaf.key")});
  CHECK(ca_as_leaf.exit_code == 6);
  auto good = app.Cli({"cert", "import", "--cert", app.dir().Sub("leaf.pem"), "--key",
                       app.dir().Sub("leaf.key")});
  INFO(good.err);
  REQUIRE(good.exit_code == 0);
  CHECK_THAT(app.Cli({"cert", "show"}).out, Catch::Contains("chat.site.example"));
  // The replacement is audited (once: the refused imports changed nothing and are not).
  CliResult imports = app.Cli({"audit", "export", "--action", "cert.import"});
  CHECK(std::count(imports.out.begin(), imports.out.end(), '\n') == 1);
  CHECK_THAT(imports.out, Catch::Contains("chat.site.example"));
  std::string appliance_ca = app.ca_pem();
  app.TrustCa(ca->cert_pem, "chat.site.example");
  REQUIRE(app.Start().ok());
  // Clients that trust the site's CA now connect; the old appliance CA is no longer used.
  HttpsClient site(std::string("127.0.0.1"), app.port(), ca->cert_pem, "chat.site.example");
  auto r = site.Request("GET", "/healthz", {{"Host", "chat.site.example"}});
  REQUIRE(r.ok());
  CHECK(r->status == 200);
  HttpsClient old(std::string("127.0.0.1"), app.port(), appliance_ca, "localhost");
  CHECK_FALSE(old.Connect().ok());
}

TEST_CASE("the release binary is static and runs in an empty chroot", "[integration][cli]") {
  if (geteuid() != 0) {
    WARN("not root: chroot test skipped");
    return;
  }
  TempDir root;
  std::filesystem::copy_file(OUTPOST_BINARY, root.Sub("outpost"));
  chmod(root.Sub("outpost").c_str(), 0755);
  pid_t pid = fork();
  if (pid == 0) {
    int out = open("/dev/null", O_WRONLY);
    dup2(out, 1);
    if (chroot(root.path().c_str()) != 0 || chdir("/") != 0) _exit(90);
    char arg0[] = "/outpost", arg1[] = "version";
    char* argv[] = {arg0, arg1, nullptr};
    execv("/outpost", argv);
    _exit(91);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  bool sanitized = false;
#if defined(__SANITIZE_ADDRESS__)
  sanitized = true;
#endif
  if (sanitized) {
    WARN("sanitizer builds are dynamic: only the release build runs in a chroot");
    return;
  }
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace outpost::testing
