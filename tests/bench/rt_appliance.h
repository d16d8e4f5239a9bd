// The appliance under test for the benchmarks that drive the release binary (outpost_rt_bench,
// outpost_backup_bench): `outpost init` in a temporary folder, users, rooms, memberships and
// API tokens made through the domain classes on the closed database (or copied from a template
// of an earlier run), `outpost serve` on a free loopback port, and other `outpost` commands.
// Header-only: each benchmark is one translation unit. Not thread-safe.
#ifndef OUTPOST_TESTS_BENCH_RT_APPLIANCE_H_
#define OUTPOST_TESTS_BENCH_RT_APPLIANCE_H_

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cli/common.h"
#include "domain/accounts.h"
#include "domain/rooms.h"
#include "domain/sessions.h"
#include "support/https_client.h"
#include "util/clock.h"

namespace outpost::bench {

// CLOCK_MONOTONIC in nanoseconds: the same clock in every process of the machine.
inline int64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// Prints "<program>: <what>" and exits 1.
[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
  std::exit(1);
}

// One client of the run: its user, its room, its credential.
struct BenchClient {
  int64_t user_id = 0;
  int64_t room_id = 0;
  std::string token;  // "Bearer opt_..."
};

// The appliance under test: a temporary folder with config.toml and data/, and the server.
class Appliance {
 public:
  Appliance(std::string binary, bool keep) : binary_(std::move(binary)), keep_(keep) {
    char tmpl[] = "/tmp/outpost-rt-bench-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) Die("mkdtemp failed");
    dir_ = tmpl;
    config_ = dir_ + "/config.toml";
    // The benchmarks post far faster than a person: no per-account REST posting limit.
    std::ofstream(config_) << "[chat]\nposts_per_minute = 0\n";
  }
  ~Appliance() {
    if (pid_ > 0) Stop(SIGKILL);
    if (keep_) {
      std::fprintf(stderr, "%s: kept %s\n", program_invocation_short_name, dir_.c_str());
    } else {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }
  Appliance(const Appliance&) = delete;
  Appliance& operator=(const Appliance&) = delete;

  std::string data() const { return dir_ + "/data"; }
  const std::string& dir() const { return dir_; }
  const std::string& config() const { return config_; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }

  // `outpost init` with administrator "admin".
  void Init() {
    std::ofstream(dir_ + "/admin-password") << "rt bench admin passphrase\n";
    const int rc =
        Run({"init", "--config", config_, "--data", data(), "--admin", "admin", "--password-file",
             dir_ + "/admin-password", "--host", "localhost", "--host", "127.0.0.1"},
            dir_ + "/init.log");
    if (rc != 0) Die("outpost init failed; see " + dir_ + "/init.log");
  }

  // Users bench0..bench<n-1>, `rooms` public channels (client i joins room i % rooms) and one
  // API token per user, through the domain classes on the closed server's database.
  std::vector<BenchClient> Populate(int n, int rooms) {
    cli::GlobalOptions global{config_, data()};
    Result<config::Config> cfg = cli::LoadConfig(global);
    if (!cfg.ok()) Die("config: " + cfg.status().ToString());
    Result<std::unique_ptr<storage::Database>> db = cli::OpenDatabase(*cfg);
    if (!db.ok()) Die("database: " + db.status().ToString());
    const Clock* clock = SystemClock();
    domain::Accounts accounts(db->get(), clock, cli::AccountPolicyFor(*cfg));
    domain::Rooms room_service(db->get(), clock, nullptr, cli::ChatOptionsFor(*cfg));
    domain::ApiTokens tokens(db->get(), clock);
    Result<domain::User> admin = accounts.FindByName("admin");
    if (!admin.ok()) Die("admin: " + admin.status().ToString());
    std::vector<int64_t> room_ids;
    for (int r = 0; r < rooms; ++r) {
      Result<domain::Room> room = room_service.CreateChannel(
          *admin, domain::RoomKind::kPublic, "bench-" + std::to_string(r), "", "", false);
      if (!room.ok()) Die("room: " + room.status().ToString());
      room_ids.push_back(room->id);
    }
    std::vector<BenchClient> clients(static_cast<size_t>(n));
    std::mutex mu;
    Status failure = Status::Ok();
    // Password hashing (argon2id) and three durable writes per user: hashing keeps every core
    // busy while other threads wait for their commits.
    auto work = [&](int from, int step) {
      for (int i = from; i < n; i += step) {
        const std::string name = "bench" + std::to_string(i);
        Result<domain::User> user =
            accounts.Create(name, "Bench " + std::to_string(i), "user", "rt bench user password");
        Status st = user.status();
        const int64_t room = room_ids[static_cast<size_t>(i % rooms)];
        if (st.ok()) st = room_service.Join(*user, room);
        std::string secret;
        if (st.ok()) st = tokens.Create(user->id, "rt-bench", 0, &secret).status();
        if (!st.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          failure = st;
          return;
        }
        clients[static_cast<size_t>(i)] = {user->id, room, "Bearer " + secret};
      }
    };
    const int threads = 3 * static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(work, t, threads);
    for (auto& t : pool) t.join();
    if (!failure.ok()) Die("populate: " + failure.ToString());
    return clients;
  }

  // Saves the data folder (the server must not run) and `clients` as a template under `dir`,
  // so that later runs with the same users and rooms skip the password hashing.
  void SaveTemplate(const std::string& dir, const std::vector<BenchClient>& clients) {
    namespace fs = std::filesystem;
    const std::string tmp = dir + ".tmp-" + std::to_string(::getpid());
    std::error_code ec;
    fs::create_directories(tmp, ec);
    fs::copy(data(), tmp + "/data", fs::copy_options::recursive, ec);
    if (ec) Die("template: " + ec.message());
    std::ofstream out(tmp + "/clients.tsv");
    for (const BenchClient& c : clients) {
      out << c.user_id << '\t' << c.room_id << '\t' << c.token << '\n';
    }
    out.close();
    fs::rename(tmp, dir, ec);
    if (ec) fs::remove_all(tmp, ec);  // another run saved it first
  }

  // Copies a template's data folder into this appliance's and returns its clients.
  std::vector<BenchClient> LoadTemplate(const std::string& dir) {
    std::error_code ec;
    std::filesystem::copy(dir + "/data", data(), std::filesystem::copy_options::recursive, ec);
    if (ec) Die("template: " + ec.message());
    std::vector<BenchClient> clients;
    std::ifstream in(dir + "/clients.tsv");
    BenchClient c;
    std::string bearer;
    while (in >> c.user_id >> c.room_id >> bearer >> c.token) {
      c.token = bearer + " " + c.token;
      clients.push_back(c);
    }
    return clients;
  }

  // Starts `outpost serve` on a free port and returns the milliseconds from exec to the first
  // 200 from GET /healthz.
  double Start() {
    const std::string ca = ReadAll(data() + "/tls/ca.pem");
    for (int attempt = 0; attempt < 3; ++attempt) {
      port_ = FreePort();
      const int64_t t0 = NowNs();
      pid_ = Spawn({"serve", "--config", config_, "--data", data(), "--listen",
                    "127.0.0.1:" + std::to_string(port_)},
                   dir_ + "/serve.log");
      testing::HttpsClient probe("127.0.0.1", port_, ca, "localhost");
      probe.set_timeout_ms(1000);
      while (NowNs() - t0 < int64_t{10} * 1000000000) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          break;  // the port was taken meanwhile, or the server failed: see the log
        }
        auto r = probe.Request("GET", "/healthz");
        if (r.ok() && r->status == 200) return static_cast<double>(NowNs() - t0) / 1e6;
        std::this_thread::sleep_for(std::chrono::microseconds(500));
      }
      if (pid_ > 0) Stop(SIGKILL);
    }
    Die("the server did not start; see " + dir_ + "/serve.log");
  }

  // fork + exec of the binary, output to `log`; the child dies with us.
  pid_t Spawn(std::vector<std::string> args, const std::string& log) {
    std::vector<char*> argv;
    argv.push_back(binary_.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      const int in = ::open("/dev/null", O_RDONLY);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(out, 2);
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    return pid;
  }

  // Runs the binary with `args` to the end; its exit code (128 when it did not exit).
  int Run(std::vector<std::string> args, const std::string& log) {
    const pid_t pid = Spawn(std::move(args), log);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
  }

  // Sends `sig` and waits for the exit (30 s, then SIGKILL). Returns the wait status.
  int Stop(int sig = SIGTERM) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    int status = 0;
    const int64_t deadline = NowNs() + int64_t{30} * 1000000000;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (NowNs() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
    return status;
  }

  // How many of `ids` are missing from the messages table, and how many rows the benchmark
  // wrote, read with a read-only connection (the server must be stopped).
  struct Stored {
    int64_t missing = 0;  // acked ids that are not in the table
    int64_t rows = 0;     // the benchmark's messages in the table
    std::map<int64_t, int64_t> rows_by_room;
  };
  Stored Verify(const std::vector<int64_t>& ids) {
    storage::OpenOptions options;
    options.read_only = true;
    auto conn = storage::Connection::Open(data() + "/outpost.db", options);
    if (!conn.ok()) Die("verify: " + conn.status().ToString());
    auto find = (*conn)->Prepare("SELECT 1 FROM messages WHERE id = ?");
    auto count = (*conn)->Prepare(
        "SELECT room_id, count(*) FROM messages WHERE body LIKE 'rt t=%' GROUP BY room_id");
    if (!find.ok() || !count.ok()) Die("verify: prepare failed");
    Stored out;
    for (int64_t id : ids) {
      find->Reset();
      find->Bind(1, id);
      Result<bool> row = find->Step();
      if (!row.ok() || !*row) ++out.missing;
    }
    while (true) {
      Result<bool> row = count->Step();
      if (!row.ok()) Die("verify: " + row.status().ToString());
      if (!*row) break;
      out.rows_by_room[count->ColumnInt64(0)] = count->ColumnInt64(1);
      out.rows += count->ColumnInt64(1);
    }
    return out;
  }

 private:
  static std::string ReadAll(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  static int FreePort() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    ::close(fd);
    return ntohs(addr.sin_port);
  }

  std::string binary_;
  const bool keep_;
  std::string dir_, config_;
  pid_t pid_ = -1;
  int port_ = 0;
};

}  // namespace outpost::bench

#endif  // OUTPOST_TESTS_BENCH_RT_APPLIANCE_H_
