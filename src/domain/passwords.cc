#include "domain/passwords.h"

#include <sodium.h>

#include <string>

#include "domain/breached_passwords.h"

namespace outpost::domain {
namespace {

void CostLimits(HashCost cost, unsigned long long* ops, size_t* mem) {
  switch (cost) {
    case HashCost::kInteractive:
      *ops = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE;
      *mem = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE;
      return;
    case HashCost::kModerate:
      *ops = crypto_pwhash_argon2id_OPSLIMIT_MODERATE;
      *mem = crypto_pwhash_argon2id_MEMLIMIT_MODERATE;
      return;
    case HashCost::kSensitive:
      *ops = crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE;
      *mem = crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE;
      return;
  }
}

}  // namespace

bool ParseHashCost(std::string_view name, HashCost* out) {
  if (name == "interactive") *out = HashCost::kInteractive;
  else if (name == "moderate") *out = HashCost::kModerate;
  else if (name == "sensitive") *out = HashCost::kSensitive;
  else return false;
  return true;
}

Result<std::string> HashPassword(std::string_view password, HashCost cost) {
  unsigned long long ops = 0;
  size_t mem = 0;
  CostLimits(cost, &ops, &mem);
  char out[crypto_pwhash_argon2id_STRBYTES];
  if (crypto_pwhash_argon2id_str(out, password.data(), password.size(), ops, mem) != 0) {
    return Status::ResourceExhausted("not enough memory to hash the password");
  }
  return std::string(out);
}

bool VerifyPassword(std::string_view encoded, std::string_view password) {
  std::string copy(encoded);  // libsodium wants a NUL-terminated string
  return crypto_pwhash_argon2id_str_verify(copy.c_str(), password.data(), password.size()) == 0;
}

bool NeedsRehash(std::string_view encoded, HashCost cost) {
  unsigned long long ops = 0;
  size_t mem = 0;
  CostLimits(cost, &ops, &mem);
  std::string copy(encoded);
  return crypto_pwhash_argon2id_str_needs_rehash(copy.c_str(), ops, mem) != 0;
}

int Utf8Length(std::string_view text) {
  int count = 0;
  size_t i = 0;
  while (i < text.size()) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) { len = 1; cp = c; }
    else if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; }
    else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; }
    else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; }
    else return -1;
    if (i + len > text.size()) return -1;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return -1;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not UTF-8.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return -1;
    }
    i += len;
    ++count;
  }
  return count;
}

namespace {

std::string LowerAscii(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool IsAsciiDigitOrSymbol(char c) {
  unsigned char u = static_cast<unsigned char>(c);
  bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  return u >= 0x20 && u < 0x7f && !alpha;
}

// "aaaaaaaaaaaaaaa", "abcabcabcabcabc" and "dragondragondragon": the whole password is one
// piece repeated, where the piece is at most four bytes or itself a common password.
bool IsRepeatedPiece(const std::string& lower) {
  for (size_t unit = 1; unit <= lower.size() / 2; ++unit) {
    if (lower.size() % unit != 0) continue;
    bool repeats = true;
    for (size_t i = unit; i < lower.size() && repeats; ++i) repeats = lower[i] == lower[i - unit];
    if (!repeats) continue;
    std::string_view piece(lower.data(), unit);
    if (unit <= 4 || IsBreachedPassword(piece)) return true;
  }
  return false;
}

// A common password with digits and symbols around it ("Password123!!!!!"): the core left
// after stripping them is on the list. Cores shorter than three bytes are not judged.
bool IsDecoratedBreach(const std::string& lower) {
  size_t b = 0, e = lower.size();
  while (b < e && IsAsciiDigitOrSymbol(lower[b])) ++b;
  while (e > b && IsAsciiDigitOrSymbol(lower[e - 1])) --e;
  if (e - b < 3 || (b == 0 && e == lower.size())) return false;
  return IsBreachedPassword(std::string_view(lower).substr(b, e - b));
}

// Code points left in `lower` once every occurrence of `word` is taken out. Both are valid
// UTF-8 (the caller checked `lower`; `word` is a whole name), so the rest is too.
int LengthWithout(const std::string& lower, const std::string& word) {
  std::string rest;
  size_t from = 0;
  for (size_t at = lower.find(word); at != std::string::npos; at = lower.find(word, from)) {
    rest.append(lower, from, at - from);
    from = at + word.size();
  }
  rest.append(lower, from, std::string::npos);
  return Utf8Length(rest);
}

// The classes of the stig profile that `password` lacks, as a phrase; "" when none.
std::string MissingClasses(std::string_view password) {
  bool upper = false, lower = false, digit = false, special = false;
  for (char c : password) {
    if (c >= 'A' && c <= 'Z') upper = true;
    else if (c >= 'a' && c <= 'z') lower = true;
    else if (c >= '0' && c <= '9') digit = true;
    else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) special = true;  // one per character
  }
  std::string missing;
  auto add = [&](bool have, const char* what) {
    if (have) return;
    missing += (missing.empty() ? "" : ", ") + std::string(what);
  };
  add(upper, "an upper-case letter (A-Z)");
  add(lower, "a lower-case letter (a-z)");
  add(digit, "a digit (0-9)");
  add(special, "a special character (anything else, such as ! # or a space)");
  return missing;
}

}  // namespace

bool ParsePasswordProfile(std::string_view name, PasswordProfile* out) {
  if (name == "nist") *out = PasswordProfile::kNist;
  else if (name == "stig") *out = PasswordProfile::kStig;
  else return false;
  return true;
}

std::string_view PasswordProfileName(PasswordProfile profile) {
  return profile == PasswordProfile::kStig ? "stig" : "nist";
}

Status CheckPasswordPolicy(std::string_view password, const PasswordPolicy& policy,
                           std::string_view username, std::string_view site_name) {
  int len = Utf8Length(password);
  if (len < 0) return Status::InvalidArgument("the password is not valid UTF-8 text");
  if (len < policy.min_length) {
    return Status::InvalidArgument("the password must be at least " +
                                   std::to_string(policy.min_length) +
                                   " characters long; a few unrelated words make a good one");
  }
  if (len > policy.max_length) {
    return Status::InvalidArgument("the password must be at most " +
                                   std::to_string(policy.max_length) + " characters long");
  }
  if (policy.composition()) {
    std::string missing = MissingClasses(password);
    if (!missing.empty()) {
      return Status::InvalidArgument(
          "the password must contain at least one upper-case letter, one lower-case letter, one "
          "digit and one special character; it lacks " + missing);
    }
  }
  const std::string lower = LowerAscii(password);
  const std::string name = LowerAscii(username);
  if (!name.empty() && lower == name) {
    return Status::InvalidArgument("the password must not be your user name");
  }
  // Words an attacker knows (NIST SP 800-63B's context-specific words) add no secrecy: a
  // password holding one must be long enough without it. A long passphrase that mentions the
  // name in passing is not weakened by it, and is accepted.
  const int min_length = policy.min_length;
  auto leans_on = [&](const std::string& word) {
    return word.size() >= 3 && lower.find(word) != std::string::npos &&
           LengthWithout(lower, word) < min_length;
  };
  auto too_short_without = [&](const std::string& what) {
    return Status::InvalidArgument("the password leans on " + what + ": without it, it must "
                                   "still be at least " + std::to_string(min_length) +
                                   " characters long");
  };
  if (leans_on(name)) return too_short_without("your user name");
  if (leans_on(LowerAscii(site_name))) {
    return too_short_without("the site name ('" + std::string(site_name) + "')");
  }
  if (leans_on("outpost")) return too_short_without("the word 'outpost'");
  if (IsBreachedPassword(lower)) {
    return Status::InvalidArgument(
        "this password is one of the most common passwords found in data breaches, which "
        "attackers try first; choose another");
  }
  if (IsDecoratedBreach(lower)) {
    return Status::InvalidArgument(
        "this password is a common breached password with digits or symbols added, which "
        "attackers try first; choose another");
  }
  if (IsRepeatedPiece(lower)) {
    return Status::InvalidArgument(
        "the password must not be a short sequence repeated; choose another");
  }
  return Status::Ok();
}

Status CheckPasswordPolicy(std::string_view password, std::string_view username, int min_length,
                           int max_length) {
  PasswordPolicy policy;
  policy.min_length = min_length;
  policy.max_length = max_length;
  return CheckPasswordPolicy(password, policy, username);
}

}  // namespace outpost::domain
