// Site settings changed at runtime: validation, storage that outlives the object, the audit
// record in the same transaction, reset to the file's value, and readers during updates.
#include "domain/site_settings.h"

#include <catch2/catch.hpp>
#include <atomic>
#include <thread>

#include "unit/domain/audit_fixture.h"

namespace outpost::domain::audit_testing {
namespace {

const SiteText kFile{"FILE BANNER", "blue", "File notice."};

AuditEvent Event() {
  return AuditEvent{"alice", 7, "10.0.0.9", "settings.update", "settings:site",
                    AuditOutcome::kSuccess, nlohmann::json::object()};
}

SiteTextUpdate Set(std::optional<std::string> text, std::optional<std::string> color = {}) {
  SiteTextUpdate u;
  if (text) u.banner_text = *text;
  if (color) u.banner_color = *color;
  return u;
}

TEST_CASE("every runtime setting is checked by the configuration file's rules",
          "[unit][domain][settings]") {
  CHECK(CheckSiteSetting("banner_text", "").ok());
  CHECK(CheckSiteSetting("banner_text", std::string(200, 'x')).ok());
  CHECK(!CheckSiteSetting("banner_text", std::string(201, 'x')).ok());
  CHECK(!CheckSiteSetting("banner_text", "two\nlines").ok());
  CHECK(!CheckSiteSetting("banner_text", "\xff\xfe").ok());
  CHECK(CheckSiteSetting("banner_color", "purple").ok());
  CHECK(!CheckSiteSetting("banner_color", "Purple").ok());
  CHECK(!CheckSiteSetting("banner_color", "").ok());
  CHECK(CheckSiteSetting("login_notice", "one\n\ttwo\r\n").ok());
  CHECK(!CheckSiteSetting("login_notice", std::string("bell\a")).ok());
  CHECK(!CheckSiteSetting("login_notice", std::string(20001, 'x')).ok());
  Status unknown = CheckSiteSetting("site_name", "x");
  CHECK(unknown.code() == Code::kInvalidArgument);
  CHECK(unknown.message().find("site_name") != std::string::npos);
}

TEST_CASE("a change applies at once, outlives the object and is audited with key names only",
          "[unit][domain][settings]") {
  Fixture f;
  SiteSettings s(f.db.get(), f.log.get(), kFile, false);
  REQUIRE(s.Load().ok());
  CHECK(s.Current() == kFile);
  CHECK(s.Overridden().empty());

  Result<SiteText> now = s.Update(Set("SECRET//EXERCISE", "red"), Event());
  REQUIRE(now.ok());
  CHECK(now->banner_text == "SECRET//EXERCISE");
  CHECK(now->banner_color == "red");
  CHECK(now->login_notice == "File notice.");
  CHECK(s.Current() == *now);
  CHECK(s.Overridden() == std::vector<std::string>{"banner_text", "banner_color"});

  std::vector<AuditRecord> records = f.Records();
  REQUIRE(records.size() == 1);
  CHECK(records[0].action == "settings.update");
  CHECK(records[0].details == R"({"keys":["banner_text","banner_color"]})");

  // A new object over the same database (a restart) reads the change back.
  SiteSettings again(f.db.get(), f.log.get(), kFile, false);
  REQUIRE(again.Load().ok());
  CHECK(again.Current() == *now);

  // Resetting one key goes back to the file's value and forgets the row.
  SiteTextUpdate reset;
  reset.banner_text = std::optional<std::string>();
  REQUIRE(again.Update(reset, Event()).ok());
  CHECK(again.Current().banner_text == "FILE BANNER");
  CHECK(again.Current().banner_color == "red");
  CHECK(again.Overridden() == std::vector<std::string>{"banner_color"});
  SiteSettings third(f.db.get(), f.log.get(), {"NEW FILE", "green", ""}, false);
  REQUIRE(third.Load().ok());
  CHECK(third.Current().banner_text == "NEW FILE");  // follows the file once reset
  CHECK(third.Current().banner_color == "red");
}

TEST_CASE("a refused change leaves everything as it was", "[unit][domain][settings]") {
  Fixture f;
  SiteSettings s(f.db.get(), f.log.get(), kFile, true);
  REQUIRE(s.Load().ok());
  // One bad member refuses the whole update.
  Result<SiteText> half = s.Update(Set("HALF", "pink"), Event());
  CHECK(half.status().code() == Code::kInvalidArgument);
  CHECK(half.status().message().find("banner_color") != std::string::npos);
  CHECK(s.Update(SiteTextUpdate{}, Event()).status().code() == Code::kInvalidArgument);
  // Consent is required: the notice may not become empty, by a value or by a reset to "".
  SiteTextUpdate empty;
  empty.login_notice = std::string();
  CHECK(s.Update(empty, Event()).status().code() == Code::kInvalidArgument);
  CHECK(s.Current() == kFile);
  CHECK(s.Overridden().empty());
  CHECK(f.Records().empty());
}

TEST_CASE("under the refuse policy an unauditable change is not made", "[unit][domain][settings]") {
  Fixture f;
  SiteSettings s(f.db.get(), f.log.get(), kFile, false);
  REQUIRE(s.Load().ok());
  // The audit table refuses every insert: the setting's row must roll back with the record.
  REQUIRE(f.db->Write([](storage::Connection& c) {
                return c.Exec(
                    "CREATE TRIGGER no_audit BEFORE INSERT ON audit_records BEGIN "
                    "SELECT RAISE(ABORT, 'disk full'); END");
              }).ok());
  CHECK(!s.Update(Set("UNAUDITED"), Event()).ok());
  CHECK(s.Current() == kFile);
  SiteSettings again(f.db.get(), f.log.get(), kFile, false);
  REQUIRE(again.Load().ok());
  CHECK(again.Current() == kFile);
}

TEST_CASE("a stored value that breaks the rules is reported at load", "[unit][domain][settings]") {
  Fixture f;
  REQUIRE(f.db->Write([](storage::Connection& c) {
                return c.Exec(
                    "INSERT INTO settings(key, value) VALUES('site.banner_color', 'plaid')");
              }).ok());
  SiteSettings s(f.db.get(), f.log.get(), kFile, false);
  Status st = s.Load();
  CHECK(st.code() == Code::kCorruption);
  CHECK(st.message().find("site.banner_color") != std::string::npos);
}

TEST_CASE("readers see a whole old or a whole new text while updates run",
          "[unit][domain][settings]") {
  Fixture f;
  SiteSettings s(f.db.get(), f.log.get(), {"A", "green", ""}, false);
  REQUIRE(s.Load().ok());
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    while (!stop) {
      SiteText t = s.Current();
      // Every update sets text and color together: "A"/green or "B"/red, never mixed.
      if ((t.banner_text == "A") != (t.banner_color == "green")) ++torn;
    }
  });
  for (int i = 0; i < 20; ++i) {
    const bool b = i % 2 == 0;
    REQUIRE(s.Update(Set(b ? "B" : "A", b ? "red" : "green"), Event()).ok());
  }
  stop = true;
  reader.join();
  CHECK(torn == 0);
  CHECK(s.Current().banner_text == "A");
}

}  // namespace
}  // namespace outpost::domain::audit_testing
