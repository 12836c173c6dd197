#!/usr/bin/env bash
# test_deb.sh - the Debian package, installed for real into a clean Debian 12 root.
#
#   tests/packaging/test_deb.sh [--deb-dir DIR] [--keep]
#
# Builds the .debs with scripts/package-deb --fast (or takes them from --deb-dir), checks lintian
# (no errors), then in a minbase Debian 12 chroot with Postfix installed ("No configuration"):
# dpkg -i runs the real maintainer scripts; the test checks files, conffiles, the threadmill
# user and its groups, directory owners and modes; `threadmill -n` with the packaged config;
# starts the installed daemon by hand (no systemd here) and checks the socket (owner, group,
# mode), that a process with only Postfix's credentials (uid/gid postfix, no supplementary
# groups, as Postfix's set_ugid leaves smtpd) completes a milter negotiation on it and that
# others cannot connect; that reinjection through Postfix's sendmail works as user threadmill
# under no_new_privs (what the unit's NoNewPrivileges=yes does); then remove (store and
# conffile kept) and purge (nothing left but the user and group, compared file by file with
# the root before installation).
#
# The prepared root (debootstrap --variant=minbase + runtime dependencies + postfix) is cached
# as a tarball in $THREADMILL_PKGTEST_CACHE (default /var/cache/threadmill-test), keyed by the
# package's dependency list. Needs root, network access to the Debian archive on a cold cache
# ($THREADMILL_DEBIAN_MIRROR, default http://deb.debian.org/debian), debootstrap, debhelper
# and lintian.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
cache=${THREADMILL_PKGTEST_CACHE:-/var/cache/threadmill-test}
mirror=${THREADMILL_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
deb_dir=""
keep=0
while [ $# -gt 0 ]; do
  case "$1" in
    --deb-dir) deb_dir=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: $0 [--deb-dir DIR] [--keep]" >&2; exit 2 ;;
  esac
done

[ "$(id -u)" = 0 ] || { echo "test_deb: needs root (chroot, mounts)"; exit 1; }
for tool in debootstrap lintian dpkg-buildpackage; do
  command -v "$tool" >/dev/null || { echo "test_deb: $tool missing (scripts/install-deps)"; exit 1; }
done

work=$(mktemp -d /tmp/threadmill-pkgtest.XXXXXX)
R=$work/root
daemon_pid=""
failures=0
t0=$(date +%s)

cleanup() {
  if [ -n "$daemon_pid" ]; then kill -KILL "$daemon_pid" 2>/dev/null || true; fi
  # Processes still running inside the root (a stuck postdrop, the daemon's workers).
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$R" ] && kill -KILL "${p#/proc/}" 2>/dev/null || true
  done
  for m in "$R/proc" "$R/dev/pts"; do
    mountpoint -q "$m" 2>/dev/null && umount -l "$m" || true
  done
  if [ "$keep" = 1 ]; then echo "test_deb: kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

step() { echo "--- [$(($(date +%s) - t0))s] $*"; }
pass() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
check() { # check DESCRIPTION COMMAND...
  local what=$1; shift
  if "$@"; then pass "$what"; else fail "$what"; fi
}
in_root() { chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
stat_is() { # stat_is PATH "user:group mode"
  local got
  got=$(in_root stat -c '%U:%G %a' "$1" 2>/dev/null || echo missing)
  [ "$got" = "$2" ] || { echo "  $1: $got, expected $2"; return 1; }
}
absent() { [ ! -e "$R$1" ] || { echo "  $1 still exists"; return 1; }; }

# ---------------------------------------------------------------- packages
if [ -z "$deb_dir" ]; then
  step "building the packages (scripts/package-deb)"
  deb_dir=$work/debs
  "$root/scripts/package-deb" --fast --out "$deb_dir" >/dev/null
fi
main_deb=$(ls "$deb_dir"/threadmill_*.deb)
dev_deb=$(ls "$deb_dir"/threadmill-dev_*.deb)

step "lintian"
if lintian --fail-on error "$main_deb" "$dev_deb" >"$work/lintian.txt" 2>&1; then
  pass "lintian: no errors ($(grep -c '^W:' "$work/lintian.txt" || true) warnings)"
else
  fail "lintian reports errors"
fi
grep -E '^(E|W):' "$work/lintian.txt" | sed 's/^/  /' || true

# ---------------------------------------------------------------- clean root
# Dependencies: every first alternative of Depends, without versions, plus postfix.
deps=$( (dpkg-deb -f "$main_deb" Depends; echo ", postfix") | tr ',' '\n' |
        sed -e 's/|.*//' -e 's/(.*)//' -e 's/[[:space:]]//g' | grep -v '^$' | sort -u | tr '\n' ' ')
key=$(echo "$suite $deps v1" | sha256sum | cut -c1-16)
tarball=$cache/root-$suite-$key.tar
mkdir -p "$cache" "$R"
if [ ! -f "$tarball" ]; then
  step "preparing a clean $suite root (cold cache: debootstrap + $deps)"
  # No archive reachable (offline machine, cold cache): skip, as the Sendmail tests do.
  debootstrap --variant=minbase "$suite" "$R" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log"; echo "test_deb: SKIP: cannot debootstrap from $mirror"; exit 77; }
  printf '#!/bin/sh\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
  chmod 755 "$R/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$R/etc/resolv.conf"
  echo "postfix postfix/main_mailer_type select No configuration" |
    in_root debconf-set-selections
  # shellcheck disable=SC2086
  in_root sh -c "DEBIAN_FRONTEND=noninteractive apt-get -qq update &&
    DEBIAN_FRONTEND=noninteractive apt-get -y -qq --no-install-recommends install $deps &&
    apt-get clean" >"$work/apt.log" 2>&1 || { tail -20 "$work/apt.log"; exit 1; }
  # A minimal main.cf so that Postfix's sendmail/postdrop run (the test never starts Postfix).
  printf 'compatibility_level = 3.6\nmyhostname = mx.test.invalid\nmydestination =\n' \
    >"$R/etc/postfix/main.cf"
  rm -rf "${tarball:?}".tmp
  tar -C "$R" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
  # Older keys: drop them so the cache does not grow without bound.
  find "$cache" -name "root-$suite-*.tar" ! -name "$(basename "$tarball")" -delete
else
  step "unpacking the cached clean root ($(basename "$tarball"))"
  tar -C "$R" -xf "$tarball"
fi
mount -t proc proc "$R/proc"

# Everything in the root before installation, to compare after purge.
snapshot() {
  (cd "$R" && find . -xdev \( -path ./proc -o -path ./tmp -o -path ./dev -o -path ./var/lib/dpkg \
     -o -path ./var/log -o -path ./var/cache -o -path ./run -o -path ./var/lib/apt \) -prune -o -print |
   sort)
}
snapshot >"$work/before.txt"

# ---------------------------------------------------------------- install
step "dpkg -i (maintainer scripts run for real)"
cp "$main_deb" "$dev_deb" "$R/tmp/"
if in_root dpkg -i "/tmp/$(basename "$main_deb")" "/tmp/$(basename "$dev_deb")" >"$work/dpkg-i.log" 2>&1; then
  pass "dpkg -i threadmill threadmill-dev"
else
  fail "dpkg -i"; cat "$work/dpkg-i.log"; exit 1
fi

step "files, conffiles, user, groups, directories"
for f in /usr/sbin/threadmill /usr/bin/threadmillctl /lib/systemd/system/threadmill.service \
         /usr/lib/tmpfiles.d/threadmill.conf /usr/lib/sysusers.d/threadmill.conf \
         /usr/share/man/man8/threadmill.8.gz /usr/share/man/man8/threadmillctl.8.gz \
         /usr/share/man/man5/threadmill.conf.5.gz /usr/include/threadmill/handler.h \
         /usr/include/threadmill/handler.hpp /usr/share/threadmill/handler.map \
         /usr/share/pkgconfig/threadmill-handler.pc \
         /usr/share/doc/threadmill/examples/postfix-main.cf.snippet \
         /usr/share/doc/threadmill/examples/llm.conf \
         /usr/bin/threadmill-web /lib/systemd/system/threadmill-web.service \
         /usr/lib/tmpfiles.d/threadmill-web.conf /usr/share/man/man8/threadmill-web.8.gz \
         /usr/share/doc/threadmill/examples/nginx-threadmill-web.conf \
         /usr/share/doc/threadmill/examples/apache-threadmill-web.conf \
         /usr/share/doc/threadmill/examples/postgresql-setup.sql; do
  check "installed $f" test -e "$R$f"
done
check "threadmill-web.service is not enabled (needs accounts and a TLS proxy first)" \
  sh -c "! ls '$R'/etc/systemd/system/*.wants/threadmill-web.service >/dev/null 2>&1"
for h in autoreply exec webhook llm; do
  if [ -d "$root/handlers/$h" ]; then
    check "handler $h.so installed (disabled)" test -f "$R/usr/lib/x86_64-linux-gnu/threadmill/handlers/$h.so"
  fi
done
check "threadmill-handler.pc names /usr" grep -qx 'prefix=/usr' "$R/usr/share/pkgconfig/threadmill-handler.pc"
check "/etc/threadmill/threadmill.conf is a conffile" \
  sh -c "chroot '$R' dpkg-query -W -f='\${Conffiles}' threadmill | grep -q '/etc/threadmill/threadmill.conf '"
check "handlers.d is empty (shipped handlers are disabled)" test -z "$(ls -A "$R/etc/threadmill/handlers.d")"
check "handlers.d owner and mode" stat_is /etc/threadmill/handlers.d "root:root 755"
uid=$(in_root id -u threadmill 2>/dev/null || echo none)
check "system user threadmill (uid $uid < 1000)" test "$uid" != none -a "$uid" -lt 1000 2>/dev/null
check "primary group threadmill" test "$(in_root id -gn threadmill)" = threadmill
check "shell nologin, home /var/lib/threadmill" \
  sh -c "grep -q '^threadmill:.*:/var/lib/threadmill:/usr/sbin/nologin\$' '$R/etc/passwd'"
check "threadmill is in group postdrop (reinjection under NoNewPrivileges)" \
  sh -c "chroot '$R' id -Gn threadmill | tr ' ' '\n' | grep -qx postdrop"
check "postfix is NOT in group threadmill (it would not help)" \
  sh -c "! chroot '$R' id -Gn postfix | tr ' ' '\n' | grep -qx threadmill"
check "/var/lib/threadmill threadmill:threadmill 750" stat_is /var/lib/threadmill "threadmill:threadmill 750"
check "/var/spool/postfix/threadmill threadmill:postfix 750" \
  stat_is /var/spool/postfix/threadmill "threadmill:postfix 750"
check "/run/threadmill threadmill:threadmill 750" stat_is /run/threadmill "threadmill:threadmill 750"
check "/run/threadmill-web threadmill:www-data 2750 (the console's socket, for the proxy)" \
  stat_is /run/threadmill-web "threadmill:www-data 2750"

step "dpkg trigger: the MTA installed after threadmill"
# Undo what postinst did for Postfix, then fire the file trigger Postfix's postdrop activates.
in_root deluser --quiet threadmill postdrop >/dev/null 2>&1
in_root chgrp threadmill /var/spool/postfix/threadmill
if in_root sh -c 'dpkg-trigger --no-await /usr/sbin/postdrop && dpkg --triggers-only --pending' \
     >"$work/trigger.log" 2>&1; then
  check "trigger put threadmill back into group postdrop" \
    sh -c "chroot '$R' id -Gn threadmill | tr ' ' '\n' | grep -qx postdrop"
  check "trigger gave the socket directory back to group postfix" \
    stat_is /var/spool/postfix/threadmill "threadmill:postfix 750"
else
  fail "processing the trigger"; cat "$work/trigger.log"
fi

# ---------------------------------------------------------------- run it
step "threadmill -n with the packaged configuration"
if in_root /usr/sbin/threadmill -n -c /etc/threadmill/threadmill.conf >"$work/n.log" 2>&1; then
  pass "threadmill -n: $(cat "$work/n.log")"
else
  fail "threadmill -n"; cat "$work/n.log"
fi
check "threadmillctl check-config" in_root /usr/bin/threadmillctl check-config

step "starting the installed daemon by hand"
sock=/var/spool/postfix/threadmill/threadmill.sock
chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
  /usr/sbin/threadmill -c /etc/threadmill/threadmill.conf >"$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do [ -S "$R$sock" ] && break; sleep 0.1; done
if [ -S "$R$sock" ]; then
  pass "socket $sock appeared"
  check "socket threadmill:postfix 660" stat_is "$sock" "threadmill:postfix 660"
  check "daemon runs as threadmill" \
    sh -c "awk '/^Uid:/ {exit !(\$2 == $uid)}' /proc/$daemon_pid/status"
  check "daemon's group is threadmill (only the socket belongs to group postfix)" \
    sh -c "awk '/^Gid:/ {exit !(\$2 == $(in_root getent group threadmill | cut -d: -f3))}' /proc/$daemon_pid/status"
  check "store created in /var/lib/threadmill" sh -c "ls '$R/var/lib/threadmill' | grep -q mdb"
  # A milter option negotiation (SMFIC_OPTNEG, protocol 6) as Postfix's smtpd would send it,
  # with Postfix's credentials only: uid/gid postfix, no supplementary groups.
  negotiate='use IO::Socket::UNIX;
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ARGV[0]) or die "connect: $!\n";
    my $body = "O" . pack("NNN", 6, 0x1ff, 0x1fffff);
    print $s pack("N", length $body) . $body;
    my $n = read($s, my $len, 4); die "no reply\n" unless $n == 4;
    read($s, my $reply, unpack("N", $len)); die "not an option reply\n" unless substr($reply, 0, 1) eq "O";
    print "negotiated milter protocol ", unpack("N", substr($reply, 1, 4)), "\n";'
  if out=$(in_root setpriv --reuid=postfix --regid=postfix --clear-groups perl -e "$negotiate" "$sock" 2>&1); then
    pass "postfix credentials (no supplementary groups) reach the milter: $out"
  else
    fail "postfix credentials cannot use the socket: $out"
  fi
  if in_root setpriv --reuid=nobody --regid=nogroup --clear-groups perl -e "$negotiate" "$sock" >/dev/null 2>&1; then
    fail "user nobody can use the socket"
  else
    pass "user nobody cannot connect"
  fi
else
  fail "socket $sock did not appear"; cat "$work/daemon.log"
fi

step "reinjection: Postfix's sendmail as user threadmill under no_new_privs"
msg='From: threadmill@test.invalid\nTo: someone@test.invalid\nSubject: reinjection test\n\nbody\n'
before=$(find "$R/var/spool/postfix/maildrop" -type f | wc -l)
if printf "$msg" | timeout 20 chroot "$R" setpriv --reuid=threadmill --regid=threadmill --init-groups \
     --no-new-privs /usr/sbin/sendmail -f threadmill@test.invalid -- someone@test.invalid \
     >"$work/sendmail.log" 2>&1; then
  after=$(find "$R/var/spool/postfix/maildrop" -type f | wc -l)
  check "sendmail queued the message in maildrop" test "$after" -gt "$before"
else
  fail "sendmail as threadmill under no_new_privs"; cat "$work/sendmail.log"
fi
# The trap this avoids: without group postdrop, no_new_privs disables postdrop's set-gid bit.
if printf "$msg" | timeout 5 chroot "$R" setpriv --reuid=threadmill --regid=threadmill --clear-groups \
     --no-new-privs /usr/sbin/sendmail -f threadmill@test.invalid -- someone@test.invalid \
     >/dev/null 2>&1; then
  fail "control: sendmail without group postdrop under no_new_privs unexpectedly worked"
else
  pass "control: without group postdrop, no_new_privs breaks sendmail (the trap)"
fi

if [ -n "$daemon_pid" ]; then
  step "stopping the daemon (TERM)"
  kill -TERM "$daemon_pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$daemon_pid" 2>/dev/null; then
    fail "daemon still running 15 s after TERM"; kill -KILL "$daemon_pid" 2>/dev/null || true
  else
    wait "$daemon_pid" 2>/dev/null && pass "daemon stopped cleanly" || fail "daemon exit status $?"
  fi
  daemon_pid=""
fi
rm -f "$R"/var/spool/postfix/maildrop/*

step "the approval console as its unit runs it (user threadmill, UMask 0007, no_new_privs)"
web_sock=/run/threadmill-web/web.sock
if printf 'a long enough password\n' | in_root /usr/bin/threadmill-web -c /etc/threadmill/threadmill.conf \
     passwd alice --role approver >"$work/web-passwd.log" 2>&1; then
  pass "threadmill-web passwd alice --role approver"
else
  fail "threadmill-web passwd"; cat "$work/web-passwd.log"
fi
chroot "$R" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin sh -c 'umask 0007; exec setpriv \
  --reuid=threadmill --regid=threadmill --init-groups --no-new-privs \
  /usr/bin/threadmill-web -c /etc/threadmill/threadmill.conf' >"$work/web.log" 2>&1 &
web_pid=$!
for _ in $(seq 1 100); do [ -S "$R$web_sock" ] && break; sleep 0.1; done
if [ -S "$R$web_sock" ]; then
  pass "console socket $web_sock appeared"
  check "console socket belongs to group www-data (set-gid directory)" \
    sh -c "[ \"\$(chroot '$R' stat -c %G '$web_sock')\" = www-data ]"
  get_login='use IO::Socket::UNIX;
    my $s = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $ARGV[0]) or die "connect: $!\n";
    print $s "GET /login HTTP/1.0\r\nHost: x\r\n\r\n";
    my $status = <$s>; die "no answer\n" unless defined $status; print $status;
    exit($status =~ m{^HTTP/1\.[01] 200} ? 0 : 1);'
  check "www-data (the proxy) gets the login page" \
    in_root setpriv --reuid=www-data --regid=www-data --clear-groups perl -e "$get_login" "$web_sock"
  if in_root setpriv --reuid=nobody --regid=nogroup --clear-groups perl -e "$get_login" "$web_sock" \
       >/dev/null 2>&1; then
    fail "user nobody can connect to the console"
  else
    pass "user nobody cannot connect to the console"
  fi
else
  fail "console socket $web_sock did not appear"; cat "$work/web.log"
fi
kill -TERM "$web_pid" 2>/dev/null || true
wait "$web_pid" 2>/dev/null || true

# ---------------------------------------------------------------- remove, purge
step "dpkg -r"
in_root dpkg -r threadmill-dev threadmill >"$work/dpkg-r.log" 2>&1 || { fail "dpkg -r"; cat "$work/dpkg-r.log"; }
check "binaries gone" sh -c "[ ! -e '$R/usr/sbin/threadmill' ] && [ ! -e '$R/usr/bin/threadmillctl' ]"
check "conffile kept after remove" test -f "$R/etc/threadmill/threadmill.conf"
check "store kept after remove" test -d "$R/var/lib/threadmill"

step "dpkg -P"
in_root dpkg -P threadmill >"$work/dpkg-p.log" 2>&1 || { fail "dpkg -P"; cat "$work/dpkg-p.log"; }
for d in /etc/threadmill /var/lib/threadmill /var/spool/postfix/threadmill /run/threadmill /run/threadmill-web; do
  check "purge removed $d" absent "$d"
done
check "user threadmill kept (Debian practice)" sh -c "chroot '$R' id threadmill >/dev/null"
snapshot >"$work/after.txt"
# adduser may create the shadow backups (passwd- ...) on first use; nothing else may differ.
leftover=$(comm -13 "$work/before.txt" "$work/after.txt" | grep -vE '^\./etc/(passwd|group|shadow|gshadow)-$' || true)
gone=$(comm -23 "$work/before.txt" "$work/after.txt" || true)
check "purge left nothing behind${leftover:+: $leftover}" test -z "$leftover"
check "nothing of the base system disappeared${gone:+: $gone}" test -z "$gone"

step "done in $(($(date +%s) - t0)) s, $failures failure(s)"
[ "$failures" = 0 ]
