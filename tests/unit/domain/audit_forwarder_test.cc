// The SIEM forwarder against a fake connection whose acknowledgements the test controls: the
// RFC 5424 form of a record, the cursor that moves only with acknowledged bytes, resending after
// a broken connection, and one outage record per outage.
#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <set>
#include <thread>

#include "domain/audit_forwarder.h"
#include "support/syslog_receiver.h"
#include "unit/domain/audit_fixture.h"

namespace outpost::domain {
namespace {

using audit_testing::Fixture;

// What the fake connections share with the test. Thread-safe.
struct FakeSiem {
  std::mutex mu;
  std::string bytes;         // everything written, over every connection
  int64_t acked_limit = -1;  // bytes of the current connection acknowledged; -1: all
  bool reachable = true;
  bool break_next_write = false;
  int connects = 0;

  std::vector<int64_t> Seqs() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<int64_t> seqs;
    size_t pos = 0;
    while (pos < bytes.size()) {
      size_t sp = bytes.find(' ', pos);
      size_t len = std::stoul(bytes.substr(pos, sp - pos));
      auto parsed = testing::ParseSyslog(std::string_view(bytes).substr(sp + 1, len));
      REQUIRE(parsed.ok());
      seqs.push_back(std::stoll(parsed->params.at("seq")));
      pos = sp + 1 + len;
    }
    return seqs;
  }
};

class FakeConnection : public SiemConnection {
 public:
  explicit FakeConnection(FakeSiem* siem) : siem_(siem) {}
  Status Write(std::string_view bytes) override {
    std::lock_guard<std::mutex> lock(siem_->mu);
    if (siem_->break_next_write) {
      siem_->break_next_write = false;
      return Status::Unavailable("connection reset by peer");
    }
    siem_->bytes.append(bytes);
    written_ += static_cast<int64_t>(bytes.size());
    return Status::Ok();
  }
  int64_t BytesWritten() const override { return written_; }
  Result<int64_t> BytesUnacknowledged() override {
    std::lock_guard<std::mutex> lock(siem_->mu);
    if (siem_->acked_limit < 0) return int64_t{0};
    return std::max<int64_t>(0, written_ - siem_->acked_limit);
  }
  bool PeerClosed() override { return false; }
  void Abort() override {}

 private:
  FakeSiem* siem_;
  int64_t written_ = 0;
};

ForwarderOptions FastOptions() {
  ForwarderOptions o;
  o.target = "192.0.2.1:6514 (tls)";
  o.idle_poll = std::chrono::milliseconds(20);
  o.ack_poll = std::chrono::milliseconds(5);
  o.min_backoff = std::chrono::milliseconds(10);
  o.max_backoff = std::chrono::milliseconds(40);
  return o;
}

SiemConnector ConnectorTo(FakeSiem* siem) {
  return [siem]() -> Result<std::unique_ptr<SiemConnection>> {
    std::lock_guard<std::mutex> lock(siem->mu);
    if (!siem->reachable) return Status::Unavailable("connect: Connection refused");
    ++siem->connects;
    return std::unique_ptr<SiemConnection>(std::make_unique<FakeConnection>(siem));
  };
}

// Polls `done` for up to 10 s (a slow machine, not a timing assertion).
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 1000; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}

std::string SavedCursor(Fixture& f) {
  std::string value = "(none)";
  f.Read([&](storage::Connection& c) {
    OUTPOST_ASSIGN_OR_RETURN(std::string v, ReadAuditState(c, kForwardCursorKey));
    if (!v.empty()) value = v;
    return Status::Ok();
  });
  return value;
}

int CountAction(Fixture& f, const std::string& action) {
  int n = 0;
  for (const AuditRecord& r : f.Records()) n += r.action == action;
  return n;
}

TEST_CASE("a record becomes one RFC 5424 message with every field as structured data",
          "[unit][domain][audit][siem]") {
  AuditRecord r;
  r.seq = 42;
  r.ts_ms = 1795395723456;
  r.actor = "ad\"m]i\\n";
  r.actor_id = 7;
  r.source_ip = "10.0.0.9";
  r.action = "auth.login_failed";
  r.target = "user:bob";
  r.outcome = "failure";
  r.details = R"({"reason":"unauthenticated","note":"ünïcode"})";
  r.prev_hash = std::string(32, '\x01');
  r.hash = std::string(32, '\xab');
  SyslogFormat format;
  format.hostname = "outpost-a";
  format.app_name = "outpost";
  format.facility = 13;
  const std::string m = SyslogMessage(r, format);
  auto p = testing::ParseSyslog(m);
  INFO(m);
  REQUIRE(p.ok());
  CHECK(p->pri == 13 * 8 + 4);  // log audit, warning
  CHECK(p->timestamp == "2026-11-23T01:02:03.456Z");
  CHECK(p->hostname == "outpost-a");
  CHECK(p->app_name == "outpost");
  CHECK(p->procid == "-");
  CHECK(p->msgid == "auth.login_failed");
  CHECK(p->sd_id == "outpost@32473");
  CHECK(p->params.at("seq") == "42");
  CHECK(p->params.at("ts_ms") == "1795395723456");
  CHECK(p->params.at("actor") == "ad\"m]i\\n");  // escaped on the wire, intact when parsed
  CHECK(p->params.at("actor_id") == "7");
  CHECK(p->params.at("source_ip") == "10.0.0.9");
  CHECK(p->params.at("action") == "auth.login_failed");
  CHECK(p->params.at("target") == "user:bob");
  CHECK(p->params.at("outcome") == "failure");
  std::string ab, one;
  for (int i = 0; i < 32; ++i) {
    ab += "ab";
    one += "01";
  }
  CHECK(p->params.at("hash") == ab);
  CHECK(p->params.at("prev_hash") == one);
  CHECK(p->bom);
  CHECK(p->msg == r.details);

  r.outcome = "success";
  format.facility = 10;
  CHECK(testing::ParseSyslog(SyslogMessage(r, format))->pri == 10 * 8 + 5);  // notice
  format.hostname = "";
  r.action = std::string(40, 'x');
  auto q = testing::ParseSyslog(SyslogMessage(r, format));
  REQUIRE(q.ok());
  CHECK(q->hostname == "-");
  CHECK(q->msgid == std::string(32, 'x'));  // RFC 5424 MSGID is at most 32 characters
  CHECK(OctetCountedFrame("abc") == "3 abc");
  CHECK(OctetCountedFrame("") == "0 ");
}

TEST_CASE("the cursor moves only past acknowledged records and survives a restart",
          "[unit][domain][audit][siem]") {
  Fixture f;
  FakeSiem siem;
  siem.acked_limit = 0;  // the SIEM's TCP acknowledges nothing yet
  f.Append(5);
  {
    AuditForwarder fwd(f.db.get(), f.log.get(), &f.clock, ConnectorTo(&siem), FastOptions());
    f.log->set_on_append([&fwd] { fwd.Notify(); });  // before the thread starts
    REQUIRE(fwd.Start().ok());
    REQUIRE(Eventually([&] { return siem.Seqs().size() == 5; }));
    CHECK(siem.Seqs() == std::vector<int64_t>{1, 2, 3, 4, 5});
    CHECK(fwd.status().cursor == 0);
    CHECK(fwd.status().lag == 5);
    {
      std::lock_guard<std::mutex> lock(siem.mu);
      siem.acked_limit = -1;  // everything acknowledged
    }
    REQUIRE(Eventually([&] { return fwd.status().cursor == 5; }));
    CHECK(fwd.status().lag == 0);
    CHECK(fwd.status().last_success == f.clock.NowMillis());
    f.Append(2);
    REQUIRE(Eventually([&] { return fwd.status().cursor == 7; }));
    fwd.Stop(std::chrono::milliseconds(2000));
  }
  f.log->set_on_append(nullptr);
  CHECK(SavedCursor(f) == "7");
  CHECK(siem.Seqs() == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7});

  f.Append(1);
  AuditForwarder again(f.db.get(), f.log.get(), &f.clock, ConnectorTo(&siem), FastOptions());
  REQUIRE(again.Start().ok());
  CHECK(again.status().cursor >= 7);  // loaded; it may already have moved on
  REQUIRE(Eventually([&] { return again.status().cursor == 8; }));
  again.Stop(std::chrono::milliseconds(2000));
  // The restart resumed after the cursor: nothing before record 8 was sent twice.
  CHECK(siem.Seqs() == std::vector<int64_t>{1, 2, 3, 4, 5, 6, 7, 8});
}

TEST_CASE("an outage loses nothing, resends unacknowledged records, and is recorded once",
          "[unit][domain][audit][siem]") {
  Fixture f;
  FakeSiem siem;
  f.Append(3);
  AuditForwarder fwd(f.db.get(), f.log.get(), &f.clock, ConnectorTo(&siem), FastOptions());
  REQUIRE(fwd.Start().ok());
  REQUIRE(Eventually([&] { return fwd.status().cursor == 3; }));

  // The SIEM stops acknowledging, a record goes out, and then the connection breaks and the
  // SIEM stays unreachable through several retries.
  {
    std::lock_guard<std::mutex> lock(siem.mu);
    siem.acked_limit = static_cast<int64_t>(siem.bytes.size());  // this connection's bytes so far
  }
  f.Append(1);  // record 4: written, never acknowledged
  REQUIRE(Eventually([&] { return siem.Seqs().size() == 4; }));
  {
    std::lock_guard<std::mutex> lock(siem.mu);
    siem.reachable = false;
    siem.break_next_write = true;
  }
  f.Append(2);  // records 5 and 6 (the write of which breaks the connection)
  REQUIRE(Eventually([&] { return fwd.status().down && fwd.status().failures >= 3; }));
  CHECK(fwd.status().cursor == 3);
  CHECK_FALSE(fwd.status().connected);
  CHECK(CountAction(f, "audit.forward_down") == 1);  // not one per retry

  {
    std::lock_guard<std::mutex> lock(siem.mu);
    siem.reachable = true;
    siem.acked_limit = -1;
  }
  REQUIRE(Eventually([&] { return !fwd.status().down && fwd.status().lag == 0; }));
  fwd.Stop(std::chrono::milliseconds(2000));
  CHECK(CountAction(f, "audit.forward_down") == 1);
  CHECK(CountAction(f, "audit.forward_resumed") == 1);

  // Every record arrived, in order on each connection; the unacknowledged record 4 twice.
  std::vector<int64_t> seqs = siem.Seqs();
  const int64_t head = f.Records().back().seq;
  std::set<int64_t> distinct(seqs.begin(), seqs.end());
  CHECK(static_cast<int64_t>(distinct.size()) == head);
  CHECK(*distinct.begin() == 1);
  CHECK(std::count(seqs.begin(), seqs.end(), 4) == 2);
  CHECK(std::count(seqs.begin(), seqs.end(), 1) == 1);
  CHECK(SavedCursor(f) == std::to_string(head));
}

TEST_CASE("a SIEM down at start is recorded, and its return after a restart too",
          "[unit][domain][audit][siem]") {
  Fixture f;
  FakeSiem siem;
  siem.reachable = false;
  f.Append(1);
  {
    AuditForwarder fwd(f.db.get(), f.log.get(), &f.clock, ConnectorTo(&siem), FastOptions());
    REQUIRE(fwd.Start().ok());
    REQUIRE(Eventually([&] { return fwd.status().failures >= 2; }));
    CHECK(fwd.status().last_error.find("Connection refused") != std::string::npos);
    fwd.Stop(std::chrono::milliseconds(0));
  }
  CHECK(CountAction(f, "audit.forward_down") == 1);
  {
    std::lock_guard<std::mutex> lock(siem.mu);
    siem.reachable = true;
  }
  // The restarted forwarder knows the outage is on record: no second forward_down.
  AuditForwarder fwd(f.db.get(), f.log.get(), &f.clock, ConnectorTo(&siem), FastOptions());
  REQUIRE(fwd.Start().ok());
  CHECK(fwd.status().down);
  REQUIRE(Eventually([&] { return !fwd.status().down && fwd.status().lag == 0; }));
  fwd.Stop(std::chrono::milliseconds(2000));
  CHECK(CountAction(f, "audit.forward_down") == 1);
  CHECK(CountAction(f, "audit.forward_resumed") == 1);
  CHECK(siem.Seqs().size() == f.Records().size());
}

}  // namespace
}  // namespace outpost::domain
