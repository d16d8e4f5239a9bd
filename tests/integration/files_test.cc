// File sharing over TLS against the real binary: streamed uploads and downloads, ranges, safe
// serving headers, refusals of bad input, and what is (not) left on disk.
#include <dirent.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "support/appliance.h"
#include "util/fs.h"

namespace outpost::testing {
namespace {

using Json = nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

std::vector<std::string> FilesUnder(const std::string& path) {
  std::vector<std::string> out;
  DIR* h = opendir(path.c_str());
  if (h == nullptr) return out;
  while (dirent* e = readdir(h)) {
    std::string n = e->d_name;
    if (n == "." || n == "..") continue;
    if (e->d_type == DT_DIR) {
      for (auto& s : FilesUnder(path + "/" + n)) out.push_back(s);
    } else {
      out.push_back(path + "/" + n);
    }
  }
  closedir(h);
  return out;
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
  CHECK(FilesUnder(w.app.data_dir() + "/blobs/tmp").empty());
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
  CHECK(over.body.find("quota") != std::string::npos);
  CHECK(FilesUnder(w.app.data_dir() + "/blobs/tmp").empty());
  CHECK(FilesUnder(w.app.data_dir() + "/blobs").size() == 1);
}

}  // namespace
}  // namespace outpost::testing
