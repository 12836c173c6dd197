#!/usr/bin/env bash
# Reference milters for the differential authentication test (test_auth_differential.py):
# Debian's opendkim and opendmarc, run in the foreground with their own config files, inside a
# private mount namespace whose /etc/resolv.conf (a bind mount, seen only here) points at a
# dnsmasq on NS_IP:53 serving the same zones as the rig's dnsmasq. OpenDMARC's SPF and DMARC
# lookups go through glibc's resolver, which only speaks port 53 (PLATFORM_NOTES.md).
#
#   unshare -m --propagation private auth_refmilters.sh DIR NS_IP DKIM_PORT DMARC_PORT ZONE...
#
# DIR must hold opendkim.conf and opendmarc.conf (written by the test). The script writes
# DIR/refmilters.pids and stays in the foreground; on TERM/INT it stops its three children by
# PID and exits, and the namespace (with its bind mount) goes away with the last process.
# The machine's /etc/resolv.conf is never written.
set -euo pipefail

dir=$1 ns_ip=$2 dkim_port=$3 dmarc_port=$4
shift 4

if [[ "$(readlink /proc/self/ns/mnt)" == "$(readlink /proc/1/ns/mnt)" ]]; then
    echo "auth_refmilters: not in a private mount namespace (run me under unshare -m)" >&2
    exit 2
fi
mount --make-rprivate / 2>/dev/null || true

printf 'nameserver %s\noptions timeout:2 attempts:1\n' "$ns_ip" >"$dir/resolv.conf"
mount --bind "$dir/resolv.conf" /etc/resolv.conf

{
    echo "port=53"
    echo "listen-address=$ns_ip"
    echo "bind-interfaces"
    echo "no-resolv"
    echo "no-hosts"
    echo "no-negcache"
    echo "log-facility=$dir/ns-dnsmasq.log"
    echo "pid-file="
    for z in "$@"; do cat "$z"; echo; done
} >"$dir/ns-dnsmasq.conf"

pids=()
stop_all() {
    local p i
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for ((i = 0; i < 100; i++)); do
        local alive=0
        for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [[ $alive == 0 ]] && break
        sleep 0.1
    done
    for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    umount /etc/resolv.conf 2>/dev/null || true
}
trap 'stop_all; exit 0' TERM INT HUP
trap 'stop_all' EXIT

dnsmasq --keep-in-foreground --conf-file="$dir/ns-dnsmasq.conf" --user=root --group=root \
    </dev/null >"$dir/ns-dnsmasq.out" 2>&1 &
pids+=($!)
opendkim -f -x "$dir/opendkim.conf" </dev/null >"$dir/opendkim.out" 2>&1 &
pids+=($!)
opendmarc -f -c "$dir/opendmarc.conf" </dev/null >"$dir/opendmarc.out" 2>&1 &
pids+=($!)
echo "${pids[*]}" >"$dir/refmilters.pids"

# Wait for TERM; leave if a milter dies (the test sees the missing socket) or if the test that
# started us is gone (killed by a CTest time-out: nothing may be left running). The test may
# stop dnsmasq (the first PID) on purpose: DNS-down comparison.
parent=$PPID
while :; do
    if ! kill -0 "$parent" 2>/dev/null; then
        echo "auth_refmilters: parent $parent gone, stopping" >&2
        exit 1
    fi
    for p in "${pids[@]:1}"; do
        if ! kill -0 "$p" 2>/dev/null; then
            echo "auth_refmilters: process $p exited" >&2
            exit 1
        fi
    done
    sleep 0.2 &
    wait $! 2>/dev/null || true
done
