// History and search latency over a large chat database, through the domain layer the API
// uses (not raw SQL), so the figures include access checks, reactions and authors.
//
//   outpost_chat_bench [--messages 1000000] [--rooms 1000] [--users 500] [--queries 2000]
//                      [--dir DIR]
//
// Population goes through plain SQL in large transactions (with the full-text triggers
// active); only the measured calls go through Messages and Search. Prints one line per figure.
#include <sodium.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "domain/accounts.h"
#include "domain/messages.h"
#include "domain/rooms.h"
#include "domain/search.h"
#include "storage/database.h"

namespace {

using outpost::Status;
using namespace outpost::domain;
using outpost::storage::Connection;
using outpost::storage::Statement;

struct Options {
  int64_t messages = 1000000;
  int rooms = 1000;
  int users = 500;
  int queries = 2000;
  std::string dir;
};

void Die(const Status& st, const char* what) {
  if (st.ok()) return;
  fprintf(stderr, "chat_bench: %s: %s\n", what, st.ToString().c_str());
  exit(1);
}

// Words drawn with a Zipf-like skew so that some are common and most are rare, as in chat.
class Words {
 public:
  explicit Words(std::mt19937_64* rng) : rng_(rng) {
    const char* common[] = {"the", "deploy", "status", "report", "meeting", "server", "update",
                            "check", "please", "today", "tomorrow", "review", "ticket", "team",
                            "shift", "radio", "patrol", "supply", "convoy", "briefing"};
    for (const char* w : common) words_.push_back(w);
    for (int i = 0; i < 20000; ++i) words_.push_back("w" + std::to_string(i));
  }
  const std::string& Pick() {
    double u = std::uniform_real_distribution<double>(0, 1)(*rng_);
    size_t i = static_cast<size_t>(std::pow(u, 3.0) * static_cast<double>(words_.size()));
    return words_[std::min(i, words_.size() - 1)];
  }
  std::string Sentence(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += (i ? " " : "") + Pick();
    return s;
  }

 private:
  std::mt19937_64* rng_;
  std::vector<std::string> words_;
};

struct Stats {
  std::vector<double> ms;
  void Print(const char* name) {
    std::sort(ms.begin(), ms.end());
    auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<size_t>(q * ms.size()))]; };
    printf("%-28s n=%zu p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms\n", name, ms.size(), at(0.5),
           at(0.9), at(0.99), ms.back());
  }
};

template <typename F>
double TimeMs(F&& f) {
  auto t0 = std::chrono::steady_clock::now();
  f();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    if (k == "--messages") o.messages = std::stoll(argv[i + 1]);
    else if (k == "--rooms") o.rooms = std::stoi(argv[i + 1]);
    else if (k == "--users") o.users = std::stoi(argv[i + 1]);
    else if (k == "--queries") o.queries = std::stoi(argv[i + 1]);
    else if (k == "--dir") o.dir = argv[i + 1];
    else {
      fprintf(stderr, "chat_bench: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (sodium_init() < 0) return 1;
  std::string dir = o.dir;
  if (dir.empty()) {
    char tmpl[] = "/tmp/outpost-chat-bench-XXXXXX";
    dir = mkdtemp(tmpl);
  }
  std::mt19937_64 rng(42);
  Words words(&rng);
  outpost::storage::OpenOptions open;
  open.create = true;
  Die(outpost::storage::Database::Open(dir + "/bench.db", open).status(), "create");
  // Population writes through one unsynchronized connection in large transactions; the
  // measured part reopens the database as the server does.
  auto raw = Connection::Open(dir + "/bench.db", outpost::storage::OpenOptions{});
  Die(raw.status(), "open");
  Die((*raw)->Exec("PRAGMA synchronous=OFF"), "pragma");
  auto write = [&](const std::function<Status(Connection&)>& fn) {
    Die((*raw)->Exec("BEGIN"), "begin");
    Status st = fn(**raw);
    if (st.ok()) st = (*raw)->Exec("COMMIT");
    return st;
  };

  // --- population -----------------------------------------------------------------------
  double populate_ms = TimeMs([&] {
    Die(write([&](Connection& c) {
          auto u = c.Prepare("INSERT INTO users(username, display_name, role, created_at, "
                             "updated_at) VALUES(?, ?, 'user', 0, 0)");
          for (int i = 0; i < o.users; ++i) {
            u->Reset();
            u->Bind(1, "user" + std::to_string(i)).Bind(2, "User " + std::to_string(i));
            Die(u->Run(), "user");
          }
          auto r = c.Prepare("INSERT INTO rooms(kind, name, created_at, updated_at) "
                             "VALUES('public', ?, 0, 0)");
          for (int i = 0; i < o.rooms; ++i) {
            r->Reset();
            r->Bind(1, "room-" + std::to_string(i));
            Die(r->Run(), "room");
          }
          // Each user belongs to about 50 rooms.
          auto m = c.Prepare("INSERT OR IGNORE INTO room_members(room_id, user_id, joined_at) "
                             "VALUES(?, ?, 0)");
          for (int u_id = 1; u_id <= o.users; ++u_id) {
            for (int k = 0; k < 50; ++k) {
              m->Reset();
              m->Bind(1, static_cast<int64_t>(rng() % o.rooms) + 1).Bind(2, int64_t{u_id});
              Die(m->Run(), "member");
            }
          }
          return Status::Ok();
        }),
        "users and rooms");
    std::vector<int64_t> seq(static_cast<size_t>(o.rooms) + 1, 0);
    const int64_t batch = 50000;
    for (int64_t done = 0; done < o.messages; done += batch) {
      Die(write([&](Connection& c) {
            auto ins = c.Prepare("INSERT INTO messages(room_id, seq, author_id, body, created_at) "
                                 "VALUES(?, ?, ?, ?, ?)");
            for (int64_t i = done; i < std::min(done + batch, o.messages); ++i) {
              int64_t room = static_cast<int64_t>(rng() % o.rooms) + 1;
              ins->Reset();
              ins->Bind(1, room).Bind(2, ++seq[static_cast<size_t>(room)]);
              ins->Bind(3, static_cast<int64_t>(rng() % o.users) + 1);
              ins->Bind(4, words.Sentence(5 + static_cast<int>(rng() % 15)));
              ins->Bind(5, int64_t{1700000000000} + i * 1000);
              Die(ins->Run(), "message");
            }
            return Status::Ok();
          }),
          "messages");
      fprintf(stderr, "\rpopulated %lld messages", static_cast<long long>(done + batch));
    }
    fprintf(stderr, "\n");
    Die(write([&](Connection& c) {
          auto up = c.Prepare("UPDATE rooms SET last_seq = ? WHERE id = ?");
          for (int i = 1; i <= o.rooms; ++i) {
            up->Reset();
            up->Bind(1, seq[static_cast<size_t>(i)]).Bind(2, int64_t{i});
            Die(up->Run(), "last_seq");
          }
          return c.Exec("ANALYZE");
        }),
        "finish");
  });
  raw->reset();
  auto opened = outpost::storage::Database::Open(dir + "/bench.db", outpost::storage::OpenOptions{});
  Die(opened.status(), "open");
  auto& db = *opened;
  printf("populated %lld messages in %d rooms (%d users) in %.1fs, database %.0f MiB\n",
         static_cast<long long>(o.messages), o.rooms, o.users, populate_ms / 1000,
         static_cast<double>(db->SizeBytes()) / (1 << 20));

  // --- measurements ---------------------------------------------------------------------
  outpost::FakeClock clock;
  ChatOptions chat;
  Messages messages(db.get(), &clock, nullptr, chat);
  Search search(db.get(), &messages);
  auto reader = [&](int64_t id) {
    User u;
    u.id = id;
    u.username = "user" + std::to_string(id - 1);
    u.role = kRoleUser;
    return u;
  };
  Stats latest, before, around, search_word, search_two, search_prefix, search_phrase;
  for (int q = 0; q < o.queries; ++q) {
    User u = reader(static_cast<int64_t>(rng() % o.users) + 1);
    int64_t room = static_cast<int64_t>(rng() % o.rooms) + 1;
    Page page;
    latest.ms.push_back(TimeMs([&] {
      auto p = messages.History(u, room, Anchor::kLatest, 0, 50);
      Die(p.status(), "history");
      page = std::move(*p);
    }));
    int64_t last = page.messages.empty() ? 1 : page.messages.front().seq;
    int64_t target = 1 + static_cast<int64_t>(rng() % static_cast<uint64_t>(last));
    before.ms.push_back(TimeMs(
        [&] { Die(messages.History(u, room, Anchor::kBefore, target, 50).status(), "before"); }));
    around.ms.push_back(TimeMs(
        [&] { Die(messages.History(u, room, Anchor::kAround, target, 50).status(), "around"); }));
    auto run = [&](Stats& s, const std::string& text) {
      auto query = ParseSearchQuery(text);
      Die(query.status(), "parse");
      s.ms.push_back(TimeMs([&] {
        Die(search.Run(u, *query, SearchOrder::kNewest, 0, 20).status(), "search");
      }));
    };
    run(search_word, words.Pick());
    run(search_two, words.Pick() + " " + words.Pick());
    std::string w = words.Pick();
    run(search_prefix, w.substr(0, std::max<size_t>(2, w.size() - 1)) + "*");
    run(search_phrase, "\"" + words.Pick() + " " + words.Pick() + "\"");
  }
  latest.Print("history latest 50");
  before.Print("history before, 50");
  around.Print("history around, 50");
  search_word.Print("search one word, newest 20");
  search_two.Print("search two words");
  search_prefix.Print("search prefix*");
  search_phrase.Print("search phrase");
  if (o.dir.empty()) std::filesystem::remove_all(dir);
  return 0;
}
