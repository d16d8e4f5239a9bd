#include "api/cursor.h"

#include <sodium.h>

#include "util/crypto.h"

namespace outpost::api {

CursorCodec::CursorCodec(std::string key) : key_(std::move(key)) {}

std::string CursorCodec::Mac(std::string_view data) const {
  std::string mac(16, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(mac.data()), mac.size(),
                     reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                     reinterpret_cast<const unsigned char*>(key_.data()), key_.size());
  return mac;
}

std::string CursorCodec::Encode(std::string_view kind, const std::vector<int64_t>& values) const {
  std::string data(kind);
  for (int64_t v : values) data += "|" + std::to_string(v);
  return Base64UrlEncode(data) + "." + Base64UrlEncode(Mac(data));
}

Result<std::vector<int64_t>> CursorCodec::Decode(std::string_view kind, std::string_view cursor,
                                                 size_t count) const {
  const Status bad = Status::InvalidArgument("invalid cursor");
  size_t dot = cursor.find('.');
  if (dot == std::string_view::npos || cursor.size() > 512) return bad;
  std::string data, mac;
  if (!Base64UrlDecode(cursor.substr(0, dot), &data) ||
      !Base64UrlDecode(cursor.substr(dot + 1), &mac) || !ConstantTimeEquals(mac, Mac(data))) {
    return bad;
  }
  std::vector<int64_t> values;
  size_t pos = data.find('|');
  if (data.substr(0, pos) != kind) return bad;
  while (pos != std::string::npos) {
    size_t next = data.find('|', pos + 1);
    std::string part = data.substr(pos + 1, next == std::string::npos ? next : next - pos - 1);
    try {
      values.push_back(std::stoll(part));
    } catch (...) {
      return bad;
    }
    pos = next;
  }
  if (values.size() != count) return bad;
  return values;
}

std::string DeriveCursorKey(std::string_view master_key) {
  static constexpr std::string_view kPurpose = "outpost pagination cursor key v1";
  std::string key(32, '\0');
  crypto_generichash(reinterpret_cast<unsigned char*>(key.data()), key.size(),
                     reinterpret_cast<const unsigned char*>(kPurpose.data()), kPurpose.size(),
                     reinterpret_cast<const unsigned char*>(master_key.data()), master_key.size());
  return key;
}

}  // namespace outpost::api
