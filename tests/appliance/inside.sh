#!/bin/sh
# Runs inside the throw-away root that install_test.sh builds (busybox only, no network but
# loopback, no systemd): install.sh from the images under /media does a fresh install, is
# refused where it must be, upgrades, and rolls a broken upgrade back.
#   /inside.sh V1 V2 V3      (V3 is the broken release)
set -u
v1=$1 v2=$2 v3=$3
passed=0 failed=0
export PATH=/usr/local/bin:/bin

check() {  # check DESCRIPTION COMMAND...
  desc=$1
  shift
  if "$@"; then
    passed=$((passed + 1))
    echo "ok - $desc"
  else
    failed=$((failed + 1))
    echo "not ok - $desc"
  fi
}
# run NAME ARGS...: runs install.sh ARGS, output in /tmp/NAME.log; $rc is its exit code.
run() {
  name=$1
  shift
  sh "$@" >"/tmp/$name.log" 2>&1
  rc=$?
  echo "# $name: exit $rc"
}
logged() { grep -q "$2" "/tmp/$1.log" || { sed 's/^/#   /' "/tmp/$1.log"; false; }; }
installed_version() { outpost version 2>/dev/null | cut -d' ' -f2; }
ls_quiet() { ls "$@" >/dev/null 2>&1; }
ready() { outpost health >/dev/null 2>&1; }
has_bob() { outpost user list 2>/dev/null | grep -q '^bob '; }

# 1. Without systemd and without --no-systemd: a clear refusal, nothing installed.
run no-systemd /media/v1/install.sh --answers /root/answers
check "without systemd, install.sh refuses without --no-systemd" [ "$rc" != 0 ]
check "  and says systemd is not running" logged no-systemd "systemd is not running"
check "  and installs nothing" [ ! -e /usr/local/bin/outpost ]

sed 's/^release_fingerprint=SHA256:..../release_fingerprint=SHA256:0000/' /root/answers \
  >/root/answers-wrong-key
run wrong-key /media/v1/install.sh --answers /root/answers-wrong-key --no-systemd
check "a fingerprint that is not the image's is refused" [ "$rc" != 0 ]
check "  saying so" logged wrong-key "fingerprint is not the one in the answers file"
check "  and installs nothing" [ ! -e /usr/local/bin/outpost ]

# 2. Fresh install from the answers file.
run fresh /media/v1/install.sh --answers /root/answers --no-systemd --health-timeout 30
check "fresh install of $v1 succeeds" [ "$rc" = 0 ]
check "  prints the URL" logged fresh "open https://localhost:9443/"
check "  sets the listen address from the answers" \
  grep -q '^listen = "127.0.0.1:9443"$' /etc/outpost/outpost.toml
check "  prints the release key fingerprint" logged fresh "fingerprint: SHA256:"
check "  warns that the image is dev-signed" logged fresh "DEVELOPMENT key"
check "  installs $v1" [ "$(installed_version)" = "$v1" ]
check "  the server is ready (GET /readyz)" ready
check "  the binary is a link into /usr/lib/outpost/$v1" \
  [ "$(readlink /usr/local/bin/outpost)" = "/usr/lib/outpost/$v1/outpost" ]
check "  the outpost user exists" grep -q '^outpost:' /etc/passwd
uid=$(grep '^outpost:' /etc/passwd | cut -d: -f3)
check "  the server runs as the outpost user" \
  grep -q "^Uid:[[:space:]]*${uid}[[:space:]]" "/proc/$(cat /run/outpost.pid)/status"
check "  /var/lib/outpost is 0700 outpost" [ "$(stat -c '%a %U' /var/lib/outpost)" = "700 outpost" ]
check "  keys are 0700 outpost" [ "$(stat -c '%a %U' /var/lib/outpost/keys)" = "700 outpost" ]
check "  /etc/outpost is 0750 root:outpost" \
  [ "$(stat -c '%a %U %G' /etc/outpost)" = "750 root outpost" ]
check "  the config is 0640 root:outpost" \
  [ "$(stat -c '%a %U %G' /etc/outpost/outpost.toml)" = "640 root outpost" ]
check "  the release key is pinned" cmp -s /media/v1/release.pub /etc/outpost/release.pub
check "  the upgrade backup key is 0600 root" \
  [ "$(stat -c '%a %U' /etc/outpost/upgrade-backup.key)" = "600 root" ]
check "  the unit is installed and enabled" \
  [ -f /etc/systemd/system/multi-user.target.wants/outpost.service ]

# Data that must survive everything below.
echo "another correct horse battery staple" |
  outpost user add bob --password-file - >/tmp/bob.log 2>&1
check "a user added while the server runs" has_bob

outpost init --data /tmp/other --admin x --password-file /root/admin.pass >/dev/null 2>&1
check "health refuses a server that presents another certificate" \
  sh -c 'outpost health --cert /tmp/other/tls/server.pem 2>/dev/null; [ $? = 6 ]'

# 3. Refusals: same version, an image signed by another key, a changed image.
run same /media/v1/install.sh --no-systemd
check "the same version again is refused" [ "$rc" != 0 ]
check "  saying it is already installed" logged same "already installed"
run stranger /media/stranger/install.sh --no-systemd
check "an image signed by another key is refused" [ "$rc" != 0 ]
check "  saying the signature does not verify" logged stranger "does not verify with the pinned"
run tampered /media/tampered/install.sh --no-systemd
check "an image with a changed file is refused" [ "$rc" != 0 ]
check "  saying the checksums do not match" logged tampered "checksums do not match"
run resummed /media/resummed/install.sh --no-systemd
check "an image with a changed file and matching SHA256SUMS is refused" [ "$rc" != 0 ]
check "  by its signature" logged resummed "does not verify with the pinned"
check "  and $v1 still runs" ready
check "  untouched" [ "$(installed_version)" = "$v1" ]

# 4. Upgrade.
run upgrade /media/v2/install.sh --no-systemd --health-timeout 30
check "upgrade $v1 -> $v2 succeeds" [ "$rc" = 0 ]
check "  reports it" logged upgrade "Outpost $v2 is running and ready"
check "  $v2 is installed" [ "$(installed_version)" = "$v2" ]
check "  and ready" ready
check "  the data is there" has_bob
check "  a backup was taken first" ls_quiet /var/backups/outpost/pre-upgrade-"$v1"-to-"$v2"-*.obk
check "  $v1 is kept for a manual rollback" [ -x "/usr/lib/outpost/$v1/outpost" ]
check "  the new server runs as outpost" \
  grep -q "^Uid:[[:space:]]*${uid}[[:space:]]" "/proc/$(cat /run/outpost.pid)/status"

# 5. Downgrade.
run downgrade /media/v1/install.sh --no-systemd
check "a downgrade $v2 -> $v1 is refused" [ "$rc" != 0 ]
check "  saying so" logged downgrade "refusing to DOWNGRADE"
check "  $v2 still runs" ready

# 6. A broken release: it migrates the database, then fails to start. The installer must put
# back $v2 and the data from before, and say so.
run rollback /media/v3/install.sh --no-systemd --health-timeout 20
check "the broken upgrade to $v3 exits non-zero" [ "$rc" != 0 ]
check "  says it rolled back" logged rollback "FAILED and was ROLLED BACK"
check "  shows why the new version failed" logged rollback "broken test release"
check "  $v2 is installed again" [ "$(installed_version)" = "$v2" ]
check "  and ready" ready
check "  the data is intact" has_bob
check "  the audit log verifies" outpost audit verify
check "  the database checks out" outpost db check
check "  the failed data folder is kept" ls_quiet -d /var/lib/outpost.replaced-*
check "  the restored data folder belongs to outpost" \
  [ "$(stat -c '%a %U' /var/lib/outpost)" = "700 outpost" ]

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
