#include <catch2/catch.hpp>
#include <mutex>
#include <thread>

#include "domain/accounts.h"
#include "domain/messages.h"
#include "domain/rooms.h"
#include "domain/search.h"
#include "support/temp_dir.h"

namespace outpost::domain {
namespace {

struct Recorder : EventSink {
  std::mutex mu;
  std::vector<ChatEvent> events;
  void Deliver(const std::vector<ChatEvent>& batch) override {
    std::lock_guard<std::mutex> lock(mu);
    events.insert(events.end(), batch.begin(), batch.end());
  }
  std::vector<std::string> Types() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<std::string> out;
    for (auto& e : events) out.push_back(e.type);
    return out;
  }
};

struct Chat {
  testing::TempDir dir;
  std::unique_ptr<storage::Database> db;
  FakeClock clock;
  Recorder sink;
  std::unique_ptr<Accounts> accounts;
  std::unique_ptr<Rooms> rooms;
  std::unique_ptr<Messages> messages;
  std::unique_ptr<Search> search;
  User admin, alice, bob, carol;

  Chat() {
    storage::OpenOptions o;
    o.create = true;
    db = std::move(*storage::Database::Open(dir.Sub("o.db"), o));
    accounts = std::make_unique<Accounts>(db.get(), &clock, AccountPolicy{});
    ChatOptions options;
    options.max_message_chars = 500;
    options.max_group_members = 3;
    rooms = std::make_unique<Rooms>(db.get(), &clock, &sink, options);
    messages = std::make_unique<Messages>(db.get(), &clock, &sink, options);
    search = std::make_unique<Search>(db.get(), messages.get());
    admin = Make("admin", kRoleAdmin);
    alice = Make("alice");
    bob = Make("bob");
    carol = Make("carol");
  }
  User Make(const std::string& name, const char* role = kRoleUser) {
    auto u = accounts->Create(name, name, role, "a long enough passphrase");
    REQUIRE(u.ok());
    return *u;
  }
  Room Channel(const User& owner, const std::string& name, RoomKind kind = RoomKind::kPublic,
               bool read_only = false) {
    auto r = rooms->CreateChannel(owner, kind, name, "", "", read_only);
    REQUIRE(r.ok());
    return *r;
  }
  Message Post(const User& u, int64_t room, const std::string& body, int64_t root = 0) {
    PostRequest req{room, body, "", root};
    auto r = messages->Post(u, req);
    INFO(r.status().ToString());
    REQUIRE(r.ok());
    clock.Advance(1000);
    return r->message;
  }
  int64_t Unread(const User& u, int64_t room_id, int64_t* mentions = nullptr) {
    auto mine = rooms->ListMine(u);
    REQUIRE(mine.ok());
    for (auto& r : *mine) {
      if (r.room.id == room_id) {
        if (mentions) *mentions = r.mentions;
        return r.unread;
      }
    }
    FAIL("not a member");
    return -1;
  }
};

TEST_CASE("a private room is invisible to outsiders, exactly like a missing one",
          "[unit][chat][rooms]") {
  Chat c;
  Room ops = c.Channel(c.alice, "ops", RoomKind::kPrivate);
  auto outsider = c.rooms->Get(c.bob, ops.id);
  auto missing = c.rooms->Get(c.bob, 999999);
  REQUIRE_FALSE(outsider.ok());
  CHECK(outsider.status().code() == missing.status().code());
  CHECK(outsider.status().message() == missing.status().message());
  CHECK(c.messages->History(c.bob, ops.id, Anchor::kLatest, 0, 10).status().message() ==
        missing.status().message());
  CHECK(c.rooms->Join(c.bob, ops.id).code() == Code::kNotFound);
  Message m = c.Post(c.alice, ops.id, "secret plans");
  CHECK(c.messages->Get(c.bob, m.id).status().message() ==
        c.messages->Get(c.bob, 424242).status().message());
  // Invited, bob sees it; removed, he loses it at once.
  REQUIRE(c.rooms->Invite(c.alice, ops.id, "bob").ok());
  CHECK(c.rooms->Get(c.bob, ops.id).ok());
  REQUIRE(c.rooms->Remove(c.alice, ops.id, "bob").ok());
  CHECK(c.rooms->Get(c.bob, ops.id).status().IsNotFound());
  CHECK(c.messages->Get(c.bob, m.id).status().IsNotFound());
}

TEST_CASE("channel names are unique without regard to case; duplicates change nothing",
          "[unit][chat][rooms]") {
  Chat c;
  c.Channel(c.alice, "general-talk");
  auto dup = c.rooms->CreateChannel(c.bob, RoomKind::kPrivate, "general-talk", "", "", false);
  CHECK(dup.status().code() == Code::kAlreadyExists);
  auto bad = c.rooms->CreateChannel(c.bob, RoomKind::kPublic, "Bad Name", "", "", false);
  CHECK(bad.status().code() == Code::kInvalidArgument);
  auto dir = c.rooms->Directory(c.bob, "", "", 50);
  REQUIRE(dir.ok());
  CHECK(dir->size() == 1);
}

TEST_CASE("posting requires membership, an open room, and a voice in announcement rooms",
          "[unit][chat][messages]") {
  Chat c;
  Room town = c.Channel(c.alice, "town");
  auto outsider = c.messages->Post(c.bob, {town.id, "hello", "", 0});
  CHECK(outsider.status().code() == Code::kPermissionDenied);
  REQUIRE(c.rooms->Join(c.bob, town.id).ok());
  c.Post(c.bob, town.id, "hello");
  Room news = c.Channel(c.alice, "news", RoomKind::kPublic, true);
  REQUIRE(c.rooms->Join(c.bob, news.id).ok());
  CHECK(c.messages->Post(c.bob, {news.id, "me too", "", 0}).status().code() ==
        Code::kPermissionDenied);
  c.Post(c.alice, news.id, "announcement");
  REQUIRE(c.rooms->SetRole(c.alice, news.id, "bob", RoomRole::kModerator).ok());
  c.Post(c.bob, news.id, "now I may");
  REQUIRE(c.rooms->SetArchived(c.alice, town.id, true).ok());
  CHECK(c.messages->Post(c.bob, {town.id, "anyone?", "", 0}).status().code() ==
        Code::kFailedPrecondition);
  CHECK(c.rooms->SetArchived(c.bob, town.id, false).code() == Code::kPermissionDenied);
  REQUIRE(c.rooms->SetArchived(c.admin, town.id, false).ok());
  c.Post(c.bob, town.id, "back again");
  CHECK(c.messages->Post(c.bob, {town.id, "   ", "", 0}).status().code() ==
        Code::kInvalidArgument);
  CHECK(c.messages->Post(c.bob, {town.id, std::string(501, 'x'), "", 0}).status().code() ==
        Code::kInvalidArgument);
}

TEST_CASE("history pages are stable while people keep posting", "[unit][chat][messages]") {
  Chat c;
  Room r = c.Channel(c.alice, "busy");
  for (int i = 1; i <= 30; ++i) c.Post(c.alice, r.id, "m" + std::to_string(i));
  auto first = c.messages->History(c.bob, r.id, Anchor::kLatest, 0, 10);
  REQUIRE(first.ok());
  REQUIRE(first->messages.size() == 10);
  CHECK(first->messages.front().body == "m30");
  CHECK(first->messages.back().body == "m21");
  CHECK(first->has_older);
  CHECK_FALSE(first->has_newer);
  for (int i = 31; i <= 35; ++i) c.Post(c.alice, r.id, "m" + std::to_string(i));
  auto second = c.messages->History(c.bob, r.id, Anchor::kBefore, first->messages.back().seq, 10);
  REQUIRE(second.ok());
  CHECK(second->messages.front().body == "m20");
  CHECK(second->messages.back().body == "m11");
  auto newer = c.messages->History(c.bob, r.id, Anchor::kAfter, first->messages.front().seq, 10);
  REQUIRE(newer.ok());
  REQUIRE(newer->messages.size() == 5);
  CHECK(newer->messages.front().body == "m35");
  CHECK(newer->messages.back().body == "m31");
  CHECK_FALSE(newer->has_newer);
  auto around = c.messages->History(c.bob, r.id, Anchor::kAround, 15, 5);
  REQUIRE(around.ok());
  std::vector<int64_t> seqs;
  for (auto& m : around->messages) seqs.push_back(m.seq);
  CHECK(seqs == std::vector<int64_t>{17, 16, 15, 14, 13});
  CHECK(around->has_older);
  CHECK(around->has_newer);
  // Sequences have no gaps: a client can tell when it missed something.
  for (size_t i = 1; i < first->messages.size(); ++i) {
    CHECK(first->messages[i - 1].seq == first->messages[i].seq + 1);
  }
}

TEST_CASE("a retried post with the same client id creates one message", "[unit][chat][messages]") {
  Chat c;
  Room r = c.Channel(c.alice, "retry");
  auto one = c.messages->Post(c.alice, {r.id, "only once", "abc-123", 0});
  auto two = c.messages->Post(c.alice, {r.id, "only once", "abc-123", 0});
  REQUIRE(one.ok());
  REQUIRE(two.ok());
  CHECK_FALSE(one->duplicate);
  CHECK(two->duplicate);
  CHECK(one->message.id == two->message.id);
  auto page = c.messages->History(c.alice, r.id, Anchor::kLatest, 0, 10);
  CHECK(page->messages.size() == 1);
  // Another author may use the same client id.
  REQUIRE(c.rooms->Join(c.bob, r.id).ok());
  auto bobs = c.messages->Post(c.bob, {r.id, "mine", "abc-123", 0});
  REQUIRE(bobs.ok());
  CHECK_FALSE(bobs->duplicate);
}

TEST_CASE("threads count replies, list participants and notify followers",
          "[unit][chat][threads]") {
  Chat c;
  Room r = c.Channel(c.alice, "threads");
  REQUIRE(c.rooms->Join(c.bob, r.id).ok());
  REQUIRE(c.rooms->Join(c.carol, r.id).ok());
  Message root = c.Post(c.alice, r.id, "question?");
  Message reply = c.Post(c.bob, r.id, "answer", root.id);
  c.Post(c.carol, r.id, "another answer", root.id);
  auto got = c.messages->Get(c.alice, root.id);
  REQUIRE(got.ok());
  CHECK(got->reply_count == 2);
  CHECK(got->participants == std::vector<std::string>{"bob", "carol"});
  CHECK(got->last_reply_at != 0);
  auto thread = c.messages->Thread(c.alice, root.id, 0, 50);
  REQUIRE(thread.ok());
  REQUIRE(thread->messages.size() == 3);
  CHECK(thread->messages[1].body == "answer");
  // Replies stay out of the room's timeline.
  auto timeline = c.messages->History(c.alice, r.id, Anchor::kLatest, 0, 10);
  CHECK(timeline->messages.size() == 1);
  CHECK(c.messages->Post(c.carol, {r.id, "nested", "", reply.id}).status().code() ==
        Code::kInvalidArgument);
  // Alice (starter) and bob (replier) follow; carol's reply notified both of them.
  auto notes = c.messages->Notifications(c.alice, 0, 10);
  REQUIRE(notes.ok());
  REQUIRE(notes->size() == 2);
  CHECK((*notes)[0].kind == "thread");
  REQUIRE(c.messages->Follow(c.alice, root.id, false).ok());
  c.Post(c.bob, r.id, "more", root.id);
  CHECK(c.messages->Notifications(c.alice, 0, 10)->size() == 2);
}

TEST_CASE("mentions notify members and report the ones not in the room",
          "[unit][chat][mentions]") {
  Chat c;
  Room r = c.Channel(c.alice, "mentions");
  REQUIRE(c.rooms->Join(c.bob, r.id).ok());
  auto post = c.messages->Post(c.alice, {r.id, "@bob and @carol and @nobody look", "", 0});
  REQUIRE(post.ok());
  CHECK(post->not_in_room == std::vector<std::string>{"carol"});
  int64_t mentions = 0;
  CHECK(c.Unread(c.bob, r.id, &mentions) == 1);
  CHECK(mentions == 1);
  c.Post(c.alice, r.id, "@all standup");
  CHECK(c.Unread(c.bob, r.id, &mentions) == 2);
  CHECK(mentions == 2);
  REQUIRE(c.messages->MarkRead(c.bob, r.id, post->message.seq).ok());
  CHECK(c.Unread(c.bob, r.id, &mentions) == 1);
  CHECK(mentions == 1);
  REQUIRE(c.messages->MarkRead(c.bob, r.id, 1000000).ok());  // capped at the last message
  CHECK(c.Unread(c.bob, r.id, &mentions) == 0);
  CHECK(mentions == 0);
  REQUIRE(c.messages->MarkRead(c.bob, r.id, 1).ok());  // never moves back
  CHECK(c.Unread(c.bob, r.id) == 0);
  // The author's own messages are never unread to them.
  CHECK(c.Unread(c.alice, r.id) == 0);
}

TEST_CASE("unread counts stay right under concurrent posting", "[unit][chat][messages]") {
  Chat c;
  Room r = c.Channel(c.alice, "race");
  std::vector<User> writers = {c.alice, c.bob, c.carol};
  for (const User& u : writers) REQUIRE(c.rooms->Join(u, r.id).ok());
  REQUIRE(c.rooms->Join(c.admin, r.id).ok());
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (const User& u : writers) {
    threads.emplace_back([&, u] {
      for (int i = 0; i < 40; ++i) {
        if (!c.messages->Post(u, {r.id, "hi @admin", "", 0}).ok()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures == 0);
  int64_t mentions = 0;
  CHECK(c.Unread(c.admin, r.id, &mentions) == 120);
  CHECK(mentions == 120);
  auto page = c.messages->History(c.admin, r.id, Anchor::kLatest, 0, 200);
  REQUIRE(page->messages.size() == 120);
  for (size_t i = 1; i < page->messages.size(); ++i) {
    CHECK(page->messages[i - 1].seq == page->messages[i].seq + 1);
  }
}

TEST_CASE("edits keep their history for moderators; deletes leave a tombstone",
          "[unit][chat][messages]") {
  Chat c;
  Room r = c.Channel(c.alice, "edits");
  REQUIRE(c.rooms->Join(c.bob, r.id).ok());
  Message m = c.Post(c.bob, r.id, "first draft about zebras");
  CHECK(c.messages->Edit(c.alice, m.id, "hijacked").status().code() ==
        Code::kPermissionDenied);
  auto edited = c.messages->Edit(c.bob, m.id, "final text about giraffes");
  REQUIRE(edited.ok());
  CHECK(edited->edited_at != 0);
  CHECK(c.messages->Edits(c.bob, m.id).status().code() == Code::kPermissionDenied);
  auto edits = c.messages->Edits(c.alice, m.id);  // alice owns the room
  REQUIRE(edits.ok());
  REQUIRE(edits->size() == 1);
  CHECK((*edits)[0].old_body == "first draft about zebras");
  // The index follows the edit.
  auto zebra = c.search->Run(c.alice, *ParseSearchQuery("zebras"), SearchOrder::kNewest, 0, 10);
  auto giraffe = c.search->Run(c.alice, *ParseSearchQuery("giraffes"), SearchOrder::kNewest, 0, 10);
  CHECK(zebra->hits.empty());
  CHECK(giraffe->hits.size() == 1);
  REQUIRE(c.rooms->Join(c.carol, r.id).ok());
  CHECK(c.messages->Delete(c.carol, m.id).code() == Code::kPermissionDenied);
  REQUIRE(c.messages->Delete(c.alice, m.id).ok());  // the owner moderates
  auto gone = c.messages->Get(c.carol, m.id);
  REQUIRE(gone.ok());
  CHECK(gone->deleted_at != 0);
  CHECK(gone->body.empty());
  CHECK(c.search->Run(c.alice, *ParseSearchQuery("giraffes"), SearchOrder::kNewest, 0, 10)
            ->hits.empty());
  CHECK(c.messages->Edits(c.alice, m.id)->size() == 2);
  CHECK(c.messages->Edit(c.bob, m.id, "resurrect").status().code() ==
        Code::kFailedPrecondition);
}

TEST_CASE("reactions are emoji, counted per person, and go with a deleted message",
          "[unit][chat][reactions]") {
  Chat c;
  Room r = c.Channel(c.alice, "reacts");
  REQUIRE(c.rooms->Join(c.bob, r.id).ok());
  Message m = c.Post(c.alice, r.id, "ship it?");
  const std::string up = "\xf0\x9f\x91\x8d";
  REQUIRE(c.messages->React(c.alice, m.id, up, true).ok());
  REQUIRE(c.messages->React(c.bob, m.id, up, true).ok());
  REQUIRE(c.messages->React(c.bob, m.id, up, true).ok());  // twice is once
  CHECK(c.messages->React(c.bob, m.id, "yes", true).code() == Code::kInvalidArgument);
  CHECK(c.messages->React(c.carol, m.id, up, true).code() == Code::kPermissionDenied);
  auto got = c.messages->Get(c.bob, m.id);
  REQUIRE(got->reactions.size() == 1);
  CHECK(got->reactions[0].count == 2);
  CHECK(got->reactions[0].mine);
  auto who = c.messages->Reactions(c.alice, m.id);
  REQUIRE(who.ok());
  CHECK((*who)[0].second == std::vector<std::string>{"alice", "bob"});
  REQUIRE(c.messages->React(c.bob, m.id, up, false).ok());
  CHECK(c.messages->Get(c.bob, m.id)->reactions[0].count == 1);
  REQUIRE(c.messages->SetPinned(c.alice, m.id, true).ok());
  CHECK(c.messages->SetPinned(c.bob, m.id, false).code() == Code::kPermissionDenied);
  CHECK(c.messages->Pins(c.bob, r.id)->size() == 1);
  REQUIRE(c.messages->Delete(c.alice, m.id).ok());
  CHECK(c.messages->Get(c.bob, m.id)->reactions.empty());
  CHECK(c.messages->Pins(c.bob, r.id)->empty());
}

TEST_CASE("direct messages are found again, private to their members, and bounded",
          "[unit][chat][dms]") {
  Chat c;
  auto dm = c.rooms->OpenDirect(c.alice, {"bob"});
  REQUIRE(dm.ok());
  CHECK(dm->kind == RoomKind::kDm);
  auto again = c.rooms->OpenDirect(c.bob, {"alice"});
  REQUIRE(again.ok());
  CHECK(again->id == dm->id);
  c.Post(c.alice, dm->id, "psst");
  CHECK(c.Unread(c.bob, dm->id) == 1);
  int64_t mentions = 0;
  c.Unread(c.bob, dm->id, &mentions);
  CHECK(mentions == 1);  // a DM counts as a mention
  CHECK(c.rooms->Get(c.admin, dm->id).status().IsNotFound());  // not even administrators
  CHECK(c.rooms->OpenDirect(c.alice, {"bob", "carol", "admin"}).status().code() ==
        Code::kInvalidArgument);
  auto group = c.rooms->OpenDirect(c.alice, {"bob", "carol"});
  REQUIRE(group.ok());
  CHECK(group->kind == RoomKind::kGroup);
  CHECK(c.rooms->OpenDirect(c.alice, {"ghost"}).status().IsNotFound());
  CHECK(c.rooms->Leave(c.alice, dm->id).code() == Code::kFailedPrecondition);
}

TEST_CASE("search finds only what the reader may read, with filters and highlights",
          "[unit][chat][search]") {
  Chat c;
  Room pub = c.Channel(c.alice, "public-room");
  Room priv = c.Channel(c.alice, "private-room", RoomKind::kPrivate);
  c.Post(c.alice, pub.id, "the reactor coolant pump is fine");
  c.Post(c.alice, priv.id, "the reactor secret is here");
  auto bob_hits = c.search->Run(c.bob, *ParseSearchQuery("reactor"), SearchOrder::kNewest, 0, 10);
  REQUIRE(bob_hits.ok());
  REQUIRE(bob_hits->hits.size() == 1);
  CHECK(bob_hits->hits[0].message.room_id == pub.id);
  CHECK(bob_hits->hits[0].room_name == "public-room");
  CHECK_THAT(bob_hits->hits[0].snippet,
             Catch::Contains(std::string(kMatchStart) + "reactor" + kMatchEnd));
  auto alice_hits = c.search->Run(c.alice, *ParseSearchQuery("reac*"), SearchOrder::kBest, 0, 10);
  CHECK(alice_hits->hits.size() == 2);
  CHECK(c.search->Run(c.alice, *ParseSearchQuery("\"coolant pump\""), SearchOrder::kNewest, 0, 10)
            ->hits.size() == 1);
  CHECK(c.search->Run(c.alice, *ParseSearchQuery("\"pump coolant\""), SearchOrder::kNewest, 0, 10)
            ->hits.empty());
  CHECK(c.search->Run(c.alice, *ParseSearchQuery("reactor in:private-room"), SearchOrder::kNewest,
                      0, 10)->hits.size() == 1);
  CHECK(c.search->Run(c.alice, *ParseSearchQuery("reactor from:bob"), SearchOrder::kNewest, 0, 10)
            ->hits.empty());
  CHECK(c.search->Run(c.bob, *ParseSearchQuery("in:private-room"), SearchOrder::kNewest, 0, 10)
            ->hits.empty());
  auto paged = c.search->Run(c.alice, *ParseSearchQuery("the"), SearchOrder::kNewest, 0, 1);
  REQUIRE(paged->hits.size() == 1);
  CHECK(paged->next_offset == 1);
  auto rest = c.search->Run(c.alice, *ParseSearchQuery("the"), SearchOrder::kNewest, 1, 1);
  CHECK(rest->hits.size() == 1);
  CHECK(rest->next_offset == -1);
  CHECK(rest->hits[0].message.id != paged->hits[0].message.id);
}

TEST_CASE("every change is recorded as an event, and replay shows members only their rooms",
          "[unit][chat][events]") {
  Chat c;
  Room pub = c.Channel(c.alice, "evented");
  Room priv = c.Channel(c.alice, "hidden", RoomKind::kPrivate);
  REQUIRE(c.rooms->Join(c.bob, pub.id).ok());
  Message m = c.Post(c.alice, pub.id, "hello @bob");
  c.Post(c.alice, priv.id, "not for bob");
  REQUIRE(c.messages->React(c.bob, m.id, "\xf0\x9f\x91\x8b", true).ok());
  auto types = c.sink.Types();
  for (const char* t : {"room.created", "member.added", "message.created", "notification",
                        "reaction.added"}) {
    CHECK(std::find(types.begin(), types.end(), t) != types.end());
  }
  std::vector<ChatEvent> replay;
  REQUIRE(c.db->Read([&](storage::Connection& conn) {
    auto e = EventsAfter(conn, c.bob.id, 0, 100);
    REQUIRE(e.ok());
    replay = *e;
    return Status::Ok();
  }).ok());
  for (const ChatEvent& e : replay) {
    CHECK(e.room_id != priv.id);
  }
  bool saw_notification = false;
  for (const ChatEvent& e : replay) saw_notification |= e.type == "notification";
  CHECK(saw_notification);
  // Cursors strictly increase.
  for (size_t i = 1; i < replay.size(); ++i) CHECK(replay[i].seq > replay[i - 1].seq);
}

TEST_CASE("the default room is created once and every new user joins it", "[unit][chat][rooms]") {
  Chat c;
  auto id = c.rooms->EnsureDefaultRoom();
  REQUIRE(id.ok());
  REQUIRE(*id != 0);
  CHECK(*c.rooms->EnsureDefaultRoom() == *id);
  CHECK(c.Unread(c.bob, *id) == 0);  // existing users were added
  User dave = c.Make("dave");
  REQUIRE(c.rooms->JoinDefaultRooms(dave.id).ok());
  auto mine = c.rooms->ListMine(dave);
  REQUIRE(mine->size() == 1);
  CHECK((*mine)[0].room.name == "general");
  CHECK((*mine)[0].room.is_default);
}

}  // namespace
}  // namespace outpost::domain
