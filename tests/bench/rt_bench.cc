// Realtime load benchmark against the real server: `outpost init` and `outpost serve` on a
// fresh temporary data folder and a free loopback port, users, rooms, memberships and API
// tokens made through the domain classes before the server starts, then TLS WebSocket clients
// in several processes (one epoll loop each, sources 127.0.0.2, 127.0.0.3, ...). Each scenario
// prints one summary line.
//
//   outpost_rt_bench fanout [--clients 1000] [--posters 20] [--rate 100] [--seconds 20]
//   outpost_rt_bench ingest [--clients 1000] [--rooms 100] [--rate 10000] [--seconds 20]
//   outpost_rt_bench idle   [--starts 5]
// and for fanout and ingest:
//   [--processes 2] [--post-via ws|http] [--http-connections 12] [--drain-s 10]
//   [--outpost PATH] [--keep] [--threads] [--cache DIR | --no-cache]
//
// fanout: every client is a member of one room; the first --posters clients post --rate
//   messages/s between them. ingest: client i is in room i % --rooms and every client posts,
//   --rate in total. Either way every member's socket must receive every "message.created"
//   event of its room: receipts, lost (expected minus received) and post-to-receipt latency
//   (the text carries the sender's CLOCK_MONOTONIC time, shared by every process) are
//   reported, and so is the ack latency (post sent to ack; the server acks after commit).
//   --post-via ws sends {"type":"post",...} frames on the poster's socket and waits for
//   {"type":"ack"}; http sends POST /api/v1/rooms/{id}/messages over --http-connections
//   keep-alive HTTPS connections in all (split over the processes; 201 after commit; keep
//   it under the server's worker_threads, 16 by default: each keep-alive connection holds a
//   worker; a post whose connection closes is sent again with the same client_id). After the
//   server stops, the database is opened read-only and every acked message id is looked up.
// idle: the server's RSS on an empty data folder, and cold start: exec to the first 200 from
//   GET /healthz, over --starts starts.
// --outpost: the binary (default: `outpost` next to this one). --keep: keep the folder.
// --cache: where the populated data folder is kept as a template for later runs with the same
//   --clients and --rooms (default /tmp/outpost-rt-bench-cache; creating 1,000 users hashes
//   1,000 passwords, 2 to 5 minutes here). Each run still gets its own fresh copy.
// --threads: also print, per server thread, its CPU and run-queue wait until drained.
// Exit status: 0 when every post was acked, every receipt arrived and every acked message is in
// the database; 1 otherwise; 2 for a bad command line.
#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "bench/rt_appliance.h"
#include "bench/tls_clients.h"
#include "cli/common.h"
#include "domain/accounts.h"
#include "domain/rooms.h"
#include "domain/sessions.h"
#include "net/hub.h"
#include "support/https_client.h"
#include "util/clock.h"
#include "util/crypto.h"

namespace {

using namespace outpost;
using bench::Appliance;
using bench::BenchClient;
using bench::Die;
using bench::NowNs;
using bench::TlsClientLoop;
using bench::TlsConn;

void SleepUntil(int64_t ns) {
  const int64_t d = ns - NowNs();
  if (d > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(d));
}

// Time on a CPU and time runnable but waiting for one (run-queue delay: how much a busy machine
// held the thread back), from /proc/<path>/schedstat; zeros when unreadable.
struct SchedTimes {
  double cpu_s = 0, wait_s = 0;
};
SchedTimes ReadSchedstat(const std::string& path) {
  std::ifstream in(path);
  double run_ns = 0, wait_ns = 0;
  if (!(in >> run_ns >> wait_ns)) return {};
  return {run_ns / 1e9, wait_ns / 1e9};
}

struct Options {
  std::string scenario;
  int clients = 1000;
  int rooms = 1;
  int posters = 20;
  double rate = 100;
  int seconds = 20;
  int processes = 2;
  bool http = false;
  int http_connections = 12;
  int drain_s = 10;
  int starts = 5;
  std::string outpost;
  bool keep = false;
  std::string cache = "/tmp/outpost-rt-bench-cache";
  bool threads = false;
};

// ---------------------------------------------------------------------------------------------
// One generator process: the WebSocket clients [first, last) and, with --post-via http, a pool
// of keep-alive connections. Talks to the parent over two pipes, one line per message:
//   child:  "ready <open> <failed>"       every socket is open (or failed)
//   parent: "go <start_ns>"               post from start_ns for --seconds
//   child:  "acked <posted> <acked> <errors> <late> <rooms> <room>:<count>..."
//                                         posting is over and every post answered (or drain)
//   parent: "count"   child: "received <n>"
//   parent: "stop"    child: writes its result file, then "done"
class LoadWorker : public bench::TlsConnHandler {
 public:
  LoadWorker(const Options& o, const std::vector<BenchClient>& clients, int port, int first,
             int last, std::string source, FILE* commands, int report_fd)
      : o_(o),
        clients_(clients),
        first_(first),
        last_(last),
        source_(std::move(source)),
        commands_(commands),
        report_fd_(report_fd),
        loop_("127.0.0.1", port, this) {}

  int Run(const std::string& result_path) {
    Connect();
    Report("ready " + std::to_string(ws_open_) + " " + std::to_string(loop_.failed()));
    ::fcntl(::fileno(commands_), F_SETFL, O_NONBLOCK);
    const int64_t seconds_ns = int64_t{o_.seconds} * 1000000000;
    rusage usage{};
    while (!stop_) {
      ReadCommands();
      const int64_t now = NowNs();
      // This process's CPU over the posting window, as the server's is measured.
      if (start_ns_ > 0 && cpu_start_ < 0 && now >= start_ns_) {
        getrusage(RUSAGE_SELF, &usage);
        cpu_start_ = bench::CpuSeconds(usage);
        wait_start_ = ReadSchedstat("/proc/self/schedstat").wait_s;
      }
      if (cpu_start_ >= 0 && !cpu_done_ && now >= start_ns_ + seconds_ns) {
        getrusage(RUSAGE_SELF, &usage);
        cpu_s_ = bench::CpuSeconds(usage) - cpu_start_;
        wait_s_ = ReadSchedstat("/proc/self/schedstat").wait_s - wait_start_;
        cpu_done_ = true;
      }
      if (start_ns_ > 0 && !posting_done_) PostDue(now);
      if (posting_done_ && !acks_reported_ &&
          ((in_flight_.empty() && pending_.empty()) ||
           now > start_ns_ + seconds_ns + int64_t{o_.drain_s} * 1000000000)) {
        std::string line = "acked " + std::to_string(posted_) + " " + std::to_string(acked_) + " " +
                           std::to_string(errors_ + static_cast<int64_t>(in_flight_.size()) +
                                          static_cast<int64_t>(pending_.size())) +
                           " " + std::to_string(late_) + " " +
                           std::to_string(acked_by_room_.size());
        for (const auto& [room, n] : acked_by_room_) {
          line += " " + std::to_string(room) + ":" + std::to_string(n);
        }
        Report(line);
        acks_reported_ = true;
      }
      int timeout_ms = 10;
      if (start_ns_ > 0 && !posting_done_) {
        // Rounded up: a post due in less than a millisecond waits for it rather than spin
        // on epoll_wait(0), which would take the CPU the server is measured on.
        const int64_t wait = NowNs() < next_due_ ? (next_due_ - NowNs() + 999999) / 1000000 : 0;
        timeout_ms = static_cast<int>(std::min<int64_t>(wait, 10));
      }
      loop_.Poll(timeout_ms);
    }
    WriteResults(result_path);
    loop_.CloseAll();
    Report("done");
    return 0;
  }

  // Result file: a header of int64 counters, then ack and receipt latencies (uint32 µs) and
  // acked message ids (int64).
  struct ResultHeader {
    int64_t received = 0, ws_failed = 0, n_ack = 0, n_recv = 0, n_ids = 0;
    double cpu_s = 0;
    double wait_s = 0;  // run-queue delay over the posting window
  };

 private:
  struct HttpConn {
    TlsConn* conn = nullptr;
    bool open = false;
    bool busy = false;
    int64_t g = 0;  // the post in flight
    std::string buf;
  };

  void Report(const std::string& line) {
    const std::string l = line + "\n";
    if (::write(report_fd_, l.data(), l.size()) < 0) std::_Exit(1);
  }

  void Connect() {
    int started = 0;
    const int count = last_ - first_;
    ws_.resize(static_cast<size_t>(count));
    while (started < count || loop_.in_flight() > 0) {
      while (started < count && loop_.in_flight() < 64) {
        const int i = first_ + started++;
        ws_[static_cast<size_t>(i - first_)] = &loop_.Connect(
            source_,
            TlsClientLoop::UpgradeRequest("/api/v1/ws", clients_[static_cast<size_t>(i)].token), i);
      }
      loop_.Poll(50);
    }
    ws_open_ = loop_.open();
    if (!o_.http) return;
    const int per_process = std::max(1, o_.http_connections / o_.processes);
    http_.resize(static_cast<size_t>(per_process));
    for (int j = 0; j < per_process; ++j) {
      http_[static_cast<size_t>(j)].conn = &loop_.Connect(source_, "", -1 - j);
    }
    while (loop_.in_flight() > 0) loop_.Poll(50);
  }

  void ReadCommands() {
    char line[128];
    while (std::fgets(line, sizeof(line), commands_) != nullptr) {
      long long v = 0;
      if (std::sscanf(line, "go %lld", &v) == 1) {
        start_ns_ = v;
        local_posters_end_ = std::min(last_, o_.posters);
        poster_ = first_;
        next_due_ = Due(0, poster_);
        if (first_ >= local_posters_end_) posting_done_ = true;
      } else if (std::strncmp(line, "count", 5) == 0) {
        Report("received " + std::to_string(received_));
      } else if (std::strncmp(line, "stop", 4) == 0) {
        stop_ = true;
      }
    }
    std::clearerr(commands_);
  }

  // When post k of poster i is due: posters take turns, --rate in total.
  int64_t Due(int64_t k, int i) const {
    const double g = static_cast<double>(k * o_.posters + i);
    return start_ns_ + static_cast<int64_t>(g * 1e9 / o_.rate);
  }

  void PostDue(int64_t now) {
    const int64_t end = start_ns_ + int64_t{o_.seconds} * 1000000000;
    while (next_due_ <= now) {
      if (next_due_ >= end) {
        posting_done_ = true;
        return;
      }
      if (now - next_due_ > 10000000) ++late_;  // the generator fell behind by 10 ms
      Post(k_ * o_.posters + poster_, poster_, now);
      if (++poster_ == local_posters_end_) {
        poster_ = first_;
        ++k_;
      }
      next_due_ = Due(k_, poster_);
    }
    if (o_.http) DispatchHttp();
  }

  std::string Text(int64_t g) const {
    return "rt t=" + std::to_string(NowNs()) + " g=" + std::to_string(g);
  }

  void Post(int64_t g, int i, int64_t now) {
    ++posted_;
    if (o_.http) {
      pending_.push_back({g, i});
      return;
    }
    TlsConn* c = ws_[static_cast<size_t>(i - first_)];
    if (c->phase != TlsConn::Phase::kOpen) {
      ++errors_;
      return;
    }
    in_flight_[g] = {now, i};
    const BenchClient& client = clients_[static_cast<size_t>(i)];
    loop_.SendText(*c, "{\"type\":\"post\",\"room_id\":" + std::to_string(client.room_id) +
                           ",\"body\":\"" + Text(g) + "\",\"client_id\":\"g" + std::to_string(g) +
                           "\"}");
  }

  void DispatchHttp() {
    for (HttpConn& h : http_) {
      if (pending_.empty()) return;
      if (!h.open || h.busy) continue;
      auto [g, i] = pending_.front();
      pending_.pop_front();
      const BenchClient& client = clients_[static_cast<size_t>(i)];
      const std::string body =
          "{\"body\":\"" + Text(g) + "\",\"client_id\":\"g" + std::to_string(g) + "\"}";
      h.busy = true;
      h.g = g;
      in_flight_.emplace(g, std::make_pair(NowNs(), i));  // a retry keeps the first send time
      loop_.SendRaw(*h.conn,
                    "POST /api/v1/rooms/" + std::to_string(client.room_id) +
                        "/messages HTTP/1.1\r\nHost: localhost\r\nAuthorization: " + client.token +
                        "\r\nContent-Type: application/json\r\nContent-Length: " +
                        std::to_string(body.size()) + "\r\n\r\n" + body);
    }
  }

  void Acked(int64_t g, int64_t message_id) {
    auto it = in_flight_.find(g);
    if (it == in_flight_.end()) return;
    ack_us_.push_back(static_cast<uint32_t>((NowNs() - it->second.first) / 1000));
    ++acked_;
    ++acked_by_room_[clients_[static_cast<size_t>(it->second.second)].room_id];
    ids_.push_back(message_id);
    in_flight_.erase(it);
  }

  void Refused(int64_t g) {
    if (in_flight_.erase(g) > 0) ++errors_;
  }

  // --- TlsConnHandler
  void OnMessage(TlsConn&, std::string_view m) override {
    // Receipts come 100,000 a second: recognized by substring, not parsed.
    if (m.find("\"event\":\"message.created\"") != std::string_view::npos) {
      const size_t at = m.find("rt t=");
      if (at == std::string_view::npos) return;
      const int64_t sent = std::strtoll(m.data() + at + 5, nullptr, 10);
      recv_us_.push_back(static_cast<uint32_t>(std::max<int64_t>(0, NowNs() - sent) / 1000));
      ++received_;
      return;
    }
    if (m.find("\"client_id\"") == std::string_view::npos) {
      if (m.find("\"type\":\"error\"") != std::string_view::npos) ++unmatched_errors_;
      return;
    }
    nlohmann::json j = nlohmann::json::parse(m, nullptr, false);
    if (!j.is_object()) return;
    const std::string type = j.value("type", "");
    const std::string cid = j.value("client_id", "");
    if (cid.size() < 2 || cid[0] != 'g') return;
    const int64_t g = std::atoll(cid.c_str() + 1);
    if (type == "ack") {
      Acked(g, j.value("message_id", int64_t{0}));
    } else if (type == "error") {
      Refused(g);
    }
  }

  void OnOpen(TlsConn& c) override {
    if (c.tag >= 0) return;
    http_[static_cast<size_t>(-1 - c.tag)].open = true;
    DispatchHttp();
  }

  void OnBytes(TlsConn& c, std::string_view bytes) override {
    HttpConn& h = http_[static_cast<size_t>(-1 - c.tag)];
    h.buf.append(bytes);
    for (;;) {
      const size_t head_end = h.buf.find("\r\n\r\n");
      if (head_end == std::string::npos) return;
      std::string head = h.buf.substr(0, head_end);
      std::transform(head.begin(), head.end(), head.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      const size_t cl = head.find("\r\ncontent-length:");
      const size_t length =
          cl == std::string::npos ? 0 : std::strtoul(head.c_str() + cl + 17, nullptr, 10);
      if (h.buf.size() < head_end + 4 + length) return;
      const int status = std::atoi(head.c_str() + 9);
      const std::string body = h.buf.substr(head_end + 4, length);
      h.buf.erase(0, head_end + 4 + length);
      if (h.busy) {
        h.busy = false;
        nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
        if ((status == 201 || status == 200) && j.is_object() && j.contains("message")) {
          Acked(h.g, j["message"].value("id", int64_t{0}));
        } else {
          if (errors_ == 0)
            std::fprintf(stderr, "rt_bench: post refused: %d %s\n", status, body.c_str());
          Refused(h.g);
        }
      }
      if (head.find("\r\nconnection: close") != std::string::npos) return;  // OnFail follows
    }
    DispatchHttp();
  }

  void OnFail(TlsConn& c, bool) override {
    if (c.tag >= 0) {
      if (start_ns_ > 0) ++ws_failed_;
      return;
    }
    // An HTTP connection closed (keep-alive limit or timeout, maybe while a request was on its
    // way): the post in flight is sent again with the same client_id, as a browser retries,
    // and the server answers a duplicate with the message it already has.
    const int j = static_cast<int>(-1 - c.tag);
    HttpConn& h = http_[static_cast<size_t>(j)];
    if (h.busy) {
      auto it = in_flight_.find(h.g);
      if (it != in_flight_.end()) pending_.push_front({h.g, it->second.second});
    }
    h = HttpConn{};
    if (!stop_) h.conn = &loop_.Connect(source_, "", c.tag);
  }

  void WriteResults(const std::string& path) {
    ResultHeader h;
    h.received = received_;
    h.ws_failed = ws_failed_;
    h.n_ack = static_cast<int64_t>(ack_us_.size());
    h.n_recv = static_cast<int64_t>(recv_us_.size());
    h.n_ids = static_cast<int64_t>(ids_.size());
    h.cpu_s = cpu_s_;
    h.wait_s = wait_s_;
    FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) std::_Exit(1);
    std::fwrite(&h, sizeof(h), 1, f);
    std::fwrite(ack_us_.data(), sizeof(uint32_t), ack_us_.size(), f);
    std::fwrite(recv_us_.data(), sizeof(uint32_t), recv_us_.size(), f);
    std::fwrite(ids_.data(), sizeof(int64_t), ids_.size(), f);
    std::fclose(f);
  }

  const Options& o_;
  const std::vector<BenchClient>& clients_;
  const int first_, last_;
  const std::string source_;
  FILE* const commands_;
  const int report_fd_;
  TlsClientLoop loop_;
  std::vector<TlsConn*> ws_;  // client first_ + i is ws_[i]
  std::vector<HttpConn> http_;
  int ws_open_ = 0;

  int64_t start_ns_ = 0, next_due_ = 0, k_ = 0;
  int poster_ = 0, local_posters_end_ = 0;
  bool posting_done_ = false, acks_reported_ = false, stop_ = false, cpu_done_ = false;
  std::deque<std::pair<int64_t, int>> pending_;  // HTTP posts waiting for a connection: g, i
  std::unordered_map<int64_t, std::pair<int64_t, int>> in_flight_;  // g -> sent ns, client
  std::map<int64_t, int64_t> acked_by_room_;
  int64_t posted_ = 0, acked_ = 0, errors_ = 0, late_ = 0, received_ = 0, ws_failed_ = 0;
  int64_t unmatched_errors_ = 0;
  double cpu_start_ = -1, cpu_s_ = 0, wait_start_ = 0, wait_s_ = 0;
  std::vector<uint32_t> ack_us_, recv_us_;
  std::vector<int64_t> ids_;
};

// ---------------------------------------------------------------------------------------------
struct Percentiles {
  double p50 = 0, p99 = 0, max = 0;  // ms
};

Percentiles Summarize(std::vector<uint32_t>* us) {
  Percentiles p;
  if (us->empty()) return p;
  std::sort(us->begin(), us->end());
  auto at = [&](double q) {
    return static_cast<double>((*us)[std::min(
               us->size() - 1, static_cast<size_t>(q * static_cast<double>(us->size())))]) /
           1000.0;
  };
  p.p50 = at(0.5);
  p.p99 = at(0.99);
  p.max = static_cast<double>(us->back()) / 1000.0;
  return p;
}

// Per thread of `pid`: tid -> "name(wait channel)" and its times.
std::map<int, std::pair<std::string, SchedTimes>> ThreadTimes(int pid) {
  std::map<int, std::pair<std::string, SchedTimes>> out;
  const std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    const std::string task = dir + "/" + e->d_name;
    std::ifstream comm_in(task + "/comm"), wchan_in(task + "/wchan");
    std::string comm, wchan;
    std::getline(comm_in, comm);
    std::getline(wchan_in, wchan);
    out[std::atoi(e->d_name)] = {comm + "(" + wchan + ")", ReadSchedstat(task + "/schedstat")};
  }
  ::closedir(d);
  return out;
}

SchedTimes Total(const std::map<int, std::pair<std::string, SchedTimes>>& threads) {
  SchedTimes t;
  for (const auto& [tid, v] : threads) {
    t.cpu_s += v.second.cpu_s;
    t.wait_s += v.second.wait_s;
  }
  return t;
}

std::string OutpostNextToUs() {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof(self) - 1);
  if (n <= 0) return "outpost";
  self[n] = '\0';
  return std::filesystem::path(self).parent_path() / "outpost";
}

int RunIdle(const Options& o) {
  const double load_before = bench::LoadAverage1();
  Appliance app(o.outpost, o.keep);
  app.Init();
  std::vector<double> starts;
  long rss = -1, hwm = -1, threads = -1;
  for (int s = 0; s < std::max(1, o.starts); ++s) {
    starts.push_back(app.Start());
    if (s == 0) {
      std::this_thread::sleep_for(std::chrono::seconds(2));  // let it settle
      rss = bench::ProcStatusKib(app.pid(), "VmRSS:");
      hwm = bench::ProcStatusKib(app.pid(), "VmHWM:");
      threads = bench::ProcStatusKib(app.pid(), "Threads:");
    }
    app.Stop();
  }
  std::vector<double> sorted = starts;
  std::sort(sorted.begin(), sorted.end());
  std::printf(
      "rt_bench idle starts=%zu cold_start_ms_first=%.1f cold_start_ms_median=%.1f "
      "cold_start_ms_max=%.1f idle_rss_mib=%.1f idle_hwm_mib=%.1f threads=%ld load1_before=%.2f "
      "load1_after=%.2f\n",
      starts.size(), starts[0], sorted[sorted.size() / 2], sorted.back(),
      static_cast<double>(rss) / 1024.0, static_cast<double>(hwm) / 1024.0, threads, load_before,
      bench::LoadAverage1());
  return 0;
}

int RunLoad(const Options& o) {
  const double load_before = bench::LoadAverage1();
  Appliance app(o.outpost, o.keep);
  const int64_t t_setup = NowNs();
  std::vector<BenchClient> clients;
  const std::string tmpl =
      o.cache.empty() ? ""
                      : o.cache + "/c" + std::to_string(o.clients) + "-r" + std::to_string(o.rooms);
  if (!tmpl.empty() && std::filesystem::exists(tmpl + "/clients.tsv")) {
    clients = app.LoadTemplate(tmpl);
    if (clients.size() != static_cast<size_t>(o.clients)) Die("bad template " + tmpl);
  } else {
    app.Init();
    clients = app.Populate(o.clients, o.rooms);
    if (!tmpl.empty()) app.SaveTemplate(tmpl, clients);
  }
  const double setup_s = static_cast<double>(NowNs() - t_setup) / 1e9;
  const double cold_ms = app.Start();
  const long rss_start = bench::ProcStatusKib(app.pid(), "VmRSS:");

  struct Child {
    pid_t pid;
    FILE* report;
    FILE* commands;
    std::string result;
  };
  std::vector<Child> children;
  for (int p = 0; p < o.processes; ++p) {
    int up[2], down[2];
    if (::pipe(up) != 0 || ::pipe(down) != 0) Die("pipe failed");
    const int first = static_cast<int>(int64_t{o.clients} * p / o.processes);
    const int last = static_cast<int>(int64_t{o.clients} * (p + 1) / o.processes);
    const std::string result = app.dir() + "/worker-" + std::to_string(p) + ".res";
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(up[0]);
      ::close(down[1]);
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (!net::RaiseOpenFileLimit().ok()) ::_exit(1);
      LoadWorker w(o, clients, app.port(), first, last, "127.0.0." + std::to_string(2 + p),
                   ::fdopen(down[0], "r"), up[1]);
      ::_exit(w.Run(result));
    }
    ::close(up[1]);
    ::close(down[0]);
    children.push_back({pid, ::fdopen(up[0], "r"), ::fdopen(down[1], "w"), result});
  }
  auto send_all = [&](const std::string& line) {
    for (Child& c : children) {
      std::fputs((line + "\n").c_str(), c.commands);
      std::fflush(c.commands);
    }
  };
  long open = 0, failed = 0;
  for (Child& c : children) {
    long a = 0, b = 0;
    if (std::fscanf(c.report, " ready %ld %ld", &a, &b) != 2) Die("a worker failed to start");
    open += a;
    failed += b;
  }
  // Let the hub apply the last adoptions and subscriptions.
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const int64_t start = NowNs() + 300000000;
  send_all("go " + std::to_string(start));
  SleepUntil(start);
  const double cpu0 = bench::ProcCpuSeconds(app.pid());
  const pid_t server_pid = app.pid();
  const auto threads0 = ThreadTimes(server_pid);
  SleepUntil(start + int64_t{o.seconds} * 1000000000);
  const double cpu1 = bench::ProcCpuSeconds(app.pid());
  const long rss = bench::ProcStatusKib(app.pid(), "VmRSS:");

  int64_t posted = 0, acked = 0, errors = 0, late = 0;
  std::map<int64_t, int64_t> acked_by_room;
  for (Child& c : children) {
    long long p = 0, a = 0, e = 0, l = 0;
    int n = 0;
    if (std::fscanf(c.report, " acked %lld %lld %lld %lld %d", &p, &a, &e, &l, &n) != 5) {
      Die("a worker stopped early");
    }
    posted += p;
    acked += a;
    errors += e;
    late += l;
    for (int r = 0; r < n; ++r) {
      long long room = 0, count = 0;
      if (std::fscanf(c.report, " %lld:%lld", &room, &count) != 2) Die("bad worker report");
      acked_by_room[room] += count;
    }
  }
  // Every member of a room must receive every acked message of the room.
  std::map<int64_t, int64_t> members;
  for (const BenchClient& c : clients) ++members[c.room_id];
  int64_t expected = 0;
  for (const auto& [room, n] : acked_by_room) expected += n * members[room];
  int64_t received = 0;
  const int64_t drain_end = NowNs() + int64_t{o.drain_s} * 1000000000;
  while (true) {
    send_all("count");
    received = 0;
    for (Child& c : children) {
      long long n = 0;
      if (std::fscanf(c.report, " received %lld", &n) != 1) Die("bad worker report");
      received += n;
    }
    if (received >= expected || NowNs() > drain_end) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  const int64_t drained = NowNs();
  const double cpu2 = bench::ProcCpuSeconds(app.pid());
  const auto threads2 = ThreadTimes(app.pid());
  const long hwm = bench::ProcStatusKib(app.pid(), "VmHWM:");
  send_all("stop");
  double gen_cpu = 0, gen_wait = 0;
  int64_t ws_failed = 0;
  std::vector<uint32_t> ack_us, recv_us;
  std::vector<int64_t> ids;
  for (Child& c : children) {
    char word[16];
    if (std::fscanf(c.report, " %15s", word) != 1) Die("a worker died");
    int status = 0;
    ::waitpid(c.pid, &status, 0);
    FILE* f = std::fopen(c.result.c_str(), "rb");
    LoadWorker::ResultHeader h;
    if (f == nullptr || std::fread(&h, sizeof(h), 1, f) != 1) Die("no worker results");
    auto read = [&](auto* v, int64_t n) {
      const size_t old = v->size();
      v->resize(old + static_cast<size_t>(n));
      if (std::fread(v->data() + old, sizeof((*v)[0]), static_cast<size_t>(n), f) !=
          static_cast<size_t>(n)) {
        Die("short worker results");
      }
    };
    read(&ack_us, h.n_ack);
    read(&recv_us, h.n_recv);
    read(&ids, h.n_ids);
    std::fclose(f);
    gen_cpu += h.cpu_s;
    gen_wait += h.wait_s;
    ws_failed += h.ws_failed;
  }
  const int stop_status = app.Stop();
  const Appliance::Stored stored = app.Verify(ids);
  // Every member of a room must receive every message committed to it, acked or not (a post
  // whose ack was lost with its socket may still have been committed and delivered).
  expected = 0;
  for (const auto& [room, n] : stored.rows_by_room) expected += n * members[room];
  const double run_s = static_cast<double>(drained - start) / 1e9;

  const Percentiles ack = Summarize(&ack_us), recv = Summarize(&recv_us);
  const double secs = static_cast<double>(o.seconds);
  std::printf(
      "rt_bench %s clients=%d rooms=%d posters=%d rate=%.0f seconds=%d via=%s processes=%d "
      "connected=%ld connect_failed=%ld dropped=%lld posted=%lld acked=%lld lost_posts=%lld "
      "late=%lld acked_per_s=%.0f ack_p50_ms=%.2f ack_p99_ms=%.2f ack_max_ms=%.1f "
      "receipts=%lld expected=%lld lost=%lld receipts_per_s=%.0f p50_ms=%.2f p99_ms=%.2f "
      "max_ms=%.1f drain_s=%.1f server_cpu_pct=%.0f server_cpu_s=%.1f server_us_per_receipt=%.1f "
      "server_runq_wait_pct=%.0f server_rss_mib=%.1f server_rss_start_mib=%.1f "
      "server_hwm_mib=%.1f gen_cpu_pct=%.0f gen_runq_wait_pct=%.0f "
      "db_missing=%lld db_rows=%lld clean_stop=%d setup_s=%.1f cold_start_ms=%.0f "
      "load1_before=%.2f load1_after=%.2f\n",
      o.scenario.c_str(), o.clients, o.rooms, o.posters, o.rate, o.seconds, o.http ? "http" : "ws",
      o.processes, open, failed, static_cast<long long>(ws_failed), static_cast<long long>(posted),
      static_cast<long long>(acked), static_cast<long long>(posted - acked),
      static_cast<long long>(late), static_cast<double>(acked) / secs, ack.p50, ack.p99, ack.max,
      static_cast<long long>(received), static_cast<long long>(expected),
      static_cast<long long>(expected - received), static_cast<double>(received) / secs, recv.p50,
      recv.p99, recv.max, run_s - secs, (cpu1 - cpu0) / secs * 100.0, cpu2 - cpu0,
      received > 0 ? (cpu2 - cpu0) * 1e6 / static_cast<double>(received) : 0.0,
      (Total(threads2).wait_s - Total(threads0).wait_s) / run_s * 100.0,
      static_cast<double>(rss) / 1024.0, static_cast<double>(rss_start) / 1024.0,
      static_cast<double>(hwm) / 1024.0, gen_cpu / secs * 100.0, gen_wait / secs * 100.0,
      static_cast<long long>(stored.missing), static_cast<long long>(stored.rows),
      WIFEXITED(stop_status) && WEXITSTATUS(stop_status) == 0 ? 1 : 0, setup_s, cold_ms,
      load_before, bench::LoadAverage1());
  if (o.threads) {
    std::vector<std::pair<double, std::string>> by_cpu;
    for (const auto& [tid, t2] : threads2) {
      auto t0 = threads0.find(tid);
      const SchedTimes before = t0 == threads0.end() ? SchedTimes{} : t0->second.second;
      const double cpu = t2.second.cpu_s - before.cpu_s, wait = t2.second.wait_s - before.wait_s;
      if (cpu > 0.005 * run_s) {
        by_cpu.push_back({cpu, t2.first + "/+" + std::to_string(tid - server_pid) + "=" +
                                   std::to_string(static_cast<int>(cpu / run_s * 100)) + "/" +
                                   std::to_string(static_cast<int>(wait / run_s * 100))});
      }
    }
    std::sort(by_cpu.rbegin(), by_cpu.rend());
    std::printf(
        "server threads until drained (name(wait channel at the end)/+tid-pid=cpu%%/run-queue "
        "wait%%):");
    for (const auto& [cpu, text] : by_cpu) std::printf(" %s", text.c_str());
    std::printf("\n");
  }
  return posted == acked && expected == received && stored.missing == 0 && failed == 0 ? 0 : 1;
}

bool ParseArgs(int argc, char** argv, Options* o) {
  if (argc < 2) return false;
  o->scenario = argv[1];
  if (o->scenario == "ingest") {
    o->rooms = 100;
    o->posters = 1000;
    o->rate = 10000;
  } else if (o->scenario != "fanout" && o->scenario != "idle") {
    return false;
  }
  bool posters_given = false;
  for (int i = 2; i < argc; ++i) {
    const std::string k = argv[i];
    if (k == "--keep") {
      o->keep = true;
      continue;
    }
    if (k == "--no-cache") {
      o->cache.clear();
      continue;
    }
    if (k == "--threads") {
      o->threads = true;
      continue;
    }
    if (i + 1 >= argc) return false;
    const std::string v = argv[++i];
    if (k == "--clients")
      o->clients = std::atoi(v.c_str());
    else if (k == "--rooms")
      o->rooms = std::atoi(v.c_str());
    else if (k == "--posters")
      o->posters = std::atoi(v.c_str()), posters_given = true;
    else if (k == "--rate")
      o->rate = std::atof(v.c_str());
    else if (k == "--seconds")
      o->seconds = std::atoi(v.c_str());
    else if (k == "--processes")
      o->processes = std::atoi(v.c_str());
    else if (k == "--post-via" && (v == "ws" || v == "http"))
      o->http = v == "http";
    else if (k == "--http-connections")
      o->http_connections = std::atoi(v.c_str());
    else if (k == "--drain-s")
      o->drain_s = std::atoi(v.c_str());
    else if (k == "--starts")
      o->starts = std::atoi(v.c_str());
    else if (k == "--outpost")
      o->outpost = v;
    else if (k == "--cache")
      o->cache = v;
    else
      return false;
  }
  if (o->scenario == "ingest" && !posters_given) o->posters = o->clients;
  if (o->clients < 1 || o->rooms < 1 || o->rooms > o->clients || o->posters < 1 ||
      o->posters > o->clients || o->rate <= 0 || o->seconds < 1 || o->processes < 1 ||
      o->processes > o->clients || o->processes > 250) {
    return false;
  }
  if (o->outpost.empty()) o->outpost = OutpostNextToUs();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    std::fprintf(stderr, "usage: see the comment at the top of tests/bench/rt_bench.cc\n");
    return 2;
  }
  if (!InitCrypto().ok()) return 1;
  std::signal(SIGPIPE, SIG_IGN);
  if (::access(o.outpost.c_str(), X_OK) != 0) Die("no outpost binary at " + o.outpost);
  return o.scenario == "idle" ? RunIdle(o) : RunLoad(o);
}
