#include <sys/mount.h>

#include <cerrno>
#include <cstring>

#include <catch2/catch.hpp>
#include <fstream>
#include <mutex>
#include <sstream>

#include "domain/accounts.h"
#include "domain/files.h"
#include "support/temp_dir.h"
#include "util/fs.h"

namespace outpost::domain {
namespace {

// Keeps the events handed over after each commit.
struct CapturingSink : EventSink {
  std::mutex mu;
  std::vector<ChatEvent> events;  // guarded by mu
  void Deliver(const std::vector<ChatEvent>& batch) override {
    std::lock_guard<std::mutex> lock(mu);
    events.insert(events.end(), batch.begin(), batch.end());
  }
};

struct FilesFixture {
  testing::TempDir dir;
  CapturingSink sink;
  std::unique_ptr<storage::Database> db;
  FakeClock clock;
  std::unique_ptr<Accounts> accounts;
  std::unique_ptr<Rooms> rooms;
  std::unique_ptr<Messages> messages;
  std::unique_ptr<Files> files;
  User alice, bob;
  Room room;

  explicit FilesFixture(FilesOptions options = {}, std::string root = "") {
    storage::OpenOptions o;
    o.create = true;
    db = std::move(*storage::Database::Open(dir.Sub("o.db"), o));
    accounts = std::make_unique<Accounts>(db.get(), &clock, AccountPolicy{});
    ChatOptions chat;
    chat.default_room = "";
    rooms = std::make_unique<Rooms>(db.get(), &clock, nullptr, chat);
    messages = std::make_unique<Messages>(db.get(), &clock, &sink, chat);
    files = std::make_unique<Files>(db.get(), &clock, messages.get(),
                                    root.empty() ? dir.Sub("blobs") : root,
                                    std::string(32, 'k'), std::move(options));
    alice = *accounts->Create("alice", "Alice", kRoleUser, "a long enough passphrase");
    bob = *accounts->Create("bob", "Bob", kRoleUser, "a long enough passphrase");
    room = *rooms->CreateChannel(alice, RoomKind::kPrivate, "secret", "", "", false);
  }

  Result<FileInfo> Put(const User& who, const std::string& name, const std::string& bytes,
                       int64_t declared = -2, int64_t thread_root_id = 0) {
    OUTPOST_ASSIGN_OR_RETURN(
        auto up, files->Begin(who, room.id,
                              declared == -2 ? static_cast<int64_t>(bytes.size()) : declared));
    for (size_t i = 0; i < bytes.size(); i += 10000) {
      OUTPOST_RETURN_IF_ERROR(up->Append(std::string_view(bytes).substr(i, 10000)));
    }
    UploadRequest req;
    req.name = name;
    req.thread_root_id = thread_root_id;
    return files->Finish(std::move(up), req);
  }

  std::string Get(const User& who, int64_t id) {
    auto opened = files->Open(who, id);
    REQUIRE(opened.ok());
    std::string out, chunk;
    while (!opened->second->done()) {
      REQUIRE(opened->second->Next(&chunk).ok());
      out += chunk;
    }
    return out;
  }

  // Every regular file under the blob folder (recursively), tmp included.
  std::vector<std::string> DiskFiles(const std::string& d = "") {
    return testing::FilesUnder(d.empty() ? dir.Sub("blobs") : d);
  }
};

std::string Pattern(size_t n, const std::string& marker) {
  std::string s;
  while (s.size() < n) s += marker + std::to_string(s.size()) + "\n";
  s.resize(n);
  return s;
}

TEST_CASE("a file round-trips through the encrypted store", "[files]") {
  FilesFixture f;
  for (size_t n : {size_t{0}, size_t{1}, kBlobChunkBytes - 1, kBlobChunkBytes,
                   kBlobChunkBytes + 1, size_t{1} << 20}) {
    std::string data = Pattern(n, "round trip ");
    auto info = f.Put(f.alice, "r" + std::to_string(n) + ".txt", data);
    REQUIRE(info.ok());
    CHECK(info->size == static_cast<int64_t>(n));
    CHECK(f.Get(f.alice, info->id) == data);
  }
}

TEST_CASE("identical files are stored once and no plaintext reaches the disk", "[files]") {
  FilesFixture f;
  std::string data = Pattern(300000, "TOP-SECRET-MARKER-7731 ");
  auto a = f.Put(f.alice, "a.txt", data);
  auto b = f.Put(f.alice, "b.txt", data);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->id != b->id);
  CHECK(a->blob_name == b->blob_name);
  auto on_disk = f.DiskFiles();
  REQUIRE(on_disk.size() == 1);
  auto raw = ReadFile(on_disk[0]);
  REQUIRE(raw.ok());
  CHECK(raw->find("TOP-SECRET-MARKER") == std::string::npos);
  CHECK(raw->find("a.txt") == std::string::npos);
  CHECK(on_disk[0].find(a->blob_name) != std::string::npos);
  auto verify = f.files->Verify();
  REQUIRE(verify.ok());
  CHECK(verify->empty());
}

TEST_CASE("deleting the last message that refers to a blob removes it from disk", "[files]") {
  FilesFixture f;
  auto a = f.Put(f.alice, "a.bin.txt", "same bytes");
  auto b = f.Put(f.alice, "b.txt", "same bytes");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  REQUIRE(f.messages->Delete(f.alice, a->message_id).ok());
  CHECK(*f.files->CollectGarbage() == 0);
  CHECK(f.DiskFiles().size() == 1);
  CHECK(f.files->Open(f.alice, a->id).status().IsNotFound());
  REQUIRE(f.messages->Delete(f.alice, b->message_id).ok());
  CHECK(*f.files->CollectGarbage() == 1);
  CHECK(f.DiskFiles().empty());
}

TEST_CASE("a file in a room you cannot read answers like a missing one", "[files]") {
  FilesFixture f;
  auto a = f.Put(f.alice, "a.txt", "hello");
  REQUIRE(a.ok());
  auto denied = f.files->Open(f.bob, a->id);
  auto missing = f.files->Open(f.bob, a->id + 100);
  CHECK(denied.status().IsNotFound());
  CHECK(missing.status().IsNotFound());
  CHECK(denied.status().message() == missing.status().message());
  CHECK(f.files->Begin(f.bob, f.room.id, 5).status().IsNotFound());
}

TEST_CASE("size limits and quotas are checked before and while bytes arrive", "[files]") {
  FilesOptions o;
  o.max_file_bytes = 1000;
  o.user_quota_bytes = 1500;
  FilesFixture f(o);
  CHECK(f.files->Begin(f.alice, f.room.id, 1001).status().code() == Code::kTooLarge);
  auto up = f.files->Begin(f.alice, f.room.id, -1);
  REQUIRE(up.ok());
  CHECK((*up)->Append(std::string(1001, 'x')).code() == Code::kTooLarge);
  REQUIRE(f.Put(f.alice, "a.txt", std::string(900, 'a')).ok());
  CHECK(f.files->Begin(f.alice, f.room.id, 700).status().code() == Code::kInsufficientStorage);
  // A body longer than its Content-Length is refused.
  auto lying = f.files->Begin(f.alice, f.room.id, 10);
  REQUIRE(lying.ok());
  CHECK((*lying)->Append(std::string(11, 'x')).code() == Code::kTooLarge);
  // Shorter than declared: refused at the end, nothing stored.
  CHECK(!f.Put(f.alice, "short.txt", "abc", 10).ok());
  up = Result<std::unique_ptr<Upload>>(Status::Internal("dropped"));
  lying = Result<std::unique_ptr<Upload>>(Status::Internal("dropped"));
  CHECK(f.DiskFiles().size() == 1);
}

TEST_CASE("executables are refused by default and types are sniffed from bytes", "[files]") {
  FilesFixture f;
  auto elf = f.Put(f.alice, "notes.txt", std::string("\x7f" "ELF\x02\x01\x01", 7) + "rest");
  CHECK(elf.status().code() == Code::kInvalidArgument);
  CHECK(f.Put(f.alice, "run.txt", "#!/bin/sh\nrm -rf /\n").status().code() ==
        Code::kInvalidArgument);
  CHECK(f.DiskFiles().empty());
  std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x01\x2c\0\0\0\xc8", 24);
  auto img = f.Put(f.alice, "x.png", png + "....");
  REQUIRE(img.ok());
  CHECK(img->content_type == "image/png");
  CHECK(img->width == 300);
  CHECK(img->height == 200);
  CHECK(SniffType("<!DOCTYPE html><script>", "a.txt").type_class == "html");
  CHECK(SniffType(std::string_view("GIF89a\x0a\0\x14\0", 10), "g").width == 10);
  CHECK(SniffType("plain words", "a.txt").type_class == "text");
}

TEST_CASE("file names are metadata: paths and control characters are neutralized", "[files]") {
  CHECK(*SanitizeFileName("../../etc/passwd") == "_.._etc_passwd");
  CHECK(*SanitizeFileName(std::string("a\0b\nc", 5)) == "a_b_c");
  CHECK(SanitizeFileName(std::string(10000, 'n'))->size() == 255);
  CHECK(!SanitizeFileName("..").ok());
  CHECK(!SanitizeFileName("").ok());
}

TEST_CASE("verify reports a damaged blob", "[files]") {
  FilesFixture f;
  auto a = f.Put(f.alice, "a.txt", Pattern(200000, "damage me "));
  REQUIRE(a.ok());
  std::string path = BlobPath(f.dir.Sub("blobs"), a->blob_name);
  std::fstream io(path, std::ios::in | std::ios::out | std::ios::binary);
  io.seekg(100000);
  char c = static_cast<char>(io.get());
  io.seekp(100000);
  io.put(static_cast<char>(c ^ 1));
  io.close();
  auto problems = f.files->Verify();
  REQUIRE(problems.ok());
  REQUIRE(problems->size() == 1);
  CHECK(problems->at(0).find("authenticate") != std::string::npos);
}

TEST_CASE("a full disk refuses the upload clearly and leaves nothing", "[files]") {
  testing::TempDir small;
  std::string mnt = small.Sub("fs");
  REQUIRE(MakeDirs(mnt).ok());
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=2m,mode=0700") != 0) {
    int err = errno;
    WARN("SKIPPED: cannot mount a 2 MiB tmpfs (" << std::strerror(err)
                                                 << "; needs root with CAP_SYS_ADMIN): the "
                                                    "disk-full test did not run");
    return;
  }
  Status result;
  std::vector<std::string> left;
  int64_t rows = -1;
  std::string kept_before, kept_after;
  size_t messages_before = 0, messages_after = 0;
  {
    FilesFixture f({}, mnt);
    std::string kept = Pattern(100000, "kept ");
    auto first = f.Put(f.alice, "kept.txt", kept);
    REQUIRE(first.ok());
    messages_before = f.messages->History(f.alice, f.room.id, Anchor::kLatest, 0, 50)
                          ->messages.size();
    result = f.Put(f.alice, "big.txt", Pattern(3 << 20, "fill the disk ")).status();
    left = f.DiskFiles(mnt);
    rows = static_cast<int64_t>(f.files->ListRoom(f.alice, f.room.id, 0, 10)->size());
    messages_after = f.messages->History(f.alice, f.room.id, Anchor::kLatest, 0, 50)
                         ->messages.size();
    kept_after = f.Get(f.alice, first->id);
    kept_before = kept;
    // The store still works for what fits.
    CHECK(f.Put(f.alice, "small.txt", "fits").ok());
  }
  ::umount2(mnt.c_str(), MNT_DETACH);
  CHECK(result.code() == Code::kInsufficientStorage);
  CHECK(result.message().find("full") != std::string::npos);
  // Only the first file's blob: no temp file, no partial blob.
  REQUIRE(left.size() == 1);
  CHECK(left[0].rfind(mnt + "/tmp/", 0) == std::string::npos);
  CHECK(rows == 1);
  CHECK(messages_after == messages_before);
  CHECK(kept_after == kept_before);
}

TEST_CASE("no uploaded plaintext or name appears in any raw file of the blob store",
          "[files]") {
  FilesFixture f;
  std::vector<std::string> markers;
  for (int i = 0; i < 5; ++i) {
    std::string marker = "PLAIN-" + std::to_string(i) + "-MARKER-9917 ";
    markers.push_back(marker);
    size_t n = i == 0 ? marker.size() : size_t{40000} << i;  // one shorter than a chunk
    REQUIRE(f.Put(f.alice, "secret-name-" + std::to_string(i) + ".txt", Pattern(n, marker)).ok());
  }
  auto on_disk = f.DiskFiles();
  REQUIRE(on_disk.size() == 5);
  for (const auto& path : on_disk) {
    auto raw = ReadFile(path);
    REQUIRE(raw.ok());
    CHECK(raw->size() > 4);
    for (const auto& m : markers) CHECK(raw->find(m.substr(0, 14)) == std::string::npos);
    CHECK(raw->find("secret-name") == std::string::npos);
  }
}

TEST_CASE("a file's message carries the file everywhere it is read, and in its event",
          "[files]") {
  FilesFixture f;
  std::string png("\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x02\x80\0\0\x01\xe0", 24);
  auto img = f.Put(f.alice, "photo.png", png + "rest");
  REQUIRE(img.ok());
  auto check = [&](const Message& m) {
    nlohmann::json j = MessageJson(m);
    INFO(j.dump());
    REQUIRE(j["files"].size() == 1);
    const nlohmann::json& file = j["files"][0];
    CHECK(file["id"] == img->id);
    CHECK(file["name"] == "photo.png");
    CHECK(file["size"] == 28);
    CHECK(file["content_type"] == "image/png");
    CHECK(file["width"] == 640);
    CHECK(file["height"] == 480);
    CHECK(file["url"] == "/api/v1/files/" + std::to_string(img->id));
    CHECK(j["has_file"] == true);
  };
  check(*f.messages->Get(f.alice, img->message_id));
  auto history = f.messages->History(f.alice, f.room.id, Anchor::kLatest, 0, 10);
  REQUIRE(history.ok());
  REQUIRE(history->messages.size() == 1);
  check(history->messages[0]);
  // A reply in a thread with a file of its own.
  auto reply = f.Put(f.alice, "reply.txt", "a reply's file", -2, img->message_id);
  REQUIRE(reply.ok());
  auto thread = f.messages->Thread(f.alice, img->message_id, 0, 10);
  REQUIRE(thread.ok());
  REQUIRE(thread->messages.size() == 2);
  check(thread->messages[0]);
  nlohmann::json reply_json = MessageJson(thread->messages[1]);
  REQUIRE(reply_json["files"].size() == 1);
  CHECK(reply_json["files"][0]["name"] == "reply.txt");
  CHECK(reply_json["files"][0]["width"].is_null());
  // The events of both posts already name their files (one transaction: no event without).
  {
    std::lock_guard<std::mutex> lock(f.sink.mu);
    std::vector<std::string> names;
    for (const ChatEvent& e : f.sink.events) {
      if (e.type != "message.created" && e.type != "thread.reply") continue;
      REQUIRE(e.payload["message"]["files"].size() == 1);
      names.push_back(e.payload["message"]["files"][0]["name"]);
    }
    CHECK(names == std::vector<std::string>{"photo.png", "reply.txt"});
  }
  // Search hits are read through LoadMany.
  REQUIRE(f.db->Read([&](storage::Connection& conn) -> Status {
                 auto many = f.messages->LoadMany(conn, {img->message_id}, f.alice.id);
                 REQUIRE(many.ok());
                 REQUIRE(many->size() == 1);
                 check(many->at(0));
                 return Status::Ok();
               })
              .ok());
  // A deleted message shows no file.
  REQUIRE(f.messages->Delete(f.alice, reply->message_id).ok());
  auto gone = MessageJson(*f.messages->Get(f.alice, reply->message_id));
  CHECK(gone["files"].empty());
  CHECK(gone["has_file"] == false);
}

TEST_CASE("a file whose record cannot be written posts no message and leaves no blob",
          "[files]") {
  FilesFixture f;
  // Makes the file row's insert fail inside the posting transaction, after the message row.
  REQUIRE(f.db->Write([](storage::Connection& conn) {
                 return conn.Exec(
                     "CREATE TRIGGER test_refuse_files BEFORE INSERT ON files BEGIN "
                     "SELECT RAISE(ABORT, 'refused by the test'); END;");
               })
              .ok());
  auto refused = f.Put(f.alice, "lost.txt", Pattern(200000, "never stored "));
  CHECK(!refused.ok());
  auto history = f.messages->History(f.alice, f.room.id, Anchor::kLatest, 0, 10);
  REQUIRE(history.ok());
  CHECK(history->messages.empty());  // not even a tombstone
  {
    std::lock_guard<std::mutex> lock(f.sink.mu);
    CHECK(f.sink.events.empty());
  }
  CHECK(f.DiskFiles().empty());
  REQUIRE(f.db->Write([](storage::Connection& conn) {
                 return conn.Exec("DROP TRIGGER test_refuse_files");
               })
              .ok());
  auto ok = f.Put(f.alice, "kept.txt", "now it works");
  REQUIRE(ok.ok());
  CHECK(f.Get(f.alice, ok->id) == "now it works");
}

TEST_CASE("image dimensions are read from PNG, JPEG, GIF and WebP headers", "[files]") {
  // JPEG: SOI, an APP0 segment, then SOF0 with height 0x01E0 and width 0x0280.
  std::string jpeg("\xFF\xD8\xFF\xE0\x00\x04\x00\x00\xFF\xC0\x00\x11\x08\x01\xE0\x02\x80\x03",
                   18);
  jpeg += std::string(20, '\0');
  SniffedType j = SniffType(jpeg, "x");
  CHECK(j.mime == "image/jpeg");
  CHECK(j.width == 640);
  CHECK(j.height == 480);
  auto webp = [](std::string_view chunk, std::string data) {
    std::string s("RIFF\x40\0\0\0WEBP", 12);
    s += chunk;
    s += std::string("\x20\0\0\0", 4);
    s += data;
    s += std::string(16, '\0');
    return SniffType(s, "w.webp");
  };
  // Lossy: frame tag, start code, width 400 and height 300 (14 bits, scale bits set on width).
  SniffedType lossy = webp("VP8 ", std::string("\x10\x02\x00\x9d\x01\x2a\x90\x41\x2c\x01", 10));
  CHECK(lossy.mime == "image/webp");
  CHECK(lossy.width == 400);
  CHECK(lossy.height == 300);
  // Lossless: 0x2f, then width-1 = 1023 and height-1 = 767 packed in 14-bit fields.
  uint32_t bits = 1023 | (767u << 14);
  std::string vp8l = "\x2f";
  for (int i = 0; i < 4; ++i) vp8l.push_back(static_cast<char>((bits >> (8 * i)) & 0xFF));
  SniffedType lossless = webp("VP8L", vp8l);
  CHECK(lossless.width == 1024);
  CHECK(lossless.height == 768);
  // Extended: flags, reserved, then canvas width-1 = 4999 and height-1 = 2 in 24 bits.
  SniffedType extended =
      webp("VP8X", std::string("\x10\0\0\0\x87\x13\x00\x02\x00\x00", 10));
  CHECK(extended.width == 5000);
  CHECK(extended.height == 3);
  // A WebP with a damaged VP8 start code gets no size rather than a wrong one.
  SniffedType damaged = webp("VP8 ", std::string("\x10\x02\x00\x00\x00\x00\x90\x01\x2c\x01", 10));
  CHECK(damaged.mime == "image/webp");
  CHECK(damaged.width == 0);
}

TEST_CASE("starting removes temp files and blob files that no row names", "[files]") {
  FilesFixture f;
  auto kept = f.Put(f.alice, "kept.txt", "a file that stays");
  REQUIRE(kept.ok());
  std::string root = f.dir.Sub("blobs");
  std::string orphan(64, 'a');
  REQUIRE(MakeDirs(root + "/aa", 0700).ok());
  REQUIRE(WriteFileAtomic(root + "/aa/" + orphan, "ciphertext of a crashed upload").ok());
  REQUIRE(WriteFileAtomic(root + "/tmp/0123abcd", "half an upload").ok());
  REQUIRE(f.DiskFiles().size() == 3);
  REQUIRE(f.files->RemoveStaleTemps().ok());
  auto left = f.DiskFiles();
  REQUIRE(left.size() == 1);
  CHECK(left[0] == BlobPath(root, kept->blob_name));
  CHECK(f.Get(f.alice, kept->id) == "a file that stays");
}

}  // namespace
}  // namespace outpost::domain
