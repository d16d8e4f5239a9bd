// A small appliance for the retention and personal-data tests: a database with accounts,
// a private channel, messages, files in a blob folder and an audit log, all on a FakeClock.
#ifndef OUTPOST_TESTS_UNIT_DOMAIN_LIFECYCLE_FIXTURE_H_
#define OUTPOST_TESTS_UNIT_DOMAIN_LIFECYCLE_FIXTURE_H_

#include <catch2/catch.hpp>
#include <memory>
#include <string>

#include "domain/accounts.h"
#include "domain/audit.h"
#include "domain/files.h"
#include "domain/messages.h"
#include "domain/rooms.h"
#include "support/temp_dir.h"

namespace outpost::domain {

inline constexpr int64_t kDay = 86400LL * 1000;

struct LifecycleFixture {
  testing::TempDir dir;
  FakeClock clock;
  std::unique_ptr<storage::Database> db;
  std::unique_ptr<Accounts> accounts;
  std::unique_ptr<Rooms> rooms;
  std::unique_ptr<Messages> messages;
  std::unique_ptr<Files> files;
  std::unique_ptr<AuditLog> audit;
  const std::string master_key = std::string(32, 'm');
  User admin, alice, bob, carol;
  Room room;  // private channel "ops": alice owner, bob member

  LifecycleFixture() {
    storage::OpenOptions o;
    o.create = true;
    db = std::move(*storage::Database::Open(dir.Sub("o.db"), o));
    accounts = std::make_unique<Accounts>(db.get(), &clock, AccountPolicy{});
    ChatOptions chat;
    chat.default_room = "";
    rooms = std::make_unique<Rooms>(db.get(), &clock, nullptr, chat);
    messages = std::make_unique<Messages>(db.get(), &clock, nullptr, chat);
    FilesOptions fo;
    fo.deny_types.clear();
    files = std::make_unique<Files>(db.get(), &clock, messages.get(), dir.Sub("blobs"),
                                    master_key, fo);
    audit = std::make_unique<AuditLog>(db.get(), &clock, nullptr);
    admin = *accounts->Create("root", "Root", kRoleAdmin, "a long enough passphrase");
    alice = *accounts->Create("alice", "Alice", kRoleUser, "a long enough passphrase");
    bob = *accounts->Create("bob", "Bob", kRoleUser, "a long enough passphrase");
    carol = *accounts->Create("carol", "Carol", kRoleUser, "a long enough passphrase");
    room = *rooms->CreateChannel(alice, RoomKind::kPrivate, "ops", "", "", false);
    REQUIRE(rooms->Invite(alice, room.id, "bob").ok());
  }

  int64_t Post(const User& who, const std::string& body, int64_t thread_root_id = 0,
               int64_t room_id = 0) {
    PostRequest req;
    req.room_id = room_id ? room_id : room.id;
    req.body = body;
    req.thread_root_id = thread_root_id;
    Result<PostResult> r = messages->Post(who, req);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    return r->message.id;
  }

  FileInfo Upload(const User& who, const std::string& name, const std::string& bytes) {
    auto up = files->Begin(who, room.id, static_cast<int64_t>(bytes.size()));
    INFO(up.status().ToString());
    REQUIRE(up.ok());
    REQUIRE((*up)->Append(bytes).ok());
    UploadRequest req;
    req.name = name;
    Result<FileInfo> f = files->Finish(std::move(*up), req);
    INFO(f.status().ToString());
    REQUIRE(f.ok());
    return *f;
  }

  // The single integer `sql` returns.
  int64_t Count(const std::string& sql) {
    int64_t n = -1;
    REQUIRE(db->Read([&](storage::Connection& c) -> Status {
                OUTPOST_ASSIGN_OR_RETURN(storage::Statement s, c.Prepare(sql));
                OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
                if (row) n = s.ColumnInt64(0);
                return Status::Ok();
              }).ok());
    return n;
  }

  // Every audit record with this action, oldest first.
  std::vector<AuditRecord> Audited(const std::string& action) {
    AuditQuery q;
    q.action_prefix = action;
    Result<std::vector<AuditRecord>> r = audit->Query(q);
    REQUIRE(r.ok());
    return *r;
  }
};

}  // namespace outpost::domain

#endif  // OUTPOST_TESTS_UNIT_DOMAIN_LIFECYCLE_FIXTURE_H_
