// File sharing over TLS against the real binary: streamed uploads and downloads, ranges, safe
// serving headers, refusals of bad input, and what is (not) left on disk.
#include <sys/mount.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/appliance.h"
#include "util/fs.h"

namespace outpost::testing {
namespace {

using Json = nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

// The server notices a client that hung up only when its read fails, on its own thread: wait
// (10 s at most) for it to have cleaned up before looking.
bool EventuallyEmpty(const std::string& path) {
  for (int i = 0; i < 200 && !FilesUnder(path).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return FilesUnder(path).empty();
}

std::string Pattern(size_t n, const std::string& marker) {
  std::string s;
  while (s.size() < n) s += marker + std::to_string(s.size()) + "\n";
  s.resize(n);
  return s;
}

struct FileWorld {
  TestAppliance app;
  std::unique_ptr<HttpsClient> client;
  BrowserSession admin, outsider;
  int64_t room = 0;

  explicit FileWorld(const std::string& config = "") : app(config) {
    WriteTestFile(app.dir().Sub("pw"), "oscar's long passphrase\n");
    REQUIRE(app.Cli({"user", "add", "oscar", "--password-file", app.dir().Sub("pw")})
                .exit_code == 0);
    REQUIRE(app.Start().ok());
    client = std::make_unique<HttpsClient>(app.NewClient());
    client->set_timeout_ms(60000);
    admin = Login(*client, "admin", kAdminPassword);
    outsider = Login(*client, "oscar", "oscar's long passphrase");
    Headers h = admin.Headers(true);
    h.push_back({"Content-Type", "application/json"});
    auto r = client->Request("POST", "/api/v1/rooms", h,
                             Json({{"name", "ops"}, {"kind", "private"}}).dump());
    REQUIRE(r.ok());
    REQUIRE(r->status == 201);
    room = Json::parse(r->body)["room"]["id"];
  }

  HttpResponse Upload(const std::string& query, const std::string& body) {
    Headers h = admin.Headers(true);
    h.push_back({"Content-Type", "application/octet-stream"});
    auto r = client->Request("POST", "/api/v1/rooms/" + std::to_string(room) + "/files?" + query,
                             h, body);
    REQUIRE(r.ok());
    return *r;
  }
  HttpResponse Get(const std::string& path, const BrowserSession& who, Headers extra = {}) {
    Headers h = who.Headers(false);
    for (auto& e : extra) h.push_back(e);
    auto r = client->Request("GET", path, h);
    REQUIRE(r.ok());
    return *r;
  }
  // A multipart/form-data upload of `parts` (name, filename or "" for a text field, content).
  HttpResponse UploadForm(const std::vector<std::array<std::string, 3>>& parts,
                          const std::string& query = "", bool close_form = true) {
    const std::string boundary = "outpost-test-boundary-5f1c";
    std::string body;
    for (const auto& [name, filename, content] : parts) {
      body += "--" + boundary + "\r\nContent-Disposition: form-data; name=\"" + name + "\"";
      if (!filename.empty()) body += "; filename=\"" + filename + "\"";
      body += "\r\n";
      if (!filename.empty()) body += "Content-Type: application/octet-stream\r\n";
      body += "\r\n" + content + "\r\n";
    }
    if (close_form) body += "--" + boundary + "--\r\n";
    Headers h = admin.Headers(true);
    h.push_back({"Content-Type", "multipart/form-data; boundary=" + boundary});
    auto r = client->Request("POST", "/api/v1/rooms/" + std::to_string(room) + "/files?" + query,
                             h, body);
    REQUIRE(r.ok());
    return *r;
  }
  Json GetJson(const std::string& path) {
    HttpResponse r = Get(path, admin);
    INFO(path << " " << r.status << " " << r.body);
    REQUIRE(r.status == 200);
    return Json::parse(r.body);
  }
  size_t FileCount() {
    return GetJson("/api/v1/rooms/" + std::to_string(room) + "/files")["files"].size();
  }
  std::string Url(const HttpResponse& uploaded) {
    INFO(uploaded.status << " " << uploaded.body);
    REQUIRE(uploaded.status == 201);
    return Json::parse(uploaded.body)["url"];
  }
};

TEST_CASE("files of 1 MB and 20 MB round-trip over TLS, stored once and encrypted",
          "[files][integration]") {
  FileWorld w;
  for (size_t n : {size_t{1} << 20, size_t{20} << 20}) {
    std::string data = Pattern(n, "PLAINTEXT-MARKER-4242 ");
    std::string url = w.Url(w.Upload("name=big.txt", data));
    HttpResponse got = w.Get(url, w.admin);
    REQUIRE(got.status == 200);
    CHECK(got.body.size() == data.size());
    CHECK(got.body == data);
  }
  std::string data = Pattern(1 << 20, "PLAINTEXT-MARKER-4242 ");
  HttpResponse again = w.Upload("name=again.txt&message=the%20same%20again", data);
  REQUIRE(again.status == 201);
  auto blobs = FilesUnder(w.app.data_dir() + "/blobs");
  CHECK(blobs.size() == 2);  // three uploads, two contents
  for (const auto& b : blobs) {
    auto raw = ReadFile(b);
    REQUIRE(raw.ok());
    CHECK(raw->find("PLAINTEXT-MARKER") == std::string::npos);
  }
  CHECK(w.app.Cli({"files", "verify"}).exit_code == 0);
}

TEST_CASE("downloads honour Range and ETag", "[files][integration]") {
  FileWorld w;
  std::string data = Pattern(300000, "range ");
  std::string url = w.Url(w.Upload("name=r.txt", data));
  HttpResponse part = w.Get(url, w.admin, {{"Range", "bytes=100000-100019"}});
  CHECK(part.status == 206);
  CHECK(part.body == data.substr(100000, 20));
  HttpResponse again = w.Get(url, w.admin, {{"Range", "bytes=10-19"}});
  CHECK(again.body == data.substr(10, 10));
  CHECK(w.Get(url, w.admin, {{"Range", "bytes=999999-"}}).status == 416);
  HttpResponse full = w.Get(url, w.admin);
  std::string etag = full.Header("ETag");
  CHECK(!etag.empty());
  CHECK(w.Get(url, w.admin, {{"If-None-Match", etag}}).status == 304);
}

TEST_CASE("risky types are served as sandboxed attachments; executables are refused",
          "[files][integration]") {
  FileWorld w;
  std::string url = w.Url(w.Upload("name=page.html", "<!doctype html><script>x()</script>"));
  HttpResponse r = w.Get(url, w.admin);
  CHECK(r.status == 200);
  CHECK(r.Header("Content-Type") == "application/octet-stream");
  CHECK(r.Header("Content-Disposition").rfind("attachment;", 0) == 0);
  CHECK(r.Header("Content-Security-Policy") == "sandbox; default-src 'none'");
  CHECK(r.Header("X-Content-Type-Options") == "nosniff");
  HttpResponse exe = w.Upload("name=tool", std::string("\x7f" "ELF\x02\x01\x01\0", 8));
  CHECK(exe.status == 400);
  HttpResponse png_up =
      w.Upload("name=p.png", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x08", 24));
  REQUIRE(png_up.status == 201);
  CHECK(Json::parse(png_up.body)["width"] == 16);
  HttpResponse png = w.Get(Json::parse(png_up.body)["url"], w.admin);
  CHECK(png.Header("Content-Disposition").rfind("inline;", 0) == 0);
}

TEST_CASE("bad uploads get clear errors and leave nothing behind", "[files][integration]") {
  FileWorld w;
  // Names: a path, NUL and control characters, 10,000 characters.
  HttpResponse dots = w.Upload("name=..%2F..%2Fetc%2Fpasswd", "x");
  REQUIRE(dots.status == 201);
  CHECK(Json::parse(dots.body)["name"] == "_.._etc_passwd");
  HttpResponse ctl = w.Upload("name=a%00b%0Ac", "y");
  REQUIRE(ctl.status == 201);
  CHECK(Json::parse(ctl.body)["name"] == "a_b_c");
  HttpResponse longname = w.Upload("name=" + std::string(3000, 'n'), "z");
  CHECK((longname.status == 201 || longname.status == 414 || longname.status == 431));
  CHECK(w.Upload("name=", "x").status == 400);
  // Zero bytes is a file.
  std::string empty_url = w.Url(w.Upload("name=empty.txt", ""));
  HttpResponse empty = w.Get(empty_url, w.admin);
  CHECK(empty.status == 200);
  CHECK(empty.body.empty());
  // Unknown room; a room the caller may not read.
  Headers h = w.admin.Headers(true);
  auto unknown = w.client->Request("POST", "/api/v1/rooms/999999/files?name=a", h, "x");
  REQUIRE(unknown.ok());
  CHECK(unknown->status == 404);
  auto not_member = w.client->Request("POST", "/api/v1/rooms/" + std::to_string(w.room) +
                                                  "/files?name=a", w.outsider.Headers(true), "x");
  REQUIRE(not_member.ok());
  CHECK(not_member->status == 404);
  CHECK(w.Get(empty_url, w.outsider).status == 404);
  CHECK(w.Get("/api/v1/files/999999", w.outsider).status == 404);
  // Cut off half way: the client promises more than it sends and hangs up.
  std::string head = "POST /api/v1/rooms/" + std::to_string(w.room) +
                     "/files?name=cut.txt HTTP/1.1\r\nHost: localhost:" +
                     std::to_string(w.app.port()) + "\r\nContent-Length: 100000\r\n";
  for (auto& [k, v] : w.admin.Headers(true)) head += k + ": " + v + "\r\n";
  head += "\r\n" + std::string(5000, 'c');
  auto cut = w.client->SendRaw(head, 1500);
  REQUIRE(cut.ok());
  auto list = w.Get("/api/v1/rooms/" + std::to_string(w.room) + "/files", w.admin);
  const Json files = Json::parse(list.body);  // named: the loop must not outlive a temporary
  for (const auto& f : files["files"]) CHECK(f["name"] != "cut.txt");
  CHECK(EventuallyEmpty(w.app.data_dir() + "/blobs/tmp"));
}

TEST_CASE("deleting the message of the last reference removes the blob", "[files][integration]") {
  FileWorld w;
  HttpResponse up = w.Upload("name=gone.txt", "delete me please");
  REQUIRE(up.status == 201);
  int64_t message_id = Json::parse(up.body)["message_id"];
  CHECK(FilesUnder(w.app.data_dir() + "/blobs").size() == 1);
  auto del = w.client->Request("DELETE", "/api/v1/messages/" + std::to_string(message_id),
                               w.admin.Headers(true));
  REQUIRE(del.ok());
  CHECK(del->status == 204);
  CHECK(FilesUnder(w.app.data_dir() + "/blobs").empty());
  CHECK(w.Get(Json::parse(up.body)["url"], w.admin).status == 404);
  HttpResponse all = w.Get("/api/v1/files?order=size", w.admin);
  CHECK(all.status == 200);
  CHECK(w.Get("/api/v1/files", w.outsider).status == 403);
}

TEST_CASE("uploads over the file limit get 413 and over the quota 507", "[files][integration]") {
  FileWorld w("[files]\nmax_file_mb = 1\nuser_quota_mb = 1\n");
  HttpResponse big = w.Upload("name=big.bin", std::string((1 << 20) + 1, 'b'));
  CHECK(big.status == 413);
  CHECK(big.body.find("at most") != std::string::npos);
  REQUIRE(w.Upload("name=a.txt", std::string(700000, 'a')).status == 201);
  HttpResponse over = w.Upload("name=b.txt", std::string(400000, 'b'));
  CHECK(over.status == 507);
  CHECK(over.body.find("insufficient_storage") != std::string::npos);
  CHECK(over.body.find("quota") != std::string::npos);
  CHECK(FilesUnder(w.app.data_dir() + "/blobs/tmp").empty());
  CHECK(FilesUnder(w.app.data_dir() + "/blobs").size() == 1);
}

TEST_CASE("multipart uploads stream one file part with optional message and thread parts",
          "[files][integration]") {
  FileWorld w;
  HttpResponse root = w.Upload("name=root.txt&message=the%20thread%20starts", "root file");
  REQUIRE(root.status == 201);
  int64_t root_id = Json::parse(root.body)["message_id"];
  // Content that looks like boundaries and CRLFs must come through unchanged.
  std::string data = Pattern(300000, "--outpost-test-boundary-5f1\r\n\r\n--x ");
  data[1000] = '\0';
  HttpResponse up = w.UploadForm({{"message", "", "a form upload"},
                                  {"thread_root_id", "", std::to_string(root_id)},
                                  {"file", "form data.txt", data}});
  INFO(up.body);
  REQUIRE(up.status == 201);
  Json file = Json::parse(up.body);
  CHECK(file["name"] == "form data.txt");
  CHECK(file["size"] == data.size());
  HttpResponse got = w.Get(file["url"], w.admin);
  CHECK(got.status == 200);
  CHECK(got.body == data);
  Json message = w.GetJson("/api/v1/messages/" + std::to_string(file["message_id"].get<int64_t>()));
  CHECK(message["message"]["body"] == "a form upload");
  CHECK(message["message"]["thread_root_id"] == root_id);
  // A form field "name" of 10,000 characters is cut to 255 bytes; query parameters still work.
  HttpResponse named = w.UploadForm({{"name", "", std::string(10000, 'n')},
                                     {"upload", "ignored.txt", "x"}}, "message=from%20query");
  REQUIRE(named.status == 201);
  CHECK(Json::parse(named.body)["name"] == std::string(255, 'n'));
  size_t files_before = w.FileCount();
  // Refusals: two files, no file, an unknown field, a field given twice, a form cut off.
  HttpResponse two = w.UploadForm({{"file", "a.txt", "a"}, {"file", "b.txt", "b"}});
  CHECK(two.status == 400);
  CHECK(two.body.find("exactly one file") != std::string::npos);
  HttpResponse none = w.UploadForm({{"message", "", "where is the file"}});
  CHECK(none.status == 400);
  CHECK(none.body.find("no file part") != std::string::npos);
  HttpResponse unknown = w.UploadForm({{"colour", "", "red"}, {"file", "a.txt", "a"}});
  CHECK(unknown.status == 400);
  CHECK(unknown.body.find("colour") != std::string::npos);
  HttpResponse twice =
      w.UploadForm({{"message", "", "one"}, {"message", "", "two"}, {"file", "a.txt", "a"}});
  CHECK(twice.status == 400);
  HttpResponse cut = w.UploadForm({{"file", "cut.txt", Pattern(200000, "cut ")}}, "", false);
  CHECK(cut.status == 400);
  CHECK(cut.body.find("cut off") != std::string::npos);
  HttpResponse bad_thread = w.UploadForm({{"thread_root_id", "", "12x"}, {"file", "a.txt", "a"}});
  CHECK(bad_thread.status == 400);
  CHECK(w.FileCount() == files_before);
  CHECK(FilesUnder(w.app.data_dir() + "/blobs/tmp").empty());
  CHECK(FilesUnder(w.app.data_dir() + "/blobs").size() == 3);
}

TEST_CASE("a message with a file shows it in history, threads, search and events",
          "[files][integration]") {
  FileWorld w;
  std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\x00\0\0\0\x80", 24);
  HttpResponse up = w.Upload("name=chart.png&message=quarterly%20zebracharts", png + "....");
  REQUIRE(up.status == 201);
  Json file = Json::parse(up.body);
  int64_t message_id = file["message_id"];
  auto check = [&](const Json& m) {
    INFO(m.dump());
    REQUIRE(m["files"].size() == 1);
    CHECK(m["files"][0]["id"] == file["id"]);
    CHECK(m["files"][0]["name"] == "chart.png");
    CHECK(m["files"][0]["size"] == 28);
    CHECK(m["files"][0]["content_type"] == "image/png");
    CHECK(m["files"][0]["width"] == 256);
    CHECK(m["files"][0]["height"] == 128);
    CHECK(m["files"][0]["url"] == file["url"]);
  };
  const std::string room = std::to_string(w.room);
  check(w.GetJson("/api/v1/messages/" + std::to_string(message_id))["message"]);
  Json history = w.GetJson("/api/v1/rooms/" + room + "/messages");
  REQUIRE(history["messages"].size() == 1);
  check(history["messages"][0]);
  Json hits = w.GetJson("/api/v1/search?q=zebracharts");
  REQUIRE(hits["results"].size() == 1);
  check(hits["results"][0]["message"]);
  Json events = w.GetJson("/api/v1/events?after=0");
  int created = 0;
  for (const Json& e : events["events"]) {
    if (e["type"] != "message.created") continue;
    ++created;
    check(e["data"]["message"]);
  }
  CHECK(created == 1);
  HttpResponse reply =
      w.Upload("name=reply.txt&thread_root_id=" + std::to_string(message_id), "in a thread");
  REQUIRE(reply.status == 201);
  Json thread = w.GetJson("/api/v1/messages/" + std::to_string(message_id) + "/thread");
  check(thread["root"]);
  REQUIRE(thread["replies"].size() == 1);
  CHECK(thread["replies"][0]["files"][0]["name"] == "reply.txt");
  // Deleted: the message no longer shows its file.
  auto del = w.client->Request("DELETE", "/api/v1/messages/" + std::to_string(message_id),
                               w.admin.Headers(true));
  REQUIRE(del.ok());
  REQUIRE(del->status == 204);
  Json gone = w.GetJson("/api/v1/messages/" + std::to_string(message_id))["message"];
  CHECK(gone["files"].empty());
  CHECK(gone["has_file"] == false);
}

TEST_CASE("a lying Content-Length stores only what it declared or nothing",
          "[files][integration]") {
  FileWorld w;
  auto raw = [&](const std::string& name, size_t declared, const std::string& body) {
    std::string head = "POST /api/v1/rooms/" + std::to_string(w.room) + "/files?name=" + name +
                       " HTTP/1.1\r\nHost: localhost:" + std::to_string(w.app.port()) +
                       "\r\nContent-Length: " + std::to_string(declared) + "\r\n";
    for (auto& [k, v] : w.admin.Headers(true)) head += k + ": " + v + "\r\n";
    auto r = w.client->SendRaw(head + "\r\n" + body, 3000);
    REQUIRE(r.ok());
    return *r;
  };
  // Shorter than the body: the declared bytes are the file; the rest is not a request.
  std::string reply = raw("short.txt", 10, "0123456789EXTRA BYTES THAT ARE NOT A REQUEST");
  CHECK(reply.rfind("HTTP/1.1 201", 0) == 0);
  Json files = w.GetJson("/api/v1/rooms/" + std::to_string(w.room) + "/files");
  REQUIRE(files["files"].size() == 1);
  CHECK(files["files"][0]["size"] == 10);
  CHECK(w.Get(files["files"][0]["url"], w.admin).body == "0123456789");
  // Longer than the body, and the client hangs up: nothing is stored.
  raw("long.txt", 50000, std::string(20000, 'l'));
  CHECK(EventuallyEmpty(w.app.data_dir() + "/blobs/tmp"));
  CHECK(w.FileCount() == 1);
  CHECK(FilesUnder(w.app.data_dir() + "/blobs").size() == 1);
  // A 10,000-character name in the query is refused as too long a URI, clearly.
  HttpResponse long_name = w.Upload("name=" + std::string(10000, 'n'), "x");
  CHECK(long_name.status == 414);
  w.client->Close();  // the refused request's body was never read: start a clean connection
  CHECK(w.FileCount() == 1);
}

TEST_CASE("a full disk answers 507 with a clear message and the appliance keeps working",
          "[files][integration]") {
  FileWorld w;
  // A 4 MiB file system under the blob store (the database stays on the big one).
  std::string blobs = w.app.data_dir() + "/blobs";
  REQUIRE(MakeDirs(blobs, 0700).ok());
  for (const auto& f : FilesUnder(blobs)) ::unlink(f.c_str());
  if (::mount("tmpfs", blobs.c_str(), "tmpfs", 0, "size=4m,mode=0700") != 0) {
    int err = errno;
    WARN("SKIPPED: cannot mount a 4 MiB tmpfs (" << std::strerror(err)
                                                 << "; needs root with CAP_SYS_ADMIN): the "
                                                    "disk-full test did not run");
    return;
  }
  struct Unmount {
    std::string path;
    ~Unmount() { ::umount2(path.c_str(), MNT_DETACH); }
  } unmount{blobs};
  std::string kept = Pattern(500000, "kept ");
  std::string kept_url = w.Url(w.Upload("name=kept.txt", kept));
  HttpResponse full = w.Upload("name=big.txt", Pattern(6 << 20, "fill "));
  CHECK(full.status == 507);
  CHECK(full.body.find("insufficient_storage") != std::string::npos);
  CHECK(full.body.find("full") != std::string::npos);
  CHECK(FilesUnder(blobs + "/tmp").empty());
  CHECK(FilesUnder(blobs).size() == 1);
  CHECK(w.FileCount() == 1);
  // Nothing else affected: the earlier file reads back, chat and small uploads still work.
  CHECK(w.Get(kept_url, w.admin).body == kept);
  Headers h = w.admin.Headers(true);
  h.push_back({"Content-Type", "application/json"});
  auto posted = w.client->Request("POST", "/api/v1/rooms/" + std::to_string(w.room) + "/messages",
                                  h, Json({{"body", "still here"}}).dump());
  REQUIRE(posted.ok());
  CHECK(posted->status == 201);
  CHECK(w.Upload("name=small.txt", "fits").status == 201);
}

TEST_CASE("every download is audited with its range; a 304 is not", "[files][integration]") {
  FileWorld w;
  std::string data = Pattern(100000, "audited ");
  HttpResponse up = w.Upload("name=audit.txt", data);
  std::string url = w.Url(up);
  int64_t id = Json::parse(up.body)["id"];
  HttpResponse full = w.Get(url, w.admin);
  REQUIRE(full.status == 200);
  REQUIRE(w.Get(url, w.admin, {{"Range", "bytes=100-199"}}).status == 206);
  REQUIRE(w.Get(url, w.admin, {{"If-None-Match", full.Header("ETag")}}).status == 304);
  REQUIRE(w.Get(url, w.outsider).status == 404);
  Json records = w.GetJson("/api/v1/audit?action=file.download");
  REQUIRE(records["records"].size() == 2);
  const Json& ranged = records["records"][0];  // newest first
  const Json& whole = records["records"][1];
  CHECK(whole["actor"] == "admin");
  CHECK(whole["target"] == "file:" + std::to_string(id));
  CHECK(whole["details"]["room_id"] == w.room);
  CHECK(whole["details"]["bytes"] == data.size());
  CHECK(!whole["details"].contains("range"));
  CHECK(ranged["details"]["range"] == "100-199");
  CHECK(ranged["details"]["bytes"] == 100);
}

}  // namespace
}  // namespace outpost::testing
