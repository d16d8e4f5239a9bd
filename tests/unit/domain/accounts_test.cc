#include "domain/accounts.h"

#include <catch2/catch.hpp>

#include "domain/passwords.h"
#include "domain/sessions.h"
#include "support/temp_dir.h"
#include "support/test_database.h"

namespace outpost::domain {
namespace {

constexpr const char* kGoodPassword = "a long enough passphrase";

struct Fixture {
  testing::TempDir dir;
  std::unique_ptr<storage::Database> db;
  FakeClock clock;
  std::unique_ptr<Accounts> accounts;
  std::unique_ptr<Sessions> sessions;
  std::unique_ptr<ApiTokens> tokens;

  Fixture() {
    db = testing::NewTestDatabase(dir.Sub("o.db"));
    accounts = std::make_unique<Accounts>(db.get(), &clock, AccountPolicy{});
    SessionPolicy sp;
    sp.idle_timeout_ms = 15 * 60 * 1000;
    sp.absolute_timeout_ms = 12 * 3600 * 1000;
    sessions = std::make_unique<Sessions>(db.get(), &clock, sp);
    tokens = std::make_unique<ApiTokens>(db.get(), &clock);
  }

  User MakeUser(const std::string& name, const char* role = kRoleUser) {
    auto u = accounts->Create(name, name + " Display", role, kGoodPassword);
    REQUIRE(u.ok());
    return *u;
  }
};

TEST_CASE("password hashes are argon2id, salted, and verify only the right password",
          "[unit][domain][passwords]") {
  auto a = HashPassword("correct horse battery", HashCost::kInteractive);
  auto b = HashPassword("correct horse battery", HashCost::kInteractive);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->rfind("$argon2id$", 0) == 0);
  CHECK(*a != *b);  // fresh salt every time
  CHECK(VerifyPassword(*a, "correct horse battery"));
  CHECK_FALSE(VerifyPassword(*a, "correct horse batterY"));
  CHECK_FALSE(VerifyPassword(*a, ""));
  CHECK_FALSE(VerifyPassword("not a hash", "correct horse battery"));
  CHECK_FALSE(NeedsRehash(*a, HashCost::kInteractive));
  CHECK(NeedsRehash(*a, HashCost::kModerate));
}

TEST_CASE("the password policy counts characters, not bytes, and names the rule broken",
          "[unit][domain][passwords]") {
  CHECK(CheckPasswordPolicy("fifteen chars!!", "bob", 15, 128).ok());
  Status short_pw = CheckPasswordPolicy("fourteen chars", "bob", 15, 128);
  CHECK(short_pw.code() == Code::kInvalidArgument);
  CHECK_THAT(short_pw.message(), Catch::Contains("at least 15"));
  // 15 characters of two bytes each is 30 bytes but still 15 characters (Greek letters from
  // alpha on: one letter repeated would be refused as a repeated piece).
  std::string greek;
  for (int i = 0; i < 15; ++i) greek += std::string{'\xce', static_cast<char>(0xb1 + i)};
  CHECK(CheckPasswordPolicy(greek, "bob", 15, 15).ok());
  CHECK(CheckPasswordPolicy(greek + "\xce\xb1", "bob", 15, 15).code() == Code::kInvalidArgument);
  CHECK_THAT(CheckPasswordPolicy("\xff\xfe invalid utf8 bytes", "bob", 8, 128).message(),
             Catch::Contains("UTF-8"));
  CHECK_THAT(CheckPasswordPolicy("AdministratorX1", "administratorx1", 8, 128).message(),
             Catch::Contains("user name"));
  CHECK(Utf8Length("\xc0\x80") == -1);  // overlong NUL
  CHECK(Utf8Length("\xed\xa0\x80") == -1);  // surrogate
  CHECK(Utf8Length("a\xf0\x9f\x98\x80") == 2);
}

TEST_CASE("user names are checked and unique without regard to case", "[unit][domain][accounts]") {
  Fixture f;
  f.MakeUser("alice");
  auto dup = f.accounts->Create("ALICE", "Alice", kRoleUser, kGoodPassword);
  REQUIRE_FALSE(dup.ok());
  CHECK(dup.status().code() == Code::kAlreadyExists);
  for (const char* bad : {"", "-alice", "al ice", "al/ice", "al\xc3\xa9"}) {
    auto u = f.accounts->Create(bad, "x", kRoleUser, kGoodPassword);
    CHECK(u.status().code() == Code::kInvalidArgument);
  }
  CHECK(f.accounts->Create("bob", "Bob", "root", kGoodPassword).status().code() ==
        Code::kInvalidArgument);
  CHECK(f.accounts->Create("bob", "Bob\x01", kRoleUser, kGoodPassword).status().code() ==
        Code::kInvalidArgument);
  CHECK(f.accounts->Create("bob", "Bob", kRoleUser, "short").status().code() ==
        Code::kInvalidArgument);
  auto list = f.accounts->List();
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);  // none of the refused ones was stored
  CHECK((*list)[0].username == "alice");
  auto found = f.accounts->FindByName("Alice");
  REQUIRE(found.ok());
  CHECK(found->display_name == "alice Display");
  CHECK(f.accounts->FindByName("nobody").status().IsNotFound());
}

TEST_CASE("authentication refuses wrong passwords and unknown users alike, and disabled users",
          "[unit][domain][accounts]") {
  Fixture f;
  User alice = f.MakeUser("alice");
  auto ok = f.accounts->Authenticate("alice", kGoodPassword);
  REQUIRE(ok.ok());
  CHECK(ok->id == alice.id);
  auto wrong = f.accounts->Authenticate("alice", "a long enough passphrasE");
  auto unknown = f.accounts->Authenticate("mallory", kGoodPassword);
  CHECK(wrong.status().code() == Code::kUnauthenticated);
  CHECK(unknown.status().code() == Code::kUnauthenticated);
  CHECK(wrong.status().message() == unknown.status().message());
  REQUIRE(f.accounts->SetDisabled("alice", true).ok());
  auto disabled = f.accounts->Authenticate("alice", kGoodPassword);
  CHECK(disabled.status().code() == Code::kFailedPrecondition);
  // A disabled account still gives nothing away to someone without the password.
  CHECK(f.accounts->Authenticate("alice", "wrong wrong wrong").status().code() ==
        Code::kUnauthenticated);
  REQUIRE(f.accounts->SetDisabled("alice", false).ok());
  CHECK(f.accounts->Authenticate("alice", kGoodPassword).ok());
  CHECK(f.accounts->SetDisabled("nobody", true).IsNotFound());
}

TEST_CASE("a password reset takes effect and ends the user's sessions", "[unit][domain][accounts]") {
  Fixture f;
  User alice = f.MakeUser("alice");
  std::string token;
  REQUIRE(f.sessions->Create(alice.id, "127.0.0.1", "test", &token).ok());
  REQUIRE(f.sessions->Authenticate(token).ok());
  REQUIRE(f.accounts->ResetPassword("alice", "a brand new passphrase").ok());
  CHECK(f.sessions->Authenticate(token).status().code() == Code::kUnauthenticated);
  CHECK_FALSE(f.accounts->Authenticate("alice", kGoodPassword).ok());
  CHECK(f.accounts->Authenticate("alice", "a brand new passphrase").ok());
  CHECK(f.accounts->ResetPassword("alice", "tiny").code() == Code::kInvalidArgument);
  CHECK(f.accounts->ResetPassword("nobody", "a brand new passphrase").IsNotFound());
}

TEST_CASE("sessions end after the idle timeout, and activity keeps them alive",
          "[unit][domain][sessions]") {
  Fixture f;
  User alice = f.MakeUser("alice");
  std::string token;
  auto s = f.sessions->Create(alice.id, "127.0.0.1", "test", &token);
  REQUIRE(s.ok());
  CHECK(token.size() == 43);
  CHECK(s->csrf_token.size() == 43);
  CHECK(s->csrf_token != token);
  // Ten minutes of silence, then a request: still signed in, and the idle clock restarts.
  f.clock.Advance(10 * 60 * 1000);
  REQUIRE(f.sessions->Authenticate(token).ok());
  f.clock.Advance(10 * 60 * 1000);
  auto p = f.sessions->Authenticate(token);
  REQUIRE(p.ok());
  CHECK(p->user.username == "alice");
  // Then more than fifteen minutes of silence ends it for good.
  f.clock.Advance(15 * 60 * 1000 + 1);
  CHECK(f.sessions->Authenticate(token).status().code() == Code::kUnauthenticated);
  f.clock.Advance(-20 * 60 * 1000);
  CHECK_FALSE(f.sessions->Authenticate(token).ok());  // the expired row was deleted
}

TEST_CASE("sessions end at the absolute timeout however active they are",
          "[unit][domain][sessions]") {
  Fixture f;
  User alice = f.MakeUser("alice");
  std::string token;
  REQUIRE(f.sessions->Create(alice.id, "", "", &token).ok());
  for (int i = 0; i < 12 * 6 - 1; ++i) {
    f.clock.Advance(10 * 60 * 1000);
    REQUIRE(f.sessions->Authenticate(token).ok());
  }
  f.clock.Advance(10 * 60 * 1000);
  CHECK_FALSE(f.sessions->Authenticate(token).ok());
}

TEST_CASE("only the token's hash is stored, and malformed or revoked tokens are refused",
          "[unit][domain][sessions]") {
  Fixture f;
  User alice = f.MakeUser("alice");
  std::string token;
  REQUIRE(f.sessions->Create(alice.id, "", "", &token).ok());
  int64_t plain_copies = -1;
  REQUIRE(f.db->Read([&](storage::Connection& c) {
    auto s = c.Prepare("SELECT count(*) FROM sessions WHERE token_hash = ? OR csrf_token = ?");
    s->BindBlob(1, token).Bind(2, token);
    REQUIRE(*s->Step());
    plain_copies = s->ColumnInt64(0);
    return Status::Ok();
  }).ok());
  CHECK(plain_copies == 0);
  for (std::string bad : {std::string(""), std::string("x"), token + "a", token.substr(1),
                          std::string(43, '!')}) {
    CHECK(f.sessions->Authenticate(bad).status().code() == Code::kUnauthenticated);
  }
  REQUIRE(f.sessions->Revoke(token).ok());
  CHECK_FALSE(f.sessions->Authenticate(token).ok());
}

TEST_CASE("disabling a user ends their sessions and refuses their API tokens",
          "[unit][domain][sessions]") {
  Fixture f;
  User alice = f.MakeUser("alice");
  std::string session, secret;
  REQUIRE(f.sessions->Create(alice.id, "", "", &session).ok());
  auto tok = f.tokens->Create(alice.id, "ci bot", 0, &secret);
  REQUIRE(tok.ok());
  CHECK(secret.rfind("opt_", 0) == 0);
  REQUIRE(f.tokens->Authenticate(secret).ok());
  REQUIRE(f.accounts->SetDisabled("alice", true).ok());
  CHECK_FALSE(f.sessions->Authenticate(session).ok());
  CHECK_FALSE(f.tokens->Authenticate(secret).ok());
  REQUIRE(f.accounts->SetDisabled("alice", false).ok());
  CHECK(f.tokens->Authenticate(secret).ok());  // tokens come back with the account
  CHECK_FALSE(f.sessions->Authenticate(session).ok());  // sessions do not
}

TEST_CASE("API tokens expire, can be listed without secrets, and revoked by their owner only",
          "[unit][domain][tokens]") {
  Fixture f;
  User alice = f.MakeUser("alice");
  User bob = f.MakeUser("bob");
  std::string secret;
  auto tok = f.tokens->Create(alice.id, "nightly export", f.clock.NowMillis() + 3600 * 1000,
                              &secret);
  REQUIRE(tok.ok());
  auto p = f.tokens->Authenticate(secret);
  REQUIRE(p.ok());
  CHECK(p->user.id == alice.id);
  CHECK(p->api_token_id == tok->id);
  CHECK(p->session.id == 0);
  auto list = f.tokens->List(alice.id);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 1);
  CHECK((*list)[0].name == "nightly export");
  CHECK((*list)[0].last_used_at == f.clock.NowMillis());
  CHECK(f.tokens->Revoke(bob.id, tok->id).IsNotFound());
  f.clock.Advance(3600 * 1000);
  CHECK_FALSE(f.tokens->Authenticate(secret).ok());
  REQUIRE(f.tokens->Revoke(alice.id, tok->id).ok());
  CHECK(f.tokens->List(alice.id)->empty());
  CHECK(f.tokens->Create(alice.id, "", 0, &secret).status().code() == Code::kInvalidArgument);
  CHECK(f.tokens->Create(alice.id, "x", f.clock.NowMillis() - 1, &secret).status().code() ==
        Code::kInvalidArgument);
  CHECK(f.tokens->Authenticate("opt_" + std::string(43, 'A')).status().code() ==
        Code::kUnauthenticated);
  CHECK(f.tokens->Authenticate(std::string(47, 'A')).status().code() == Code::kUnauthenticated);
}

TEST_CASE("expired sessions are purged", "[unit][domain][sessions]") {
  Fixture f;
  User alice = f.MakeUser("alice");
  std::string a, b;
  REQUIRE(f.sessions->Create(alice.id, "", "", &a).ok());
  f.clock.Advance(14 * 60 * 1000);
  REQUIRE(f.sessions->Create(alice.id, "", "", &b).ok());
  f.clock.Advance(2 * 60 * 1000);
  auto purged = f.sessions->PurgeExpired();
  REQUIRE(purged.ok());
  CHECK(*purged == 1);
  CHECK(f.sessions->Authenticate(b).ok());
}

}  // namespace
}  // namespace outpost::domain
