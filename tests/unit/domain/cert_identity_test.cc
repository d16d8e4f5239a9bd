#include "domain/cert_identity.h"

#include <catch2/catch.hpp>

#include "domain/accounts.h"
#include "support/temp_dir.h"
#include "support/test_database.h"

namespace outpost::domain {
namespace {

struct Fixture {
  testing::TempDir dir;
  std::unique_ptr<storage::Database> db;
  FakeClock clock;
  std::unique_ptr<Accounts> accounts;
  std::unique_ptr<CertIdentities> identities;

  Fixture() {
    db = testing::NewTestDatabase(dir.Sub("o.db"));
    accounts = std::make_unique<Accounts>(db.get(), &clock, AccountPolicy{});
    identities = std::make_unique<CertIdentities>(db.get(), &clock);
    for (const char* name : {"alice", "bob"}) {
      REQUIRE(accounts->Create(name, name, kRoleUser, "a long enough passphrase here").ok());
    }
  }
};

TEST_CASE("a bound UPN finds its account whatever the case of the certificate",
          "[unit][domain][cert_identity]") {
  Fixture f;
  Result<CertIdentity> bound =
      f.identities->Bind("alice", CertIdentityKind::kUpn, "Alice.Smith@Army.MIL");
  REQUIRE(bound.ok());
  CHECK(bound->value == "alice.smith@army.mil");
  CHECK(bound->username == "alice");
  Result<CertIdentity> found = f.identities->Find(CertIdentityKind::kUpn, "ALICE.SMITH@army.mil");
  REQUIRE(found.ok());
  CHECK(found->username == "alice");
  // The same text as another kind is another identity.
  CHECK(f.identities->Find(CertIdentityKind::kEmail, "alice.smith@army.mil").status().IsNotFound());
}

TEST_CASE("a subject DN is matched exactly, case included", "[unit][domain][cert_identity]") {
  Fixture f;
  REQUIRE(f.identities->Bind("bob", CertIdentityKind::kSubject, "CN=Bob, O=Test").ok());
  CHECK(f.identities->Find(CertIdentityKind::kSubject, "CN=Bob, O=Test").ok());
  CHECK(f.identities->Find(CertIdentityKind::kSubject, "CN=BOB, O=Test").status().IsNotFound());
}

TEST_CASE("one identity cannot be bound to two accounts", "[unit][domain][cert_identity]") {
  Fixture f;
  REQUIRE(f.identities->Bind("alice", CertIdentityKind::kEmail, "a@example.mil").ok());
  Result<CertIdentity> again = f.identities->Bind("bob", CertIdentityKind::kEmail, "A@example.mil");
  REQUIRE(again.status().IsAlreadyExists());
  CHECK(again.status().message().find("'alice'") != std::string::npos);
  CHECK(f.identities->Find(CertIdentityKind::kEmail, "a@example.mil")->username == "alice");
}

TEST_CASE("binding refuses unknown users and malformed values", "[unit][domain][cert_identity]") {
  Fixture f;
  CHECK(f.identities->Bind("carol", CertIdentityKind::kUpn, "c@x").status().IsNotFound());
  CHECK(f.identities->Bind("alice", CertIdentityKind::kUpn, "no-at-sign").status().code() ==
        Code::kInvalidArgument);
  CHECK(f.identities->Bind("alice", CertIdentityKind::kSubject, "").status().code() ==
        Code::kInvalidArgument);
  CHECK(f.identities->Bind("alice", CertIdentityKind::kSubject, "CN=a\nb").status().code() ==
        Code::kInvalidArgument);
  CHECK(f.identities->ListForUser("alice")->empty());
}

TEST_CASE("unbinding removes exactly the named identity", "[unit][domain][cert_identity]") {
  Fixture f;
  REQUIRE(f.identities->Bind("alice", CertIdentityKind::kUpn, "a1@x").ok());
  Result<CertIdentity> second = f.identities->Bind("alice", CertIdentityKind::kUpn, "a2@x");
  REQUIRE(second.ok());
  CHECK(f.identities->Unbind("bob", CertIdentityKind::kUpn, "a1@x").status().IsNotFound());
  Result<CertIdentity> removed = f.identities->Unbind("alice", CertIdentityKind::kUpn, "A1@X");
  REQUIRE(removed.ok());
  CHECK(removed->value == "a1@x");
  CHECK(f.identities->Find(CertIdentityKind::kUpn, "a1@x").status().IsNotFound());
  Result<std::vector<CertIdentity>> left = f.identities->ListForUser("alice");
  REQUIRE(left.ok());
  REQUIRE(left->size() == 1);
  CHECK((*left)[0].id == second->id);
  CHECK(f.identities->UnbindById("bob", second->id).status().IsNotFound());
  CHECK(f.identities->UnbindById("alice", second->id).ok());
  CHECK(f.identities->ListForUser("alice")->empty());
}

}  // namespace
}  // namespace outpost::domain
