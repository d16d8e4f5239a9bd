// Realtime over the whole appliance: chat events pushed to members' WebSockets, nothing to
// anyone else, resume after a reconnect, and acknowledged messages surviving kill -9.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "support/appliance.h"
#include "support/ws_client.h"
#include "util/fs.h"

namespace outpost::testing {
namespace {

using Json = nlohmann::json;

struct Live {
  TestAppliance app;
  HttpsClient http;
  BrowserSession admin, mike, oscar;

  Live() : app(), http(NewStarted()) {
    admin = Login(http, "admin", kAdminPassword);
    mike = Login(http, "mike", "mike's long passphrase");
    oscar = Login(http, "oscar", "oscar's long passphrase");
  }
  HttpsClient NewStarted() {
    for (const char* name : {"mike", "oscar"}) {
      WriteTestFile(app.dir().Sub(name), std::string(name) + "'s long passphrase\n");
      REQUIRE(app.Cli({"user", "add", name, "--password-file", app.dir().Sub(name)}).exit_code ==
              0);
    }
    REQUIRE(app.Start().ok());
    return app.NewClient();
  }
  std::string Host() const { return "localhost:" + std::to_string(app.port()); }
  std::string Origin() const { return "https://" + Host(); }

  std::unique_ptr<WsClient> Socket(const BrowserSession& who) {
    auto ws = std::make_unique<WsClient>("127.0.0.1", app.port(), app.ca_pem(), "localhost");
    auto r = ws->Connect("/api/v1/ws",
                         {{"Cookie", who.cookie}, {"Origin", Origin()}, {"Host", Host()}});
    REQUIRE(r.ok());
    REQUIRE(r->status == 101);
    return ws;
  }
  Json Call(const BrowserSession& who, const std::string& method, const std::string& path,
            const Json& body, int expect) {
    auto h = who.Headers(true);
    h.push_back({"Content-Type", "application/json"});
    auto r = http.Request(method, path, h, body.is_null() ? "" : body.dump());
    REQUIRE(r.ok());
    INFO(method << " " << path << " -> " << r->body);
    REQUIRE(r->status == expect);
    return r->body.empty() ? Json() : Json::parse(r->body);
  }
  int64_t GeneralId() {
    Json rooms = Call(admin, "GET", "/api/v1/rooms", nullptr, 200);
    for (auto& r : rooms["rooms"]) {
      if (r["name"] == "general") return r["id"];
    }
    FAIL("no general room in " << rooms.dump());
    return 0;
  }
};

// The next event frame of `type` within `ms`, skipping others; null when none comes.
Json NextEvent(WsClient& ws, const std::string& type, int ms = 3000) {
  while (true) {
    auto m = ws.NextText(ms);
    if (!m.ok() || m->kind != WsMessage::Kind::kText) return nullptr;
    Json j = Json::parse(m->payload, nullptr, false);
    if (j.value("type", "") == "event" && j.value("event", "") == type) return j;
    if (type == j.value("type", "")) return j;
  }
}

TEST_CASE("members hear posts at once; outsiders hear nothing; removal cuts delivery",
          "[integration][realtime][chat]") {
  Live l;
  int64_t general = l.GeneralId();
  auto mike_ws = l.Socket(l.mike);
  l.Call(l.admin, "POST", "/api/v1/rooms/" + std::to_string(general) + "/messages",
         {{"body", "hello everyone"}}, 201);
  Json ev = NextEvent(*mike_ws, "message.created");
  REQUIRE(ev.is_object());
  CHECK(ev["data"]["message"]["body"] == "hello everyone");
  CHECK(ev["room_id"] == general);
  CHECK(ev["cursor"].get<int64_t>() > 0);

  Json hidden = l.Call(l.oscar, "POST", "/api/v1/rooms", {{"name", "hidden"}, {"kind", "private"}},
                       201);
  std::string room = "/api/v1/rooms/" + std::to_string(hidden["room"]["id"].get<int64_t>());
  l.Call(l.oscar, "POST", room + "/messages", {{"body", "secret one"}}, 201);
  l.Call(l.admin, "POST", "/api/v1/rooms/" + std::to_string(general) + "/messages",
         {{"body", "marker"}}, 201);
  // Events arrive in order: the next message mike hears is the marker, not the secret.
  Json next = NextEvent(*mike_ws, "message.created");
  REQUIRE(next.is_object());
  CHECK(next["data"]["message"]["body"] == "marker");

  l.Call(l.oscar, "POST", room + "/members", {{"username", "mike"}}, 204);
  Json added = NextEvent(*mike_ws, "member.added");
  REQUIRE(added.is_object());
  l.Call(l.oscar, "POST", room + "/messages", {{"body", "secret two"}}, 201);
  Json second = NextEvent(*mike_ws, "message.created");
  REQUIRE(second.is_object());
  CHECK(second["data"]["message"]["body"] == "secret two");

  l.Call(l.oscar, "DELETE", room + "/members/mike", nullptr, 204);
  Json removed = NextEvent(*mike_ws, "member.removed");
  REQUIRE(removed.is_object());
  l.Call(l.oscar, "POST", room + "/messages", {{"body", "secret three"}}, 201);
  l.Call(l.admin, "POST", "/api/v1/rooms/" + std::to_string(general) + "/messages",
         {{"body", "second marker"}}, 201);
  Json after = NextEvent(*mike_ws, "message.created");
  REQUIRE(after.is_object());
  CHECK(after["data"]["message"]["body"] == "second marker");
}

TEST_CASE("a client that reconnects resumes from its cursor and misses nothing",
          "[integration][realtime][chat]") {
  Live l;
  std::string general = "/api/v1/rooms/" + std::to_string(l.GeneralId()) + "/messages";
  int64_t cursor = 0;
  {
    auto ws = l.Socket(l.mike);
    l.Call(l.admin, "POST", general, {{"body", "before the gap"}}, 201);
    Json ev = NextEvent(*ws, "message.created");
    REQUIRE(ev.is_object());
    cursor = ev["cursor"];
    REQUIRE(ws->Close().ok());
  }
  for (int i = 0; i < 3; ++i) {
    l.Call(l.admin, "POST", general, {{"body", "missed " + std::to_string(i)}}, 201);
  }
  auto ws = l.Socket(l.mike);
  REQUIRE(ws->SendText(Json{{"type", "resume"}, {"cursor", cursor}}.dump()).ok());
  std::vector<std::string> bodies;
  while (true) {
    auto m = ws->NextText(3000);
    REQUIRE(m.ok());
    REQUIRE(m->kind == WsMessage::Kind::kText);
    Json j = Json::parse(m->payload);
    if (j["type"] == "resumed") break;
    if (j.value("event", "") == "message.created") bodies.push_back(j["data"]["message"]["body"]);
  }
  CHECK(bodies == std::vector<std::string>{"missed 0", "missed 1", "missed 2"});
}

TEST_CASE("WebSocket upgrades need a session and this site's Origin", "[integration][realtime]") {
  Live l;
  WsClient anon("127.0.0.1", l.app.port(), l.app.ca_pem(), "localhost");
  auto r = anon.Connect("/api/v1/ws", {{"Origin", l.Origin()}, {"Host", l.Host()}});
  REQUIRE(r.ok());
  CHECK(r->status == 401);
  WsClient forged("127.0.0.1", l.app.port(), l.app.ca_pem(), "localhost");
  auto f = forged.Connect("/api/v1/ws", {{"Cookie", l.mike.cookie},
                                          {"Origin", "https://evil.example"}, {"Host", l.Host()}});
  REQUIRE(f.ok());
  CHECK(f->status == 403);
  WsClient no_origin("127.0.0.1", l.app.port(), l.app.ca_pem(), "localhost");
  auto n = no_origin.Connect("/api/v1/ws", {{"Cookie", l.mike.cookie}, {"Host", l.Host()}});
  REQUIRE(n.ok());
  CHECK(n->status == 403);
}

TEST_CASE("every acknowledged message survives kill -9 of the server",
          "[integration][realtime][chat]") {
  Live l;
  std::string general = "/api/v1/rooms/" + std::to_string(l.GeneralId()) + "/messages";
  std::vector<int64_t> acked;
  for (int i = 0; i < 40; ++i) {
    acked.push_back(l.Call(l.mike, "POST", general, {{"body", "durable " + std::to_string(i)}},
                           201)["message"]["id"]);
  }
  CHECK(l.app.Stop(SIGKILL) == 128 + SIGKILL);
  REQUIRE(l.app.Start().ok());
  HttpsClient again = l.app.NewClient();
  BrowserSession mike = Login(again, "mike", "mike's long passphrase");
  auto page = again.Request("GET", general + "?limit=100", mike.Headers());
  REQUIRE(page.ok());
  Json messages = Json::parse(page->body)["messages"];
  std::set<int64_t> found;
  for (auto& m : messages) found.insert(m["id"].get<int64_t>());
  for (int64_t id : acked) CHECK(found.count(id) == 1);
}

TEST_CASE("posts over the socket are acknowledged after commit, in order, and refused clearly",
          "[integration][realtime][chat]") {
  Live l;
  int64_t general = l.GeneralId();
  auto mike_ws = l.Socket(l.mike);
  auto oscar_ws = l.Socket(l.oscar);
  for (int i = 0; i < 20; ++i) {
    Json post = {{"type", "post"}, {"client_id", "m" + std::to_string(i)},
                 {"room_id", general}, {"body", "socket post " + std::to_string(i)}};
    REQUIRE(mike_ws->SendText(post.dump()).ok());
  }
  std::vector<int64_t> acked;
  while (acked.size() < 20) {
    Json ack = NextEvent(*mike_ws, "ack");
    REQUIRE(ack.is_object());
    CHECK(ack["client_id"] == "m" + std::to_string(acked.size()));  // in the order sent
    CHECK(ack["duplicate"] == false);
    acked.push_back(ack["message_id"].get<int64_t>());
  }
  CHECK(std::is_sorted(acked.begin(), acked.end()));
  // Oscar hears all twenty, in order; the history holds them.
  for (int i = 0; i < 20; ++i) {
    Json ev = NextEvent(*oscar_ws, "message.created");
    REQUIRE(ev.is_object());
    CHECK(ev["data"]["message"]["body"] == "socket post " + std::to_string(i));
  }
  Json page = l.Call(l.oscar, "GET",
                     "/api/v1/rooms/" + std::to_string(general) + "/messages?limit=20", nullptr,
                     200);
  CHECK(page["messages"].size() == 20);

  // A retry with the same client_id is the same message, not a second one.
  REQUIRE(mike_ws->SendText(Json({{"type", "post"}, {"client_id", "m3"}, {"room_id", general},
                                  {"body", "socket post 3"}}).dump()).ok());
  Json again = NextEvent(*mike_ws, "ack");
  REQUIRE(again.is_object());
  CHECK(again["duplicate"] == true);
  CHECK(again["message_id"] == acked[3]);

  // Refusals name the reason and the client_id; the socket stays open.
  Json hidden = l.Call(l.oscar, "POST", "/api/v1/rooms", {{"name", "hidden"}, {"kind", "private"}},
                       201);
  const int64_t hidden_id = hidden["room"]["id"];
  struct Bad {
    Json frame;
    int status;
  };
  std::vector<Bad> bad = {
      {{{"type", "post"}, {"client_id", "x1"}, {"room_id", hidden_id}, {"body", "let me in"}}, 404},
      {{{"type", "post"}, {"client_id", "x2"}, {"room_id", general}, {"body", ""}}, 400},
      {{{"type", "post"}, {"client_id", "x3"}, {"room_id", "general"}, {"body", "hi"}}, 400},
      {{{"type", "post"}, {"room_id", general}, {"body", "no id"}}, 400},
      {{{"type", "post"}, {"client_id", std::string(65, 'c')}, {"room_id", general},
        {"body", "long id"}}, 400},
      {{{"type", "post"}, {"client_id", "x6"}, {"room_id", general}, {"body", 42}}, 400},
  };
  for (const Bad& b : bad) {
    INFO(b.frame.dump());
    REQUIRE(mike_ws->SendText(b.frame.dump()).ok());
    Json err = NextEvent(*mike_ws, "error");
    REQUIRE(err.is_object());
    CHECK(err["status"] == b.status);
    CHECK_FALSE(err["message"].get<std::string>().empty());
    if (b.frame.contains("client_id")) CHECK(err["client_id"] == b.frame["client_id"]);
  }
  // Wrong types in other frames are answered, not fatal to the server.
  REQUIRE(mike_ws->SendText(R"({"type":"resume","cursor":"zero"})").ok());
  CHECK(NextEvent(*mike_ws, "resumed").is_object());
  REQUIRE(mike_ws->SendText(Json({{"type", "post"}, {"client_id", "last"}, {"room_id", general},
                                  {"body", "still here"}}).dump()).ok());
  CHECK(NextEvent(*mike_ws, "ack").is_object());
  Json all = l.Call(l.oscar, "GET",
                    "/api/v1/rooms/" + std::to_string(general) + "/messages?limit=50", nullptr,
                    200);
  CHECK(all["messages"].size() == 21);
}

// The next presence frame about `user_id`.
Json NextPresence(WsClient& ws, const std::string& user_id) {
  while (true) {
    Json j = NextEvent(ws, "presence");
    if (!j.is_object() || std::to_string(j["user_id"].get<int64_t>()) == user_id) return j;
  }
}

TEST_CASE("presence follows a user's sockets and idle state; signing out closes them",
          "[integration][realtime]") {
  Live l;
  Json me = l.Call(l.mike, "GET", "/api/v1/me", nullptr, 200);
  const std::string mike_id = std::to_string(me["user"]["id"].get<int64_t>());
  auto presence = [&] {
    Json p = l.Call(l.oscar, "GET", "/api/v1/presence?user_ids=" + mike_id, nullptr, 200);
    return p["presence"][mike_id].get<std::string>();
  };
  auto wait_for = [&](const std::string& want) {
    for (int i = 0; i < 100 && presence() != want; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return presence();
  };
  CHECK(presence() == "offline");
  // A direct-message room with oscar: oscar's socket hears mike's status changes.
  l.Call(l.mike, "POST", "/api/v1/dms", {{"users", {"oscar"}}}, 200);
  auto oscar_ws = l.Socket(l.oscar);
  auto mike_ws = l.Socket(l.mike);
  CHECK(wait_for("online") == "online");
  Json online = NextPresence(*oscar_ws, mike_id);
  REQUIRE(online.is_object());
  CHECK(online["status"] == "online");
  REQUIRE(mike_ws->SendText(R"({"type":"presence","status":"away"})").ok());
  CHECK(wait_for("away") == "away");
  Json away = NextPresence(*oscar_ws, mike_id);
  REQUIRE(away.is_object());
  CHECK(away["status"] == "away");
  REQUIRE(mike_ws->SendText(R"({"type":"presence","status":"asleep"})").ok());
  CHECK(NextEvent(*mike_ws, "error").is_object());

  // Signing out closes the socket at once; the cookie no longer opens one.
  l.Call(l.mike, "POST", "/api/v1/auth/logout", nullptr, 204);
  auto closed = mike_ws->WaitForClose(3000);
  REQUIRE(closed.ok());
  CHECK(closed->kind == WsMessage::Kind::kClose);
  CHECK(closed->close_code == net::ws::kClosePolicyViolation);
  CHECK(wait_for("offline") == "offline");
  Json offline = NextPresence(*oscar_ws, mike_id);
  REQUIRE(offline.is_object());
  CHECK(offline["status"] == "offline");

  auto refused = std::make_unique<WsClient>("127.0.0.1", l.app.port(), l.app.ca_pem(), "localhost");
  auto r = refused->Connect("/api/v1/ws", {{"Cookie", l.mike.cookie}, {"Origin", l.Origin()},
                                           {"Host", l.Host()}});
  REQUIRE(r.ok());
  CHECK(r->status == 401);

  // Disabling an account closes its sockets too.
  auto oscar_second = l.Socket(l.oscar);
  l.Call(l.admin, "POST", "/api/v1/users/oscar/disable", nullptr, 200);
  auto cut = oscar_second->WaitForClose(3000);
  REQUIRE(cut.ok());
  CHECK(cut->kind == WsMessage::Kind::kClose);

  Json bad = l.Call(l.admin, "GET", "/api/v1/presence?user_ids=1,x", nullptr, 400);
  CHECK(bad["error"]["code"] == "invalid_argument");
}

TEST_CASE("metrics show the hub and group commit", "[integration][realtime]") {
  Live l;
  auto ws = l.Socket(l.mike);
  // An answer proves the hub has taken the socket over (it registers it shortly after 101).
  REQUIRE(ws->SendText(R"({"type":"resume","cursor":0})").ok());
  REQUIRE(NextEvent(*ws, "resumed").is_object());
  auto h = l.admin.Headers(false);
  auto r = l.http.Request("GET", "/metrics", h, "");
  REQUIRE(r.ok());
  REQUIRE(r->status == 200);
  CHECK_THAT(r->body, Catch::Contains("outpost_ws_connections 1"));
  CHECK_THAT(r->body, Catch::Contains("outpost_ws_online_users 1"));
  CHECK_THAT(r->body, Catch::Contains("outpost_db_commits_total "));
  CHECK_THAT(r->body, Catch::Contains("outpost_db_writes_total "));
}

}  // namespace
}  // namespace outpost::testing
