#include "domain/passwords.h"

#include <sodium.h>

#include <algorithm>
#include <cctype>

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

Status CheckPasswordPolicy(std::string_view password, std::string_view username, int min_length,
                           int max_length) {
  int len = Utf8Length(password);
  if (len < 0) return Status::InvalidArgument("the password is not valid UTF-8 text");
  if (len < min_length) {
    return Status::InvalidArgument("the password must be at least " + std::to_string(min_length) +
                                   " characters long");
  }
  if (len > max_length) {
    return Status::InvalidArgument("the password must be at most " + std::to_string(max_length) +
                                   " characters long");
  }
  auto lower = [](std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
  };
  if (!username.empty() && lower(password) == lower(username)) {
    return Status::InvalidArgument("the password must not be the user name");
  }
  return Status::Ok();
}

}  // namespace outpost::domain
