// Backup and restore throughput of a large data folder, and what a running backup costs the
// server's requests.
//
//   outpost_backup_bench [--outpost PATH] [--message-mib 1024] [--file-mib 4096]
//                        [--latency-seconds 20] [--keep]
//
// Builds a data folder with `outpost init`, then fills it through the closed database and the
// files service: messages until the database file holds --message-mib MiB (bodies of about
// 1 KiB: a sentence and a pasted block of hex lines, indexed for search by the schema's own
// triggers) and --file-mib MiB of files (64 MiB each, incompressible, encrypted by the file
// store as an upload is). Then, with `outpost serve` running on a free loopback port:
//   1. a client measures request latency (a history page, then a post, in turn) for
//      --latency-seconds with nothing else running;
//   2. `outpost backup create` runs while the same client keeps measuring: the backup's time
//      and throughput, and the latencies during it;
// and with the server stopped: `outpost backup verify` and `outpost backup restore` into an
// empty folder, timed. Last, a reference for the disk: 2 GiB written and fsync'ed in 1 MiB
// pieces. Throughput is the archive's member bytes (database snapshot and every file) over
// the command's wall time.
#include <sodium.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <random>

#include "bench/rt_appliance.h"
#include "cli/commands.h"
#include "domain/files.h"
#include "domain/messages.h"
#include "storage/db.h"

namespace {

using outpost::Result;
using outpost::Status;
using outpost::bench::Appliance;
using outpost::bench::Die;
using outpost::bench::NowNs;

struct Options {
  std::string outpost;
  int64_t message_mib = 1024;
  int64_t file_mib = 4096;
  int latency_seconds = 20;
  bool keep = false;
};

constexpr int64_t kFileMib = 64;
constexpr int kRooms = 50;

void Check(const Status& st, const std::string& what) {
  if (!st.ok()) Die(what + ": " + st.ToString());
}

int64_t FileSize(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : 0;
}

double Seconds(int64_t from_ns) { return static_cast<double>(NowNs() - from_ns) / 1e9; }

// Rooms owned by the administrator, made through the domain so that they are whole.
std::vector<int64_t> MakeRooms(outpost::cli::FilesContext& ctx, const outpost::domain::User& admin) {
  outpost::domain::Rooms rooms(ctx.db, outpost::SystemClock(), nullptr,
                               outpost::cli::ChatOptionsFor(ctx.cfg));
  std::vector<int64_t> ids;
  for (int r = 0; r < kRooms; ++r) {
    auto room = rooms.CreateChannel(admin, outpost::domain::RoomKind::kPublic,
                                    "backup-bench-" + std::to_string(r), "", "", false);
    if (!room.ok()) Die("room: " + room.status().ToString());
    ids.push_back(room->id);
  }
  return ids;
}

// Messages of about 1 KiB, written straight into the closed database in large transactions
// (synchronous off) until the file reaches `target_bytes`; room sequence numbers kept right.
void FillMessages(const std::string& db_path, const std::vector<int64_t>& rooms, int64_t author,
                  int64_t target_bytes) {
  auto conn = outpost::storage::Connection::Open(db_path, outpost::storage::OpenOptions{});
  if (!conn.ok()) Die("open: " + conn.status().ToString());
  outpost::storage::Connection& c = **conn;
  Check(c.Exec("PRAGMA synchronous=OFF"), "pragma");
  std::mt19937_64 rng(7);
  const char* words[] = {"deploy", "status", "report", "meeting", "server", "update", "check",
                         "convoy", "briefing", "supply", "radio", "shift", "ticket", "review"};
  std::map<int64_t, int64_t> seq;  // the rooms' last_seq: uploads have posted already
  {
    auto last = c.Prepare("SELECT id, last_seq FROM rooms");
    if (!last.ok()) Die("prepare: " + last.status().ToString());
    while (true) {
      Result<bool> row = last->Step();
      if (!row.ok()) Die("rooms: " + row.status().ToString());
      if (!*row) break;
      seq[last->ColumnInt64(0)] = last->ColumnInt64(1);
    }
  }
  int64_t written = 0;
  const int64_t t0 = NowNs();
  while (FileSize(db_path) < target_bytes) {
    Check(c.Exec("BEGIN"), "begin");
    auto ins = c.Prepare(
        "INSERT INTO messages(room_id, seq, author_id, body, created_at) VALUES(?, ?, ?, ?, ?)");
    if (!ins.ok()) Die("prepare: " + ins.status().ToString());
    for (int i = 0; i < 20000; ++i, ++written) {
      std::string body;
      for (int w = 0; w < 12; ++w) body += std::string(w ? " " : "") + words[rng() % 14];
      body += " w" + std::to_string(rng() % 50000) + "\n```\n";
      for (int line = 0; line < 14; ++line) {
        char hex[65];
        for (int k = 0; k < 4; ++k) {
          std::snprintf(hex + 16 * k, 17, "%016llx", static_cast<unsigned long long>(rng()));
        }
        body.append(hex, 64).push_back('\n');
      }
      body += "```";
      const int64_t room = rooms[rng() % rooms.size()];
      ins->Reset();
      ins->Bind(1, room).Bind(2, ++seq[room]).Bind(3, author).Bind(4, body);
      ins->Bind(5, int64_t{1700000000000} + written * 1000);
      Check(ins->Run(), "message");
    }
    Check(c.Exec("COMMIT"), "commit");
    Check(c.Exec("PRAGMA wal_checkpoint(TRUNCATE)"), "checkpoint");  // so the file size counts
    std::fprintf(stderr, "\rmessages: %lld, %lld MiB", static_cast<long long>(written),
                 static_cast<long long>(FileSize(db_path) >> 20));
  }
  for (const auto& [room, last] : seq) {
    auto up = c.Prepare("UPDATE rooms SET last_seq = ? WHERE id = ?");
    if (!up.ok()) Die("prepare: " + up.status().ToString());
    up->Bind(1, last).Bind(2, room);
    Check(up->Run(), "last_seq");
  }
  Check(c.Exec("PRAGMA wal_checkpoint(TRUNCATE)"), "checkpoint");
  std::fprintf(stderr, "\n");
  std::printf("messages: %lld (about 1 KiB each) in %.1f s, database %.0f MiB\n",
              static_cast<long long>(written), Seconds(t0),
              static_cast<double>(FileSize(db_path)) / 1048576.0);
}

// `total_mib` of incompressible files, 64 MiB each, through the files service as uploads.
void FillFiles(outpost::cli::FilesContext& ctx, const outpost::domain::User& admin,
               const std::vector<int64_t>& rooms, int64_t total_mib) {
  std::vector<unsigned char> piece(1 << 20);
  unsigned char seed[randombytes_SEEDBYTES] = {1};
  const int64_t t0 = NowNs();
  int64_t n = 0;
  for (int64_t done = 0; done < total_mib; done += kFileMib, ++n) {
    const int64_t mib = std::min(kFileMib, total_mib - done);
    auto upload = ctx.files.Begin(admin, rooms[static_cast<size_t>(n) % rooms.size()],
                                  mib << 20);
    if (!upload.ok()) Die("upload: " + upload.status().ToString());
    for (int64_t m = 0; m < mib; ++m) {
      seed[1] = static_cast<unsigned char>(n);
      seed[2] = static_cast<unsigned char>(m);
      seed[3] = static_cast<unsigned char>(n >> 8);
      randombytes_buf_deterministic(piece.data(), piece.size(), seed);
      Check((*upload)->Append(std::string_view(reinterpret_cast<char*>(piece.data()),
                                               piece.size())),
            "append");
    }
    outpost::domain::UploadRequest req;
    req.name = "bench-" + std::to_string(n) + ".bin";
    auto info = ctx.files.Finish(std::move(*upload), req);
    if (!info.ok()) Die("finish: " + info.status().ToString());
    std::fprintf(stderr, "\rfiles: %lld MiB", static_cast<long long>(done + mib));
  }
  std::fprintf(stderr, "\n");
  std::printf("files: %lld of %lld MiB in %.1f s\n", static_cast<long long>(n),
              static_cast<long long>(kFileMib), Seconds(t0));
}

// Latencies in milliseconds of one client doing a history page and a post in turn.
struct Latencies {
  std::vector<double> history, post;
  int errors = 0;
};

std::string Percentiles(std::vector<double> v) {
  if (v.empty()) return "no samples";
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  char out[160];
  std::snprintf(out, sizeof(out), "n=%zu p50 %.1f ms, p99 %.1f ms, max %.1f ms", v.size(),
                at(0.50), at(0.99), v.back());
  return out;
}

class LoadClient {
 public:
  LoadClient(const Appliance& app, std::string token, int64_t room)
      : client_("127.0.0.1", app.port(), ReadAll(app.data() + "/tls/ca.pem")),
        token_(std::move(token)), room_(room) {}

  // Requests until `stop()` says so.
  Latencies Run(const std::function<bool()>& stop) {
    Latencies out;
    const std::vector<std::pair<std::string, std::string>> headers = {
        {"Authorization", token_}, {"Content-Type", "application/json"}};
    const std::string base = "/api/v1/rooms/" + std::to_string(room_) + "/messages";
    while (!stop()) {
      int64_t t = NowNs();
      auto h = client_.Request("GET", base + "?limit=50", headers);
      if (h.ok() && h->status == 200) {
        out.history.push_back(static_cast<double>(NowNs() - t) / 1e6);
      } else {
        ++out.errors;
      }
      nlohmann::json body = {{"body", "latency probe " + std::to_string(++posts_)},
                             {"client_id", "bb-" + std::to_string(posts_)}};
      t = NowNs();
      auto p = client_.Request("POST", base, headers, body.dump());
      if (p.ok() && (p->status == 200 || p->status == 201)) {
        out.post.push_back(static_cast<double>(NowNs() - t) / 1e6);
      } else {
        ++out.errors;
      }
    }
    return out;
  }

 private:
  static std::string ReadAll(const std::string& path) {
    std::ifstream in(path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  outpost::testing::HttpsClient client_;
  std::string token_;
  int64_t room_;
  int64_t posts_ = 0;
};

// Member bytes of an archive, from `backup verify --json`.
int64_t ArchiveBytes(Appliance& app, const std::string& archive, const std::string& key) {
  const std::string log = app.dir() + "/verify.json";
  std::filesystem::remove(log);
  if (app.Run({"backup", "verify", archive, "--key-file", key, "--json", "--config",
               app.config(), "--data", app.data()},
              log) != 0) {
    Die("backup verify failed; see " + log);
  }
  std::ifstream in(log);
  nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.contains("bytes")) Die("unexpected verify output in " + log);
  return j["bytes"].get<int64_t>();
}

void Report(const char* what, double seconds, int64_t bytes) {
  std::printf("%-28s %7.1f s  %7.1f MB/s  (%.0f MiB)\n", what, seconds,
              static_cast<double>(bytes) / 1e6 / seconds, static_cast<double>(bytes) / 1048576.0);
}

// The disk's own sequential write speed with an fsync at the end, for comparison.
void DiskReference(const std::string& dir) {
  const std::string path = dir + "/disk-reference";
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) Die("open " + path);
  std::vector<unsigned char> buf(1 << 20);
  randombytes_buf(buf.data(), buf.size());
  const int64_t t0 = NowNs();
  for (int i = 0; i < 2048; ++i) {
    if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) Die("write");
  }
  ::fsync(fd);
  ::close(fd);
  Report("disk: write 2 GiB + fsync", Seconds(t0), int64_t{2048} << 20);
  ::unlink(path.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Die("missing value for " + k);
      return argv[++i];
    };
    if (k == "--outpost") o.outpost = value();
    else if (k == "--message-mib") o.message_mib = std::stoll(value());
    else if (k == "--file-mib") o.file_mib = std::stoll(value());
    else if (k == "--latency-seconds") o.latency_seconds = std::stoi(value());
    else if (k == "--keep") o.keep = true;
    else Die("unknown option " + k);
  }
  if (sodium_init() < 0) Die("sodium_init failed");
  if (o.outpost.empty()) {
    o.outpost = std::filesystem::path(argv[0]).parent_path() / "outpost";
  }
  Appliance app(o.outpost, o.keep);
  app.Init();
  // Quotas off and room for 64 MiB files: the files are the benchmark's, not a user's.
  std::ofstream(app.config(), std::ios::app) << "[files]\nmax_file_mb = 1024\nuser_quota_mb = 0\n"
                                                "room_quota_mb = 0\n";
  std::string token;
  int64_t probe_room = 0;
  const int rc = outpost::cli::WithFiles(
      outpost::cli::GlobalOptions{app.config(), app.data()},
      [&](outpost::cli::FilesContext& ctx) {
        outpost::domain::Accounts accounts(ctx.db, outpost::SystemClock(),
                                           outpost::cli::AccountPolicyFor(ctx.cfg));
        auto admin = accounts.FindByName("admin");
        if (!admin.ok()) Die("admin: " + admin.status().ToString());
        std::vector<int64_t> rooms = MakeRooms(ctx, *admin);
        probe_room = rooms.front();
        FillFiles(ctx, *admin, rooms, o.file_mib);
        outpost::domain::ApiTokens tokens(ctx.db, outpost::SystemClock());
        Check(tokens.Create(admin->id, "backup-bench", 0, &token).status(), "token");
        token = "Bearer " + token;
        FillMessages(app.data() + "/outpost.db", rooms, admin->id, o.message_mib << 20);
        return 0;
      });
  if (rc != 0) Die("populating the data folder failed");

  const std::string key = app.dir() + "/backup.key";
  if (app.Run({"backup", "keygen", "--out", key}, app.dir() + "/keygen.log") != 0) {
    Die("backup keygen failed");
  }
  app.Start();
  LoadClient client(app, token, probe_room);
  const int64_t idle_until = NowNs() + int64_t{o.latency_seconds} * 1000000000;
  Latencies idle = client.Run([&] { return NowNs() >= idle_until; });

  const std::string archive = app.dir() + "/bench.obk";
  const int64_t t0 = NowNs();
  const pid_t backup = app.Spawn({"backup", "create", "--out", archive, "--key-file", key,
                                  "--config", app.config(), "--data", app.data()},
                                 app.dir() + "/backup.log");
  int status = 0;
  bool done = false;
  double create_s = 0;
  Latencies during = client.Run([&] {
    if (!done && ::waitpid(backup, &status, WNOHANG) == backup) {
      done = true;
      create_s = Seconds(t0);
    }
    return done;
  });
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    Die("backup create failed; see " + app.dir() + "/backup.log");
  }
  app.Stop();

  const int64_t bytes = ArchiveBytes(app, archive, key);
  Report("backup create (server up)", create_s, bytes);
  int64_t t = NowNs();
  ArchiveBytes(app, archive, key);
  Report("backup verify", Seconds(t), bytes);
  const std::string restored = app.dir() + "/restored";
  t = NowNs();
  if (app.Run({"backup", "restore", archive, "--key-file", key, "--config", app.config(),
               "--data", restored},
              app.dir() + "/restore.log") != 0) {
    Die("backup restore failed; see " + app.dir() + "/restore.log");
  }
  Report("backup restore", Seconds(t), bytes);
  std::printf("archive %.0f MiB\n", static_cast<double>(FileSize(archive)) / 1048576.0);
  DiskReference(app.dir());

  std::printf("requests, server idle:      history %s; post %s; errors %d\n",
              Percentiles(idle.history).c_str(), Percentiles(idle.post).c_str(), idle.errors);
  std::printf("requests, backup running:   history %s; post %s; errors %d\n",
              Percentiles(during.history).c_str(), Percentiles(during.post).c_str(),
              during.errors);
  return 0;
}
