#include "domain/totp.h"

#include <mbedtls/md.h>
#include <sodium.h>

#include <algorithm>
#include <cctype>

namespace outpost::domain {
namespace {

constexpr std::string_view kBase32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
// Recovery codes: no 0/o, 1/l/i, so that a code copied by hand reads back the same.
constexpr std::string_view kRecoveryAlphabet = "abcdefghjkmnpqrstuvwxyz23456789";
constexpr size_t kRecoveryChars = 12;  // 12 from 31 symbols: ~59 bits

std::string DeriveKey(std::string_view master_key, std::string_view purpose) {
  std::string key(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(key.data()), key.size(),
                     reinterpret_cast<const unsigned char*>(purpose.data()), purpose.size(),
                     reinterpret_cast<const unsigned char*>(master_key.data()), master_key.size());
  return key;
}

// "123 456" -> "123456"; "" when the rest is not exactly six digits.
std::string NormalizeCode(std::string_view code) {
  std::string out;
  for (char c : code) {
    if (c == ' ' || c == '-') continue;
    if (c < '0' || c > '9' || out.size() >= static_cast<size_t>(kTotpDigits)) return "";
    out.push_back(c);
  }
  return out.size() == static_cast<size_t>(kTotpDigits) ? out : "";
}

// Lower case without spaces and dashes; "" when a character is not from the alphabet.
std::string NormalizeRecoveryCode(std::string_view code) {
  std::string out;
  for (char c : code) {
    if (c == ' ' || c == '-') continue;
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (kRecoveryAlphabet.find(c) == std::string_view::npos || out.size() >= kRecoveryChars) {
      return "";
    }
    out.push_back(c);
  }
  return out.size() == kRecoveryChars ? out : "";
}

std::string NewRecoveryCode() {
  std::string code;
  while (code.size() < kRecoveryChars + 2) {
    if (code.size() == 4 || code.size() == 9) {
      code.push_back('-');
      continue;
    }
    code.push_back(kRecoveryAlphabet[randombytes_uniform(kRecoveryAlphabet.size())]);
  }
  return code;  // "abcd-efgh-jkmn"
}

std::string PercentEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

const Status& WrongCode() {
  static const Status* st = new Status(Status::Unauthenticated("wrong or already used code"));
  return *st;
}

}  // namespace

std::string Hotp(std::string_view key, uint64_t counter, int digits) {
  unsigned char msg[8];
  for (int i = 7; i >= 0; --i) {
    msg[i] = static_cast<unsigned char>(counter & 0xff);
    counter >>= 8;
  }
  unsigned char mac[20] = {};
  mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA1),
                  reinterpret_cast<const unsigned char*>(key.data()), key.size(), msg, sizeof(msg),
                  mac);
  const int offset = mac[19] & 0x0f;
  uint32_t bin = (static_cast<uint32_t>(mac[offset] & 0x7f) << 24) |
                 (static_cast<uint32_t>(mac[offset + 1]) << 16) |
                 (static_cast<uint32_t>(mac[offset + 2]) << 8) | mac[offset + 3];
  sodium_memzero(mac, sizeof(mac));
  uint32_t mod = 1;
  for (int i = 0; i < digits; ++i) mod *= 10;
  std::string out = std::to_string(bin % mod);
  return std::string(static_cast<size_t>(digits) - out.size(), '0') + out;
}

int64_t TotpStep(UnixMillis t) { return t / 1000 / kTotpStepSeconds; }

std::string Base32Encode(std::string_view bytes) {
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 5) {
      out.push_back(kBase32[(buffer >> (bits - 5)) & 31]);
      bits -= 5;
    }
  }
  if (bits > 0) out.push_back(kBase32[(buffer << (5 - bits)) & 31]);
  return out;
}

bool Base32Decode(std::string_view text, std::string* out) {
  out->clear();
  uint32_t buffer = 0;
  int bits = 0;
  for (char ch : text) {
    if (ch == ' ' || ch == '=') continue;
    char c = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    size_t v = kBase32.find(c);
    if (v == std::string_view::npos) return false;
    buffer = (buffer << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      out->push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
      bits -= 8;
    }
  }
  return true;
}

std::string OtpauthUri(std::string_view issuer, std::string_view account,
                       std::string_view secret_base32) {
  return "otpauth://totp/" + PercentEncode(issuer) + ":" + PercentEncode(account) +
         "?secret=" + std::string(secret_base32) + "&issuer=" + PercentEncode(issuer) +
         "&algorithm=SHA1&digits=" + std::to_string(kTotpDigits) +
         "&period=" + std::to_string(kTotpStepSeconds);
}

TwoFactor::TwoFactor(storage::Database* db, const Clock* clock, std::string_view master_key,
                     std::string issuer)
    : db_(db),
      clock_(clock),
      issuer_(std::move(issuer)),
      seal_key_(DeriveKey(master_key, "outpost totp secret seal v1")),
      recovery_key_(DeriveKey(master_key, "outpost recovery code hash v1")) {}

std::string TwoFactor::Seal(int64_t user_id, std::string_view secret) const {
  const std::string ad = "outpost totp user " + std::to_string(user_id);
  std::string out(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + secret.size() +
                      crypto_aead_xchacha20poly1305_ietf_ABYTES,
                  '\0');
  auto* p = reinterpret_cast<unsigned char*>(out.data());
  randombytes_buf(p, crypto_aead_xchacha20poly1305_ietf_NPUBBYTES);
  unsigned long long len = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(
      p + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, &len,
      reinterpret_cast<const unsigned char*>(secret.data()), secret.size(),
      reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), nullptr, p,
      reinterpret_cast<const unsigned char*>(seal_key_.value().data()));
  return out;
}

Result<SecretString> TwoFactor::Open(int64_t user_id, std::string_view sealed) const {
  const std::string ad = "outpost totp user " + std::to_string(user_id);
  const size_t overhead =
      crypto_aead_xchacha20poly1305_ietf_NPUBBYTES + crypto_aead_xchacha20poly1305_ietf_ABYTES;
  if (sealed.size() != overhead + kTotpSecretBytes) {
    return Status::Corruption("a sealed TOTP secret has the wrong length");
  }
  SecretString secret(std::string(kTotpSecretBytes, '\0'));
  const auto* p = reinterpret_cast<const unsigned char*>(sealed.data());
  unsigned long long len = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(
          reinterpret_cast<unsigned char*>(secret.mutable_value()->data()), &len, nullptr,
          p + crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
          sealed.size() - crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
          reinterpret_cast<const unsigned char*>(ad.data()), ad.size(), p,
          reinterpret_cast<const unsigned char*>(seal_key_.value().data())) != 0) {
    return Status::Corruption(
        "a TOTP secret does not open with this appliance's master key (or belongs to another "
        "user)");
  }
  return secret;
}

std::string TwoFactor::HashRecoveryCode(std::string_view normalized) const {
  std::string out(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(out.data()), out.size(),
                     reinterpret_cast<const unsigned char*>(normalized.data()), normalized.size(),
                     reinterpret_cast<const unsigned char*>(recovery_key_.value().data()),
                     recovery_key_.size());
  return out;
}

Result<TwoFactorState> TwoFactor::StateOf(int64_t user_id) {
  TwoFactorState state;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("SELECT enabled, enabled_at FROM user_totp WHERE user_id = ?"));
    s.Bind(1, user_id);
    OUTPOST_ASSIGN_OR_RETURN(bool row, s.Step());
    if (row) {
      state.enabled = s.ColumnInt64(0) != 0;
      state.enrolling = !state.enabled;
      state.enabled_at = s.ColumnInt64(1);
    }
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement c,
        conn.Prepare("SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL"));
    c.Bind(1, user_id);
    OUTPOST_ASSIGN_OR_RETURN(bool counted, c.Step());
    if (counted) state.recovery_codes_left = static_cast<int>(c.ColumnInt64(0));
    return Status::Ok();
  }));
  return state;
}

Result<TotpEnrolment> TwoFactor::BeginEnrolment(const User& user) {
  SecretString secret(RandomBytes(kTotpSecretBytes));
  const std::string sealed = Seal(user.id, secret.value());
  bool already = false;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement q, conn.Prepare("SELECT enabled FROM user_totp WHERE user_id = ?"));
    q.Bind(1, user.id);
    OUTPOST_ASSIGN_OR_RETURN(bool row, q.Step());
    if (row && q.ColumnInt64(0) != 0) {
      already = true;
      return Status::Ok();
    }
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("INSERT OR REPLACE INTO user_totp(user_id, secret_sealed, enabled, "
                     "last_step, created_at) VALUES(?, ?, 0, 0, ?)"));
    s.Bind(1, user.id).BindBlob(2, sealed).Bind(3, clock_->NowMillis());
    return s.Run();
  }));
  if (already) {
    return Status::FailedPrecondition(
        "two-factor authentication is already on; turn it off before enrolling again");
  }
  TotpEnrolment e;
  e.secret_base32 = Base32Encode(secret.value());
  e.otpauth_uri = OtpauthUri(issuer_, user.username, e.secret_base32);
  return e;
}

Result<SecretString> TwoFactor::LoadSecret(int64_t user_id, bool* enabled, int64_t* last_step) {
  std::string sealed;
  bool found = false;
  OUTPOST_RETURN_IF_ERROR(db_->Read([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("SELECT secret_sealed, enabled, last_step FROM user_totp WHERE user_id = ?"));
    s.Bind(1, user_id);
    OUTPOST_ASSIGN_OR_RETURN(found, s.Step());
    if (found) {
      sealed = s.ColumnBlob(0);
      *enabled = s.ColumnInt64(1) != 0;
      *last_step = s.ColumnInt64(2);
    }
    return Status::Ok();
  }));
  if (!found) return Status::NotFound("no two-factor secret for this user");
  return Open(user_id, sealed);
}

Result<std::vector<std::string>> TwoFactor::WriteRecoveryCodes(storage::Connection& conn,
                                                               int64_t user_id) {
  OUTPOST_ASSIGN_OR_RETURN(storage::Statement del,
                           conn.Prepare("DELETE FROM recovery_codes WHERE user_id = ?"));
  del.Bind(1, user_id);
  OUTPOST_RETURN_IF_ERROR(del.Run());
  std::vector<std::string> codes;
  OUTPOST_ASSIGN_OR_RETURN(
      storage::Statement ins,
      conn.Prepare("INSERT INTO recovery_codes(user_id, code_hash, created_at) VALUES(?, ?, ?)"));
  for (int i = 0; i < kRecoveryCodeCount; ++i) {
    std::string code = NewRecoveryCode();
    ins.Reset();
    ins.Bind(1, user_id).BindBlob(2, HashRecoveryCode(NormalizeRecoveryCode(code)));
    ins.Bind(3, clock_->NowMillis());
    OUTPOST_RETURN_IF_ERROR(ins.Run());
    codes.push_back(std::move(code));
  }
  return codes;
}

int64_t TwoFactor::MatchingStep(std::string_view secret, std::string_view code) const {
  const std::string given = NormalizeCode(code);
  const int64_t now = TotpStep(clock_->NowMillis());
  int64_t matched = 0;
  for (int64_t step = now - 1; step <= now + 1; ++step) {
    // Every candidate is computed and compared in constant time, match or not.
    if (ConstantTimeEquals(Hotp(secret, static_cast<uint64_t>(step)), given) && !given.empty()) {
      matched = step;
    }
  }
  return matched;
}

Result<std::vector<std::string>> TwoFactor::ConfirmEnrolment(int64_t user_id,
                                                             std::string_view code) {
  bool enabled = false;
  int64_t last_step = 0;
  Result<SecretString> secret = LoadSecret(user_id, &enabled, &last_step);
  if (secret.status().IsNotFound() || (secret.ok() && enabled)) {
    return Status::FailedPrecondition("there is no two-factor enrolment to confirm; start one");
  }
  OUTPOST_RETURN_IF_ERROR(secret.status());
  const int64_t matched = MatchingStep(secret->value(), code);
  if (matched == 0) return WrongCode();
  std::vector<std::string> codes;
  bool raced = false;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("UPDATE user_totp SET enabled = 1, enabled_at = ?, last_step = ? "
                     "WHERE user_id = ? AND enabled = 0"));
    s.Bind(1, clock_->NowMillis()).Bind(2, matched).Bind(3, user_id);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    if (conn.Changes() == 0) {
      raced = true;
      return Status::Ok();
    }
    OUTPOST_ASSIGN_OR_RETURN(codes, WriteRecoveryCodes(conn, user_id));
    return Status::Ok();
  }));
  if (raced) return Status::FailedPrecondition("the enrolment was confirmed or removed meanwhile");
  return codes;
}

Status TwoFactor::VerifyCode(int64_t user_id, std::string_view code) {
  bool enabled = false;
  int64_t last_step = 0;
  Result<SecretString> secret = LoadSecret(user_id, &enabled, &last_step);
  if (secret.status().IsNotFound() || (secret.ok() && !enabled)) return WrongCode();
  OUTPOST_RETURN_IF_ERROR(secret.status());
  const int64_t matched = MatchingStep(secret->value(), code);
  if (matched == 0 || matched <= last_step) return WrongCode();
  bool spent = false;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    // Conditional: of two requests racing with one code, only one advances the step.
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("UPDATE user_totp SET last_step = ? "
                     "WHERE user_id = ? AND enabled = 1 AND last_step < ?"));
    s.Bind(1, matched).Bind(2, user_id).Bind(3, matched);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    spent = conn.Changes() == 1;
    return Status::Ok();
  }));
  return spent ? Status::Ok() : WrongCode();
}

Status TwoFactor::UseRecoveryCode(int64_t user_id, std::string_view code, int* left) {
  const std::string normalized = NormalizeRecoveryCode(code);
  const Status refused = Status::Unauthenticated("wrong or already used recovery code");
  if (normalized.empty()) return refused;
  const std::string hash = HashRecoveryCode(normalized);
  bool spent = false;
  int remaining = 0;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement s,
        conn.Prepare("UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? "
                     "AND used_at IS NULL AND EXISTS (SELECT 1 FROM user_totp t "
                     "WHERE t.user_id = recovery_codes.user_id AND t.enabled = 1)"));
    s.Bind(1, clock_->NowMillis()).Bind(2, user_id).BindBlob(3, hash);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    spent = conn.Changes() == 1;
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement c,
        conn.Prepare("SELECT count(*) FROM recovery_codes WHERE user_id = ? AND used_at IS NULL"));
    c.Bind(1, user_id);
    OUTPOST_ASSIGN_OR_RETURN(bool row, c.Step());
    if (row) remaining = static_cast<int>(c.ColumnInt64(0));
    return Status::Ok();
  }));
  if (!spent) return refused;
  if (left != nullptr) *left = remaining;
  return Status::Ok();
}

Result<std::vector<std::string>> TwoFactor::RegenerateRecoveryCodes(int64_t user_id) {
  std::vector<std::string> codes;
  bool enabled = false;
  OUTPOST_RETURN_IF_ERROR(db_->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(
        storage::Statement q, conn.Prepare("SELECT enabled FROM user_totp WHERE user_id = ?"));
    q.Bind(1, user_id);
    OUTPOST_ASSIGN_OR_RETURN(bool row, q.Step());
    enabled = row && q.ColumnInt64(0) != 0;
    if (!enabled) return Status::Ok();
    OUTPOST_ASSIGN_OR_RETURN(codes, WriteRecoveryCodes(conn, user_id));
    return Status::Ok();
  }));
  if (!enabled) return Status::FailedPrecondition("two-factor authentication is not on");
  return codes;
}

Result<bool> TwoFactor::Remove(int64_t user_id) { return RemoveTwoFactor(db_, user_id); }

Result<bool> RemoveTwoFactor(storage::Database* db, int64_t user_id) {
  bool removed = false;
  OUTPOST_RETURN_IF_ERROR(db->Write([&](storage::Connection& conn) {
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement s,
                             conn.Prepare("DELETE FROM user_totp WHERE user_id = ?"));
    s.Bind(1, user_id);
    OUTPOST_RETURN_IF_ERROR(s.Run());
    removed = conn.Changes() > 0;
    OUTPOST_ASSIGN_OR_RETURN(storage::Statement r,
                             conn.Prepare("DELETE FROM recovery_codes WHERE user_id = ?"));
    r.Bind(1, user_id);
    return r.Run();
  }));
  return removed;
}

Result<SecretString> TwoFactor::SecretForTest(int64_t user_id) {
  bool enabled = false;
  int64_t last_step = 0;
  return LoadSecret(user_id, &enabled, &last_step);
}

}  // namespace outpost::domain
