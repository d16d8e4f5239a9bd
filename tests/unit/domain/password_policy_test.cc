// The password policy profiles (nist, stig) and the embedded list of breached passwords.
#include <catch2/catch.hpp>

#include "domain/breached_passwords.h"
#include "domain/passwords.h"

namespace outpost::domain {
namespace {

PasswordPolicy Nist(int min_length = 15) {
  PasswordPolicy p;
  p.profile = PasswordProfile::kNist;
  p.min_length = min_length;
  return p;
}

PasswordPolicy Stig() {
  PasswordPolicy p;
  p.profile = PasswordProfile::kStig;
  return p;
}

TEST_CASE("the nist profile counts code points and asks for no mix of character classes",
          "[unit][domain][passwords]") {
  CHECK(CheckPasswordPolicy("ripe plums in july", Nist(), "bob").ok());  // lower case only
  Status short_pw = CheckPasswordPolicy("ripe plums jul", Nist(), "bob");  // 14 characters
  CHECK(short_pw.code() == Code::kInvalidArgument);
  CHECK_THAT(short_pw.message(), Catch::Contains("at least 15 characters"));
  // Fifteen Greek letters are thirty bytes but fifteen characters.
  std::string greek;
  for (const char* c : {"\xce\xb1", "\xce\xb2", "\xce\xb3", "\xce\xb4", "\xce\xb5"}) {
    greek += c;
  }
  const std::string fifteen = greek + greek + greek;
  CHECK(CheckPasswordPolicy(fifteen, Nist(), "bob").ok());
  CHECK(CheckPasswordPolicy(fifteen.substr(0, 28), Nist(), "bob").code() ==
        Code::kInvalidArgument);
  PasswordPolicy at_most_16 = Nist();
  at_most_16.max_length = 16;
  CHECK_THAT(CheckPasswordPolicy("ripe plums in july", at_most_16, "bob").message(),
             Catch::Contains("at most 16"));
  CHECK_THAT(CheckPasswordPolicy("ripe plums\xff in july", Nist(), "bob").message(),
             Catch::Contains("UTF-8"));
  // Ages and history are stig rules: under nist they read as off whatever they hold.
  PasswordPolicy n = Nist();
  n.max_age_days = 60;
  n.min_age_days = 1;
  n.history = 5;
  CHECK(n.max_age_ms() == 0);
  CHECK(n.min_age_ms() == 0);
  CHECK(n.history_depth() == 0);
  CHECK(Stig().max_age_ms() == 60LL * 86400 * 1000);
  CHECK(Stig().min_age_ms() == 86400LL * 1000);
  CHECK(Stig().history_depth() == 5);
}

TEST_CASE("the stig profile wants an upper-case letter, a lower-case letter, a digit and a "
          "special character, and names what is missing",
          "[unit][domain][passwords]") {
  CHECK(CheckPasswordPolicy("Ripe plums in July 4", Stig(), "bob").ok());
  Status no_digit = CheckPasswordPolicy("Ripe plums in July", Stig(), "bob");
  CHECK(no_digit.code() == Code::kInvalidArgument);
  CHECK_THAT(no_digit.message(), Catch::Contains("a digit (0-9)"));
  CHECK_THAT(no_digit.message(), !Catch::Contains("upper-case letter (A-Z)"));
  Status lower_only = CheckPasswordPolicy("ripeplumsinjulyx", Stig(), "bob");
  CHECK_THAT(lower_only.message(), Catch::Contains("an upper-case letter (A-Z)"));
  CHECK_THAT(lower_only.message(), Catch::Contains("a digit (0-9)"));
  CHECK_THAT(lower_only.message(), Catch::Contains("a special character"));
  CHECK_THAT(lower_only.message(), !Catch::Contains("a lower-case letter (a-z)"));
  CHECK_THAT(CheckPasswordPolicy("RIPEPLUMS1NJULY!", Stig(), "bob").message(),
             Catch::Contains("a lower-case letter (a-z)"));
  // A non-ASCII character counts as a special one.
  CHECK(CheckPasswordPolicy("Ripeplumsinjuly4\xc3\xa9", Stig(), "bob").ok());
  // 15 characters is the DoD minimum too.
  CHECK_THAT(CheckPasswordPolicy("Rp1!Rp1!Rp1!xy", Stig(), "bob").message(),
             Catch::Contains("at least 15"));
}

TEST_CASE("the embedded breached list is large, lower-cased and sorted",
          "[unit][domain][passwords]") {
  const BreachedList& list = EmbeddedBreachedList();
  CHECK(list.count >= 10000);
  CHECK_THAT(std::string(list.source), Catch::Contains("@zxcvbn-ts/language-common"));
  REQUIRE(!list.sorted.empty());
  CHECK(list.sorted.back() == '\n');
  size_t entries = 0;
  std::string_view previous;
  size_t start = 0;
  bool sorted = true, lower = true;
  while (start < list.sorted.size()) {
    size_t end = list.sorted.find('\n', start);
    std::string_view entry = list.sorted.substr(start, end - start);
    if (entries > 0 && !(previous < entry)) sorted = false;
    for (char c : entry) {
      if (c >= 'A' && c <= 'Z') lower = false;
    }
    previous = entry;
    ++entries;
    start = end + 1;
  }
  CHECK(entries == list.count);
  CHECK(sorted);
  CHECK(lower);
}

TEST_CASE("common breached passwords are found in any case and ordinary passphrases are not",
          "[unit][domain][passwords]") {
  for (const char* common : {"password", "PASSWORD", "PassWord", "123456", "qwerty", "iloveyou",
                             "trustno1", "baseball", "dragon"}) {
    INFO(common);
    CHECK(IsBreachedPassword(common));
  }
  for (const char* fine : {"ripe plums in july", "Tuba quartet 7 slept!", "", "pass\nword"}) {
    INFO(fine);
    CHECK_FALSE(IsBreachedPassword(fine));
  }
  // The policy refuses them in both profiles, with a sentence the user can act on.
  for (PasswordPolicy policy : {Nist(8), Stig()}) {
    policy.min_length = 8;
    Status st = CheckPasswordPolicy(policy.composition() ? "P@ssw0rd" : "Password", policy, "bob");
    INFO(PasswordProfileName(policy.profile) << ": " << st.message());
    CHECK(st.code() == Code::kInvalidArgument);
    CHECK_THAT(st.message(), Catch::Contains("data breaches"));
  }
  // A listed password with digits and symbols around it is refused as well.
  Status decorated = CheckPasswordPolicy("Baseball1234567!", Stig(), "bob");
  CHECK_THAT(decorated.message(), Catch::Contains("digits or symbols added"));
  CHECK_THAT(CheckPasswordPolicy("2024password2024", Nist(), "bob").message(),
             Catch::Contains("digits or symbols added"));
}

TEST_CASE("the breached list lookup finds the first, last and middle entries and nothing else",
          "[unit][domain][passwords]") {
  const BreachedList list{"abc\nabcd\nb\nmiddle\nzz\n", 5, "test"};
  for (const char* hit : {"abc", "ABCD", "b", "middle", "zz"}) {
    INFO(hit);
    CHECK(IsBreachedPassword(hit, list));
  }
  for (const char* miss : {"a", "ab", "abcde", "aa", "c", "middl", "middlex", "zzz", "0", "~"}) {
    INFO(miss);
    CHECK_FALSE(IsBreachedPassword(miss, list));
  }
  const BreachedList one{"only\n", 1, "test"};
  CHECK(IsBreachedPassword("only", one));
  CHECK_FALSE(IsBreachedPassword("onl", one));
  CHECK_FALSE(IsBreachedPassword("onlyx", one));
}

TEST_CASE("a password leaning on the user name, the site name or 'outpost' is refused",
          "[unit][domain][passwords]") {
  for (PasswordProfile profile : {PasswordProfile::kNist, PasswordProfile::kStig}) {
    PasswordPolicy policy;
    policy.profile = profile;
    INFO(PasswordProfileName(profile));
    Status name = CheckPasswordPolicy("J.Smith_2024_go!", policy, "j.smith", "Fort Alpha");
    CHECK(name.code() == Code::kInvalidArgument);
    CHECK_THAT(name.message(), Catch::Contains("your user name: without it"));
    CHECK_THAT(CheckPasswordPolicy("Fort Alpha 2024!", policy, "bob", "Fort Alpha").message(),
               Catch::Contains("site name ('Fort Alpha')"));
    CHECK_THAT(CheckPasswordPolicy("OutPost account 1!", policy, "bob", "Fort Alpha").message(),
               Catch::Contains("'outpost'"));
    // Every occurrence is taken out before counting.
    CHECK_THAT(CheckPasswordPolicy("Bob-2024-bob-2024-BOB", policy, "bob", "").message(),
               Catch::Contains("user name"));
    CHECK(CheckPasswordPolicy("Ripe plums in July 4", policy, "bob", "Fort Alpha").ok());
    // A long passphrase that mentions the name in passing keeps 15 characters without it.
    CHECK(CheckPasswordPolicy("Bob's long passphrase 2024", policy, "bob", "Fort Alpha").ok());
  }
  CHECK_THAT(CheckPasswordPolicy("j.smith", Nist(7), "J.Smith").message(),
             Catch::Contains("must not be your user name"));
  // A one- or two-letter name only refuses itself, not every password holding those letters.
  CHECK(CheckPasswordPolicy("an alpine lake in june", Nist(), "al").ok());
  CHECK(CheckPasswordPolicy("AL", Nist(2), "al").code() == Code::kInvalidArgument);
}

TEST_CASE("a password that is one short piece repeated is refused", "[unit][domain][passwords]") {
  CHECK_THAT(CheckPasswordPolicy("aaaaaaaaaaaaaaaa", Nist(), "bob").message(),
             Catch::Contains("repeated"));
  CHECK_THAT(CheckPasswordPolicy("abcdabcdabcdabcd", Nist(), "bob").message(),
             Catch::Contains("repeated"));
  CHECK_THAT(CheckPasswordPolicy("dragondragondragon", Nist(), "bob").message(),
             Catch::Contains("repeated"));
  // A longer piece that is not itself a common password is fine.
  CHECK(CheckPasswordPolicy("plum jar plum jar plum jar ", Nist(), "bob").ok());
}

TEST_CASE("profile names parse both ways", "[unit][domain][passwords]") {
  PasswordProfile p = PasswordProfile::kNist;
  REQUIRE(ParsePasswordProfile("stig", &p));
  CHECK(p == PasswordProfile::kStig);
  REQUIRE(ParsePasswordProfile("nist", &p));
  CHECK(p == PasswordProfile::kNist);
  CHECK_FALSE(ParsePasswordProfile("NIST", &p));
  CHECK(PasswordProfileName(PasswordProfile::kStig) == "stig");
}

}  // namespace
}  // namespace outpost::domain
