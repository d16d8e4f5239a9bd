// Small wrappers over libsodium used across layers: randomness, encodings, hashing of tokens,
// constant-time comparison and buffers that are wiped when they go away.
#ifndef OUTPOST_UTIL_CRYPTO_H_
#define OUTPOST_UTIL_CRYPTO_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/status.h"

namespace outpost {

// Initializes libsodium once; safe to call from any thread, any number of times. Returns a
// non-OK Status only when libsodium cannot start (no usable randomness).
Status InitCrypto();

// `n` random bytes from the kernel (getrandom), as a byte string.
std::string RandomBytes(size_t n);

// 256-bit random token, base64url without padding (43 characters).
std::string RandomToken();

std::string HexEncode(std::string_view bytes);
std::string Base64UrlEncode(std::string_view bytes);
// Returns false on malformed input.
bool Base64UrlDecode(std::string_view text, std::string* out);

// BLAKE2b-256 of `data` (raw 32 bytes). Tokens are stored only as this hash.
std::string HashToken(std::string_view data);

// Constant-time equality for secrets of possibly different lengths (length is not secret).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Overwrites the string's bytes with zeros (where the optimizer cannot remove it).
void WipeString(std::string* s);

// A std::string that is zeroed when destroyed or reassigned. Move-only.
class SecretString {
 public:
  SecretString() = default;
  explicit SecretString(std::string value) : value_(std::move(value)) {}
  ~SecretString() { WipeString(&value_); }
  SecretString(SecretString&& other) noexcept : value_(std::move(other.value_)) {
    other.value_.clear();
  }
  SecretString& operator=(SecretString&& other) noexcept {
    if (this != &other) {
      WipeString(&value_);
      value_ = std::move(other.value_);
      other.value_.clear();
    }
    return *this;
  }
  SecretString(const SecretString&) = delete;
  SecretString& operator=(const SecretString&) = delete;

  const std::string& value() const { return value_; }
  std::string* mutable_value() { return &value_; }
  size_t size() const { return value_.size(); }
  bool empty() const { return value_.empty(); }

 private:
  std::string value_;
};

}  // namespace outpost

#endif  // OUTPOST_UTIL_CRYPTO_H_
