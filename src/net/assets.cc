// FindAsset over the table that assets/build.mjs generates (assets_data.cc).
#include "net/assets.h"

namespace outpost::net {

const EmbeddedAsset* FindAsset(std::string_view path) {
  // The client is a handful of files and each lookup compares a few short strings: a scan
  // costs less than building (and synchronising) an index, and needs no sorted table.
  for (const EmbeddedAsset& asset : EmbeddedAssets()) {
    if (asset.path == path) return &asset;
  }
  return nullptr;
}

}  // namespace outpost::net
