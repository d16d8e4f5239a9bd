#!/bin/sh
# Outpost installer and upgrader (docs/operations.md, "Install" and "Upgrade").
# Run as root from the mounted install image or the unpacked tar:
#
#   sh install.sh [--answers FILE] [--no-systemd] [--reinstall] [--health-timeout SECONDS]
#
# A machine without Outpost gets a fresh install; one with an older Outpost is upgraded, with
# a backup first and an automatic rollback when the new version does not come up healthy.
# POSIX sh; needs nothing beyond a minimal root (coreutils or busybox, sha256sum). Never uses
# the network or a package manager.
set -eu

# Folders that others must traverse (/usr/lib, /var/log) are made 0755; what must be private
# gets its mode set explicitly, and the outpost binary writes its own files 0600.
umask 022
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

BIN_LINK=/usr/local/bin/outpost
LIB_DIR=/usr/lib/outpost
ETC_DIR=/etc/outpost
CONF=$ETC_DIR/outpost.toml
PIN=$ETC_DIR/release.pub
BACKUP_KEY=$ETC_DIR/upgrade-backup.key
DATA=/var/lib/outpost
BACKUP_DIR=/var/backups/outpost
UNIT=/etc/systemd/system/outpost.service
PIDFILE=/run/outpost.pid
LOG=/var/log/outpost.log

say() { printf 'install: %s\n' "$*"; }
die() {
  printf 'install: ERROR: %s\n' "$*" >&2
  exit 1
}
usage() {
  sed -n '2,10s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

answers=""
no_systemd=0
reinstall=0
health_timeout=60
while [ $# -gt 0 ]; do
  case $1 in
    --answers) [ $# -ge 2 ] || usage; answers=$2; shift 2 ;;
    --no-systemd) no_systemd=1; shift ;;
    --reinstall) reinstall=1; shift ;;
    --health-timeout) [ $# -ge 2 ] || usage; health_timeout=$2; shift 2 ;;
    -h|--help) usage ;;
    *) printf 'install: unknown option %s\n' "$1" >&2; usage ;;
  esac
done
case $health_timeout in ''|*[!0-9]*) die "--health-timeout takes a number of seconds" ;; esac

[ "$(id -u)" = 0 ] || die "run me as root (sudo sh install.sh)"
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
for f in outpost outpost.service outpost.toml operations.md release.pub SHA256SUMS \
         SHA256SUMS.sig install.sh; do
  [ -f "$f" ] || die "$here/$f is missing: this is not a complete Outpost image"
done

# Answers for an unattended fresh install: KEY=VALUE lines, read as data, never executed.
a_admin="" a_password_file="" a_hosts="" a_listen="" a_fingerprint=""
if [ -n "$answers" ]; then
  [ -f "$answers" ] || die "answers file $answers not found"
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in ''|'#'*) continue ;; esac
    key=${line%%=*}
    value=${line#*=}
    [ "$key" != "$line" ] || die "answers file: '$line' is not KEY=VALUE"
    case $key in
      admin) a_admin=$value ;;
      password_file) a_password_file=$value ;;
      hosts) a_hosts=$value ;;
      listen) a_listen=$value ;;
      release_fingerprint) a_fingerprint=$value ;;
      *) die "answers file: unknown key '$key' (admin, password_file, hosts, listen, release_fingerprint)" ;;
    esac
  done <"$answers"
fi

# --- service control: systemd, or (--no-systemd) a pid file --------------------------------
if [ -d /run/systemd/system ]; then
  systemd=1
  [ "$no_systemd" = 0 ] || say "systemd is running; --no-systemd: not using it anyway"
  [ "$no_systemd" = 0 ] || systemd=0
else
  systemd=0
  if [ "$no_systemd" = 0 ]; then
    die "systemd is not running here (no /run/systemd/system: a chroot or a container?).
  Install on the booted appliance, or add --no-systemd to start the server without systemd
  (pid file $PIDFILE, log $LOG)."
  fi
fi

# True while the pid in PIDFILE is a live process (a zombie counts as gone).
pid_alive() {
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE")
  kill -0 "$pid" 2>/dev/null || return 1
  if [ -r "/proc/$pid/status" ] && grep -q '^State:.*Z' "/proc/$pid/status"; then return 1; fi
  return 0
}

svc_start() {
  if [ "$systemd" = 1 ]; then
    systemctl reset-failed outpost.service 2>/dev/null || true
    systemctl start outpost.service
    return
  fi
  if pid_alive; then die "a server is already running (pid $(cat "$PIDFILE"))"; fi
  mkdir -p "$(dirname "$LOG")" "$(dirname "$PIDFILE")"
  touch "$LOG"
  chown outpost:outpost "$LOG"
  chmod 0640 "$LOG"
  # The server's stderr is its log. Without systemd there is no capability to bind ports
  # below 1024: use such a port only under systemd.
  # shellcheck disable=SC2016 # $0, $1 and $2 belong to the inner shell
  start-stop-daemon -S -b -m -p "$PIDFILE" -c outpost:outpost -x /bin/sh -- \
    -c 'exec "$0" --config "$1" serve >>"$2" 2>&1' "$BIN_LINK" "$CONF" "$LOG"
}

svc_stop() {
  if [ "$systemd" = 1 ]; then
    systemctl stop outpost.service
    return
  fi
  pid_alive || { rm -f "$PIDFILE"; return 0; }
  pid=$(cat "$PIDFILE")
  kill -TERM "$pid" 2>/dev/null || true
  n=0
  while pid_alive && [ $n -lt 60 ]; do sleep 0.5; n=$((n + 1)); done
  if pid_alive; then
    say "the server did not stop within 30 s of SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$PIDFILE"
}

svc_failed() {
  if [ "$systemd" = 1 ]; then
    systemctl is-failed --quiet outpost.service
  elif pid_alive; then
    return 1
  fi
}

# Waits for GET /readyz to answer 200, checked by the binary given (a known-good one where
# there is one); gives up early when the server has died.
wait_healthy() {
  checker=$1
  n=0
  while [ $n -lt "$health_timeout" ]; do
    if "$checker" health >/dev/null 2>&1; then return 0; fi
    if [ $n -ge 2 ] && svc_failed; then
      say "the server is not running"
      break
    fi
    sleep 1
    n=$((n + 1))
  done
  "$checker" health >&2 || true
  if [ "$systemd" = 1 ]; then
    journalctl -u outpost.service -n 20 --no-pager >&2 2>/dev/null || true
  else
    tail -n 20 "$LOG" >&2 2>/dev/null || true
  fi
  return 1
}

# --- versions -------------------------------------------------------------------------------
# "outpost 1.2.3" -> "1.2.3"
version_of() { "$1" version 2>/dev/null | sed -n 's/^outpost \([0-9][0-9.]*\).*$/\1/p'; }

# Prints -1, 0 or 1 as version $1 is older than, equal to or newer than $2 (dotted numbers).
version_cmp() {
  awk -v a="$1" -v b="$2" 'BEGIN {
    na = split(a, x, "."); nb = split(b, y, "."); n = na > nb ? na : nb
    for (i = 1; i <= n; i++) {
      if ((x[i] + 0) < (y[i] + 0)) { print -1; exit }
      if ((x[i] + 0) > (y[i] + 0)) { print 1; exit }
    }
    print 0 }'
}

new_ver=$(version_of ./outpost)
[ -n "$new_ver" ] || die "./outpost does not run on this machine (needs Linux x86_64)"

# An installed binary with a database is an upgrade; a binary alone (an install that stopped
# before `outpost init`) is finished as a fresh install.
old_ver=""
if [ -e "$BIN_LINK" ] && [ -f "$DATA/outpost.db" ]; then
  old_ver=$(version_of "$BIN_LINK")
  [ -n "$old_ver" ] || die "$BIN_LINK exists but does not say its version; repair it by hand"
fi

if [ -f DEV-SIGNED ]; then
  cat >&2 <<'EOF'
install: ******************************************************************************
install: WARNING: this image is signed with a DEVELOPMENT key, not a release key.
install: Use it for testing only; never on an appliance that holds real data.
install: ******************************************************************************
EOF
fi

verify_checksums() {
  # Every file used here must be covered, not only those SHA256SUMS happens to list.
  for f in outpost install.sh outpost.service outpost.toml operations.md release.pub; do
    grep -q "^[0-9a-f]\{64\}  $f\$" SHA256SUMS || die "SHA256SUMS does not cover $f: refusing the image"
  done
  sha256sum -c SHA256SUMS >/dev/null 2>&1 || {
    sha256sum -c SHA256SUMS >&2 || true
    die "checksums do not match SHA256SUMS: the image is damaged or was changed; do not use it"
  }
  say "checksums verified (SHA256SUMS)"
}

install_binary() {
  mkdir -p "$LIB_DIR/$new_ver"
  chmod 0755 "$LIB_DIR" "$LIB_DIR/$new_ver"
  cp outpost "$LIB_DIR/$new_ver/outpost.tmp"
  chmod 0755 "$LIB_DIR/$new_ver/outpost.tmp"
  mv -f "$LIB_DIR/$new_ver/outpost.tmp" "$LIB_DIR/$new_ver/outpost"
  for f in outpost.toml operations.md outpost.service; do
    cp "$f" "$LIB_DIR/$new_ver/$f"
    chmod 0644 "$LIB_DIR/$new_ver/$f"
  done
  mkdir -p "$(dirname "$BIN_LINK")"
  point_binary_at "$new_ver"
}

# Points /usr/local/bin/outpost at an installed version (rename over the old link: atomic).
point_binary_at() {
  ln -sfn "$LIB_DIR/$1/outpost" "$BIN_LINK.new"
  mv -f "$BIN_LINK.new" "$BIN_LINK"
}

install_unit() {
  mkdir -p "$(dirname "$UNIT")"
  cp outpost.service "$UNIT.tmp"
  chmod 0644 "$UNIT.tmp"
  mv -f "$UNIT.tmp" "$UNIT"
  if [ "$systemd" = 1 ]; then
    systemctl daemon-reload
    systemctl enable outpost.service >/dev/null 2>&1
  else
    # What `systemctl enable` does, so that the service starts once the machine boots.
    mkdir -p /etc/systemd/system/multi-user.target.wants
    ln -sfn "$UNIT" /etc/systemd/system/multi-user.target.wants/outpost.service
  fi
}

# ============================================================================================
if [ -n "$old_ver" ]; then
  # --- upgrade ------------------------------------------------------------------------------
  cmp=$(version_cmp "$new_ver" "$old_ver")
  if [ "$cmp" -lt 0 ]; then
    die "Outpost $old_ver is installed and this image holds $new_ver: refusing to DOWNGRADE.
  A downgrade cannot read a database that a newer version has migrated. To go back, restore
  the backup taken before the upgrade (docs/operations.md, \"Roll back by hand\")."
  fi
  if [ "$cmp" -eq 0 ] && [ "$reinstall" = 0 ]; then
    die "Outpost $new_ver is already installed; nothing to do (--reinstall installs it again)"
  fi
  old_bin=$(readlink -f "$BIN_LINK")
  if [ "$old_bin" != "$LIB_DIR/$old_ver/outpost" ]; then
    # An install from before the versioned layout: keep the old binary where rollback finds it.
    mkdir -p "$LIB_DIR/$old_ver"
    cp "$old_bin" "$LIB_DIR/$old_ver/outpost"
    chmod 0755 "$LIB_DIR" "$LIB_DIR/$old_ver" "$LIB_DIR/$old_ver/outpost"
    old_bin=$LIB_DIR/$old_ver/outpost
  fi
  say "upgrading Outpost $old_ver -> $new_ver"

  # Trust chain: the binary already installed checks the new image against the key pinned
  # when the first image was installed. The image's own release.pub is not consulted.
  [ -f "$PIN" ] || die "no pinned release key at $PIN: cannot tell whether this image is
  genuine. Compare this image's key fingerprint with the published one, then copy its
  release.pub to $PIN (docs/operations.md)."
  "$old_bin" release verify --pub "$PIN" --sig SHA256SUMS.sig SHA256SUMS >&2 ||
    die "the image's signature does not verify with the pinned release key $PIN: refusing it"
  verify_checksums

  # 1. Backup while the old server still runs (online backup).
  if [ ! -f "$BACKUP_KEY" ]; then
    "$old_bin" backup keygen --out "$BACKUP_KEY" >/dev/null
  fi
  mkdir -p "$BACKUP_DIR"
  chmod 0700 "$BACKUP_DIR"
  backup=$BACKUP_DIR/pre-upgrade-$old_ver-to-$new_ver-$(date -u +%Y%m%dT%H%M%SZ).obk
  say "backing up $DATA to $backup"
  "$old_bin" --config "$CONF" --data "$DATA" backup create --key-file "$BACKUP_KEY" \
    --out "$backup" >&2 || die "the backup failed; nothing was changed"
  [ ! -d "$DATA/backups" ] || chown -R outpost:outpost "$DATA/backups"

  # 2. Stop, swap, start. The new server migrates the database when it opens it.
  say "stopping Outpost $old_ver"
  svc_stop
  # A subshell outside any condition, so that set -e stops at the first failing step.
  set +e
  (set -e; install_binary; install_unit)
  swapped=$?
  set -e
  if [ "$swapped" != 0 ]; then
    point_binary_at "$old_ver"
    svc_start || true
    die "could not install the new binary or unit (disk full?): $old_ver was started again"
  fi
  say "starting Outpost $new_ver"
  if svc_start && wait_healthy "$old_bin"; then
    say "Outpost $new_ver is running and ready."
    say "the backup taken before the upgrade: $backup"
    say "the previous version stays in $LIB_DIR/$old_ver for a manual rollback"
    exit 0
  fi

  # 3. Roll back: the old binary and the data as they were before the upgrade.
  say "Outpost $new_ver did not become ready: ROLLING BACK to $old_ver"
  svc_stop || true
  point_binary_at "$old_ver"
  [ ! -f "$LIB_DIR/$old_ver/outpost.service" ] || cp "$LIB_DIR/$old_ver/outpost.service" "$UNIT"
  [ "$systemd" = 0 ] || systemctl daemon-reload || true
  if ! "$old_bin" --config "$CONF" --data "$DATA" backup restore "$backup" \
      --key-file "$BACKUP_KEY" --force >&2; then
    die "UPGRADE FAILED and the ROLLBACK FAILED: the backup $backup could not be restored.
  $BIN_LINK is $old_ver again. Restore by hand (docs/operations.md, \"Roll back by hand\")."
  fi
  chown -R outpost:outpost "$DATA"
  if svc_start && wait_healthy "$old_bin"; then
    die "UPGRADE to $new_ver FAILED and was ROLLED BACK: Outpost $old_ver runs again with the
  data restored from $backup. The data folder as the failed version left it was kept
  next to $DATA (*.replaced-*) for diagnosis; its log is above."
  fi
  die "UPGRADE FAILED and Outpost $old_ver did not come back after the rollback either.
  The data was restored from $backup; see the log above and docs/operations.md."
fi

# ============================================================================================
# --- fresh install ----------------------------------------------------------------------------
say "installing Outpost $new_ver"

# Nothing installed yet vouches for this image: the operator compares the key's fingerprint
# with the one published out of band (on paper, on the vendor's site, by phone).
fingerprint=$(./outpost release fingerprint --pub release.pub)
say "release signing key fingerprint: $fingerprint"
normalize() { printf '%s' "$1" | tr -d ' :' | tr 'ABCDEF' 'abcdef'; }
if [ -n "$a_fingerprint" ]; then
  [ "$(normalize "$a_fingerprint")" = "$(normalize "$fingerprint")" ] ||
    die "the release key's fingerprint is not the one in the answers file: refusing this image"
  say "fingerprint matches the answers file"
elif [ -t 0 ]; then
  printf 'Compare it with the fingerprint published for Outpost releases.\n'
  printf 'Type yes if they are the same: '
  read -r reply
  [ "$reply" = yes ] || die "fingerprint not confirmed: nothing was installed"
else
  die "no terminal to confirm the release key's fingerprint: put
  release_fingerprint=$fingerprint in the answers file after comparing it"
fi
./outpost release verify --pub release.pub --sig SHA256SUMS.sig SHA256SUMS >&2 ||
  die "SHA256SUMS.sig does not verify: the image is damaged or was changed"
verify_checksums

# Answers not in the answers file are asked on the terminal.
ask() {  # ask VAR PROMPT DEFAULT
  if [ -t 0 ]; then
    printf '%s [%s]: ' "$2" "$3"
    read -r reply
    [ -n "$reply" ] || reply=$3
  else
    reply=$3
  fi
  eval "$1=\$reply"
}
if [ -z "$a_hosts" ]; then
  ask a_hosts "Host names and addresses users will type (space-separated)" \
    "$(hostname 2>/dev/null || echo localhost) localhost"
fi
if [ -z "$a_listen" ] && [ -z "$answers" ] && [ -t 0 ]; then
  ask a_listen "Address:port to serve HTTPS on" "0.0.0.0:443"
fi
case $a_listen in *[!0-9A-Za-z.:\[\]]*) die "listen: '$a_listen' is not HOST:PORT" ;; esac
case $a_hosts in *[!0-9A-Za-z.:\ -]*) die "hosts: '$a_hosts' holds more than names and addresses" ;; esac
if [ -n "$a_password_file" ] && [ ! -r "$a_password_file" ]; then
  die "password file $a_password_file cannot be read"
fi

# The service account: no shell, no password, home is the data folder.
if ! id outpost >/dev/null 2>&1; then
  if command -v useradd >/dev/null 2>&1; then
    useradd --system --user-group --home-dir "$DATA" --no-create-home \
      --shell /usr/sbin/nologin --comment "Outpost chat appliance" outpost
  else
    # A root with no useradd (busybox): a free system id in 100..999 for both.
    id_=$(awk -F: 'FILENAME == ARGV[1] { used[$3] = 1 } FILENAME == ARGV[2] { used[$3] = 1 }
                   END { for (i = 999; i >= 100; i--) if (!(i in used)) { print i; exit } }' \
           /etc/passwd /etc/group)
    [ -n "$id_" ] || die "no free system user id for the outpost user"
    echo "outpost:x:$id_:" >>/etc/group
    echo "outpost:x:$id_:$id_:Outpost chat appliance:$DATA:/sbin/nologin" >>/etc/passwd
  fi
  say "created the system user outpost"
fi

mkdir -p "$ETC_DIR"
chown root:outpost "$ETC_DIR"
chmod 0750 "$ETC_DIR"
cp release.pub "$PIN"
chmod 0644 "$PIN"
if [ ! -f "$CONF" ]; then
  cp outpost.toml "$CONF.tmp"
  if [ -n "$a_listen" ]; then
    # The first "#listen" is server.listen, uncommented with the answer.
    awk -v v="$a_listen" '!done && /^#listen = / { print "listen = \"" v "\""; done = 1; next }
                          { print }' "$CONF.tmp" >"$CONF.tmp2"
    mv -f "$CONF.tmp2" "$CONF.tmp"
    grep -q "^listen = \"$a_listen\"" "$CONF.tmp" || die "could not set listen in $CONF"
  fi
  chown root:outpost "$CONF.tmp"
  chmod 0640 "$CONF.tmp"
  mv -f "$CONF.tmp" "$CONF"
  say "wrote $CONF (every setting documented inside)"
else
  say "keeping the existing $CONF"
fi

install_binary
"$BIN_LINK" --config "$CONF" config check >/dev/null || die "$CONF is not valid (see above)"
[ -f "$BACKUP_KEY" ] || "$BIN_LINK" backup keygen --out "$BACKUP_KEY" >/dev/null
chmod 0600 "$BACKUP_KEY"

if [ -f "$DATA/outpost.db" ]; then
  say "$DATA is already initialized: keeping it"
else
  mkdir -p "$(dirname "$DATA")"
  set --
  for h in $a_hosts; do set -- "$@" --host "$h"; done
  [ -z "$a_admin" ] || set -- "$@" --admin "$a_admin"
  if [ -n "$a_password_file" ]; then
    "$BIN_LINK" --config "$CONF" --data "$DATA" init "$@" --password-file - <"$a_password_file" ||
      die "outpost init failed: see above (nothing was created in $DATA)"
  else
    "$BIN_LINK" --config "$CONF" --data "$DATA" init "$@" ||
      die "outpost init failed: see above (nothing was created in $DATA)"
  fi
fi
chown -R outpost:outpost "$DATA"
chmod 0700 "$DATA"

install_unit
svc_start
wait_healthy "$BIN_LINK" || die "Outpost $new_ver was installed but does not answer /readyz: see the log above"

# The port from the effective configuration (an existing file may set another).
listen=$("$BIN_LINK" --config "$CONF" config check --print |
  sed -n 's/^listen = "\(.*\)"$/\1/p' | head -n 1)
port=${listen##*:}
[ -n "$port" ] || port=8443
first_host=${a_hosts%% *}
case $first_host in *:*) first_host="[$first_host]" ;; esac
url="https://$first_host"
[ "$port" = 443 ] || url="$url:$port"
say "Outpost $new_ver is running."
say "open $url/ and sign in as the administrator."
say "browsers must trust the site CA: $DATA/tls/ca.pem"
