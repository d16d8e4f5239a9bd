// Opaque pagination cursors: a few integers, authenticated with a keyed BLAKE2b MAC so that a
// client can hand them back but not forge or edit them (a tampered cursor is a 400, never a
// page of something else).
#ifndef OUTPOST_API_CURSOR_H_
#define OUTPOST_API_CURSOR_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace outpost::api {

// Immutable after construction: thread-safe.
class CursorCodec {
 public:
  // `key`: 32 secret bytes (derived from the appliance master key in production).
  explicit CursorCodec(std::string key);

  // "<base64url(kind|v1|v2...)>.<base64url(mac)>"
  std::string Encode(std::string_view kind, const std::vector<int64_t>& values) const;

  // The values of a cursor made by Encode with the same kind and `count` values;
  // InvalidArgument("invalid cursor") for anything else.
  Result<std::vector<int64_t>> Decode(std::string_view kind, std::string_view cursor,
                                      size_t count) const;

 private:
  std::string Mac(std::string_view data) const;
  std::string key_;
};

// Derives the cursor key from the master key (a separate key for a separate purpose).
std::string DeriveCursorKey(std::string_view master_key);

}  // namespace outpost::api

#endif  // OUTPOST_API_CURSOR_H_
