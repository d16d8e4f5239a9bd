// Two-factor authentication with time-based one-time passwords (RFC 6238: HMAC-SHA-1, six
// digits, 30-second steps) and single-use recovery codes.
//
// A user's TOTP secret (20 random bytes) is stored sealed with XChaCha20-Poly1305 under a key
// derived from the appliance master key, with the user id as associated data, so a copy of the
// database (or a row moved to another user) yields nothing. Recovery codes are stored only as
// keyed BLAKE2b hashes. Each accepted code's time step is remembered: a code, or any code of an
// earlier step, is refused once one has been used (RFC 6238 section 5.2).
#ifndef OUTPOST_DOMAIN_TOTP_H_
#define OUTPOST_DOMAIN_TOTP_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "domain/accounts.h"
#include "storage/database.h"
#include "util/clock.h"
#include "util/crypto.h"
#include "util/status.h"

namespace outpost::domain {

inline constexpr int kTotpStepSeconds = 30;
inline constexpr int kTotpDigits = 6;
inline constexpr size_t kTotpSecretBytes = 20;
inline constexpr int kRecoveryCodeCount = 10;

// RFC 4226 HOTP of `counter` with HMAC-SHA-1 (mbedTLS), `digits` digits zero-padded.
// Thread-safe.
std::string Hotp(std::string_view key, uint64_t counter, int digits = kTotpDigits);
// The TOTP time step of `t` (floor(seconds / 30)).
int64_t TotpStep(UnixMillis t);

// RFC 4648 base32 without padding (what authenticator apps read). Decode ignores case, spaces
// and '='; returns false on any other character.
std::string Base32Encode(std::string_view bytes);
bool Base32Decode(std::string_view text, std::string* out);

// otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...&algorithm=SHA1&digits=6&period=30
std::string OtpauthUri(std::string_view issuer, std::string_view account,
                       std::string_view secret_base32);

// Removes the user's TOTP secret and recovery codes (needs no key: `outpost user reset-2fa`).
// Returns whether there was a secret. Thread-safe.
Result<bool> RemoveTwoFactor(storage::Database* db, int64_t user_id);

// Which accounts must use a second factor ([auth] require_2fa).
enum class TwoFactorRequirement { kNone, kPrivileged, kAll };

struct TwoFactorState {
  bool enabled = false;          // confirmed and in force
  bool enrolling = false;        // a secret was issued and awaits its first code
  UnixMillis enabled_at = 0;     // 0 when not enabled
  int recovery_codes_left = 0;   // unused recovery codes
};

// What enrolment hands to the user once: the secret for an authenticator app.
struct TotpEnrolment {
  std::string secret_base32;
  std::string otpauth_uri;
};

// Thread-safe (the Database serializes writes; the last-used step is advanced with a
// conditional UPDATE, so two requests cannot both spend one code). Pointers outlive it.
class TwoFactor {
 public:
  // `master_key` is the appliance master key (32 bytes); only derived keys are kept.
  TwoFactor(storage::Database* db, const Clock* clock, std::string_view master_key,
            std::string issuer);

  // The user's state; all false/0 when they never enrolled.
  Result<TwoFactorState> StateOf(int64_t user_id);

  // Issues a new secret for `user` (replacing an unconfirmed one). FailedPrecondition when
  // two-factor authentication is already enabled (disable it first).
  Result<TotpEnrolment> BeginEnrolment(const User& user);

  // Confirms enrolment with a first code from the app: enables two-factor authentication and
  // returns the recovery codes (the only time they exist in clear). FailedPrecondition when
  // there is no enrolment in progress; Unauthenticated for a wrong code.
  Result<std::vector<std::string>> ConfirmEnrolment(int64_t user_id, std::string_view code);

  // Checks a sign-in code: one of the steps now-1, now, now+1, later than the last used step.
  // Unauthenticated for a wrong, malformed or already used code, or when 2FA is not enabled.
  Status VerifyCode(int64_t user_id, std::string_view code);

  // Spends one recovery code (case, spaces and dashes ignored). Unauthenticated when it is
  // not one of the user's unused codes. On success `*left` (if not null) gets how many remain.
  Status UseRecoveryCode(int64_t user_id, std::string_view code, int* left = nullptr);

  // Replaces every recovery code with ten new ones. FailedPrecondition when 2FA is not
  // enabled.
  Result<std::vector<std::string>> RegenerateRecoveryCodes(int64_t user_id);

  // Removes the secret and the recovery codes (disable by the user, reset by an
  // administrator). Returns whether there was anything to remove.
  Result<bool> Remove(int64_t user_id);

  // The decrypted secret; for tests of the sealing and for nothing else.
  Result<SecretString> SecretForTest(int64_t user_id);

 private:
  Result<SecretString> LoadSecret(int64_t user_id, bool* enabled, int64_t* last_step);
  // The step (previous, current or next, for clock drift) whose code `code` is; 0 for none.
  int64_t MatchingStep(std::string_view secret, std::string_view code) const;
  std::string Seal(int64_t user_id, std::string_view secret) const;
  Result<SecretString> Open(int64_t user_id, std::string_view sealed) const;
  std::string HashRecoveryCode(std::string_view normalized) const;
  // New codes, replacing the old, inside `conn`'s transaction.
  Result<std::vector<std::string>> WriteRecoveryCodes(storage::Connection& conn, int64_t user_id);

  storage::Database* const db_;
  const Clock* const clock_;
  const std::string issuer_;
  SecretString seal_key_;      // XChaCha20-Poly1305 key for secrets at rest
  SecretString recovery_key_;  // BLAKE2b key for recovery code hashes
};

}  // namespace outpost::domain

#endif  // OUTPOST_DOMAIN_TOTP_H_
