#include "net/assets.h"

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace outpost::net {
namespace {

// Every value of a src="..." or href="..." attribute in `html`, in order.
std::vector<std::string> ReferencedPaths(std::string_view html) {
  std::vector<std::string> paths;
  for (std::string_view attr : {" src=\"", " href=\""}) {
    for (size_t at = html.find(attr); at != std::string_view::npos; at = html.find(attr, at)) {
      at += attr.size();
      size_t end = html.find('"', at);
      if (end == std::string_view::npos) break;
      paths.emplace_back(html.substr(at, end - at));
      at = end;
    }
  }
  return paths;
}

bool IsQuotedHexEtag(std::string_view etag) {
  if (etag.size() != 18 || etag.front() != '"' || etag.back() != '"') return false;
  for (char c : etag.substr(1, 16)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST_CASE("index.html is embedded as html with a quoted etag and is revalidated", "[unit][net]") {
  const EmbeddedAsset* index = FindAsset("/index.html");
  REQUIRE(index != nullptr);
  CHECK(index->path == "/index.html");
  CHECK(index->content_type == "text/html; charset=utf-8");
  CHECK(IsQuotedHexEtag(index->etag));
  CHECK_FALSE(index->immutable);
  CHECK(index->identity.substr(0, 15) == "<!doctype html>");
}

TEST_CASE("every file index.html references is embedded and immutable", "[unit][net]") {
  const EmbeddedAsset* index = FindAsset("/index.html");
  REQUIRE(index != nullptr);
  std::vector<std::string> paths = ReferencedPaths(index->identity);
  // The script, the stylesheet and the icon.
  REQUIRE(paths.size() >= 3);
  bool has_script = false;
  bool has_stylesheet = false;
  for (const std::string& path : paths) {
    INFO("referenced path: " << path);
    const EmbeddedAsset* asset = FindAsset(path);
    REQUIRE(asset != nullptr);
    CHECK(asset->immutable);
    CHECK_FALSE(asset->identity.empty());
    if (asset->content_type == "text/javascript; charset=utf-8") has_script = true;
    if (asset->content_type == "text/css; charset=utf-8") has_stylesheet = true;
  }
  CHECK(has_script);
  CHECK(has_stylesheet);
}

TEST_CASE("every embedded file has a unique path, a type and a quoted etag", "[unit][net]") {
  std::set<std::string_view> paths;
  std::set<std::string_view> etags;
  REQUIRE(EmbeddedAssets().size() >= 4);
  for (const EmbeddedAsset& asset : EmbeddedAssets()) {
    INFO("asset: " << asset.path);
    CHECK(asset.path.substr(0, 1) == "/");
    CHECK(paths.insert(asset.path).second);
    CHECK(etags.insert(asset.etag).second);  // distinct contents, distinct etags
    CHECK(IsQuotedHexEtag(asset.etag));
    CHECK_FALSE(asset.content_type.empty());
    if (asset.content_type.substr(0, 5) == "text/") {
      CHECK(asset.content_type.find("; charset=utf-8") != std::string_view::npos);
    }
    CHECK(FindAsset(asset.path) == &asset);
  }
}

TEST_CASE("precompressed bodies are smaller than the identity bytes", "[unit][net]") {
  size_t compressed = 0;
  for (const EmbeddedAsset& asset : EmbeddedAssets()) {
    INFO("asset: " << asset.path);
    if (!asset.gzip.empty()) {
      ++compressed;
      CHECK(asset.gzip.size() < asset.identity.size());
      // RFC 1952 magic and deflate method: the bytes really are gzip.
      REQUIRE(asset.gzip.size() > 3);
      CHECK(static_cast<unsigned char>(asset.gzip[0]) == 0x1f);
      CHECK(static_cast<unsigned char>(asset.gzip[1]) == 0x8b);
      CHECK(asset.gzip[2] == 8);
    }
    if (!asset.brotli.empty()) {
      ++compressed;
      CHECK(asset.brotli.size() < asset.identity.size());
    }
  }
  // The script and the stylesheet compress well; a build that dropped compression fails here.
  CHECK(compressed >= 4);
}

TEST_CASE("an unknown path finds no asset", "[unit][net]") {
  CHECK(FindAsset("/no-such-file.js") == nullptr);
  CHECK(FindAsset("") == nullptr);
  CHECK(FindAsset("index.html") == nullptr);    // paths are absolute
  CHECK(FindAsset("/index.htm") == nullptr);    // no prefix match
  CHECK(FindAsset("/index.html/") == nullptr);  // no suffix slack
  CHECK(FindAsset("/INDEX.HTML") == nullptr);   // case matters
}

}  // namespace
}  // namespace outpost::net
