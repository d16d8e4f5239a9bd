// Password hashing (argon2id, libsodium) and the length policy. Passwords are compared only
// through their hashes; the plaintext is never stored or logged.
#ifndef OUTPOST_DOMAIN_PASSWORDS_H_
#define OUTPOST_DOMAIN_PASSWORDS_H_

#include <string>
#include <string_view>

#include "util/status.h"

namespace outpost::domain {

// libsodium's argon2id cost presets: interactive (64 MiB, 2 passes), moderate (256 MiB,
// 3 passes), sensitive (1 GiB, 4 passes).
enum class HashCost { kInteractive, kModerate, kSensitive };

// Returns false for an unknown name.
bool ParseHashCost(std::string_view name, HashCost* out);

// An encoded "$argon2id$v=19$m=...,t=...,p=1$salt$hash" string. ResourceExhausted when the
// machine lacks the memory the preset needs.
Result<std::string> HashPassword(std::string_view password, HashCost cost);

// True when `password` matches `encoded`. Takes the full argon2id time whatever the answer.
bool VerifyPassword(std::string_view encoded, std::string_view password);

// True when `encoded` was made with other parameters than `cost` (rehash at next login).
bool NeedsRehash(std::string_view encoded, HashCost cost);

// Checks length in Unicode code points (NIST SP 800-63B counts characters, not bytes), that
// the text is valid UTF-8 and that it is not the user name. InvalidArgument with a sentence
// the user can act on.
Status CheckPasswordPolicy(std::string_view password, std::string_view username, int min_length,
                           int max_length);

// Number of code points in `text`, or -1 when it is not valid UTF-8.
int Utf8Length(std::string_view text);

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_PASSWORDS_H_
