// The web client, embedded in the binary at build time. assets/build.mjs bundles assets/src
// with esbuild, precompresses every file (gzip and brotli) and writes assets_data.cc, which
// defines EmbeddedAssets().
#ifndef OUTPOST_NET_ASSETS_H_
#define OUTPOST_NET_ASSETS_H_

#include <span>
#include <string_view>

namespace outpost::net {

// One file of the web client. All views point into static storage: valid for the whole run.
struct EmbeddedAsset {
  std::string_view path;          // URL path, e.g. "/index.html", "/app-3F2A9C1B.js"
  std::string_view content_type;  // e.g. "text/javascript; charset=utf-8"
  std::string_view etag;          // quoted strong ETag from the content's hash
  bool immutable;                 // the name carries a content hash: cache for a year
  std::string_view identity;      // the bytes as built
  std::string_view gzip;          // gzip -9 of identity; empty when it would not be smaller
  std::string_view brotli;        // brotli of identity; empty when it would not be smaller
};

// Every embedded file, in no particular order. Thread-safe (immutable data).
std::span<const EmbeddedAsset> EmbeddedAssets();

// Returns the asset served at `path`, or nullptr when there is none.
const EmbeddedAsset* FindAsset(std::string_view path);

}  // namespace outpost::net

#endif  // OUTPOST_NET_ASSETS_H_
