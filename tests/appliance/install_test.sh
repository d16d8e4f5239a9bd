#!/bin/sh
# The installer test (ctest: appliance). Builds a throw-away root file system holding nothing
# but a static busybox and install images, and runs in it, under unshare (own mount, pid and
# network namespaces: no network but loopback) and chroot, what tests/appliance/inside.sh
# does: a fresh install, refusals, an upgrade and a forced rollback.
#
#   tests/appliance/install_test.sh OUTPOST NEXT_RELEASE BROKEN_RELEASE
#
# OUTPOST is the release binary; NEXT_RELEASE and BROKEN_RELEASE are the stand-ins for later
# versions built from tests/appliance/next_release.cc. Exits 77 (ctest SKIP_RETURN_CODE)
# with a reason when the machine cannot run it: not root, namespaces not permitted, no static
# busybox, or binaries that are not static (the sanitizer build).
set -eu

skip() {
  echo "SKIP: appliance installer test: $*"
  exit 77
}
[ $# -eq 3 ] || { echo "usage: $0 OUTPOST NEXT_RELEASE BROKEN_RELEASE" >&2; exit 2; }
absolute() { echo "$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"; }
outpost=$(absolute "$1") next=$(absolute "$2") broken=$(absolute "$3")
top=$(cd "$(dirname "$0")/../.." && pwd)

[ "$(id -u)" = 0 ] || skip "needs root (chroot and namespaces)"
command -v unshare >/dev/null 2>&1 || skip "unshare(1) not found"
unshare --mount --pid --net --fork true 2>/dev/null ||
  skip "creating mount, pid and network namespaces is not permitted here"
command -v debugfs >/dev/null 2>&1 || skip "debugfs not found (appliance/build-deps.sh installs e2fsprogs)"
bb=$(command -v busybox) || skip "busybox not found (appliance/build-deps.sh installs busybox-static)"
file -b "$bb" | grep -q 'statically linked' || skip "$bb is not static: install busybox-static"
for b in "$outpost" "$next" "$broken"; do
  file -b "$b" | grep -q 'statically linked' ||
    skip "$b is not statically linked (the release build runs this test, not the sanitizer one)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/outpost-appliance-test.XXXXXX")
# OUTPOST_KEEP_TEST_ROOT=1 keeps the folder (and the root in it) to look at after a failure.
if [ "${OUTPOST_KEEP_TEST_ROOT:-0}" = 1 ]; then
  echo "# keeping $work"
else
  trap 'rm -rf "$work"' EXIT
fi
failed=0

# --- static checks of the shell scripts and the systemd unit ---------------------------------
for s in "$top/appliance/install.sh" "$top/appliance/make-image.sh"; do
  sh -n "$s" || { echo "not ok - sh -n $s"; failed=1; }
  if command -v dash >/dev/null 2>&1; then dash -n "$s" || { echo "not ok - dash -n $s"; failed=1; }; fi
  if command -v shellcheck >/dev/null 2>&1; then
    shellcheck -s sh "$s" || { echo "not ok - shellcheck $s"; failed=1; }
  fi
done
if command -v systemd-analyze >/dev/null 2>&1; then
  # verify insists that ExecStart exists: point it at the binary under test for the check.
  sed "s|^ExecStart=/usr/local/bin/outpost |ExecStart=$outpost |" \
    "$top/appliance/outpost.service" >"$work/outpost.service"
  if out=$(systemd-analyze verify "$work/outpost.service" 2>&1) && [ -z "$out" ]; then
    echo "ok - systemd-analyze verify outpost.service"
  else
    echo "$out"
    echo "not ok - systemd-analyze verify outpost.service"
    failed=1
  fi
  echo "# $(systemd-analyze security --offline=yes "$work/outpost.service" 2>/dev/null |
             grep 'Overall exposure' || echo 'exposure: not computed')"
else
  echo "# systemd-analyze not found: the unit was not verified"
fi

# --- images: the release, a working later one, a broken later one, one signed by a stranger -
version_of() { "$1" version | sed -n 's/^outpost \([0-9.]*\)$/\1/p'; }
v1=$(version_of "$outpost") v2=$(version_of "$next") v3=$(version_of "$broken")
echo "# versions: release $v1, next $v2, broken $v3"
mkdir -p "$work/keys"
"$outpost" release keygen --out "$work/keys/release.key" >/dev/null
"$outpost" release keygen --out "$work/keys/stranger.key" >/dev/null
# The release and the next one as the operator gets them: the .tar and the .img.
for b in "$outpost" "$next"; do
  "$top/appliance/make-image.sh" --binary "$b" --out "$work/images" \
    --dev-key "$work/keys/release.key" 2>/dev/null >/dev/null
done
"$top/appliance/make-image.sh" --binary "$broken" --out "$work/images" \
  --dev-key "$work/keys/release.key" --stage-only
"$top/appliance/make-image.sh" --binary "$next" --out "$work/stranger" \
  --dev-key "$work/keys/stranger.key" --stage-only

# --- the root file system: busybox, the images, the answers ---------------------------------
root=$work/root
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/dev" "$root/proc" \
  "$root/run" "$root/var/lib" "$root/media"
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"
cp "$bb" "$root/bin/busybox"
for applet in $("$bb" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
echo 'root:x:0:' >"$root/etc/group"
mkdir "$root/media/v1" "$root/media/v2"
tar -xf "$work/images/outpost-$v1-x86_64.tar" -C "$root/media/v1" --strip-components=1
# The file system image, read without mounting it.
debugfs -R "rdump / $root/media/v2" "$work/images/outpost-$v2-x86_64.img" 2>/dev/null
rm -rf "$root/media/v2/lost+found"
cp -R "$work/images/outpost-$v3-x86_64" "$root/media/v3"
cp -R "$work/stranger/outpost-$v2-x86_64" "$root/media/stranger"
cp -R "$work/images/outpost-$v2-x86_64" "$root/media/tampered"
echo "one more line" >>"$root/media/tampered/operations.md"
# The same change with SHA256SUMS brought up to date: only the signature can catch it.
cp -R "$root/media/tampered" "$root/media/resummed"
(cd "$root/media/resummed" && sed -i "s/^[0-9a-f]*  operations.md\$/$(sha256sum operations.md)/" SHA256SUMS)
(umask 077 && echo "correct horse battery staple 42" >"$root/root/admin.pass")
fingerprint=$("$outpost" release fingerprint --pub "$work/keys/release.key.pub")
cat >"$root/root/answers" <<EOF
# answers for install.sh
admin=alice
password_file=/root/admin.pass
hosts=localhost 127.0.0.1
listen=127.0.0.1:9443
release_fingerprint=$fingerprint
EOF
cp "$top/tests/appliance/inside.sh" "$root/inside.sh"

# --- run it: own namespaces, loopback only, chroot -----------------------------------------
started=$(date +%s)
set +e
# shellcheck disable=SC2016 # $1 and $@ belong to the inner shell
unshare --mount --pid --net --fork --kill-child sh -c '
  set -e
  root=$1; shift
  mount --make-rprivate /
  mount -t proc proc "$root/proc"
  touch "$root/dev/null"
  mount --bind /dev/null "$root/dev/null"
  "$root/bin/busybox" ip link set lo up
  exec chroot "$root" /bin/sh /inside.sh "$@"
' sh "$root" "$v1" "$v2" "$v3"
rc=$?
set -e
echo "# inside the root: $(($(date +%s) - started)) s"
[ "$rc" = 0 ] || failed=1
if [ "$failed" != 0 ]; then
  echo "FAILED: appliance installer test"
  exit 1
fi
echo "PASSED: appliance installer test"
