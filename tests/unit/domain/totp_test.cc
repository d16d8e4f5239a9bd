// Two-factor authentication (domain/totp.h) and the session rules that come with it
// (domain/sessions.h): RFC vectors, the time window, replay refusal, recovery codes, the
// sealed secret, per-role idle timeouts and pending sign-ins, all on a fake clock.
#include "domain/totp.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>

#include "domain/accounts.h"
#include "domain/sessions.h"
#include "support/temp_dir.h"
#include "support/test_database.h"

namespace outpost::domain {
namespace {

constexpr const char* kPassword = "a long enough passphrase";
constexpr int64_t kStepMs = kTotpStepSeconds * 1000;

struct Fixture {
  testing::TempDir dir;
  std::unique_ptr<storage::Database> db;
  FakeClock clock{1'790'000'000'000};
  std::string master = std::string(32, '\x5a');
  std::unique_ptr<Accounts> accounts;
  std::unique_ptr<TwoFactor> tfa;
  std::unique_ptr<Sessions> sessions;

  Fixture() {
    db = testing::NewTestDatabase(dir.Sub("o.db"));
    accounts = std::make_unique<Accounts>(db.get(), &clock, AccountPolicy{});
    tfa = std::make_unique<TwoFactor>(db.get(), &clock, master, "Outpost Test");
    SessionPolicy sp;  // 15 min for users, 10 for privileged roles, 12 h absolute
    sessions = std::make_unique<Sessions>(db.get(), &clock, sp);
  }

  User MakeUser(const std::string& name, const char* role = kRoleUser) {
    auto u = accounts->Create(name, name, role, kPassword);
    REQUIRE(u.ok());
    return *u;
  }

  // The code the user's authenticator app shows `steps_from_now` steps away.
  std::string CodeFor(int64_t user_id, int64_t steps_from_now = 0) {
    auto secret = tfa->SecretForTest(user_id);
    REQUIRE(secret.ok());
    return Hotp(secret->value(),
                static_cast<uint64_t>(TotpStep(clock.NowMillis()) + steps_from_now));
  }

  // Enrols and confirms; returns the recovery codes.
  std::vector<std::string> Enrol(const User& u) {
    auto e = tfa->BeginEnrolment(u);
    REQUIRE(e.ok());
    auto codes = tfa->ConfirmEnrolment(u.id, CodeFor(u.id));
    REQUIRE(codes.ok());
    clock.Advance(kStepMs);  // the confirming code's step is spent
    return *codes;
  }
};

TEST_CASE("HOTP and TOTP match the RFC 4226 and RFC 6238 test vectors",
          "[unit][domain][totp]") {
  const std::string key = "12345678901234567890";  // RFC 6238 appendix B, SHA-1
  const char* hotp[] = {"755224", "287082", "359152", "969429", "338314",
                        "254676", "287922", "162583", "399871", "520489"};
  for (uint64_t i = 0; i < 10; ++i) CHECK(Hotp(key, i) == hotp[i]);
  struct Vector {
    int64_t seconds;
    const char* code;
  };
  const Vector totp[] = {{59, "94287082"},         {1111111109, "07081804"},
                         {1111111111, "14050471"}, {1234567890, "89005924"},
                         {2000000000, "69279037"}, {20000000000, "65353130"}};
  for (const Vector& v : totp) {
    INFO(v.seconds);
    CHECK(Hotp(key, static_cast<uint64_t>(TotpStep(v.seconds * 1000)), 8) == v.code);
  }
  // Six digits are the last six of the eight, leading zeros kept.
  CHECK(Hotp(key, static_cast<uint64_t>(TotpStep(1111111109000))) == "081804");
}

TEST_CASE("base32 round-trips and the otpauth URI carries secret, issuer and parameters",
          "[unit][domain][totp]") {
  CHECK(Base32Encode("foobar") == "MZXW6YTBOI");  // RFC 4648 section 10, without padding
  std::string back;
  REQUIRE(Base32Decode("mzxw6ytboi======", &back));
  CHECK(back == "foobar");
  CHECK_FALSE(Base32Decode("MZXW1", &back));  // '1' is not base32
  const std::string secret = RandomBytes(kTotpSecretBytes);
  const std::string b32 = Base32Encode(secret);
  CHECK(b32.size() == 32);
  REQUIRE(Base32Decode(b32, &back));
  CHECK(back == secret);
  CHECK(OtpauthUri("Site One", "bob", "ABC") ==
        "otpauth://totp/Site%20One:bob?secret=ABC&issuer=Site%20One&algorithm=SHA1&digits=6"
        "&period=30");
}

TEST_CASE("enrolment gives a secret that matches the app's codes and needs its first code",
          "[unit][domain][totp]") {
  Fixture f;
  User bob = f.MakeUser("bob");
  auto state = f.tfa->StateOf(bob.id);
  REQUIRE(state.ok());
  CHECK_FALSE(state->enabled);
  auto e = f.tfa->BeginEnrolment(bob);
  REQUIRE(e.ok());
  std::string secret;
  REQUIRE(Base32Decode(e->secret_base32, &secret));
  CHECK(secret == f.tfa->SecretForTest(bob.id)->value());
  CHECK(e->otpauth_uri.find("secret=" + e->secret_base32) != std::string::npos);
  // Not yet in force: a sign-in code is refused until the enrolment is confirmed.
  CHECK(f.tfa->VerifyCode(bob.id, f.CodeFor(bob.id)).code() == Code::kUnauthenticated);
  CHECK(f.tfa->StateOf(bob.id)->enrolling);
  auto wrong = f.tfa->ConfirmEnrolment(bob.id, "000000" == f.CodeFor(bob.id) ? "111111" : "000000");
  CHECK(wrong.status().code() == Code::kUnauthenticated);
  auto codes = f.tfa->ConfirmEnrolment(bob.id, f.CodeFor(bob.id));
  REQUIRE(codes.ok());
  CHECK(codes->size() == static_cast<size_t>(kRecoveryCodeCount));
  state = f.tfa->StateOf(bob.id);
  CHECK(state->enabled);
  CHECK(state->recovery_codes_left == kRecoveryCodeCount);
  // While enabled, a new enrolment is refused (it would lock the user out of their app).
  CHECK(f.tfa->BeginEnrolment(bob).status().code() == Code::kFailedPrecondition);
  CHECK(f.tfa->ConfirmEnrolment(bob.id, f.CodeFor(bob.id)).status().code() ==
        Code::kFailedPrecondition);
}

TEST_CASE("a code is accepted one step early or late but not two", "[unit][domain][totp]") {
  Fixture f;
  User bob = f.MakeUser("bob");
  f.Enrol(bob);
  f.clock.Advance(kStepMs);  // the step before now is one never used
  CHECK(f.tfa->VerifyCode(bob.id, f.CodeFor(bob.id, 2)).code() == Code::kUnauthenticated);
  CHECK(f.tfa->VerifyCode(bob.id, f.CodeFor(bob.id, -2)).code() == Code::kUnauthenticated);
  CHECK(f.tfa->VerifyCode(bob.id, f.CodeFor(bob.id, -1)).ok());
  f.clock.Advance(kStepMs);
  CHECK(f.tfa->VerifyCode(bob.id, f.CodeFor(bob.id, 0)).ok());
  f.clock.Advance(kStepMs);
  // Spaces as apps show them are fine; other shapes are refused.
  const std::string c = f.CodeFor(bob.id, 1);
  CHECK(f.tfa->VerifyCode(bob.id, c.substr(0, 3) + " " + c.substr(3)).ok());
  CHECK(f.tfa->VerifyCode(bob.id, "12345").code() == Code::kUnauthenticated);
  CHECK(f.tfa->VerifyCode(bob.id, "1234567").code() == Code::kUnauthenticated);
  CHECK(f.tfa->VerifyCode(bob.id, "abcdef").code() == Code::kUnauthenticated);
}

TEST_CASE("a used code is refused, and so is any code of an earlier step",
          "[unit][domain][totp]") {
  Fixture f;
  User bob = f.MakeUser("bob");
  f.Enrol(bob);
  const std::string now = f.CodeFor(bob.id);
  REQUIRE(f.tfa->VerifyCode(bob.id, now).ok());
  CHECK(f.tfa->VerifyCode(bob.id, now).code() == Code::kUnauthenticated);  // replay
  CHECK(f.tfa->VerifyCode(bob.id, f.CodeFor(bob.id, -1)).code() == Code::kUnauthenticated);
  // The replay is refused across the whole window, also once the clock moved on.
  f.clock.Advance(kStepMs);
  CHECK(f.tfa->VerifyCode(bob.id, now).code() == Code::kUnauthenticated);
  CHECK(f.tfa->VerifyCode(bob.id, f.CodeFor(bob.id)).ok());
}

TEST_CASE("recovery codes work once each, ignore case and dashes, and can be replaced",
          "[unit][domain][totp]") {
  Fixture f;
  User bob = f.MakeUser("bob");
  User eve = f.MakeUser("eve");
  std::vector<std::string> codes = f.Enrol(bob);
  REQUIRE(codes.size() == 10);
  CHECK(codes[0].size() == 14);
  CHECK(codes[0][4] == '-');
  // Another user's code is not theirs.
  f.Enrol(eve);
  CHECK(f.tfa->UseRecoveryCode(eve.id, codes[0]).code() == Code::kUnauthenticated);
  int left = -1;
  std::string shouted = codes[0];
  shouted.erase(std::remove(shouted.begin(), shouted.end(), '-'), shouted.end());
  for (char& c : shouted) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  REQUIRE(f.tfa->UseRecoveryCode(bob.id, shouted, &left).ok());
  CHECK(left == 9);
  CHECK(f.tfa->UseRecoveryCode(bob.id, codes[0]).code() == Code::kUnauthenticated);
  CHECK(f.tfa->UseRecoveryCode(bob.id, "not-a-code").code() == Code::kUnauthenticated);
  // Stored only as hashes: no code appears in the table.
  (void)f.db->Read([&](storage::Connection& conn) {
    auto s = conn.Prepare("SELECT code_hash FROM recovery_codes");
    REQUIRE(s.ok());
    while (*s->Step()) {
      const std::string hash = s->ColumnBlob(0);
      CHECK(hash.size() == 32);
      for (const std::string& c : codes) CHECK(hash.find(c.substr(0, 4)) == std::string::npos);
    }
    return Status::Ok();
  });
  auto fresh = f.tfa->RegenerateRecoveryCodes(bob.id);
  REQUIRE(fresh.ok());
  CHECK(f.tfa->UseRecoveryCode(bob.id, codes[1]).code() == Code::kUnauthenticated);
  CHECK(f.tfa->UseRecoveryCode(bob.id, (*fresh)[1]).ok());
  CHECK(f.tfa->StateOf(bob.id)->recovery_codes_left == 9);
  // Removing two-factor takes the recovery codes with it.
  REQUIRE(*f.tfa->Remove(bob.id));
  CHECK(f.tfa->UseRecoveryCode(bob.id, (*fresh)[2]).code() == Code::kUnauthenticated);
  CHECK_FALSE(f.tfa->StateOf(bob.id)->enabled);
  CHECK_FALSE(*f.tfa->Remove(bob.id));
  CHECK(f.tfa->RegenerateRecoveryCodes(bob.id).status().code() == Code::kFailedPrecondition);
}

TEST_CASE("the TOTP secret is stored sealed, bound to its user and to the master key",
          "[unit][domain][totp]") {
  Fixture f;
  User bob = f.MakeUser("bob");
  User eve = f.MakeUser("eve");
  f.Enrol(bob);
  f.Enrol(eve);
  const std::string secret = f.tfa->SecretForTest(bob.id)->value();
  REQUIRE(secret.size() == kTotpSecretBytes);
  std::string sealed;
  (void)f.db->Read([&](storage::Connection& conn) {
    auto s = conn.Prepare("SELECT secret_sealed FROM user_totp WHERE user_id = ?");
    REQUIRE(s.ok());
    s->Bind(1, bob.id);
    REQUIRE(*s->Step());
    sealed = s->ColumnBlob(0);
    return Status::Ok();
  });
  CHECK(sealed.find(secret) == std::string::npos);
  CHECK(sealed.find(Base32Encode(secret)) == std::string::npos);
  // Bob's sealed secret copied onto Eve's row does not open as hers.
  REQUIRE(f.db->Write([&](storage::Connection& conn) {
                auto s = conn.Prepare("UPDATE user_totp SET secret_sealed = ? WHERE user_id = ?");
                REQUIRE(s.ok());
                s->BindBlob(1, sealed).Bind(2, eve.id);
                return s->Run();
              })
              .ok());
  CHECK(f.tfa->SecretForTest(eve.id).status().code() == Code::kCorruption);
  // Another appliance's master key opens nothing.
  TwoFactor other(f.db.get(), &f.clock, std::string(32, '\x01'), "Other");
  CHECK(other.SecretForTest(bob.id).status().code() == Code::kCorruption);
}

TEST_CASE("privileged sessions idle out after 10 minutes and users' after 15",
          "[unit][domain][sessions]") {
  Fixture f;
  User admin = f.MakeUser("root", kRoleAdmin);
  User bob = f.MakeUser("bob");
  std::string admin_token, bob_token;
  auto a = f.sessions->Create(admin, "10.0.0.1", "Firefox", &admin_token);
  auto b = f.sessions->Create(bob, "10.0.0.2", "Chromium", &bob_token);
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->idle_timeout_ms == 10 * 60 * 1000);
  CHECK(b->idle_timeout_ms == 15 * 60 * 1000);
  f.clock.Advance(10 * 60 * 1000 - 1);
  CHECK(*f.sessions->StillValid(a->id));
  f.clock.Advance(1);
  CHECK_FALSE(*f.sessions->StillValid(a->id));
  CHECK(f.sessions->Authenticate(admin_token).status().code() == Code::kUnauthenticated);
  CHECK(*f.sessions->StillValid(b->id));
  auto p = f.sessions->Authenticate(bob_token);  // activity: the idle clock starts again
  REQUIRE(p.ok());
  f.clock.Advance(15 * 60 * 1000 - 1);
  CHECK(*f.sessions->StillValid(b->id));
  f.clock.Advance(1);
  CHECK_FALSE(*f.sessions->StillValid(b->id));
  CHECK(f.sessions->Authenticate(bob_token).status().code() == Code::kUnauthenticated);
}

TEST_CASE("the session list shows address and browser; revoking one keeps the others",
          "[unit][domain][sessions]") {
  Fixture f;
  User bob = f.MakeUser("bob");
  User eve = f.MakeUser("eve");
  std::string t1, t2, t3, te;
  auto s1 = f.sessions->Create(bob, "10.0.0.1", "Firefox", &t1);
  f.clock.Advance(1000);
  auto s2 = f.sessions->Create(bob, "10.0.0.2", "Chromium", &t2);
  auto s3 = f.sessions->Create(bob, "10.0.0.3", "Edge", &t3);
  auto se = f.sessions->Create(eve, "10.0.0.9", "Edge", &te);
  REQUIRE(s1.ok());
  REQUIRE(s2.ok());
  REQUIRE(s3.ok());
  REQUIRE(se.ok());
  auto list = f.sessions->List(bob.id);
  REQUIRE(list.ok());
  REQUIRE(list->size() == 3);
  CHECK(list->front().id == s3->id);  // newest first
  CHECK(list->back().remote_addr == "10.0.0.1");
  CHECK(list->back().user_agent == "Firefox");
  // Eve's session is not Bob's to revoke.
  CHECK(f.sessions->RevokeOf(bob.id, se->id).code() == Code::kNotFound);
  CHECK(f.sessions->Authenticate(te).ok());
  REQUIRE(f.sessions->RevokeOf(bob.id, s2->id).ok());
  CHECK(f.sessions->Authenticate(t2).status().code() == Code::kUnauthenticated);
  CHECK(f.sessions->Authenticate(t1).ok());
  auto ended = f.sessions->RevokeAllOf(bob.id, s1->id);  // "all others"
  REQUIRE(ended.ok());
  CHECK(*ended == std::vector<int64_t>{s3->id});
  CHECK(f.sessions->Authenticate(t1).ok());
  CHECK(f.sessions->Authenticate(t3).status().code() == Code::kUnauthenticated);
  CHECK(f.sessions->List(bob.id)->size() == 1);
  CHECK(f.sessions->Authenticate(te).ok());
}

TEST_CASE("pending sign-ins expire after five minutes and die after five wrong codes",
          "[unit][domain][sessions]") {
  FakeClock clock;
  PendingLogins pending(&clock);
  const std::string a = pending.Create(7, PendingStep::kTotp, true);
  const std::string b = pending.Create(8, PendingStep::kEnrol, false);
  auto found = pending.Find(a);
  REQUIRE(found.ok());
  CHECK(found->user_id == 7);
  CHECK(found->consented);
  CHECK(pending.Find(b)->step == PendingStep::kEnrol);
  CHECK(pending.Find("not a token").status().code() == Code::kUnauthenticated);
  for (int i = 0; i < PendingLogins::kMaxFailures - 1; ++i) pending.RecordFailure(a);
  CHECK(pending.Find(a).ok());
  pending.RecordFailure(a);
  CHECK(pending.Find(a).status().code() == Code::kUnauthenticated);
  clock.Advance(PendingLogins::kLifetimeMs - 1);
  CHECK(pending.Find(b).ok());
  clock.Advance(1);
  CHECK(pending.Find(b).status().code() == Code::kUnauthenticated);
  const std::string c = pending.Create(9, PendingStep::kTotp, false);
  pending.Consume(c);  // single use
  CHECK(pending.Find(c).status().code() == Code::kUnauthenticated);
}

}  // namespace
}  // namespace outpost::domain
