// The chat API over TLS: the permission matrix of every room and message route for every kind
// of caller, and the refusals of bad input.
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "api/routes.h"
#include "support/appliance.h"
#include "util/fs.h"

namespace outpost::testing {
namespace {

using Json = nlohmann::json;
using Headers = std::vector<std::pair<std::string, std::string>>;

enum Who { kAnon, kOutsider, kMember, kModerator, kOwner, kAdmin, kWhoCount };
const char* const kWhoNames[] = {"anonymous", "outsider", "member", "moderator", "owner",
                                 "admin"};

// A running appliance with a private channel "ops" and one person in each role.
struct World {
  TestAppliance app;
  std::unique_ptr<HttpsClient> client;
  BrowserSession sessions[kWhoCount];
  int64_t room = 0;

  World() {
    for (const char* name : {"olive", "mona", "mike", "oscar", "ivan"}) {
      WriteTestFile(app.dir().Sub(name), std::string(name) + "'s long passphrase\n");
      REQUIRE(app.Cli({"user", "add", name, "--password-file", app.dir().Sub(name)}).exit_code ==
              0);
    }
    REQUIRE(app.Start().ok());
    client = std::make_unique<HttpsClient>(app.NewClient());
    sessions[kOwner] = Login(*client, "olive", "olive's long passphrase");
    sessions[kModerator] = Login(*client, "mona", "mona's long passphrase");
    sessions[kMember] = Login(*client, "mike", "mike's long passphrase");
    sessions[kOutsider] = Login(*client, "oscar", "oscar's long passphrase");
    sessions[kAdmin] = Login(*client, "admin", kAdminPassword);
    Json created = Call(kOwner, "POST", "/api/v1/rooms",
                        {{"name", "ops"}, {"kind", "private"}, {"topic", "operations"}}, 201);
    room = created["room"]["id"];
    Call(kOwner, "POST", Room("/members"), {{"username", "mona"}}, 204);
    Call(kOwner, "POST", Room("/members"), {{"username", "mike"}}, 204);
    Call(kOwner, "PUT", Room("/members/mona/role"), {{"role", "moderator"}}, 204);
  }

  std::string Room(const std::string& tail = "") const {
    return "/api/v1/rooms/" + std::to_string(room) + tail;
  }

  HttpResponse Raw(Who who, const std::string& method, const std::string& path,
                   const Json& body = nullptr) {
    return JsonRequest(*client, who != kAnon ? sessions[who].Headers(true) : Headers{}, method,
                       path, body);
  }

  Json Call(Who who, const std::string& method, const std::string& path, const Json& body,
            int expect) {
    return ExpectStatus(Raw(who, method, path, body), expect,
                        std::string(kWhoNames[who]) + " " + method + " " + path);
  }

  int64_t PostAs(Who who, const std::string& text) {
    return Call(who, "POST", Room("/messages"), {{"body", text}}, 201)["message"]["id"];
  }
};

struct Case {
  std::string method;
  std::string pattern;  // the route's pattern in the route table
  std::function<std::string(World&)> path;
  std::function<Json(World&)> body;
  int expect[kWhoCount];
  std::function<void(World&)> before_each;  // restores what a previous caller changed
};

TEST_CASE("permission matrix: every chat route for every kind of caller", "[integration][chat]") {
  World w;
  int64_t msg = w.PostAs(kMember, "member's message");
  const std::string up = "\xf0\x9f\x91\x8d";
  auto room = [](const std::string& tail) {
    return [tail](World& w) { return w.Room(tail); };
  };
  auto message = [&msg](const std::string& tail) {
    return [&msg, tail](World&) { return "/api/v1/messages/" + std::to_string(msg) + tail; };
  };
  auto none = [](World&) { return Json(); };
  auto json = [](Json j) { return [j](World&) { return j; }; };
  const std::string R = R"(/api/v1/rooms/(\d{1,18}))";
  const std::string M = R"(/api/v1/messages/(\d{1,18}))";
  const std::string U = R"(([A-Za-z0-9._-]{1,64}))";
  std::vector<Case> cases = {
      {"GET", R, room(""), none, {401, 404, 200, 200, 200, 200}},
      {"PATCH", R, room(""), json({{"topic", "new topic"}}), {401, 404, 403, 200, 200, 200}},
      {"PATCH", R, room(""), json({{"description", "d"}}), {401, 404, 403, 403, 200, 200}},
      {"POST", R + "/archive", room("/archive"), none, {401, 404, 403, 403, 204, 204},
       [](World& w) { w.Call(kOwner, "POST", w.Room("/unarchive"), nullptr, 204); }},
      {"POST", R + "/unarchive", room("/unarchive"), none, {401, 404, 403, 403, 204, 204},
       [](World& w) { w.Call(kOwner, "POST", w.Room("/archive"), nullptr, 204); }},
      {"POST", R + "/join", room("/join"), none, {401, 404, 204, 204, 204, 403}},
      {"GET", R + "/members", room("/members"), none, {401, 404, 200, 200, 200, 200}},
      {"POST", R + "/members", room("/members"), json({{"username", "ivan"}}),
       {401, 404, 403, 204, 204, 204},
       [](World& w) { w.Raw(kOwner, "DELETE", w.Room("/members/ivan")); }},
      {"DELETE", R + "/members/" + U, room("/members/ivan"), none,
       {401, 404, 403, 204, 204, 204},
       [](World& w) { w.Call(kOwner, "POST", w.Room("/members"), {{"username", "ivan"}}, 204); }},
      {"PUT", R + "/members/" + U + "/role", room("/members/mike/role"),
       json({{"role", "member"}}), {401, 404, 403, 403, 204, 204}},
      {"PUT", R + "/star", room("/star"), json({{"starred", true}}),
       {401, 404, 204, 204, 204, 403}},
      {"PUT", R + "/read", room("/read"), json({{"seq", 1}}), {401, 404, 204, 204, 204, 403}},
      {"GET", R + "/messages", room("/messages"), none, {401, 404, 200, 200, 200, 200}},
      {"POST", R + "/messages", room("/messages"), json({{"body", "hi"}}),
       {401, 404, 201, 201, 201, 403}},
      {"GET", R + "/pins", room("/pins"), none, {401, 404, 200, 200, 200, 200}},
      {"PUT", R + "/retention", room("/retention"), json({{"messages_days", 30}}),
       {401, 404, 403, 403, 200, 200}},
      {"POST", R + "/files", room("/files?name=empty.txt"), none, {401, 404, 201, 201, 201, 403}},
      {"GET", R + "/files", room("/files"), none, {401, 404, 200, 200, 200, 200}},
      {"GET", M, message(""), none, {401, 404, 200, 200, 200, 200}},
      // The administrator holds messages.edit_any (a site-wide moderation permission).
      {"PATCH", M, message(""), json({{"body", "edited"}}), {401, 404, 200, 403, 403, 200}},
      {"GET", M + "/edits", message("/edits"), none, {401, 404, 403, 200, 200, 200}},
      {"GET", M + "/thread", message("/thread"), none, {401, 404, 200, 200, 200, 200}},
      {"PUT", M + "/follow", message("/follow"), json({{"following", true}}),
       {401, 404, 204, 204, 204, 403}},
      {"GET", M + "/reactions", message("/reactions"), none, {401, 404, 200, 200, 200, 200}},
      {"POST", M + "/reactions", message("/reactions"), json({{"emoji", up}}),
       {401, 404, 204, 204, 204, 403}},
      {"DELETE", M + "/reactions/([^/]{1,64})", message("/reactions/" + up), none,
       {401, 404, 204, 204, 204, 403}},
      {"PUT", M + "/pin", message("/pin"), json({{"pinned", true}}),
       {401, 404, 403, 204, 204, 204}},
      {"DELETE", M, message(""), none, {401, 404, 204, 204, 204, 204},
       [&msg](World& w) { msg = w.PostAs(kMember, "to be deleted"); }},
      {"POST", R + "/leave", room("/leave"), none, {401, 404, 204, 204, 204, 403},
       [](World& w) {
         for (const char* name : {"olive", "mona", "mike"}) {
           w.Call(kAdmin, "POST", w.Room("/members"), {{"username", name}}, 204);
         }
         w.Call(kAdmin, "PUT", w.Room("/members/olive/role"), {{"role", "owner"}}, 204);
         w.Call(kAdmin, "PUT", w.Room("/members/mona/role"), {{"role", "moderator"}}, 204);
       }},
      // rooms.delete is checked by the route before the room is looked up: 403 for everyone
      // without it, whether or not they can see the room.
      {"DELETE", R, room(""), none, {401, 403, 403, 403, 403, 204},
       [](World& w) {
         for (const char* name : {"olive", "mona", "mike"}) {
           w.Raw(kAdmin, "POST", w.Room("/members"), {{"username", name}});
         }
         w.Raw(kAdmin, "PUT", w.Room("/members/olive/role"), {{"role", "owner"}});
         w.Raw(kAdmin, "PUT", w.Room("/members/mona/role"), {{"role", "moderator"}});
       }},
  };
  std::set<std::pair<std::string, std::string>> covered;
  for (Case& c : cases) {
    for (int who = 0; who < kWhoCount; ++who) {
      if (c.before_each && who > kAnon) c.before_each(w);
      std::string path = c.path(w);
      Json body = c.body(w);
      for (const api::Route& route : api::RouteTable()) {
        if (route.method == c.method && route.pattern == c.pattern && route.json_body &&
            body.is_null()) {
          body = Json::object();
        }
      }
      HttpResponse r = w.Raw(static_cast<Who>(who), c.method, path, body);
      INFO(kWhoNames[who] << " " << c.method << " " << path << " -> " << r.status << " "
                          << r.body);
      CHECK(r.status == c.expect[who]);
    }
    covered.insert({c.method, c.pattern});
  }
  // Every route that names a room or a message is in the matrix.
  for (const api::Route& route : api::RouteTable()) {
    std::string p(route.pattern);
    if (p.rfind(R"(/api/v1/rooms/()", 0) != 0 && p.rfind(R"(/api/v1/messages/()", 0) != 0) {
      continue;
    }
    INFO(route.method << " " << p);
    CHECK(covered.count({std::string(route.method), p}) == 1);
  }
}

TEST_CASE("chat input errors are clear 4xx answers that change nothing", "[integration][chat]") {
  World w;
  int64_t msg = w.PostAs(kMember, "hello");
  SECTION("messages") {
    w.Call(kMember, "POST", w.Room("/messages"), {{"body", ""}}, 400);
    w.Call(kMember, "POST", w.Room("/messages"), {{"body", std::string(4001, 'x')}}, 400);
    w.Call(kMember, "POST", w.Room("/messages"), {{"text", "wrong field"}}, 400);
    w.Call(kMember, "POST", w.Room("/messages"), {{"body", 42}}, 400);
    w.Call(kMember, "POST", w.Room("/messages"), {{"body", "x"}, {"thread_root_id", "1"}}, 400);
    w.Call(kMember, "POST", "/api/v1/rooms/999999/messages", {{"body", "x"}}, 404);
    Json page = w.Call(kMember, "GET", w.Room("/messages"), nullptr, 200);
    CHECK(page["messages"].size() == 1);
  }
  SECTION("reactions") {
    w.Call(kMember, "POST", "/api/v1/messages/" + std::to_string(msg) + "/reactions",
           {{"emoji", "<img src=x>"}}, 400);
    w.Call(kMember, "POST", "/api/v1/messages/" + std::to_string(msg) + "/reactions",
           {{"emoji", "\xf0\x9f\x91\x8d\xf0\x9f\x91\x8d"}}, 204);  // a sequence is one reaction
  }
  SECTION("rooms") {
    w.Call(kMember, "POST", "/api/v1/rooms", {{"name", "ops"}}, 409);
    w.Call(kMember, "POST", "/api/v1/rooms", {{"name", "Not Valid"}}, 400);
    w.Call(kMember, "POST", "/api/v1/rooms", {{"name", "x"}, {"kind", "dm"}}, 400);
    w.Call(kOwner, "PATCH", w.Room(), Json::object(), 400);
    w.Call(kMember, "POST", "/api/v1/dms", {{"users", Json::array()}}, 400);
    w.Call(kMember, "POST", "/api/v1/dms", {{"users", {"nobody-here"}}}, 404);
  }
  SECTION("pagination cursors cannot be forged or moved to another room") {
    for (int i = 0; i < 5; ++i) w.PostAs(kMember, "filler " + std::to_string(i));
    Json page = w.Call(kMember, "GET", w.Room("/messages?limit=2"), nullptr, 200);
    std::string older = page["older"];
    Json next = w.Call(kMember, "GET", w.Room("/messages?limit=2&cursor=" + older), nullptr, 200);
    CHECK(next["messages"].size() == 2);
    std::string forged = older;
    forged[2] = forged[2] == 'A' ? 'B' : 'A';
    w.Call(kMember, "GET", w.Room("/messages?cursor=" + forged), nullptr, 400);
    w.Call(kMember, "GET", w.Room("/messages?cursor=garbage"), nullptr, 400);
    Json general = w.Call(kMember, "POST", "/api/v1/rooms", {{"name", "other"}}, 201);
    std::string other = "/api/v1/rooms/" + std::to_string(general["room"]["id"].get<int64_t>());
    w.Call(kMember, "GET", other + "/messages?cursor=" + older, nullptr, 400);
    w.Call(kMember, "GET", w.Room("/messages?limit=0"), nullptr, 400);
    w.Call(kMember, "GET", w.Room("/messages?limit=abc"), nullptr, 400);
    w.Call(kMember, "GET", w.Room("/messages?before=1&after=2"), nullptr, 400);
  }
  SECTION("search syntax") {
    w.Call(kMember, "GET", "/api/v1/search?q=%22unclosed", nullptr, 400);
    w.Call(kMember, "GET", "/api/v1/search?q=x%20before:2026-99-01", nullptr, 400);
    w.Call(kMember, "GET", "/api/v1/search?q=", nullptr, 400);
    w.Call(kMember, "GET", "/api/v1/search?q=hello&sort=random", nullptr, 400);
    Json hits = w.Call(kMember, "GET", "/api/v1/search?q=hello", nullptr, 200);
    CHECK(hits["results"].size() == 1);
    w.Call(kOutsider, "GET", "/api/v1/search?q=hello", nullptr, 200);
    Json none = w.Call(kOutsider, "GET", "/api/v1/search?q=hello", nullptr, 200);
    CHECK(none["results"].empty());  // a private room's messages are not found by outsiders
  }
}

TEST_CASE("a conversation over the API: rooms list, unread, threads, events",
          "[integration][chat]") {
  World w;
  Json rooms = w.Call(kMember, "GET", "/api/v1/rooms", nullptr, 200);
  bool has_general = false, has_ops = false;
  for (auto& r : rooms["rooms"]) {
    has_general |= r["name"] == "general";
    has_ops |= r["name"] == "ops";
  }
  CHECK(has_general);  // the default room every user joins
  CHECK(has_ops);
  Json ev0 = w.Call(kMember, "GET", "/api/v1/events", nullptr, 200);
  int64_t cursor = ev0["latest"];
  Json posted = w.Call(kOwner, "POST", w.Room("/messages"),
                       {{"body", "@mike please check @oscar"}, {"client_id", "c-1"}}, 201);
  CHECK(posted["not_in_room"] == Json::array({"oscar"}));
  Json retried = w.Call(kOwner, "POST", w.Room("/messages"),
                        {{"body", "@mike please check @oscar"}, {"client_id", "c-1"}}, 200);
  CHECK(retried["duplicate"] == true);
  CHECK(retried["message"]["id"] == posted["message"]["id"]);
  int64_t root = posted["message"]["id"];
  w.Call(kMember, "POST", w.Room("/messages"), {{"body", "on it"}, {"thread_root_id", root}},
         201);
  Json mine = w.Call(kMember, "GET", "/api/v1/rooms", nullptr, 200);
  for (auto& r : mine["rooms"]) {
    if (r["name"] == "ops") {
      CHECK(r["unread"] == 1);
      CHECK(r["mentions"] == 1);
    }
  }
  Json thread = w.Call(kOwner, "GET", "/api/v1/messages/" + std::to_string(root) + "/thread",
                       nullptr, 200);
  CHECK(thread["root"]["reply_count"] == 1);
  CHECK(thread["replies"][0]["body"] == "on it");
  Json events = w.Call(kMember, "GET", "/api/v1/events?after=" + std::to_string(cursor),
                       nullptr, 200);
  std::vector<std::string> types;
  for (auto& e : events["events"]) types.push_back(e["type"]);
  CHECK(std::count(types.begin(), types.end(), "message.created") == 1);
  CHECK(std::count(types.begin(), types.end(), "thread.reply") == 1);
  CHECK(std::count(types.begin(), types.end(), "notification") == 1);
  // The outsider's replay holds nothing of the private room.
  Json outsider = w.Call(kOutsider, "GET", "/api/v1/events?after=" + std::to_string(cursor),
                         nullptr, 200);
  for (auto& e : outsider["events"]) CHECK(e["room_id"] != w.room);
  w.Call(kMember, "PUT", w.Room("/read"),
         {{"seq", posted["message"]["seq"].get<int64_t>()}}, 204);
  Json after = w.Call(kMember, "GET", "/api/v1/rooms", nullptr, 200);
  for (auto& r : after["rooms"]) {
    if (r["name"] == "ops") CHECK(r["unread"] == 0);
  }
  Json people = w.Call(kMember, "GET", "/api/v1/people?q=mon", nullptr, 200);
  REQUIRE(people["people"].size() == 1);
  CHECK(people["people"][0]["username"] == "mona");
}

}  // namespace
}  // namespace outpost::testing
