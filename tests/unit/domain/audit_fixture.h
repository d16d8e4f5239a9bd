// Shared by the audit log's unit tests: a database with a fake clock and fresh keys, and the
// tampering an attacker with the database file can do (triggers dropped, rows edited in SQL).
#ifndef OUTPOST_TESTS_UNIT_DOMAIN_AUDIT_FIXTURE_H_
#define OUTPOST_TESTS_UNIT_DOMAIN_AUDIT_FIXTURE_H_

#include <sodium.h>

#include <catch2/catch.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "domain/audit.h"
#include "domain/audit_verify.h"
#include "support/temp_dir.h"

namespace outpost::domain::audit_testing {

inline constexpr int64_t kMinute = 60 * 1000;

inline ApplianceKeys MakeKeys() {
  ApplianceKeys keys;
  std::string pub(crypto_sign_PUBLICKEYBYTES, '\0');
  std::string secret(crypto_sign_SECRETKEYBYTES, '\0');
  crypto_sign_keypair(reinterpret_cast<unsigned char*>(pub.data()),
                      reinterpret_cast<unsigned char*>(secret.data()));
  keys.signing_public = pub;
  keys.signing_secret = SecretString(std::move(secret));
  return keys;
}

inline std::string Sign(const ApplianceKeys& keys, int64_t seq, const std::string& hash,
                        int64_t ts) {
  std::string msg = CheckpointMessage(seq, hash, ts);
  std::string sig(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(msg.data()), msg.size(),
                       reinterpret_cast<const unsigned char*>(keys.signing_secret.value().data()));
  return sig;
}

struct Fixture {
  testing::TempDir dir;
  std::unique_ptr<storage::Database> db;
  FakeClock clock;
  ApplianceKeys keys = MakeKeys();
  std::unique_ptr<AuditLog> log;

  explicit Fixture(AuditOptions options = {AuditFailurePolicy::kRefuse, 4, 24 * 60 * kMinute}) {
    storage::OpenOptions o;
    o.create = true;
    auto opened = storage::Database::Open(dir.Sub("o.db"), o);
    REQUIRE(opened.ok());
    db = std::move(*opened);
    Reopen(options);
  }

  void Reopen(AuditOptions options, const ApplianceKeys* with = nullptr) {
    log = std::make_unique<AuditLog>(db.get(), &clock, with ? with : &keys, options);
  }

  AuditEvent Event(std::string action, std::string actor = "alice") {
    return AuditEvent{actor,
                      7,
                      "10.0.0.9",
                      std::move(action),
                      "user:bob",
                      AuditOutcome::kSuccess,
                      {{"role", "user"}}};
  }

  void Append(int n, const std::string& action = "user.create") {
    for (int i = 0; i < n; ++i) {
      auto seq = log->Append(Event(action));
      REQUIRE(seq.ok());
      clock.Advance(1000);
    }
  }

  // Runs `fn` in a write (or read) transaction and fails the test when it fails.
  void Write(const std::function<Status(storage::Connection&)>& fn) {
    Status st = db->Write(fn);
    INFO(st.ToString());
    REQUIRE(st.ok());
  }
  void Read(const std::function<Status(storage::Connection&)>& fn) {
    Status st = db->Read(fn);
    INFO(st.ToString());
    REQUIRE(st.ok());
  }

  // What an attacker with the file does: drop the append-only triggers, then edit.
  void Tamper(const std::string& sql) {
    Write([&](storage::Connection& c) {
      OUTPOST_RETURN_IF_ERROR(
          c.Exec("DROP TRIGGER IF EXISTS audit_records_no_update;"
                 "DROP TRIGGER IF EXISTS audit_records_no_delete;"
                 "DROP TRIGGER IF EXISTS audit_checkpoints_no_update;"
                 "DROP TRIGGER IF EXISTS audit_checkpoints_no_delete;"));
      return c.Exec(sql);
    });
  }

  std::vector<AuditRecord> Records() {
    auto all = log->Query({});
    REQUIRE(all.ok());
    return *all;
  }

  // Recomputes prev_hash and hash of every record from `from` on, as a forger would.
  void Rehash(int64_t from) {
    Tamper("SELECT 1");
    std::vector<AuditRecord> all = Records();
    std::string prev(32, '\0');
    Write([&](storage::Connection& c) {
      for (AuditRecord& r : all) {
        if (r.seq >= from) {
          r.prev_hash = prev;
          r.hash = AuditRecordHash(r.prev_hash, r);
          auto s = c.Prepare("UPDATE audit_records SET prev_hash = ?, hash = ? WHERE seq = ?");
          OUTPOST_RETURN_IF_ERROR(s.status());
          s->BindBlob(1, r.prev_hash).BindBlob(2, r.hash).Bind(3, r.seq);
          OUTPOST_RETURN_IF_ERROR(s->Run());
        }
        prev = r.hash;
      }
      return Status::Ok();
    });
  }

  // Points every checkpoint at the current chain, signed with `signer` (or, without one, with
  // the old signatures left in place).
  void RewriteCheckpoints(const ApplianceKeys* signer) {
    std::vector<AuditRecord> all = Records();
    Write([&](storage::Connection& c) {
      for (const AuditRecord& r : all) {
        auto t = c.Prepare("SELECT ts_ms FROM audit_checkpoints WHERE seq = ?");
        OUTPOST_RETURN_IF_ERROR(t.status());
        t->Bind(1, r.seq);
        auto row = t->Step();
        OUTPOST_RETURN_IF_ERROR(row.status());
        if (!*row) continue;
        const int64_t ts = t->ColumnInt64(0);
        auto s = c.Prepare(
            "UPDATE audit_checkpoints SET hash = ?, signature = coalesce(?, signature), "
            "key_id = coalesce(?, key_id) WHERE seq = ?");
        OUTPOST_RETURN_IF_ERROR(s.status());
        s->BindBlob(1, r.hash);
        if (signer != nullptr) {
          s->BindBlob(2, Sign(*signer, r.seq, r.hash, ts));
          s->Bind(3, KeyId(signer->signing_public));
        } else {
          s->BindNull(2);
          s->BindNull(3);
        }
        s->Bind(4, r.seq);
        OUTPOST_RETURN_IF_ERROR(s->Run());
      }
      return Status::Ok();
    });
  }

  VerifyReport Check(const std::optional<ExportedCheckpoint>& external = std::nullopt) {
    std::optional<VerifyReport> report;
    Read([&](storage::Connection& c) {
      auto r = Verify(c, keys.signing_public, external);
      OUTPOST_RETURN_IF_ERROR(r.status());
      report = *r;
      return Status::Ok();
    });
    INFO(report->Summary());
    return *report;
  }

  int64_t Count(const std::string& table) {
    int64_t n = -1;
    Read([&](storage::Connection& c) {
      auto s = c.Prepare("SELECT count(*) FROM " + table);
      OUTPOST_RETURN_IF_ERROR(s.status());
      REQUIRE(*s->Step());
      n = s->ColumnInt64(0);
      return Status::Ok();
    });
    return n;
  }
};

inline void RequireProblem(const VerifyReport& r, AuditProblem problem, int64_t first_bad) {
  INFO(r.Summary());
  CHECK_FALSE(r.ok());
  CHECK(AuditProblemName(r.problem) == AuditProblemName(problem));
  CHECK(r.first_bad_seq == first_bad);
  if (first_bad > 0) {
    CHECK_THAT(r.Summary(), Catch::Contains("at record " + std::to_string(first_bad)));
  }
}

}  // namespace outpost::domain::audit_testing

#endif  // OUTPOST_TESTS_UNIT_DOMAIN_AUDIT_FIXTURE_H_
