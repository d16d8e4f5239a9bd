#include <dirent.h>
#include <sys/mount.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "domain/accounts.h"
#include "domain/files.h"
#include "support/temp_dir.h"
#include "util/fs.h"

namespace outpost::domain {
namespace {

struct FilesFixture {
  testing::TempDir dir;
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
    messages = std::make_unique<Messages>(db.get(), &clock, nullptr, chat);
    files = std::make_unique<Files>(db.get(), &clock, messages.get(),
                                    root.empty() ? dir.Sub("blobs") : root,
                                    std::string(32, 'k'), std::move(options));
    alice = *accounts->Create("alice", "Alice", kRoleUser, "a long enough passphrase");
    bob = *accounts->Create("bob", "Bob", kRoleUser, "a long enough passphrase");
    room = *rooms->CreateChannel(alice, RoomKind::kPrivate, "secret", "", "", false);
  }

  Result<FileInfo> Put(const User& who, const std::string& name, const std::string& bytes,
                       int64_t declared = -2) {
    OUTPOST_ASSIGN_OR_RETURN(
        auto up, files->Begin(who, room.id,
                              declared == -2 ? static_cast<int64_t>(bytes.size()) : declared));
    for (size_t i = 0; i < bytes.size(); i += 10000) {
      OUTPOST_RETURN_IF_ERROR(up->Append(std::string_view(bytes).substr(i, 10000)));
    }
    UploadRequest req;
    req.name = name;
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
    std::string path = d.empty() ? dir.Sub("blobs") : d;
    std::vector<std::string> out;
    DIR* h = opendir(path.c_str());
    if (h == nullptr) return out;
    while (dirent* e = readdir(h)) {
      std::string n = e->d_name;
      if (n == "." || n == "..") continue;
      if (e->d_type == DT_DIR) {
        auto sub = DiskFiles(path + "/" + n);
        out.insert(out.end(), sub.begin(), sub.end());
      } else {
        out.push_back(path + "/" + n);
      }
    }
    closedir(h);
    return out;
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
  CHECK(f.files->Begin(f.alice, f.room.id, 700).status().code() == Code::kResourceExhausted);
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
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=2m") != 0) {
    WARN("cannot mount a 2 MiB tmpfs (needs root): disk-full test skipped");
    return;
  }
  Status result;
  std::vector<std::string> left;
  int64_t rows = -1;
  {
    FilesFixture f({}, mnt);
    result = f.Put(f.alice, "big.txt", Pattern(3 << 20, "fill the disk ")).status();
    left = f.DiskFiles(mnt);
    rows = static_cast<int64_t>(f.files->ListRoom(f.alice, f.room.id, 0, 10)->size());
    // The store still works for what fits.
    CHECK(f.Put(f.alice, "small.txt", "fits").ok());
  }
  ::umount(mnt.c_str());
  CHECK(result.code() == Code::kResourceExhausted);
  CHECK(result.message().find("full") != std::string::npos);
  CHECK(left.empty());
  CHECK(rows == 0);
}

}  // namespace
}  // namespace outpost::domain
