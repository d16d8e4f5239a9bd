// The verifier against each kind of tampering. Each test changes the database the way an
// attacker with the file would and checks that Verify names the first record that can no
// longer be trusted.
#include <catch2/catch.hpp>

#include "unit/domain/audit_fixture.h"

namespace outpost::domain::audit_testing {
namespace {

TEST_CASE("a change to any field of a record is detected at that record", "[unit][domain][audit]") {
  auto sql = GENERATE(as<std::string>{}, "UPDATE audit_records SET actor = 'mallory' WHERE seq = 6",
                      "UPDATE audit_records SET actor_id = 1 WHERE seq = 6",
                      "UPDATE audit_records SET source_ip = '10.6.6.6' WHERE seq = 6",
                      "UPDATE audit_records SET action = 'user.enable' WHERE seq = 6",
                      "UPDATE audit_records SET target = 'user:eve' WHERE seq = 6",
                      "UPDATE audit_records SET outcome = 'failure' WHERE seq = 6",
                      "UPDATE audit_records SET details = '{}' WHERE seq = 6",
                      "UPDATE audit_records SET ts_ms = ts_ms + 1 WHERE seq = 6",
                      "UPDATE audit_records SET hash = zeroblob(32) WHERE seq = 6",
                      "UPDATE audit_records SET prev_hash = zeroblob(32) WHERE seq = 6");
  Fixture f;
  f.Append(10);
  REQUIRE(f.Check().ok());
  f.Tamper(sql);
  INFO(sql);
  RequireProblem(f.Check(), AuditProblem::kModified, 6);
}

TEST_CASE("a record changed and re-hashed is named, not the record after it",
          "[unit][domain][audit]") {
  Fixture f;
  f.Append(10);
  f.Tamper("UPDATE audit_records SET outcome = 'failure' WHERE seq = 6");
  std::vector<AuditRecord> all = f.Records();
  std::string forged = AuditRecordHash(all[5].prev_hash, all[5]);
  f.Write([&](storage::Connection& c) {
    auto s = c.Prepare("UPDATE audit_records SET hash = ? WHERE seq = 6");
    s->BindBlob(1, forged);
    return s->Run();
  });
  RequireProblem(f.Check(), AuditProblem::kModified, 6);
}

TEST_CASE("a record inserted in the middle with its own hash recomputed is detected",
          "[unit][domain][audit]") {
  Fixture f;
  f.Append(10);
  // Make room at 6 by moving 6..10 up one, then forge a well-formed record 6.
  f.Tamper(
      "UPDATE audit_records SET seq = -seq WHERE seq >= 6;"
      "UPDATE audit_records SET seq = 1 - seq WHERE seq < 0;");
  AuditRecord forged = f.Records()[4];  // record 5, whose hash the forgery links to
  forged.prev_hash = forged.hash;
  forged.seq = 6;
  forged.action = "user.enable";
  forged.hash = AuditRecordHash(forged.prev_hash, forged);
  f.Write([&](storage::Connection& c) {
    auto s = c.Prepare(std::string("INSERT INTO audit_records(") + kAuditRecordColumns +
                       ") VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    s->Bind(1, forged.seq).Bind(2, forged.ts_ms).Bind(3, forged.actor).Bind(4, forged.actor_id);
    s->Bind(5, forged.source_ip).Bind(6, forged.action).Bind(7, forged.target);
    s->Bind(8, forged.outcome).Bind(9, forged.details).BindBlob(10, forged.prev_hash);
    s->BindBlob(11, forged.hash);
    return s->Run();
  });
  VerifyReport r = f.Check();
  RequireProblem(r, AuditProblem::kInserted, 6);
  CHECK_THAT(r.detail, Catch::Contains("record 6 was inserted"));
}

TEST_CASE("a record deleted from the middle is detected, renumbered or not",
          "[unit][domain][audit]") {
  Fixture f;
  f.Append(10);
  SECTION("left as a gap") {
    f.Tamper("DELETE FROM audit_records WHERE seq = 5");
    RequireProblem(f.Check(), AuditProblem::kMissing, 5);
  }
  SECTION("with the later records renumbered to close the gap") {
    f.Tamper(
        "DELETE FROM audit_records WHERE seq = 5;"
        "UPDATE audit_records SET seq = -seq WHERE seq > 5;"
        "UPDATE audit_records SET seq = -seq - 1 WHERE seq < 0;");
    RequireProblem(f.Check(), AuditProblem::kModified, 5);
  }
}

TEST_CASE("two swapped records are detected at the earlier one", "[unit][domain][audit]") {
  Fixture f;
  f.Append(10);
  f.Tamper(
      "UPDATE audit_records SET seq = -3 WHERE seq = 3;"
      "UPDATE audit_records SET seq = 3 WHERE seq = 7;"
      "UPDATE audit_records SET seq = 7 WHERE seq = -3;");
  RequireProblem(f.Check(), AuditProblem::kModified, 3);
}

TEST_CASE("records cut off the end under a signed checkpoint are detected",
          "[unit][domain][audit]") {
  Fixture f;
  f.Append(10);  // checkpoints at 4 and 8
  f.Tamper("DELETE FROM audit_records WHERE seq > 6");
  VerifyReport r = f.Check();
  RequireProblem(r, AuditProblem::kTruncated, 7);
  CHECK(r.checkpoint_seq == 8);
}

TEST_CASE(
    "records cut off the end with their checkpoints are found only with an exported "
    "checkpoint",
    "[unit][domain][audit]") {
  Fixture f;
  f.Append(10);
  auto exported = f.log->ExportCheckpoint();  // signs record 10
  REQUIRE(exported.ok());
  CHECK(exported->checkpoint.seq == 10);
  f.Append(1);
  f.Tamper("DELETE FROM audit_records WHERE seq > 8; DELETE FROM audit_checkpoints WHERE seq > 8");
  VerifyReport alone = f.Check();
  CHECK(alone.ok());  // what remains is a sound chain: this is the limit without separate media
  CHECK(alone.records == 8);
  VerifyReport with = f.Check(*exported);
  RequireProblem(with, AuditProblem::kTruncated, 9);
  CHECK_THAT(with.detail, Catch::Contains("exported checkpoint"));
}

TEST_CASE("a chain rewritten and re-hashed from record 1 is detected", "[unit][domain][audit]") {
  Fixture f;
  f.Append(10);
  auto exported = f.log->ExportCheckpoint();
  REQUIRE(exported.ok());
  f.Tamper("UPDATE audit_records SET actor = 'mallory' WHERE seq = 1");
  f.Rehash(1);

  SECTION("by the first signed checkpoint, whose hash no longer matches") {
    VerifyReport r = f.Check();
    RequireProblem(r, AuditProblem::kCheckpointMismatch, 1);
    CHECK(r.checkpoint_seq == 4);
  }
  SECTION("by the signature, when the checkpoints are rewritten without the key") {
    f.RewriteCheckpoints(nullptr);
    VerifyReport r = f.Check();
    RequireProblem(r, AuditProblem::kBadCheckpoint, 1);
    CHECK(r.checkpoint_seq == 4);
    CHECK_THAT(r.detail, Catch::Contains("does not verify"));
  }
  SECTION("by the key id, when the checkpoints are re-signed with another key") {
    ApplianceKeys mallory = MakeKeys();
    f.RewriteCheckpoints(&mallory);
    VerifyReport r = f.Check();
    RequireProblem(r, AuditProblem::kBadCheckpoint, 1);
    CHECK_THAT(r.detail, Catch::Contains("not by this appliance's key"));
  }
  SECTION("by the exported checkpoint, when the checkpoints are deleted") {
    f.Tamper("DELETE FROM audit_checkpoints");
    CHECK(f.Check().ok());
    VerifyReport r = f.Check(*exported);
    RequireProblem(r, AuditProblem::kExternalMismatch, 1);
  }
  SECTION("by the exported checkpoint, even when the forger holds the appliance key") {
    f.RewriteCheckpoints(&f.keys);
    CHECK(f.Check().ok());
    VerifyReport r = f.Check(*exported);
    RequireProblem(r, AuditProblem::kExternalMismatch, 1);
    CHECK_THAT(r.detail, Catch::Contains("compromised"));
  }
}

TEST_CASE("a tail rewritten after the last checkpoint is caught by a later exported checkpoint",
          "[unit][domain][audit]") {
  Fixture f;
  f.Append(6);                                               // checkpoint at 4
  ExportedCheckpoint exported = *f.log->ExportCheckpoint();  // at 6
  f.Tamper(
      "DELETE FROM audit_checkpoints WHERE seq > 4;"
      "UPDATE audit_records SET outcome = 'failure' WHERE seq = 6");
  f.Rehash(6);
  CHECK(f.Check().ok());
  VerifyReport r = f.Check(exported);
  RequireProblem(r, AuditProblem::kExternalMismatch, 5);  // 1..4 are proven by checkpoint 4
}

TEST_CASE("a forged checkpoint signature is detected", "[unit][domain][audit]") {
  Fixture f;
  f.Append(10);
  f.Tamper("SELECT 1");
  f.Write([](storage::Connection& c) {
    auto read = c.Prepare("SELECT signature FROM audit_checkpoints WHERE seq = 8");
    REQUIRE(*read->Step());
    std::string sig = read->ColumnBlob(0);
    sig[10] = static_cast<char>(sig[10] ^ 0x01);
    auto write = c.Prepare("UPDATE audit_checkpoints SET signature = ? WHERE seq = 8");
    write->BindBlob(1, sig);
    return write->Run();
  });
  VerifyReport r = f.Check();
  RequireProblem(r, AuditProblem::kBadCheckpoint, 5);
  CHECK(r.checkpoint_seq == 8);
}

TEST_CASE("an exported checkpoint that was altered or comes from another key is refused",
          "[unit][domain][audit]") {
  Fixture f;
  f.Append(5);
  ExportedCheckpoint exported = *f.log->ExportCheckpoint();
  CHECK(f.Check(exported).ok());
  CHECK(f.Check(exported).external_checked);

  ExportedCheckpoint altered = exported;
  altered.checkpoint.seq = 4;
  RequireProblem(f.Check(altered), AuditProblem::kBadCheckpoint, 0);

  ApplianceKeys other = MakeKeys();
  ExportedCheckpoint foreign = exported;
  foreign.public_key = other.signing_public;
  foreign.checkpoint.key_id = KeyId(other.signing_public);
  foreign.checkpoint.signature =
      Sign(other, exported.checkpoint.seq, exported.checkpoint.hash, exported.checkpoint.ts_ms);
  RequireProblem(f.Check(foreign), AuditProblem::kKeyMismatch, 0);
}

TEST_CASE("the exported checkpoint file round-trips and its parser names a bad field",
          "[unit][domain][audit]") {
  Fixture f;
  f.Append(3);
  ExportedCheckpoint e = *f.log->ExportCheckpoint();
  std::string text = ExportedCheckpointJson(e).dump(2);
  auto back = ParseExportedCheckpoint(text);
  REQUIRE(back.ok());
  CHECK(back->checkpoint.seq == e.checkpoint.seq);
  CHECK(back->checkpoint.hash == e.checkpoint.hash);
  CHECK(back->checkpoint.ts_ms == e.checkpoint.ts_ms);
  CHECK(back->checkpoint.signature == e.checkpoint.signature);
  CHECK(back->checkpoint.key_id == e.checkpoint.key_id);
  CHECK(back->public_key == e.public_key);

  nlohmann::json j = ExportedCheckpointJson(e);
  j["hash"] = "abcd";
  auto bad = ParseExportedCheckpoint(j.dump());
  CHECK(bad.status().code() == Code::kInvalidArgument);
  CHECK_THAT(bad.status().message(), Catch::Contains("'hash'"));
  CHECK(ParseExportedCheckpoint("not json").status().code() == Code::kInvalidArgument);
}

}  // namespace
}  // namespace outpost::domain::audit_testing
