#include "domain/permissions.h"

#include <catch2/catch.hpp>
#include <set>

#include "domain/accounts.h"
#include "domain/messages.h"
#include "domain/rooms.h"
#include "support/temp_dir.h"
#include "support/test_database.h"

namespace outpost::domain {
namespace {

struct Fixture {
  testing::TempDir dir;
  std::unique_ptr<storage::Database> db;
  FakeClock clock;
  std::unique_ptr<Accounts> accounts;
  std::unique_ptr<Roles> roles;

  Fixture() {
    db = testing::NewTestDatabase(dir.Sub("o.db"));
    accounts = std::make_unique<Accounts>(db.get(), &clock, AccountPolicy{});
    roles = std::make_unique<Roles>(db.get());
    REQUIRE(roles->Load().ok());
  }
  User Make(const std::string& name, std::string_view role) {
    auto u = accounts->Create(name, name, role, "a long enough passphrase");
    INFO(u.status().ToString());
    REQUIRE(u.ok());
    return *u;
  }
};

bool Holds(std::string_view role, Permission p) {
  return RolePermissions(role).test(static_cast<size_t>(p));
}

TEST_CASE("the catalogue holds at least 60 permissions with unique dotted names",
          "[unit][domain][permissions]") {
  auto catalogue = PermissionCatalogue();
  CHECK(catalogue.size() >= 60);
  CHECK(catalogue.size() == kPermissionCount - 1);
  std::set<std::string_view> names;
  for (const PermissionInfo& p : catalogue) {
    INFO(p.name);
    CHECK(names.insert(p.name).second);
    CHECK(p.name.find('.') != std::string_view::npos);
    CHECK_FALSE(p.description.empty());
    CHECK(PermissionName(p.permission) == p.name);
    auto parsed = ParsePermission(p.name);
    REQUIRE(parsed.has_value());
    CHECK(*parsed == p.permission);
  }
  CHECK(PermissionName(Permission::kNone) == "none");
  CHECK_FALSE(ParsePermission("none").has_value());
  CHECK_FALSE(ParsePermission("users.Create").has_value());
  CHECK_FALSE(ParsePermission("").has_value());
  // The ones the issue names.
  for (const char* n : {"rooms.create_public", "rooms.create_private", "rooms.post_announcement",
                        "messages.edit_any", "messages.delete_any", "messages.pin",
                        "rooms.manage_members", "users.create", "users.reset_password",
                        "roles.assign", "audit.view", "data.export", "settings.manage"}) {
    INFO(n);
    CHECK(ParsePermission(n).has_value());
  }
}

TEST_CASE("the built-in roles hold what their descriptions promise",
          "[unit][domain][permissions]") {
  const std::vector<std::string> ids = {"admin", "user-manager", "moderator", "user",
                                        "guest", "auditor",      "bot"};
  REQUIRE(BuiltInRoles().size() == ids.size());
  for (size_t i = 0; i < ids.size(); ++i) CHECK(BuiltInRoles()[i].id == ids[i]);

  CHECK(RolePermissions("admin") == AllPermissions());
  CHECK(RolePermissions("nobody-has-this").none());

  // user-manager: accounts, not roles, settings or the audit log.
  for (Permission p : {Permission::kUsersCreate, Permission::kUsersDisable,
                       Permission::kUsersResetPassword, Permission::kUsersUnlock}) {
    CHECK(Holds("user-manager", p));
  }
  for (Permission p :
       {Permission::kRolesAssign, Permission::kRolesManage, Permission::kSettingsManage,
        Permission::kAuditView, Permission::kUsersErase}) {
    CHECK_FALSE(Holds("user-manager", p));
  }
  // moderator: others' messages and members, not accounts.
  for (Permission p :
       {Permission::kMessagesEditAny, Permission::kMessagesDeleteAny, Permission::kMessagesPin,
        Permission::kRoomsManageMembers, Permission::kRoomsArchive}) {
    CHECK(Holds("moderator", p));
    CHECK_FALSE(Holds("user", p));
  }
  CHECK_FALSE(Holds("moderator", Permission::kUsersCreate));
  CHECK_FALSE(Holds("moderator", Permission::kRoomsDelete));
  // user: chat.
  for (Permission p :
       {Permission::kRoomsCreatePublic, Permission::kRoomsCreatePrivate, Permission::kDmsOpenAny,
        Permission::kFilesUpload, Permission::kMessagesPost}) {
    CHECK(Holds("user", p));
  }
  // guest: only the rooms it is invited to.
  for (Permission p : {Permission::kRoomsBrowseDirectory, Permission::kRoomsJoinPublic,
                       Permission::kRoomsCreatePublic, Permission::kRoomsCreatePrivate,
                       Permission::kDmsOpenAny, Permission::kPeopleSearch}) {
    CHECK_FALSE(Holds("guest", p));
  }
  CHECK(Holds("guest", Permission::kMessagesPost));
  CHECK(Holds("guest", Permission::kDmsOpen));
  // auditor: the audit log, and no message access.
  CHECK(Holds("auditor", Permission::kAuditView));
  CHECK(Holds("auditor", Permission::kAuditExport));
  for (Permission p :
       {Permission::kMessagesRead, Permission::kMessagesSearch, Permission::kMessagesReadEvents,
        Permission::kFilesDownload, Permission::kMessagesPost}) {
    CHECK_FALSE(Holds("auditor", p));
  }
  // bot: reads and posts with tokens; nothing of the web client's own.
  CHECK(Holds("bot", Permission::kMessagesPost));
  CHECK(Holds("bot", Permission::kTokensManageOwn));
  CHECK_FALSE(Holds("bot", Permission::kSessionsManageOwn));
  CHECK_FALSE(Holds("bot", Permission::kRoomsBrowseDirectory));

  Fixture f;
  CHECK(f.roles->IsPrivileged("admin"));
  CHECK(f.roles->IsPrivileged("user-manager"));
  CHECK(f.roles->IsPrivileged("auditor"));
  CHECK_FALSE(f.roles->IsPrivileged("user"));
  CHECK_FALSE(f.roles->IsPrivileged("guest"));
  CHECK_FALSE(f.roles->IsPrivileged("bot"));
  CHECK_FALSE(f.roles->IsPrivileged("no-such-role"));
  CHECK(f.roles->Has("guest", Permission::kNone));
  CHECK_FALSE(f.roles->Has("no-such-role", Permission::kNone));
}

TEST_CASE("a custom role is made, changed and deleted, and survives a reload",
          "[unit][domain][permissions]") {
  Fixture f;
  RoleSpec spec;
  spec.name = "Records officer";
  spec.description = "exports personal data on request";
  spec.permissions = std::vector<std::string>{"data.export", "users.view", "messages.read"};
  auto made = f.roles->Create("records-officer", spec, f.clock);
  INFO(made.status().ToString());
  REQUIRE(made.ok());
  CHECK_FALSE(made->built_in);
  CHECK(made->permissions.count() == 3);
  CHECK(f.roles->Has("records-officer", Permission::kDataExport));
  CHECK_FALSE(f.roles->Has("records-officer", Permission::kUsersCreate));
  CHECK(f.roles->IsPrivileged("records-officer"));

  // An account may hold it; the database refuses an unknown role.
  User u = f.Make("rita", "records-officer");
  CHECK(u.role == "records-officer");
  CHECK(f.accounts->Create("ghost", "Ghost", "no-such-role", "a long enough passphrase")
            .status()
            .code() == Code::kInvalidArgument);

  RoleSpec change;
  change.permissions = std::vector<std::string>{"users.view"};
  auto changed = f.roles->Update("records-officer", change, f.clock);
  REQUIRE(changed.ok());
  CHECK(changed->name == "Records officer");  // unset fields stay
  CHECK_FALSE(f.roles->Has("records-officer", Permission::kDataExport));

  // Another Roles over the same database sees the stored role.
  Roles again(f.db.get());
  REQUIRE(again.Load().ok());
  CHECK(again.Has("records-officer", Permission::kUsersView));
  CHECK_FALSE(again.Has("records-officer", Permission::kDataExport));

  // In use: refused, and nothing lost.
  Status in_use = f.roles->Delete("records-officer");
  CHECK(in_use.code() == Code::kFailedPrecondition);
  CHECK(in_use.message().find("1 account") != std::string::npos);
  CHECK(f.roles->Exists("records-officer"));

  auto moved = f.roles->AssignToUser("rita", "user", f.clock);
  REQUIRE(moved.ok());
  CHECK(*moved == "records-officer");
  REQUIRE(f.roles->Delete("records-officer").ok());
  CHECK_FALSE(f.roles->Exists("records-officer"));
  CHECK(f.roles->Delete("records-officer").code() == Code::kNotFound);
}

TEST_CASE("bad role input is refused with a message naming the problem",
          "[unit][domain][permissions]") {
  Fixture f;
  RoleSpec ok;
  ok.name = "Helper";
  for (const char* bad :
       {"", "a", "Upper", "1abc", "has space", "x_y", "a-very-long-role-id-that-goes-past-32"}) {
    INFO(bad);
    CHECK(f.roles->Create(bad, ok, f.clock).status().code() == Code::kInvalidArgument);
  }
  RoleSpec unnamed;
  CHECK(f.roles->Create("helper", unnamed, f.clock).status().code() == Code::kInvalidArgument);

  RoleSpec unknown = ok;
  unknown.permissions = std::vector<std::string>{"users.view", "users.fly"};
  auto st = f.roles->Create("helper", unknown, f.clock).status();
  CHECK(st.code() == Code::kInvalidArgument);
  CHECK(st.message().find("users.fly") != std::string::npos);
  CHECK_FALSE(f.roles->Exists("helper"));

  RoleSpec control = ok;
  control.name = std::string("Help\ner");
  CHECK(f.roles->Create("helper", control, f.clock).status().code() == Code::kInvalidArgument);

  // Built-in ids are taken; built-in roles cannot be changed or deleted.
  CHECK(f.roles->Create("moderator", ok, f.clock).status().code() == Code::kAlreadyExists);
  RoleSpec grow;
  grow.permissions = std::vector<std::string>{"audit.view"};
  auto edit = f.roles->Update("guest", grow, f.clock);
  CHECK(edit.status().code() == Code::kFailedPrecondition);
  CHECK(edit.status().message().find("built-in") != std::string::npos);
  CHECK_FALSE(f.roles->Has("guest", Permission::kAuditView));
  CHECK(f.roles->Delete("user").code() == Code::kFailedPrecondition);
  CHECK(f.roles->Exists("user"));
  CHECK(f.roles->Update("nope", ok, f.clock).status().code() == Code::kNotFound);

  REQUIRE(f.roles->Create("helper", ok, f.clock).ok());
  CHECK(f.roles->Create("helper", ok, f.clock).status().code() == Code::kAlreadyExists);

  // The database itself keeps built-in roles whole, whatever a caller does.
  Status raw = f.db->Write(
      [](storage::Connection& c) { return c.Exec("DELETE FROM roles WHERE id = 'admin'"); });
  CHECK_FALSE(raw.ok());
}

TEST_CASE("the last enabled administrator keeps the role", "[unit][domain][permissions]") {
  Fixture f;
  f.Make("root", "admin");
  auto refused = f.roles->AssignToUser("root", "user", f.clock);
  CHECK(refused.status().code() == Code::kFailedPrecondition);
  CHECK(f.accounts->FindByName("root")->role == "admin");
  f.Make("root2", "admin");
  CHECK(f.roles->AssignToUser("root", "user", f.clock).ok());
  CHECK(f.roles->AssignToUser("nobody", "user", f.clock).status().code() == Code::kNotFound);
  CHECK(f.roles->AssignToUser("root", "no-such", f.clock).status().code() == Code::kNotFound);
}

struct Room2 {
  Fixture f;
  struct NoSink : EventSink {
    void Deliver(const std::vector<ChatEvent>&) override {}
  } sink;
  std::unique_ptr<Rooms> rooms;
  std::unique_ptr<Messages> messages;
  Room2() {
    rooms = std::make_unique<Rooms>(f.db.get(), &f.clock, &sink, ChatOptions{});
    messages = std::make_unique<Messages>(f.db.get(), &f.clock, &sink, ChatOptions{});
  }
};

TEST_CASE("a site moderator deletes, edits and pins in a channel they can see, never in DMs",
          "[unit][domain][permissions]") {
  Room2 r;
  User owner = r.f.Make("olga", "user");
  User writer = r.f.Make("walt", "user");
  User mod = r.f.Make("mona", "moderator");
  User plain = r.f.Make("pete", "user");
  auto room = r.rooms->CreateChannel(owner, RoomKind::kPublic, "town", "", "", false);
  REQUIRE(room.ok());
  REQUIRE(r.rooms->Join(writer, room->id).ok());
  auto posted = r.messages->Post(writer, PostRequest{room->id, "hello", "", 0});
  REQUIRE(posted.ok());
  const int64_t id = posted->message.id;

  // A plain user who is no room moderator may do none of it.
  CHECK(r.messages->Delete(plain, id).code() == Code::kPermissionDenied);
  CHECK(r.messages->Edit(plain, id, "changed").status().code() == Code::kPermissionDenied);
  CHECK(r.messages->SetPinned(plain, id, true).code() == Code::kPermissionDenied);
  // The site moderator may, without being a member.
  CHECK(r.messages->SetPinned(mod, id, true).ok());
  CHECK(r.messages->Edits(mod, id).ok());
  CHECK(r.messages->Edit(mod, id, "edited by a moderator").ok());
  CHECK(r.messages->Delete(mod, id).ok());

  // In a DM between two others the moderator sees nothing.
  auto dm = r.rooms->OpenDirect(writer, {"olga"});
  REQUIRE(dm.ok());
  auto secret = r.messages->Post(writer, PostRequest{dm->id, "private", "", 0});
  REQUIRE(secret.ok());
  CHECK(r.messages->Delete(mod, secret->message.id).code() == Code::kNotFound);
}

TEST_CASE("a guest sees only the rooms it is in and opens DMs only with roommates",
          "[unit][domain][permissions]") {
  Room2 r;
  User owner = r.f.Make("olga", "user");
  User stranger = r.f.Make("sam", "user");
  User guest = r.f.Make("gus", "guest");
  auto open = r.rooms->CreateChannel(owner, RoomKind::kPublic, "lobby", "", "", false);
  auto invited = r.rooms->CreateChannel(owner, RoomKind::kPrivate, "project", "", "", false);
  REQUIRE(open.ok());
  REQUIRE(invited.ok());
  REQUIRE(r.rooms->Invite(owner, invited->id, "gus").ok());

  CHECK(r.rooms->Get(guest, open->id).status().code() == Code::kNotFound);
  CHECK(r.rooms->Get(guest, invited->id).ok());
  CHECK(r.rooms->CreateChannel(guest, RoomKind::kPublic, "mine", "", "", false).status().code() ==
        Code::kPermissionDenied);
  auto refused = r.rooms->OpenDirect(guest, {"sam"});
  CHECK(refused.status().code() == Code::kPermissionDenied);
  CHECK(refused.status().message().find("dms.open_any") != std::string::npos);
  CHECK(r.rooms->OpenDirect(guest, {"olga"}).ok());
  // A user opens a DM with anyone.
  CHECK(r.rooms->OpenDirect(stranger, {"olga"}).ok());
}

TEST_CASE("an auditor reads no messages, even in a room it belongs to",
          "[unit][domain][permissions]") {
  Room2 r;
  User owner = r.f.Make("olga", "user");
  User auditor = r.f.Make("aud", "auditor");
  auto room = r.rooms->CreateChannel(owner, RoomKind::kPrivate, "board", "", "", false);
  REQUIRE(room.ok());
  REQUIRE(r.rooms->Invite(owner, room->id, "aud").ok());
  CHECK(r.rooms->Get(auditor, room->id).status().code() == Code::kNotFound);
  CHECK(r.messages->Post(auditor, PostRequest{room->id, "hi", "", 0}).status().code() ==
        Code::kNotFound);

  // Granting messages.read through a custom role gives it back.
  RoleSpec spec;
  spec.name = "Auditor who reads";
  spec.permissions = std::vector<std::string>{"audit.view", "messages.read"};
  REQUIRE(r.f.roles->Create("reading-auditor", spec, r.f.clock).ok());
  REQUIRE(r.f.roles->AssignToUser("aud", "reading-auditor", r.f.clock).ok());
  User reader = *r.f.accounts->FindByName("aud");
  auto got = r.rooms->Get(reader, room->id);
  REQUIRE(got.ok());
  CHECK(got->second.can_read);
  CHECK_FALSE(got->second.can_post);  // no messages.post
}

}  // namespace
}  // namespace outpost::domain
