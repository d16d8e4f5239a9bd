// The data-subject tools: an export holds everything about one person and nothing secret;
// an erasure removes their personal data and keeps others' conversations readable.
#include "domain/gdpr.h"

#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "domain/file_store.h"
#include "domain/sessions.h"
#include "unit/domain/lifecycle_fixture.h"
#include "util/fs.h"

namespace outpost::domain {
namespace {

const std::string kThumbsUp = "\xf0\x9f\x91\x8d";

// Reads a ustar archive into member name -> contents, checking each header's checksum.
std::map<std::string, std::string> ReadTar(const std::string& bytes) {
  std::map<std::string, std::string> out;
  size_t at = 0;
  while (at + 512 <= bytes.size()) {
    const char* h = bytes.data() + at;
    if (std::all_of(h, h + 512, [](char c) { return c == 0; })) break;
    unsigned sum = 0;
    for (int i = 0; i < 512; ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    REQUIRE(std::strtoul(std::string(h + 148, 7).c_str(), nullptr, 8) == sum);
    REQUIRE(std::string(h + 257, 5) == "ustar");
    std::string name(h, strnlen(h, 100));
    std::string prefix(h + 345, strnlen(h + 345, 155));
    if (!prefix.empty()) name = prefix + "/" + name;
    size_t size = std::strtoul(std::string(h + 124, 11).c_str(), nullptr, 8);
    CHECK(std::string(h + 100, 7) == "0000600");
    at += 512;
    REQUIRE(at + size <= bytes.size());
    out[name] = bytes.substr(at, size);
    at += (size + 511) / 512 * 512;
  }
  return out;
}

struct GdprFixture : LifecycleFixture {
  std::unique_ptr<PersonalData> data =
      std::make_unique<PersonalData>(db.get(), &clock, files.get(), master_key);
  std::string session_token, api_secret;
  int64_t bob_message = 0, alice_message = 0, dm_room = 0;
  FileInfo bob_file;
  const std::string bob_bytes = std::string("bob's report\n") + std::string(200000, 'r');

  GdprFixture() {
    Sessions sessions(db.get(), &clock, SessionPolicy{});
    REQUIRE(sessions.Create(bob.id, "192.0.2.7", "Firefox", &session_token).ok());
    ApiTokens tokens(db.get(), &clock);
    REQUIRE(tokens.Create(bob.id, "bob's bot", 0, &api_secret).ok());
    alice_message = Post(alice, "alice asks about the plan");
    bob_message = Post(bob, "bob answers: the plan is ready", alice_message);
    REQUIRE(messages->React(bob, alice_message, kThumbsUp, true).ok());
    REQUIRE(messages->React(alice, bob_message, kThumbsUp, true).ok());
    REQUIRE(messages->Edit(bob, bob_message, "bob answers: the plan is done").ok());
    bob_file = Upload(bob, "report.txt", bob_bytes);
    Room dm = *rooms->OpenDirect(alice, {"bob"});
    dm_room = dm.id;
    Post(bob, "a private word", 0, dm_room);
    REQUIRE(audit->Append({"cli:op", 0, "", "user.password_reset", "user:bob",
                           AuditOutcome::kSuccess, nlohmann::json::object()})
                .ok());
    REQUIRE(audit->Append({"cli:op", 0, "", "user.password_reset", "user:carol",
                           AuditOutcome::kSuccess, nlohmann::json::object()})
                .ok());
  }
};

TEST_CASE("an export holds everything about the person, their files decrypted, no secrets",
          "[unit][gdpr]") {
  GdprFixture f;
  const std::string out = f.dir.Sub("bob.tar");
  Result<ExportSummary> s = f.data->Export("BOB", {out, false});  // names match in any case
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  CHECK(s->messages == 3);  // the reply, the upload's message, the DM
  CHECK(s->reactions == 1);
  CHECK(s->files == 1);
  CHECK(s->sessions == 1);
  CHECK(s->tokens == 1);
  CHECK(s->audit_records == 1);
  struct stat st;
  REQUIRE(stat(out.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(s->archive_bytes == st.st_size);

  std::string bytes = *ReadFile(out);
  std::map<std::string, std::string> members = ReadTar(bytes);
  REQUIRE(members.size() == 2);
  const std::string file_member =
      "outpost-export-bob/files/" + std::to_string(f.bob_file.id) + "-report.txt";
  REQUIRE(members.count(file_member) == 1);
  CHECK(members[file_member] == f.bob_bytes);
  auto doc = nlohmann::json::parse(members.at("outpost-export-bob/user.json"));
  CHECK(doc["profile"]["username"] == "bob");
  CHECK(doc["profile"]["display_name"] == "Bob");
  CHECK(doc["memberships"].size() == 2);  // the channel and the DM
  bool found_edit = false;
  for (const auto& m : doc["messages"]) {
    CHECK(m["body"].get<std::string>().rfind("alice", 0) != 0);  // only what bob wrote
    if (m["id"] == f.bob_message) {
      CHECK(m["body"] == "bob answers: the plan is done");
      REQUIRE(m["edits"].size() == 1);
      CHECK(m["edits"][0]["old_body"] == "bob answers: the plan is ready");
      found_edit = true;
    }
  }
  CHECK(found_edit);
  CHECK(doc["reactions"][0]["message_id"] == f.alice_message);
  CHECK(doc["files"][0]["archive_path"] == "files/" + std::to_string(f.bob_file.id) +
                                               "-report.txt");
  CHECK(doc["sessions"][0]["remote_addr"] == "192.0.2.7");
  CHECK(doc["api_tokens"][0]["name"] == "bob's bot");
  CHECK(doc["audit_records"][0]["target"] == "user:bob");
  // No secret of any kind: not the session token, the API token, their hashes or a password.
  CHECK(bytes.find(f.session_token) == std::string::npos);
  CHECK(bytes.find(f.api_secret) == std::string::npos);
  CHECK(bytes.find(HexEncode(HashToken(f.session_token))) == std::string::npos);
  CHECK(bytes.find("argon2") == std::string::npos);
  CHECK(bytes.find("csrf") == std::string::npos);
}

TEST_CASE("an export refuses an existing file unless forced and an unknown user, leaving nothing",
          "[unit][gdpr]") {
  GdprFixture f;
  const std::string out = f.dir.Sub("bob.tar");
  REQUIRE(WriteFileAtomic(out, "precious").ok());
  Result<ExportSummary> refused = f.data->Export("bob", {out, false});
  CHECK(refused.status().code() == Code::kAlreadyExists);
  CHECK(*ReadFile(out) == "precious");
  Result<ExportSummary> forced = f.data->Export("bob", {out, true});
  REQUIRE(forced.ok());
  CHECK(ReadFile(out)->size() == static_cast<size_t>(forced->archive_bytes));
  Result<ExportSummary> unknown = f.data->Export("nobody", {f.dir.Sub("nobody.tar"), false});
  CHECK(unknown.status().code() == Code::kNotFound);
  CHECK_FALSE(PathExists(f.dir.Sub("nobody.tar")));
  // No temporary file is left beside the targets.
  int entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(f.dir.path())) {
    CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
    ++entries;
  }
  CHECK(entries > 0);
}

TEST_CASE("an erasure removes personal data and keeps others' conversations, authorless",
          "[unit][gdpr]") {
  GdprFixture f;
  const std::string blob = BlobPath(f.dir.Sub("blobs"), f.bob_file.blob_name);
  REQUIRE(PathExists(blob));
  Result<EraseSummary> s = f.data->Erase("bob");
  INFO(s.status().ToString());
  REQUIRE(s.ok());
  CHECK(s->messages_kept == 3);
  CHECK(s->reactions == 1);
  CHECK(s->files == 1);
  CHECK(s->blobs == 1);
  CHECK(s->sessions == 1);
  CHECK(s->tokens == 1);
  CHECK(s->memberships == 2);
  CHECK_FALSE(PathExists(blob));

  CHECK(f.accounts->FindByName("bob").status().code() == Code::kNotFound);
  CHECK(f.Count("SELECT count(*) FROM users WHERE username = 'bob'") == 0);
  CHECK(f.Count("SELECT count(*) FROM sessions") == 0);
  CHECK(f.Count("SELECT count(*) FROM api_tokens") == 0);
  CHECK(f.Count("SELECT count(*) FROM reactions WHERE user_id = " + std::to_string(f.bob.id)) ==
        0);
  CHECK(f.Count("SELECT count(*) FROM reactions") == 1);  // alice's stays
  CHECK(f.Count("SELECT count(*) FROM files") == 0);
  CHECK(f.Count("SELECT count(*) FROM events WHERE payload LIKE '%\"bob\"%'") == 0);
  // Alice still reads the thread: bob's reply is there, with no author.
  Result<Message> reply = f.messages->Get(f.alice, f.bob_message);
  REQUIRE(reply.ok());
  CHECK(reply->body == "bob answers: the plan is done");
  CHECK(reply->author_id == 0);
  CHECK(MessageJson(*reply)["author"].is_null());
  // The DM stays readable for alice, but a new account never lands in it.
  Result<std::pair<Room, RoomAccess>> dm = f.rooms->Get(f.alice, f.dm_room);
  REQUIRE(dm.ok());
  CHECK(f.Count("SELECT count(*) FROM rooms WHERE dm_key LIKE 'dm:%' AND id = " +
                std::to_string(f.dm_room)) == 0);

  // Erasing twice finds no one; the other audit records stay.
  CHECK(f.data->Erase("bob").status().code() == Code::kNotFound);
  CHECK(f.Count("SELECT count(*) FROM audit_records WHERE target = 'user:bob'") == 1);
}

TEST_CASE("the last administrator cannot be erased", "[unit][gdpr]") {
  GdprFixture f;
  Result<EraseSummary> refused = f.data->Erase("root");
  CHECK(refused.status().code() == Code::kFailedPrecondition);
  CHECK_THAT(refused.status().message(), Catch::Contains("last administrator"));
  CHECK(f.accounts->FindByName("root").ok());
  // With a second, enabled administrator the first may go; a disabled one does not count.
  REQUIRE(f.accounts->Create("root2", "Root 2", kRoleAdmin, "a long enough passphrase").ok());
  REQUIRE(f.accounts->SetDisabled("root2", true).ok());
  CHECK(f.data->Erase("root").status().code() == Code::kFailedPrecondition);
  REQUIRE(f.accounts->SetDisabled("root2", false).ok());
  CHECK(f.data->Erase("root").ok());
  CHECK(f.data->Erase("root2").status().code() == Code::kFailedPrecondition);
}

}  // namespace
}  // namespace outpost::domain
