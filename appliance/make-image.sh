#!/bin/sh
# Builds the install image (`make appliance` runs this; docs/operations.md, "Install"):
#
#   appliance/make-image.sh --binary BUILD/outpost --out DIR (--key KEY | --dev-key KEY)
#                           [--stage-only]
#
# DIR/outpost-<version>-x86_64/ holds what the image carries: the stripped static binary,
# install.sh, the systemd unit, the commented default configuration, the operations guide,
# the release public key, SHA256SUMS and its ed25519 signature (SHA256SUMS.sig). From it:
#   DIR/outpost-<version>-x86_64.img  an ext4 file system to write to a USB stick (made with
#                                     mke2fs -d: no root, no mount)
#   DIR/outpost-<version>-x86_64.tar  the same files, for sites that copy files
# --key KEY signs with a release key (KEY.pub beside it). --dev-key KEY signs with a
# development key, created when missing, and marks the image DEV-SIGNED. --stage-only stops
# after the folder (the installer test uses it).
set -eu

binary="" out="" key="" dev=0 stage_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --binary) binary=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --key) key=$2; dev=0; shift 2 ;;
    --dev-key) key=$2; dev=1; shift 2 ;;
    --stage-only) stage_only=1; shift ;;
    *) echo "make-image: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$binary" ] || [ -z "$out" ] || [ -z "$key" ]; then
  sed -n '2,16s/^# \{0,1\}//p' "$0" >&2
  exit 2
fi
top=$(cd "$(dirname "$0")/.." && pwd)
[ -x "$binary" ] || { echo "make-image: $binary is not an executable" >&2; exit 1; }

version=$("$binary" version | sed -n 's/^outpost \([0-9][0-9.]*\).*$/\1/p')
[ -n "$version" ] || { echo "make-image: '$binary version' printed no version" >&2; exit 1; }
case $(file -b "$binary") in
  *"statically linked"*) ;;
  *) echo "make-image: $binary is not statically linked: build the release binary" >&2; exit 1 ;;
esac

if [ "$dev" = 1 ] && [ ! -f "$key" ]; then
  mkdir -p "$(dirname "$key")"
  "$binary" release keygen --out "$key" >/dev/null
fi
[ -f "$key" ] || { echo "make-image: release key $key not found" >&2; exit 1; }
[ -f "$key.pub" ] || { echo "make-image: its public key $key.pub not found" >&2; exit 1; }

name=outpost-$version-x86_64
stage=$out/$name
rm -rf "$stage"
mkdir -p "$stage"
strip --strip-all -o "$stage/outpost" "$binary"
cp "$top/appliance/install.sh" "$stage/install.sh"
cp "$top/appliance/outpost.service" "$stage/outpost.service"
cp "$top/appliance/outpost.toml" "$stage/outpost.toml"
cp "$top/docs/operations.md" "$stage/operations.md"
cp "$key.pub" "$stage/release.pub"
files="outpost install.sh outpost.service outpost.toml operations.md release.pub"
if [ "$dev" = 1 ]; then
  echo "This image is signed with a development key: for testing only." >"$stage/DEV-SIGNED"
  files="$files DEV-SIGNED"
fi
chmod 0755 "$stage" "$stage/outpost" "$stage/install.sh"
for f in $files; do [ -x "$stage/$f" ] || chmod 0644 "$stage/$f"; done
# shellcheck disable=SC2086 # the list of names
(cd "$stage" && sha256sum $files >SHA256SUMS)
"$stage/outpost" release sign --key "$key" --sig "$stage/SHA256SUMS.sig" "$stage/SHA256SUMS" \
  >/dev/null
# The pair must match, or every install of this image would be refused.
"$stage/outpost" release verify --pub "$stage/release.pub" --sig "$stage/SHA256SUMS.sig" \
  "$stage/SHA256SUMS" >/dev/null
chmod 0644 "$stage/SHA256SUMS" "$stage/SHA256SUMS.sig"
fingerprint=$("$stage/outpost" release fingerprint --pub "$stage/release.pub")
[ "$stage_only" = 0 ] || exit 0

# Same bytes every time for the same inputs: sorted names, fixed owner and time.
epoch=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || echo 0)}
tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$epoch" \
  -cf "$out/$name.tar" -C "$out" "$name"

# The file system: the files' size plus room for metadata, at least 16 MiB.
kib=$(du -sk "$stage" | cut -f1)
kib=$((kib + kib / 4 + 4096))
[ "$kib" -ge 16384 ] || kib=16384
rm -f "$out/$name.img"
log=$(E2FSPROGS_FAKE_TIME=$epoch mke2fs -q -F -t ext4 -L OUTPOST -m 0 -E root_owner=0:0 \
  -d "$stage" "$out/$name.img" "${kib}k" 2>&1) || { echo "$log" >&2; exit 1; }
log=$(e2fsck -fn "$out/$name.img" 2>&1) || { echo "$log" >&2; exit 1; }

echo "make-image: $out/$name.img"
echo "make-image: $out/$name.tar"
echo "make-image: release key fingerprint $fingerprint"
if [ "$dev" = 1 ]; then
  cat >&2 <<EOF
make-image: ******************************************************************************
make-image: WARNING: DEV-SIGNED IMAGE. Signed with the development key $key,
make-image: not a release key. Do not ship it. For a release: make appliance RELEASE_KEY=FILE
make-image: ******************************************************************************
EOF
fi
