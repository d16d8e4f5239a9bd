#include <catch2/catch.hpp>

#include "domain/chat_text.h"
#include "domain/search.h"

namespace outpost::domain {
namespace {

TEST_CASE("mentions are found at word starts, outside code, once each", "[unit][chat]") {
  Mentions m = ParseMentions("hi @Bob and @alice.smith, thanks @bob. mail bob@example.mil "
                             "`@carol` ```\n@dave\n``` @here");
  CHECK(m.users == std::vector<std::string>{"bob", "alice.smith"});
  CHECK(m.here);
  CHECK_FALSE(m.all);
  CHECK(ParseMentions("@channel please").all);
  CHECK(ParseMentions("@all").all);
  CHECK(ParseMentions("@ alone").users.empty());
  CHECK(ParseMentions("trailing dash @eve-").users == std::vector<std::string>{"eve"});
}

TEST_CASE("message bodies must be non-empty UTF-8 text within the limit", "[unit][chat]") {
  CHECK(CheckMessageBody("hello\n\tworld", 100).ok());
  CHECK(CheckMessageBody("   \n ", 100).code() == Code::kInvalidArgument);
  CHECK(CheckMessageBody("", 100).code() == Code::kInvalidArgument);
  CHECK(CheckMessageBody(std::string(101, 'x'), 100).code() == Code::kInvalidArgument);
  std::string hundred_alphas;
  for (int i = 0; i < 100; ++i) hundred_alphas += "\xce\xb1";
  CHECK(CheckMessageBody(hundred_alphas, 100).ok());
  CHECK(CheckMessageBody("bad \xff byte", 100).code() == Code::kInvalidArgument);
  CHECK(CheckMessageBody(std::string("nul\0here", 8), 100).code() == Code::kInvalidArgument);
  CHECK(CheckMessageBody("bell\a", 100).code() == Code::kInvalidArgument);
}

TEST_CASE("channel names are lower-case words", "[unit][chat]") {
  CHECK(CheckRoomName("ops-center_2.0").ok());
  for (const char* bad : {"", "Ops", "-ops", "ops center", "ops/x", "ops#"}) {
    INFO(bad);
    CHECK(CheckRoomName(bad).code() == Code::kInvalidArgument);
  }
  CHECK(CheckRoomName(std::string(81, 'a')).code() == Code::kInvalidArgument);
}

TEST_CASE("reactions take one emoji and refuse plain text", "[unit][chat]") {
  for (const char* ok : {"\xf0\x9f\x91\x8d",                          // thumbs up
                         "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",          // with skin tone
                         "\xe2\x9d\xa4\xef\xb8\x8f",                  // red heart + VS16
                         "\xf0\x9f\x87\xa9\xf0\x9f\x87\xaa",          // flag DE
                         "1\xef\xb8\x8f\xe2\x83\xa3",                 // keycap 1
                         "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x9a\x80"}) {  // ZWJ sequence
    INFO(ok);
    CHECK(CheckEmoji(ok).ok());
  }
  for (const char* bad : {"", "a", "+1", ":thumbsup:", "1", "\xe2\x80\x8d", "<script>",
                          "\xf0\x9f\x91\x8d x"}) {
    INFO(bad);
    CHECK(CheckEmoji(bad).code() == Code::kInvalidArgument);
  }
  CHECK(CheckEmoji(std::string(20, 'x')).code() == Code::kInvalidArgument);
}

TEST_CASE("search queries become quoted FTS5 expressions and filters", "[unit][chat][search]") {
  auto q = ParseSearchQuery("deploy \"release notes\" conf* from:@bob in:#ops "
                            "after:2026-01-31 before:2026-02-28 has:file");
  REQUIRE(q.ok());
  CHECK(q->fts == "\"deploy\" \"release notes\" \"conf\" *");
  CHECK(q->from == "bob");
  CHECK(q->in == "ops");
  CHECK(q->after == 1769817600000);
  CHECK(q->before == 1772236800000);
  CHECK(q->has_file);
  // FTS5 syntax typed by a user is data, not syntax.
  auto tricky = ParseSearchQuery("a OR b NEAR(c) -d col:x");
  REQUIRE(tricky.ok());
  CHECK(tricky->fts == "\"a\" \"OR\" \"b\" \"NEAR(c)\" \"-d\" \"col:x\"");
  CHECK(ParseSearchQuery("say \"\"\"hi").status().code() == Code::kInvalidArgument);
  CHECK(ParseSearchQuery("\"unclosed").status().code() == Code::kInvalidArgument);
  CHECK(ParseSearchQuery("x before:2026-02-30").status().code() == Code::kInvalidArgument);
  CHECK(ParseSearchQuery("x after:yesterday").status().code() == Code::kInvalidArgument);
  CHECK(ParseSearchQuery("x has:link").status().code() == Code::kInvalidArgument);
  CHECK(ParseSearchQuery("   ").status().code() == Code::kInvalidArgument);
  CHECK(ParseSearchQuery("from:").status().code() == Code::kInvalidArgument);
  CHECK(ParseSearchQuery("from:bob").ok());
}

}  // namespace
}  // namespace outpost::domain
