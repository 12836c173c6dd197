#!/usr/bin/env bash
# Run one miltertest script (through lua/run.lua) against the fixture daemon in DIR.
#   run_lua.sh DIR SCRIPT.lua
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
dir=$1 script=$2
if [[ ! -f "$dir/rig.env" ]] || ! grep -q '^RIG_MILTER_SOCKET=.' "$dir/rig.env"; then
    echo "SKIP: no fixture daemon in $dir"
    exit 77
fi
# shellcheck disable=SC1091
. "$dir/rig.env"
cd "$here/lua"
exec miltertest -s run.lua -D "script=$script" -D "socket=$RIG_MILTER_SOCKET" -D "log=$RIG_LOG"
