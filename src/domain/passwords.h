// Password hashing (argon2id, libsodium) and the length policy. Passwords are compared only
// through their hashes; the plaintext is never stored or logged.
#ifndef OUTPOST_DOMAIN_PASSWORDS_H_
#define OUTPOST_DOMAIN_PASSWORDS_H_

#include <cstdint>
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

// The two password policy profiles of [auth] password_profile (docs/security.md, "Passwords
// and lockout"):
//   kNist: NIST SP 800-63B-4. Length only, no composition rules, no forced expiry.
//   kStig: DoD (Application Security and Development STIG). Length, at least one upper-case
//          letter, lower-case letter, digit and special character, a maximum and a minimum
//          age, and no reuse of the last `history` passwords.
// Both refuse the embedded list of common breached passwords (domain/breached_passwords.h)
// and passwords containing the user name, the site name or "outpost".
enum class PasswordProfile { kNist, kStig };

// Returns false for an unknown name ("nist", "stig").
bool ParsePasswordProfile(std::string_view name, PasswordProfile* out);
std::string_view PasswordProfileName(PasswordProfile profile);

struct PasswordPolicy {
  PasswordProfile profile = PasswordProfile::kNist;
  int min_length = 15;   // code points
  int max_length = 128;  // code points
  // Used by the stig profile only: NIST SP 800-63B-4 forbids forced periodic changes and
  // composition rules, so under nist these have no effect whatever they hold.
  int max_age_days = 60;  // 0: passwords never expire
  int min_age_days = 1;   // 0: a user may change again at once
  int history = 5;        // previous passwords that may not be reused; 0: none kept

  bool composition() const { return profile == PasswordProfile::kStig; }
  // Milliseconds; 0 when the rule is off (always under nist).
  int64_t max_age_ms() const {
    return profile == PasswordProfile::kStig ? int64_t{max_age_days} * 86400000 : 0;
  }
  int64_t min_age_ms() const {
    return profile == PasswordProfile::kStig ? int64_t{min_age_days} * 86400000 : 0;
  }
  int history_depth() const { return profile == PasswordProfile::kStig ? history : 0; }
};

// Checks a new password against `policy`: valid UTF-8, length in Unicode code points (NIST SP
// 800-63B counts characters, not bytes), composition under stig, not on the breached list
// (also not a listed one with digits or symbols around it, nor a short piece repeated, as
// "abcabcabcabcabc"), not the user name, and not leaning on `username`, `site_name` or
// "outpost": a password containing one of them (in any case) must still have min_length
// characters without it. InvalidArgument with a sentence the user can act on.
// History and ages need the account's records: Accounts checks them.
Status CheckPasswordPolicy(std::string_view password, const PasswordPolicy& policy,
                           std::string_view username, std::string_view site_name = {});

// The nist profile's checks with these lengths (for callers with no policy at hand).
Status CheckPasswordPolicy(std::string_view password, std::string_view username, int min_length,
                           int max_length);

// Number of code points in `text`, or -1 when it is not valid UTF-8.
int Utf8Length(std::string_view text);

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_PASSWORDS_H_
