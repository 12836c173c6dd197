#!/usr/bin/env bash
# CTest fixture for the milter-protocol tests: one threadmill daemon (no Postfix) for all of
# them, on a unix socket under DIR, started and stopped through tests/e2e/rig.
#   fixture.sh start DIR | stop DIR
# Exits 77 (skipped) when there is no threadmill binary in $THREADMILL_BUILD yet.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rig="$here/../e2e/rig"
cmd=$1 dir=$2
case "$cmd" in
start)
    if [[ ! -x "${THREADMILL_BUILD:-$here/../../build}/milter/threadmill" ]]; then
        echo "SKIP: no threadmill binary in ${THREADMILL_BUILD:-$here/../../build}/milter"
        exit 77
    fi
    [[ $(id -u) == 0 ]] || { echo "SKIP: needs root"; exit 77; }
    "$rig" start "$dir" --no-postfix --socket unix
    ;;
stop)
    "$rig" stop "$dir"
    ;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
