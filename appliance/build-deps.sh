#!/bin/sh
# Installs what building and testing Outpost needs on Debian bookworm, and nothing that is
# already there, so a second run is quick. Run as root (make does this for you).
#   appliance/build-deps.sh BUILD_DIR
# Fetches cpp-httplib's single header from Debian's source package into BUILD_DIR/_deps and
# the web client's npm packages into assets/node_modules. Chromium is for the web client's
# end-to-end tests (openssl makes their smart-card PKI), busybox-static and e2fsprogs for the
# install image and its test.
set -eu

build_dir=${1:?usage: build-deps.sh BUILD_DIR}
top=$(cd "$(dirname "$0")/.." && pwd)

packages="g++ cmake make pkg-config file dpkg-dev xz-utils ca-certificates chromium
  libmbedtls-dev libsodium-dev libsqlite3-dev libcli11-dev libtomlplusplus-dev
  nlohmann-json3-dev catch2 nodejs npm curl e2fsprogs busybox-static openssl"

missing=""
for p in $packages; do
  # npm from NodeSource's nodejs counts as present: it ships inside that package.
  if [ "$p" = npm ] && command -v npm >/dev/null 2>&1; then continue; fi
  if [ "$p" = nodejs ] && command -v node >/dev/null 2>&1; then continue; fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing="$missing $p"
done

need_src=0
header="$build_dir/_deps/httplib/httplib.h"
[ -f "$header" ] || need_src=1

apt_updated=0
apt_update() {
  if [ "$apt_updated" = 0 ]; then
    apt-get update -qq
    apt_updated=1
  fi
}

if [ -n "$missing" ]; then
  echo "build-deps: installing$missing"
  apt_update
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ "$need_src" = 1 ]; then
  # httplib.h comes from Debian's source package (with Debian's security patches applied):
  # the -dev package is a shared library built on OpenSSL, which a static binary cannot use.
  src_list=/etc/apt/sources.list.d/outpost-deb-src.sources
  if ! grep -rqs '^Types:.*deb-src\|^deb-src' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "build-deps: adding a deb-src entry in $src_list"
    cat >"$src_list" <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
    apt_updated=0
  fi
  apt_update
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get source -qq --download-only cpp-httplib >/dev/null 2>&1 &&
    dpkg-source --no-check -x ./cpp-httplib_*.dsc src >/dev/null)
  # --no-check: apt-get has already verified every file against the signed Sources index.
  mkdir -p "$(dirname "$header")"
  cp "$work/src/httplib.h" "$header"
  grep -q 'CPPHTTPLIB_VERSION "0.11' "$header" || {
    echo "build-deps: unexpected cpp-httplib version in $header" >&2
    exit 1
  }
  echo "build-deps: fetched $header"
fi

# The web client's packages, exactly as package-lock.json pins them.
if [ ! -f "$top/assets/node_modules/.package-lock.json" ] ||
   [ "$top/assets/package-lock.json" -nt "$top/assets/node_modules/.package-lock.json" ]; then
  echo "build-deps: installing the web client's npm packages"
  (cd "$top/assets" && npm ci --no-audit --no-fund --loglevel=error)
fi
