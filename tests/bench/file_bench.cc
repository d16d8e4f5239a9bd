// Upload and download throughput of one large file over TLS against the real release binary,
// and what it costs the server in memory.
//
//   outpost_file_bench [--outpost PATH] [--mib 1024] [--multipart] [--dir DIR] [--keep]
//
// Initializes a fresh data folder (`outpost init`, non-interactive), starts `outpost serve` on
// a free loopback port, signs in over HTTPS, uploads a file of --mib MiB as a raw streamed body
// (or, with --multipart, as the file part of a multipart/form-data body), generated on the fly
// and never held whole by the bench either, downloads it, checks its
// BLAKE2b against what was sent, and prints one summary line. The server's RSS is read from
// /proc/PID/status: VmRSS before the upload, and VmHWM (the peak), reset just before the upload
// through /proc/PID/clear_refs so that it covers the transfers only.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "support/https_client.h"

namespace {

using outpost::Status;
using outpost::testing::HttpsClient;
using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kPassword = "file bench admin passphrase";

struct Options {
  std::string outpost;  // default: next to this binary
  int64_t mib = 1024;
  std::string dir;
  bool keep = false;
  bool multipart = false;
};

[[noreturn]] void Die(const std::string& what) {
  fprintf(stderr, "file_bench: %s\n", what.c_str());
  exit(1);
}

void Check(const Status& st, const std::string& what) {
  if (!st.ok()) Die(what + ": " + st.ToString());
}

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) Die("cannot write " + path);
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

pid_t Spawn(const std::string& bin, std::vector<std::string> args, const std::string& log) {
  std::vector<char*> argv;
  std::string b = bin;
  argv.push_back(b.data());
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    int in = open("/dev/null", O_RDONLY);
    int out = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    dup2(in, 0);
    dup2(out, 1);
    dup2(out, 2);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int Wait(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// A field of /proc/PID/status in KiB ("VmRSS", "VmHWM"); -1 when it cannot be read.
int64_t ProcKib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atoll(line.c_str() + field.size() + 1);
  }
  return -1;
}

// Incompressible bytes from a seeded xorshift generator: the same stream for the same seed.
class Generator {
 public:
  explicit Generator(uint64_t seed) : x_(seed | 1) {}
  void Fill(std::string* buf) {
    for (size_t i = 0; i + 8 <= buf->size(); i += 8) {
      x_ ^= x_ << 13;
      x_ ^= x_ >> 7;
      x_ ^= x_ << 17;
      memcpy(buf->data() + i, &x_, 8);
    }
  }

 private:
  uint64_t x_;
};

struct Hasher {
  crypto_generichash_state st;
  Hasher() { crypto_generichash_init(&st, nullptr, 0, 32); }
  void Update(const char* p, size_t n) {
    crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(p), n);
  }
  std::string Final() {
    unsigned char out[32];
    crypto_generichash_final(&st, out, sizeof(out));
    return std::string(reinterpret_cast<char*>(out), sizeof(out));
  }
};

// Reads one response on the client's connection: the head, then the body through `on_body`
// (in pieces, never whole). Returns the status code; *head gets the head.
int ReadResponse(HttpsClient& c, std::string* head,
                 const std::function<void(const char*, size_t)>& on_body) {
  std::string buf;
  auto deadline = Clock::now() + std::chrono::minutes(10);
  size_t end = std::string::npos;
  while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
    auto n = c.Receive(&buf, 1000);
    if (!n.ok()) Die("reading a response head: " + n.status().ToString() + " (" + buf + ")");
    if (Clock::now() > deadline) Die("no response within 10 minutes");
  }
  *head = buf.substr(0, end + 4);
  buf.erase(0, end + 4);
  int status = std::atoi(head->c_str() + 9);
  std::string lower = *head;
  for (char& ch : lower) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  size_t at = lower.find("\r\ncontent-length:");
  if (at == std::string::npos) Die("a response without Content-Length: " + *head);
  uint64_t left = std::strtoull(lower.c_str() + at + 17, nullptr, 10);
  while (true) {
    size_t take = std::min<uint64_t>(left, buf.size());
    on_body(buf.data(), take);
    left -= take;
    buf.clear();
    if (left == 0) break;
    auto n = c.Receive(&buf, 1000);
    if (!n.ok()) Die("reading a response body: " + n.status().ToString());
    if (Clock::now() > deadline) Die("the body did not arrive within 10 minutes");
  }
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  if (sodium_init() < 0) Die("libsodium did not initialize");
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Die(a + " needs a value");
      return argv[++i];
    };
    if (a == "--outpost") {
      o.outpost = next();
    } else if (a == "--mib") {
      o.mib = std::atoll(next().c_str());
    } else if (a == "--dir") {
      o.dir = next();
    } else if (a == "--keep") {
      o.keep = true;
    } else if (a == "--multipart") {
      o.multipart = true;
    } else {
      Die("usage: outpost_file_bench [--outpost PATH] [--mib 1024] [--multipart] [--dir DIR] "
          "[--keep]");
    }
  }
  if (o.mib < 1) Die("--mib must be at least 1");
  if (o.outpost.empty()) {
    o.outpost = (std::filesystem::canonical("/proc/self/exe").parent_path() / "outpost").string();
  }
  if (access(o.outpost.c_str(), X_OK) != 0) Die("no outpost binary at " + o.outpost);
  std::string root = o.dir;
  if (root.empty()) {
    char tmpl[] = "/tmp/outpost-file-bench-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) Die("mkdtemp failed");
    root = tmpl;
  }
  const std::string data = root + "/data", config = root + "/config.toml";
  const std::string log = root + "/server.log";
  WriteText(config, "[files]\nmax_file_mb = " + std::to_string(o.mib + 1) +
                        "\nuser_quota_mb = 0\nroom_quota_mb = 0\n");
  WriteText(root + "/pw", std::string(kPassword) + "\n");
  int rc = Wait(Spawn(o.outpost,
                      {"init", "--admin", "admin", "--password-file", root + "/pw", "--host",
                       "localhost", "--host", "127.0.0.1", "--config", config, "--data", data},
                      log));
  if (rc != 0) Die("outpost init failed (" + std::to_string(rc) + "): " + ReadText(log));
  const std::string ca = ReadText(data + "/tls/ca.pem");

  int port = FreePort();
  pid_t server = Spawn(o.outpost,
                       {"serve", "--config", config, "--data", data, "--listen",
                        "127.0.0.1:" + std::to_string(port)},
                       log);
  HttpsClient c("127.0.0.1", port, ca, "localhost");
  c.set_timeout_ms(600000);
  bool up = false;
  for (int i = 0; i < 500 && !up; ++i) {
    HttpsClient probe("127.0.0.1", port, ca, "localhost");
    probe.set_timeout_ms(1000);
    auto r = probe.Request("GET", "/healthz");
    up = r.ok() && r->status == 200;
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (!up) {
    kill(server, SIGKILL);
    Die("the server did not start: " + ReadText(log));
  }

  nlohmann::json login = {{"username", "admin"}, {"password", kPassword}};
  auto r =
      c.Request("POST", "/api/v1/auth/login", {{"Content-Type", "application/json"}}, login.dump());
  if (!r.ok() || r->status != 200) Die("login failed");
  std::string cookie = r->Header("set-cookie");
  cookie = cookie.substr(0, cookie.find(';'));
  std::string csrf = nlohmann::json::parse(r->body)["csrf_token"];
  Headers h = {{"Cookie", cookie}, {"X-CSRF-Token", csrf}, {"Content-Type", "application/json"}};
  r = c.Request("POST", "/api/v1/rooms", h,
                nlohmann::json({{"name", "bench"}, {"kind", "private"}}).dump());
  if (!r.ok() || r->status != 201) Die("creating the room failed");
  int64_t room = nlohmann::json::parse(r->body)["room"]["id"];

  const uint64_t total = static_cast<uint64_t>(o.mib) << 20;
  const int64_t rss_before = ProcKib(server, "VmRSS");
  WriteText("/proc/" + std::to_string(server) + "/clear_refs", "5");  // resets VmHWM

  // Upload: the head, then the body in 1 MiB pieces as they are generated (inside a form's
  // file part with --multipart).
  c.Close();
  const std::string boundary = "outpost-file-bench-7d3a";
  const std::string form_start =
      o.multipart ? "--" + boundary +
                        "\r\nContent-Disposition: form-data; name=\"file\"; "
                        "filename=\"bench.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                  : "";
  const std::string form_end = o.multipart ? "\r\n--" + boundary + "--\r\n" : "";
  std::string head =
      "POST /api/v1/rooms/" + std::to_string(room) +
      "/files?name=bench.bin HTTP/1.1\r\nHost: localhost:" + std::to_string(port) +
      "\r\nCookie: " + cookie + "\r\nX-CSRF-Token: " + csrf + "\r\nContent-Type: " +
      (o.multipart ? "multipart/form-data; boundary=" + boundary : "application/octet-stream") +
      "\r\nContent-Length: " + std::to_string(form_start.size() + total + form_end.size()) +
      "\r\n\r\n" + form_start;
  Generator gen(0x5eed);
  Hasher sent;
  std::string piece(1 << 20, '\0');
  auto t0 = Clock::now();
  Check(c.Send(head), "sending the upload head");
  for (uint64_t done = 0; done < total; done += piece.size()) {
    gen.Fill(&piece);
    sent.Update(piece.data(), piece.size());
    Check(c.Send(piece), "sending the upload body");
  }
  if (!form_end.empty()) Check(c.Send(form_end), "sending the end of the form");
  std::string reply, reply_body;
  int status = ReadResponse(c, &reply, [&](const char* p, size_t n) { reply_body.append(p, n); });
  double upload_s = std::chrono::duration<double>(Clock::now() - t0).count();
  if (status != 201) Die("upload answered " + std::to_string(status) + ": " + reply_body);
  std::string url = nlohmann::json::parse(reply_body)["url"];
  const int64_t rss_after_upload = ProcKib(server, "VmRSS");

  // Download, hashed as it arrives.
  c.Close();
  Hasher got;
  uint64_t received = 0;
  t0 = Clock::now();
  Check(c.Send("GET " + url + " HTTP/1.1\r\nHost: localhost:" + std::to_string(port) +
               "\r\nCookie: " + cookie + "\r\n\r\n"),
        "sending the download request");
  status = ReadResponse(c, &reply, [&](const char* p, size_t n) {
    got.Update(p, n);
    received += n;
  });
  double download_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const int64_t rss_end = ProcKib(server, "VmRSS");
  const int64_t hwm = ProcKib(server, "VmHWM");
  if (status != 200) Die("download answered " + std::to_string(status));
  if (received != total)
    Die("downloaded " + std::to_string(received) + " bytes, not " + std::to_string(total));
  bool same = sent.Final() == got.Final();

  kill(server, SIGTERM);
  Wait(server);
  if (!o.keep && o.dir.empty()) std::filesystem::remove_all(root);

  const double mib = static_cast<double>(o.mib);
  printf(
      "file_bench: %lld MiB over TLS (%s): upload %.1f MiB/s, download %.1f MiB/s, hash %s; "
      "server RSS before %.1f MiB, after upload %.1f MiB, after download %.1f MiB, "
      "peak %.1f MiB, growth %.1f MiB\n",
      static_cast<long long>(o.mib), o.multipart ? "multipart" : "raw body", mib / upload_s,
      mib / download_s, same ? "matches" : "DIFFERS", rss_before / 1024.0,
      rss_after_upload / 1024.0, rss_end / 1024.0, hwm / 1024.0, (hwm - rss_before) / 1024.0);
  return same ? 0 : 1;
}
