// Backups in-process: round trips, and every way an archive can be wrong (changed, cut,
// spliced, badly signed, extra or missing members) refused with the right code.
#include "domain/backup.h"

#include <fcntl.h>
#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "storage/database.h"
#include "support/temp_dir.h"
#include "util/fs.h"

namespace outpost::domain {
namespace {

using testing::TempDir;
using testing::WriteTestFile;
namespace fs = std::filesystem;

// A data folder with keys, a database with rows, TLS files and blobs in nested folders.
DataLayout MakeDataFolder(const TempDir& dir, const std::string& name = "data") {
  DataLayout layout{dir.Sub(name)};
  REQUIRE(MakeDirs(layout.root, 0700).ok());
  REQUIRE(CreateKeys(layout).ok());
  storage::OpenOptions create;
  create.create = true;
  auto db = storage::Database::Open(layout.database(), create);
  REQUIRE(db.ok());
  Status filled = (*db)->Write([](storage::Connection& c) {
    return c.Exec(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 199) "
        "INSERT INTO settings(key, value) SELECT 'key-' || i, hex(randomblob(50)) FROM n");
  });
  REQUIRE(filled.ok());
  REQUIRE(MakeDirs(layout.tls_dir(), 0700).ok());
  WriteTestFile(layout.server_cert(), "-----BEGIN CERTIFICATE-----\nnot really\n");
  WriteTestFile(layout.server_key(), "secret key pem");
  REQUIRE(MakeDirs(layout.root + "/blobs/ab/cd", 0700).ok());
  WriteTestFile(layout.root + "/blobs/ab/cd/abcdef", RandomBytes(20000));
  WriteTestFile(layout.root + "/blobs/ab/empty", "");
  WriteTestFile(layout.root + "/blobs/ff", RandomBytes(3));
  return layout;
}

BackupSecret KeySecret(const std::string& key) {
  BackupSecret s;
  s.kind = BackupKeyKind::kKeyFile;
  s.secret = SecretString(key);
  return s;
}

BackupSecret PassphraseSecret(const std::string& pass) {
  BackupSecret s;
  s.kind = BackupKeyKind::kPassphrase;
  s.secret = SecretString(pass);
  s.cost = KdfCost::kInteractive;
  return s;
}

Result<BackupSummary> Make(const DataLayout& layout, const BackupSecret& secret,
                           const std::string& out, uint32_t chunk_size = kBackupChunkSize,
                           const ApplianceKeys* keys = nullptr) {
  static FakeClock clock;
  clock.Advance(1000);
  CreateBackupOptions options;
  options.out_path = out;
  options.clock = &clock;
  options.chunk_size = chunk_size;
  if (keys != nullptr) return CreateBackup(layout, *keys, secret, options);
  auto own = LoadKeys(layout);
  REQUIRE(own.ok());
  return CreateBackup(layout, *own, secret, options);
}

// Every row of every table, each as a string with the column types, sorted, by table name.
std::map<std::string, std::vector<std::string>> Dump(const std::string& path) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  std::vector<std::string> tables;
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT name FROM sqlite_schema WHERE type='table' ORDER BY name", -1, &st,
                     nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
  }
  sqlite3_finalize(st);
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& t : tables) {
    REQUIRE(sqlite3_prepare_v2(db, ("SELECT * FROM \"" + t + "\"").c_str(), -1, &st, nullptr) ==
            SQLITE_OK);
    auto& rows = out[t];
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        int type = sqlite3_column_type(st, c);  // first: reading the blob may change it
        const char* p = static_cast<const char*>(sqlite3_column_blob(st, c));
        row +=
            std::to_string(type) + ":" + std::string(p ? p : "", sqlite3_column_bytes(st, c)) + "|";
      }
      rows.push_back(row);
    }
    sqlite3_finalize(st);
    std::sort(rows.begin(), rows.end());
  }
  sqlite3_close(db);
  return out;
}

std::string Read(const std::string& path) { return ReadFile(path).value(); }

// `body` followed by a valid-looking end marker: what a forger who cut the file would add.
std::string WithEndMarker(std::string body) {
  uint64_t len = body.size() + 16;
  body += "OBKEND01";
  for (int i = 0; i < 8; ++i) body.push_back(static_cast<char>((len >> (8 * i)) & 0xff));
  return body;
}

int ModeOf(const std::string& path) {
  struct stat st;
  REQUIRE(stat(path.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

TEST_CASE("an archive holds the database, keys, tls and every blob, and verifies",
          "[unit][backup]") {
  TempDir dir;
  DataLayout layout = MakeDataFolder(dir);
  std::string key = RandomBytes(32);
  auto made = Make(layout, KeySecret(key), "");
  REQUIRE(made.ok());
  CHECK(made->path.rfind(layout.root + "/backups/outpost-", 0) == 0);
  CHECK(ModeOf(made->path) == 0600);
  CHECK(ModeOf(layout.root + "/backups") == 0700);
  // db + signing.key/.pub + master.key + 2 tls files + 3 blobs; no temporary file left.
  CHECK(made->members == 9);
  CHECK(std::distance(fs::directory_iterator(layout.root + "/backups"), fs::directory_iterator()) ==
        1);
  auto checked = VerifyBackup(made->path, KeySecret(key));
  REQUIRE(checked.ok());
  CHECK(checked->members == made->members);
  CHECK(checked->bytes == made->bytes);
  CHECK(checked->created_at == made->created_at);
  CHECK(checked->signing_public_key == HexEncode(Read(layout.signing_pub())));
  CHECK(checked->archive_size == static_cast<int64_t>(fs::file_size(made->path)));
}

TEST_CASE("a restore brings back every file byte for byte and the same database rows",
          "[unit][backup]") {
  TempDir dir;
  DataLayout layout = MakeDataFolder(dir);
  std::string key = RandomBytes(32);
  auto made = Make(layout, KeySecret(key), dir.Sub("a.obk"));
  REQUIRE(made.ok());
  auto restored = RestoreBackup(dir.Sub("a.obk"), dir.Sub("restored"), KeySecret(key), {});
  REQUIRE(restored.ok());
  CHECK(restored->replaced.empty());
  for (const char* f :
       {"/keys/signing.key", "/keys/signing.pub", "/keys/master.key", "/tls/server.pem",
        "/tls/server.key", "/blobs/ab/cd/abcdef", "/blobs/ab/empty", "/blobs/ff"}) {
    INFO(f);
    CHECK(Read(dir.Sub("restored") + f) == Read(layout.root + f));
    CHECK(ModeOf(dir.Sub("restored") + f) == ModeOf(layout.root + f));
  }
  CHECK(ModeOf(dir.Sub("restored")) == 0700);
  CHECK(Dump(dir.Sub("restored/outpost.db")) == Dump(layout.database()));
  CHECK(LoadKeys(DataLayout{dir.Sub("restored")}).ok());
  // No staging folder is left next to the target.
  for (const auto& e : fs::directory_iterator(dir.path())) {
    CHECK(e.path().filename().string().find(".restoring-") == std::string::npos);
  }
}

TEST_CASE("a passphrase archive opens with its passphrase only", "[unit][backup]") {
  TempDir dir;
  DataLayout layout = MakeDataFolder(dir);
  REQUIRE(Make(layout, PassphraseSecret("correct horse battery"), dir.Sub("p.obk")).ok());
  CHECK(VerifyBackup(dir.Sub("p.obk"), PassphraseSecret("correct horse battery")).ok());
  auto wrong = VerifyBackup(dir.Sub("p.obk"), PassphraseSecret("correct horse battery!"));
  CHECK(wrong.status().code() == Code::kUnauthenticated);
  CHECK(wrong.status().message() == "wrong key or passphrase, or not an Outpost backup");
  auto kind = VerifyBackup(dir.Sub("p.obk"), KeySecret(RandomBytes(32)));
  CHECK(kind.status().code() == Code::kInvalidArgument);
  CHECK_THAT(kind.status().message(), Catch::Contains("passphrase"));
  auto info = InspectBackupFile(dir.Sub("p.obk"));
  REQUIRE(info.ok());
  CHECK(info->header.key_kind == BackupKeyKind::kPassphrase);
  CHECK(info->header.salt != std::string(16, '\0'));
}

TEST_CASE("a wrong key, and a file that is not a backup, are refused as such", "[unit][backup]") {
  TempDir dir;
  DataLayout layout = MakeDataFolder(dir);
  REQUIRE(Make(layout, KeySecret(RandomBytes(32)), dir.Sub("a.obk")).ok());
  CHECK(VerifyBackup(dir.Sub("a.obk"), KeySecret(RandomBytes(32))).status().code() ==
        Code::kUnauthenticated);
  WriteTestFile(dir.Sub("x.obk"), "SQLite format 3" + std::string(200, '\0'));
  CHECK(VerifyBackup(dir.Sub("x.obk"), KeySecret(RandomBytes(32))).status().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("a changed byte anywhere outside the key fields is reported as damage",
          "[unit][backup]") {
  TempDir dir;
  DataLayout layout = MakeDataFolder(dir);
  std::string key = RandomBytes(32);
  REQUIRE(Make(layout, KeySecret(key), dir.Sub("a.obk"), 4096).ok());
  const std::string good = Read(dir.Sub("a.obk"));
  std::vector<size_t> offsets = {12,
                                 16,
                                 23,
                                 60,
                                 83,
                                 100,
                                 101,
                                 4200,
                                 good.size() / 2,
                                 good.size() - 17,
                                 good.size() - 16,
                                 good.size() - 1};
  for (int i = 0; i < 40; ++i) offsets.push_back(100 + randombytes_uniform(good.size() - 100));
  for (size_t off : offsets) {
    INFO("offset " << off);
    std::string bad = good;
    bad[off] = static_cast<char>(bad[off] ^ 0x20);
    WriteTestFile(dir.Sub("bad.obk"), bad);
    CHECK(VerifyBackup(dir.Sub("bad.obk"), KeySecret(key)).status().code() == Code::kCorruption);
  }
}

TEST_CASE("an archive cut at every length is refused as damaged", "[unit][backup]") {
  TempDir dir;
  DataLayout layout{dir.Sub("small")};
  REQUIRE(MakeDirs(layout.root, 0700).ok());
  REQUIRE(CreateKeys(layout).ok());
  storage::OpenOptions create;
  create.create = true;
  REQUIRE(storage::Database::Open(layout.database(), create).ok());
  std::string key = RandomBytes(32);
  REQUIRE(Make(layout, KeySecret(key), dir.Sub("a.obk"), 4096).ok());
  const std::string good = Read(dir.Sub("a.obk"));
  REQUIRE(good.size() > 3 * 4096);
  // Shortened in place, one byte at a time, from the full length down to nothing.
  WriteTestFile(dir.Sub("cut.obk"), good);
  for (size_t len = good.size(); len-- > 0;) {
    REQUIRE(truncate(dir.Sub("cut.obk").c_str(), static_cast<off_t>(len)) == 0);
    Status st = VerifyBackup(dir.Sub("cut.obk"), KeySecret(key)).status();
    if (st.code() != Code::kCorruption) FAIL("cut at " << len << ": " << st.ToString());
  }
  WriteTestFile(dir.Sub("cut.obk"), good + "x");
  CHECK(VerifyBackup(dir.Sub("cut.obk"), KeySecret(key)).status().code() == Code::kCorruption);
}

TEST_CASE("chunks spliced or reordered between archives made with the same key are refused",
          "[unit][backup]") {
  TempDir dir;
  DataLayout layout = MakeDataFolder(dir);
  std::string key = RandomBytes(32);
  REQUIRE(Make(layout, KeySecret(key), dir.Sub("a.obk"), 4096).ok());
  REQUIRE(Make(layout, KeySecret(key), dir.Sub("b.obk"), 4096).ok());
  const std::string a = Read(dir.Sub("a.obk")), b = Read(dir.Sub("b.obk"));
  const size_t chunk = 4096 + 17;
  auto refused = [&](const std::string& bytes) {
    WriteTestFile(dir.Sub("x.obk"), bytes);
    return VerifyBackup(dir.Sub("x.obk"), KeySecret(key)).status().code() == Code::kCorruption;
  };
  std::string spliced = a;
  spliced.replace(100 + 2 * chunk, chunk, b, 100 + 2 * chunk, chunk);
  CHECK(refused(spliced));
  std::string swapped = a;
  swapped.replace(100 + 1 * chunk, chunk, a, 100 + 2 * chunk, chunk);
  swapped.replace(100 + 2 * chunk, chunk, a, 100 + 1 * chunk, chunk);
  CHECK(refused(swapped));
  std::string other_header = a;
  other_header.replace(0, 100, b, 0, 100);
  CHECK(refused(other_header));
  CHECK(refused(a.substr(0, 100) + a.substr(100 + chunk)));  // a chunk dropped
  // Cut at a chunk boundary with a forged end marker: only the missing TAG_FINAL tells.
  for (size_t chunks : {size_t{1}, size_t{2}, (a.size() - 116) / chunk}) {
    INFO(chunks << " chunks");
    CHECK(refused(WithEndMarker(a.substr(0, 100 + chunks * chunk))));
  }
  CHECK_FALSE(refused(a));
}

TEST_CASE("a stream cut at a member boundary, with a forged end marker, lacks TAG_FINAL",
          "[unit][backup]") {
  TempDir dir;
  std::string key = RandomBytes(32);
  int fd = open(dir.Sub("s").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  auto w = ArchiveWriter::Begin(fd, KeySecret(key), 1, 4096);
  REQUIRE(w.ok());
  // 16-byte member header + 1-byte name + data = exactly two chunks.
  REQUIRE((*w)->BeginMember({MemberKind::kFile, "a", 0600, 8192 - 17}).ok());
  REQUIRE((*w)->Write(std::string(8192 - 17, 'x')).ok());
  REQUIRE((*w)->BeginMember({MemberKind::kFile, "b", 0600, 5}).ok());
  REQUIRE((*w)->Write("bbbbb").ok());
  REQUIRE((*w)->Finish().ok());
  close(fd);
  std::string full = Read(dir.Sub("s"));
  auto members = [&](const std::string& bytes) -> Result<std::vector<std::string>> {
    WriteTestFile(dir.Sub("x"), bytes);
    int in = open(dir.Sub("x").c_str(), O_RDONLY);
    auto r = ArchiveReader::Open(in, KeySecret(key));
    std::vector<std::string> names;
    Status st = r.status();
    MemberHeader m;
    char buf[4096];
    for (Result<bool> more = st.ok(); st.ok() && *more;) {
      more = (*r)->NextMember(&m);
      st = more.status();
      if (st.ok() && *more) names.push_back(m.name);
      for (Result<size_t> n = size_t{1}; st.ok() && *more && *n > 0; st = n.status()) {
        n = (*r)->Read(buf, sizeof(buf));
      }
    }
    close(in);
    if (!st.ok()) return st;
    return names;
  };
  REQUIRE(members(full).ok());
  CHECK(*members(full) == std::vector<std::string>{"a", "b"});
  auto cut = members(WithEndMarker(full.substr(0, 100 + 2 * (4096 + 17))));
  CHECK(cut.status().code() == Code::kCorruption);
}

TEST_CASE("a manifest signed by another key than the archive's own, or badly, is refused",
          "[unit][backup]") {
  TempDir dir;
  DataLayout layout = MakeDataFolder(dir);
  DataLayout other{dir.Sub("other")};
  REQUIRE(CreateKeys(other).ok());
  ApplianceKeys keys;
  std::string expected;
  SECTION("signed with another appliance's key pair") {
    keys = std::move(LoadKeys(other).value());
    expected = "another key";
  }
  SECTION("the archive's public key, but a signature that does not match it") {
    keys.signing_public = Read(layout.signing_pub());
    keys.signing_secret = SecretString(Read(other.signing_key()));
    expected = "signature does not verify";
  }
  std::string key = RandomBytes(32);
  REQUIRE(Make(layout, KeySecret(key), dir.Sub("a.obk"), kBackupChunkSize, &keys).ok());
  auto st = VerifyBackup(dir.Sub("a.obk"), KeySecret(key)).status();
  CHECK(st.code() == Code::kCorruption);
  CHECK_THAT(st.message(), Catch::Contains(expected));
}

// Writes an archive by hand: `files` as members, then a signed manifest listing `listed`.
void WriteCrafted(const std::string& path, const std::string& key, const DataLayout& layout,
                  const std::vector<std::pair<std::string, std::string>>& files,
                  const std::vector<std::pair<std::string, std::string>>& listed) {
  auto keys = LoadKeys(layout);
  REQUIRE(keys.ok());
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  auto w = ArchiveWriter::Begin(fd, KeySecret(key), 5000, 4096);
  REQUIRE(w.ok());
  auto kind = [](const std::string& name) {
    return name == "outpost.db" ? MemberKind::kDatabase : MemberKind::kFile;
  };
  for (const auto& [name, data] : files) {
    REQUIRE((*w)->BeginMember({kind(name), name, 0600, data.size()}).ok());
    REQUIRE((*w)->Write(data).ok());
  }
  nlohmann::json members = nlohmann::json::array();
  for (const auto& [name, data] : listed) {
    members.push_back({{"kind", kind(name) == MemberKind::kDatabase ? "database" : "file"},
                       {"name", name},
                       {"mode", 0600},
                       {"size", data.size()},
                       {"blake2b", HexEncode(HashToken(data))}});
  }
  std::string manifest = nlohmann::json{
      {"format", "outpost-backup"}, {"format_version", 1},
      {"outpost_version", "test"},  {"created_at", "x"},
      {"created_at_ms", 5000},      {"signing_public_key", HexEncode(keys->signing_public)},
      {"members", members}}.dump();
  std::string sig(64, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(manifest.data()), manifest.size(),
                       reinterpret_cast<const unsigned char*>(keys->signing_secret.value().data()));
  REQUIRE((*w)->BeginMember({MemberKind::kManifest, "MANIFEST", 0, manifest.size()}).ok());
  REQUIRE((*w)->Write(manifest).ok());
  REQUIRE((*w)->BeginMember({MemberKind::kSignature, "SIGNATURE", 0, sig.size()}).ok());
  REQUIRE((*w)->Write(sig).ok());
  REQUIRE((*w)->Finish().ok());
  close(fd);
}

TEST_CASE("members missing from, added to or renamed against the manifest are refused",
          "[unit][backup]") {
  TempDir dir;
  DataLayout layout = MakeDataFolder(dir);
  std::string key = RandomBytes(32);
  const std::pair<std::string, std::string> db{"outpost.db", Read(layout.database())};
  const std::pair<std::string, std::string> pub{"keys/signing.pub", Read(layout.signing_pub())};
  const std::pair<std::string, std::string> blob{"blobs/x", "blob bytes"};
  auto code = [&](auto files, auto listed) {
    WriteCrafted(dir.Sub("c.obk"), key, layout, files, listed);
    return VerifyBackup(dir.Sub("c.obk"), KeySecret(key)).status().code();
  };
  using List = std::vector<std::pair<std::string, std::string>>;
  CHECK(code(List{db, pub, blob}, List{db, pub, blob}) == Code::kOk);    // the crafting is sound
  CHECK(code(List{db, pub, blob}, List{db, pub}) == Code::kCorruption);  // extra
  CHECK(code(List{db, pub}, List{db, pub, blob}) == Code::kCorruption);  // missing
  CHECK(code(List{db, blob, pub}, List{db, pub, blob}) == Code::kCorruption);  // reordered
  CHECK(code(List{db, pub, {"blobs/x", "other"}}, List{db, pub, blob}) == Code::kCorruption);
  CHECK(code(List{pub, blob}, List{pub, blob}) == Code::kCorruption);  // no database
  CHECK(code(List{db, blob}, List{db, blob}) == Code::kCorruption);    // no signing.pub
  CHECK(code(List{db, pub, {"blobs/../../etc/x", "x"}},
             List{db, pub, {"blobs/../../etc/x", "x"}}) == Code::kCorruption);
  CHECK(code(List{db, pub, {"/etc/x", "x"}}, List{db, pub, {"/etc/x", "x"}}) == Code::kCorruption);
}

TEST_CASE("restore refuses a folder with data unless forced, and then keeps the old one",
          "[unit][backup]") {
  TempDir dir;
  DataLayout layout = MakeDataFolder(dir);
  std::string key = RandomBytes(32);
  REQUIRE(Make(layout, KeySecret(key), dir.Sub("a.obk")).ok());
  REQUIRE(MakeDirs(dir.Sub("target")).ok());
  WriteTestFile(dir.Sub("target/old"), "old data");
  auto refused = RestoreBackup(dir.Sub("a.obk"), dir.Sub("target"), KeySecret(key), {});
  CHECK(refused.status().code() == Code::kFailedPrecondition);
  CHECK(Read(dir.Sub("target/old")) == "old data");
  RestoreBackupOptions force;
  force.force = true;
  auto forced = RestoreBackup(dir.Sub("a.obk"), dir.Sub("target"), KeySecret(key), force);
  REQUIRE(forced.ok());
  CHECK(Read(forced->replaced + "/old") == "old data");
  CHECK(forced->replaced.rfind(dir.Sub("target.replaced-"), 0) == 0);
  CHECK_FALSE(PathExists(dir.Sub("target/old")));
  CHECK(Read(dir.Sub("target/blobs/ff")) == Read(layout.root + "/blobs/ff"));
  // An empty folder is simply filled.
  REQUIRE(MakeDirs(dir.Sub("empty")).ok());
  CHECK(RestoreBackup(dir.Sub("a.obk"), dir.Sub("empty"), KeySecret(key), {}).ok());
}

TEST_CASE("a refused restore writes nothing: no target, no staging folder", "[unit][backup]") {
  TempDir dir;
  DataLayout layout = MakeDataFolder(dir);
  std::string key = RandomBytes(32);
  REQUIRE(Make(layout, KeySecret(key), dir.Sub("a.obk")).ok());
  std::string bytes = Read(dir.Sub("a.obk"));
  bytes[bytes.size() - 40] ^= 1;  // inside the last chunk: the manifest and signature
  REQUIRE(MakeDirs(dir.Sub("parent")).ok());
  WriteTestFile(dir.Sub("bad.obk"), bytes);
  auto r = RestoreBackup(dir.Sub("bad.obk"), dir.Sub("parent/data"), KeySecret(key), {});
  CHECK(r.status().code() == Code::kCorruption);
  CHECK(fs::is_empty(dir.Sub("parent")));
  auto wrong =
      RestoreBackup(dir.Sub("a.obk"), dir.Sub("parent/data"), KeySecret(RandomBytes(32)), {});
  CHECK(wrong.status().code() == Code::kUnauthenticated);
  CHECK(fs::is_empty(dir.Sub("parent")));
}

TEST_CASE("a backup taken while another thread writes holds whole transactions only",
          "[unit][backup]") {
  TempDir dir;
  DataLayout layout = MakeDataFolder(dir);
  auto db = storage::Database::Open(layout.database(), {});
  REQUIRE(db.ok());
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      // Two rows per transaction: a torn snapshot would hold one without the other.
      Status st = (*db)->Write([i](storage::Connection& c) {
        return c.Exec("INSERT INTO settings(key, value) VALUES('a" + std::to_string(i) +
                      "', 'x'), ('b" + std::to_string(i) + "', 'y')");
      });
      if (st.ok()) ++written;
    }
  });
  while (written < 20) std::this_thread::yield();
  std::string key = RandomBytes(32);
  auto made = Make(layout, KeySecret(key), dir.Sub("a.obk"));
  stop = true;
  writer.join();
  REQUIRE(made.ok());
  REQUIRE(RestoreBackup(dir.Sub("a.obk"), dir.Sub("r"), KeySecret(key), {}).ok());
  int a_rows = 0, b_rows = 0;  // keys 'a<i>' and 'b<i>' are TEXT (type 3)
  auto dump = Dump(dir.Sub("r/outpost.db"));
  for (const auto& row : dump["settings"]) {
    a_rows += row.rfind("3:a", 0) == 0;
    b_rows += row.rfind("3:b", 0) == 0;
  }
  CHECK(a_rows >= 20);
  CHECK(a_rows == b_rows);
}

TEST_CASE("list tells complete archives from cut ones without the key", "[unit][backup]") {
  TempDir dir;
  DataLayout layout = MakeDataFolder(dir);
  std::string key = RandomBytes(32);
  auto made = Make(layout, KeySecret(key), "");
  REQUIRE(made.ok());
  std::string bytes = Read(made->path);
  WriteTestFile(layout.root + "/backups/cut.obk", bytes.substr(0, bytes.size() - 100));
  WriteTestFile(layout.root + "/backups/notes.txt", "ignored");
  auto list = ListBackups(layout.root + "/backups");
  REQUIRE(list.ok());
  REQUIRE(list->size() == 2);
  CHECK((*list)[0].name == "cut.obk");
  CHECK_FALSE((*list)[0].complete);
  CHECK((*list)[1].complete);
  CHECK((*list)[1].created_at == made->created_at);
  CHECK((*list)[1].size == static_cast<int64_t>(bytes.size()));
  CHECK(ListBackups(dir.Sub("none"))->empty());
}

TEST_CASE("backup key files are 32 private bytes and never overwritten", "[unit][backup]") {
  TempDir dir;
  REQUIRE(CreateBackupKeyFile(dir.Sub("k")).ok());
  CHECK(ModeOf(dir.Sub("k")) == 0600);
  std::string first = Read(dir.Sub("k"));
  CHECK(first.size() == 32);
  CHECK(CreateBackupKeyFile(dir.Sub("k")).code() == Code::kAlreadyExists);
  CHECK(Read(dir.Sub("k")) == first);
  CHECK(LoadBackupKeyFile(dir.Sub("k")).ok());
  WriteTestFile(dir.Sub("short"), first.substr(1));
  CHECK(LoadBackupKeyFile(dir.Sub("short")).status().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace outpost::domain
