// Account lockout, the hourly cap on evaluated failures, and the stig password rules that need
// an account's records (history, minimum and maximum age), all with a fake clock.
#include <catch2/catch.hpp>

#include "domain/accounts.h"
#include "domain/audit.h"
#include "domain/sessions.h"
#include "support/temp_dir.h"
#include "support/test_database.h"

namespace outpost::domain {
namespace {

constexpr int64_t kMinute = 60 * 1000;
constexpr int64_t kDay = 24 * 60 * kMinute;
constexpr const char* kPassword = "Ripe plums in July 4";
constexpr const char* kWrong = "Ripe plums in July 5";

struct Fixture {
  testing::TempDir dir;
  FakeClock clock;
  AccountPolicy policy;
  std::unique_ptr<storage::Database> db;
  std::unique_ptr<AuditLog> audit;
  std::unique_ptr<Accounts> accounts;

  explicit Fixture(AccountPolicy p = {}) : policy(std::move(p)) { Open(); }

  // (Re)opens the database file and everything on it, as a restarted server does.
  void Open() {
    accounts.reset();
    audit.reset();
    db.reset();
    db = testing::NewTestDatabase(dir.Sub("o.db"));
    audit = std::make_unique<AuditLog>(db.get(), &clock, nullptr);
    accounts = std::make_unique<Accounts>(db.get(), &clock, policy);
    accounts->SetAuditLog(audit.get());
  }

  User MakeUser(const std::string& name, const std::string& password = kPassword) {
    auto u = accounts->Create(name, name, kRoleUser, password);
    REQUIRE(u.ok());
    return *u;
  }

  // Signs in and returns the failure reason ("" on success).
  std::string Try(const std::string& name, const std::string& password) {
    LoginAttempt attempt;
    attempt.source_ip = "192.0.2.7";
    Result<User> r = accounts->Authenticate(name, password, &attempt);
    if (r.ok()) return "";
    CHECK(r.status().code() == Code::kUnauthenticated);
    CHECK(r.status().message() == kLoginFailedMessage);  // the same answer, whatever the cause
    return attempt.failure;
  }

  std::vector<AuditRecord> Records(const std::string& action) {
    AuditQuery q;
    q.action_prefix = action;
    auto r = audit->Query(q);
    REQUIRE(r.ok());
    return *r;
  }
};

AccountPolicy StigPolicy() {
  AccountPolicy p;
  p.password_profile = PasswordProfile::kStig;
  return p;
}

TEST_CASE("three failed sign-ins within the window lock the account, and then even the right "
          "password gets the generic answer",
          "[unit][domain][lockout]") {
  Fixture f;
  f.MakeUser("alice");
  CHECK(f.Try("alice", kWrong) == "wrong_password");
  f.clock.Advance(5 * kMinute);
  CHECK(f.Try("alice", kWrong) == "wrong_password");
  CHECK_FALSE(f.accounts->GetLockState("alice")->locked);
  CHECK(f.accounts->GetLockState("alice")->recent_failures == 2);
  f.clock.Advance(5 * kMinute);
  LoginAttempt third;
  third.source_ip = "192.0.2.7";
  CHECK_FALSE(f.accounts->Authenticate("alice", kWrong, &third).ok());
  CHECK(third.locked_now);
  LockState lock = *f.accounts->GetLockState("alice");
  CHECK(lock.locked);
  CHECK(lock.locked_until == f.clock.NowMillis() + 15 * kMinute);
  // Locked: the right password is not even checked, yet argon2id still runs (a dummy hash), so
  // the answer takes as long as any other and tells nothing.
  uint64_t runs = f.accounts->argon2_runs();
  CHECK(f.Try("alice", kPassword) == "locked");
  CHECK(f.accounts->argon2_runs() == runs + 1);
  CHECK(f.Try("mallory", kPassword) == "unknown_user");
  auto lockouts = f.Records("auth.lockout");
  REQUIRE(lockouts.size() == 1);
  CHECK(lockouts[0].target == "user:alice");
  CHECK(lockouts[0].source_ip == "192.0.2.7");
  CHECK(lockouts[0].outcome == "denied");
}

TEST_CASE("failures further apart than the window do not lock", "[unit][domain][lockout]") {
  Fixture f;
  f.MakeUser("alice");
  CHECK(f.Try("alice", kWrong) == "wrong_password");
  CHECK(f.Try("alice", kWrong) == "wrong_password");
  f.clock.Advance(15 * kMinute + 1);  // the first two fall out of the window
  CHECK(f.Try("alice", kWrong) == "wrong_password");
  CHECK_FALSE(f.accounts->GetLockState("alice")->locked);
  CHECK(f.Try("alice", kPassword).empty());
  CHECK(f.Records("auth.lockout").empty());
}

TEST_CASE("a successful sign-in resets the count of failures", "[unit][domain][lockout]") {
  Fixture f;
  f.MakeUser("alice");
  CHECK(f.Try("alice", kWrong) == "wrong_password");
  CHECK(f.Try("alice", kWrong) == "wrong_password");
  CHECK(f.Try("alice", kPassword).empty());
  CHECK(f.accounts->GetLockState("alice")->recent_failures == 0);
  CHECK(f.Try("alice", kWrong) == "wrong_password");
  CHECK(f.Try("alice", kWrong) == "wrong_password");
  CHECK_FALSE(f.accounts->GetLockState("alice")->locked);
  CHECK(f.Try("alice", kPassword).empty());
}

TEST_CASE("a lock ends by itself after lockout_minutes and the end is audited",
          "[unit][domain][lockout]") {
  Fixture f;
  f.MakeUser("alice");
  for (int i = 0; i < 3; ++i) CHECK(f.Try("alice", kWrong) == "wrong_password");
  f.clock.Advance(15 * kMinute - 1);
  CHECK(f.Try("alice", kPassword) == "locked");
  f.clock.Advance(1);
  CHECK(f.Try("alice", kPassword).empty());
  auto unlocks = f.Records("auth.unlock");
  REQUIRE(unlocks.size() == 1);
  CHECK(unlocks[0].target == "user:alice");
  CHECK_THAT(unlocks[0].details, Catch::Contains("expired"));
  // The failures before the lock do not count toward the next one.
  CHECK(f.Try("alice", kWrong) == "wrong_password");
  CHECK_FALSE(f.accounts->GetLockState("alice")->locked);
}

TEST_CASE("with lockout_minutes 0 only an administrator ends the lock", "[unit][domain][lockout]") {
  AccountPolicy p;
  p.lockout_minutes = 0;
  Fixture f(p);
  f.MakeUser("alice");
  for (int i = 0; i < 3; ++i) CHECK(f.Try("alice", kWrong) == "wrong_password");
  CHECK(f.accounts->GetLockState("alice")->locked_until == 0);
  f.clock.Advance(30 * kDay);
  CHECK(f.Try("alice", kPassword) == "locked");
  bool was_locked = false;
  REQUIRE(f.accounts->Unlock("alice", &was_locked).ok());
  CHECK(was_locked);
  CHECK(f.Try("alice", kPassword).empty());
  REQUIRE(f.accounts->Unlock("alice", &was_locked).ok());
  CHECK_FALSE(was_locked);
  CHECK(f.accounts->Unlock("nobody").IsNotFound());
}

TEST_CASE("the lockout survives reopening the database", "[unit][domain][lockout]") {
  Fixture f;
  f.MakeUser("alice");
  for (int i = 0; i < 3; ++i) CHECK(f.Try("alice", kWrong) == "wrong_password");
  f.Open();  // a restart: nothing kept in memory
  CHECK(f.accounts->GetLockState("alice")->locked);
  CHECK(f.Try("alice", kPassword) == "locked");
  f.clock.Advance(15 * kMinute);
  CHECK(f.Try("alice", kPassword).empty());
}

TEST_CASE("past the hourly cap of failures no argon2id runs at all, for known and unknown names",
          "[unit][domain][lockout]") {
  AccountPolicy p;
  p.lockout_attempts = 0;  // no lockout: only the cap holds
  p.max_failures_per_hour = 4;
  Fixture f(p);
  f.MakeUser("alice");
  for (int i = 0; i < 4; ++i) CHECK(f.Try("alice", kWrong) == "wrong_password");
  CHECK_FALSE(f.accounts->GetLockState("alice")->locked);
  uint64_t runs = f.accounts->argon2_runs();
  CHECK(f.Try("alice", kWrong) == "hourly_cap");
  CHECK(f.Try("alice", kPassword) == "hourly_cap");  // even the right one: not evaluated
  CHECK(f.accounts->argon2_runs() == runs);
  // Names that match no account: the same cap, kept in memory.
  for (int i = 0; i < 4; ++i) CHECK(f.Try("Mallory", kWrong) == "unknown_user");
  runs = f.accounts->argon2_runs();
  CHECK(f.Try("mallory", kWrong) == "hourly_cap");
  CHECK(f.accounts->argon2_runs() == runs);
  // An hour after the first failure they count no more.
  f.clock.Advance(60 * kMinute);
  CHECK(f.Try("alice", kPassword).empty());
  CHECK(f.Try("mallory", kWrong) == "unknown_user");
}

TEST_CASE("the hourly cap also bounds attempts against a locked account",
          "[unit][domain][lockout]") {
  AccountPolicy p;
  p.max_failures_per_hour = 5;
  p.lockout_minutes = 0;
  Fixture f(p);
  f.MakeUser("alice");
  for (int i = 0; i < 3; ++i) CHECK(f.Try("alice", kWrong) == "wrong_password");
  CHECK(f.Try("alice", kWrong) == "locked");
  CHECK(f.Try("alice", kWrong) == "locked");
  uint64_t runs = f.accounts->argon2_runs();
  CHECK(f.Try("alice", kWrong) == "hourly_cap");
  CHECK(f.accounts->argon2_runs() == runs);
}

TEST_CASE("stig: a password expires after the maximum age; nist never expires one",
          "[unit][domain][passwords][lockout]") {
  Fixture stig(StigPolicy());
  User alice = stig.MakeUser("alice");
  stig.clock.Advance(60 * kDay - 1);
  auto before = stig.accounts->Authenticate("alice", kPassword);
  REQUIRE(before.ok());
  CHECK_FALSE(before->password_expired);
  CHECK_FALSE(*stig.accounts->PasswordChangeRequired(alice.id));
  stig.clock.Advance(1);
  auto after = stig.accounts->Authenticate("alice", kPassword);
  REQUIRE(after.ok());  // the sign-in succeeds, into the must-change state
  CHECK(after->password_expired);
  CHECK(*stig.accounts->PasswordChangeRequired(alice.id));
  CHECK(stig.accounts->FindById(alice.id)->password_expired);
  REQUIRE(stig.accounts->ChangePassword(alice.id, kPassword, "Sour cherries in May 5", 0).ok());
  CHECK_FALSE(*stig.accounts->PasswordChangeRequired(alice.id));

  Fixture nist;
  User bob = nist.MakeUser("bob");
  nist.clock.Advance(1000 * kDay);
  CHECK_FALSE(*nist.accounts->PasswordChangeRequired(bob.id));
  CHECK_FALSE(nist.accounts->Authenticate("bob", kPassword)->password_expired);
}

TEST_CASE(
    "stig: a user may change the password again only after the minimum age; an "
    "administrator's reset is exempt and gives a temporary password",
    "[unit][domain][passwords][lockout]") {
  Fixture f(StigPolicy());
  User alice = f.MakeUser("alice");
  f.clock.Advance(kDay - 1);
  auto early = f.accounts->ChangePassword(alice.id, kPassword, "Sour cherries in May 5", 0);
  CHECK(early.status().code() == Code::kFailedPrecondition);
  CHECK_THAT(early.status().message(), Catch::Contains("less than 1 day"));
  CHECK(f.Try("alice", kPassword).empty());  // nothing changed
  CHECK_FALSE(*f.accounts->PasswordChangeRequired(alice.id));
  REQUIRE(f.accounts->ResetPassword("alice", "Sour cherries in May 5").ok());
  // The administrator knows the new password: it is temporary, and signing in with it leads
  // only to changing it, which the minimum age does not hold back.
  auto signed_in = f.accounts->Authenticate("alice", "Sour cherries in May 5");
  REQUIRE(signed_in.ok());
  CHECK(signed_in->password_expired);
  CHECK(*f.accounts->PasswordChangeRequired(alice.id));
  CHECK(f.accounts->FindByName("alice")->password_expired);
  REQUIRE(f.accounts->ChangePassword(alice.id, "Sour cherries in May 5", "Green figs in June 6", 0)
              .ok());
  CHECK_FALSE(*f.accounts->PasswordChangeRequired(alice.id));
  CHECK_FALSE(f.accounts->Authenticate("alice", "Green figs in June 6")->password_expired);
  // A password the user chose is held by the minimum age again.
  CHECK(f.accounts->ChangePassword(alice.id, "Green figs in June 6", "Blue plums in July 7", 0)
            .status()
            .code() == Code::kFailedPrecondition);
  f.clock.Advance(kDay);
  CHECK(
      f.accounts->ChangePassword(alice.id, "Green figs in June 6", "Blue plums in July 7", 0).ok());
  // Under nist there is no minimum age.
  Fixture nist;
  User bob = nist.MakeUser("bob");
  CHECK(nist.accounts->ChangePassword(bob.id, kPassword, "Sour cherries in May 5", 0).ok());
  // Nor is an administrator's reset temporary.
  REQUIRE(nist.accounts->ResetPassword("bob", "Green figs in June 6").ok());
  CHECK_FALSE(*nist.accounts->PasswordChangeRequired(bob.id));
}

TEST_CASE("stig: none of the last five passwords may be reused, by the user or an administrator",
          "[unit][domain][passwords][lockout]") {
  Fixture f(StigPolicy());
  const std::vector<std::string> pw = {kPassword,           "Sour cherries in May 5",
                                       "Green figs in June 6", "Blue grapes in Sept 7",
                                       "Red apples in Oct 8",  "Dry dates in Nov 9!"};
  User alice = f.MakeUser("alice", pw[0]);
  for (size_t i = 1; i < 5; ++i) {
    f.clock.Advance(kDay);
    REQUIRE(f.accounts->ChangePassword(alice.id, pw[i - 1], pw[i], 0).ok());
  }
  // Now the last five are pw[0..4].
  f.clock.Advance(kDay);
  for (size_t i = 0; i < 5; ++i) {
    INFO(pw[i]);
    auto again = f.accounts->ChangePassword(alice.id, pw[4], pw[i], 0);
    CHECK(again.status().code() == Code::kInvalidArgument);
    CHECK_THAT(again.status().message(), Catch::Contains("last 5 passwords"));
  }
  CHECK(f.accounts->ResetPassword("alice", pw[1]).code() == Code::kInvalidArgument);
  REQUIRE(f.accounts->ChangePassword(alice.id, pw[4], pw[5], 0).ok());
  // pw[0] is the sixth back now: allowed again.
  f.clock.Advance(kDay);
  CHECK(f.accounts->ChangePassword(alice.id, pw[5], pw[0], 0).ok());
  // Only what the rule needs is kept: four old hashes besides the current one.
  int64_t kept = -1;
  REQUIRE(f.db->Read([&](storage::Connection& c) {
    auto s = c.Prepare("SELECT count(*) FROM password_history WHERE user_id = ?");
    s->Bind(1, alice.id);
    REQUIRE(*s->Step());
    kept = s->ColumnInt64(0);
    return Status::Ok();
  }).ok());
  CHECK(kept == 4);
}

TEST_CASE("changing one's password needs the current one, and ends the other sessions only",
          "[unit][domain][lockout]") {
  Fixture f;
  User alice = f.MakeUser("alice");
  Sessions sessions(f.db.get(), &f.clock, SessionPolicy{});
  std::string mine, other;
  auto current = sessions.Create(alice.id, "", "", &mine);
  auto second = sessions.Create(alice.id, "", "", &other);
  REQUIRE(current.ok());
  REQUIRE(second.ok());
  auto wrong = f.accounts->ChangePassword(alice.id, kWrong, "Sour cherries in May 5",
                                          current->id);
  CHECK(wrong.status().code() == Code::kPermissionDenied);
  CHECK_THAT(wrong.status().message(), Catch::Contains("current password is wrong"));
  CHECK(f.accounts->GetLockState("alice")->recent_failures == 1);  // counts toward the lock
  auto weak = f.accounts->ChangePassword(alice.id, kPassword, "password", current->id);
  CHECK(weak.status().code() == Code::kInvalidArgument);
  auto ended =
      f.accounts->ChangePassword(alice.id, kPassword, "Sour cherries in May 5", current->id);
  REQUIRE(ended.ok());
  REQUIRE(ended->size() == 1);
  CHECK((*ended)[0] == second->id);
  CHECK(sessions.Authenticate(mine).ok());
  CHECK_FALSE(sessions.Authenticate(other).ok());
  CHECK(f.Try("alice", "Sour cherries in May 5").empty());
  CHECK(f.Try("alice", kPassword) == "wrong_password");
}

}  // namespace
}  // namespace outpost::domain
