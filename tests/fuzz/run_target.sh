#!/usr/bin/env bash
# run_target.sh NAME SECONDS - one short libFuzzer run of fuzz_NAME (ctest label "fuzz").
# Runs the binary of the fuzz build ($THREADMILL_FUZZ_BUILD, else the directory configured
# in THREADMILL_FUZZ_BUILD_DEFAULT) on a scratch copy of tests/fuzz/corpus/NAME, so the
# source tree is never written. Exit 77 (skipped) when there is no fuzz build; non-zero when
# libFuzzer finds a crash, a leak, a time-out or a failed invariant (the input is printed
# in hex and kept under the scratch directory's path shown). Findings exit 1, never
# libFuzzer's default 77, which ctest would read as "skipped" and hide.
set -euo pipefail
name=$1
seconds=${2:-8}
here=$(cd "$(dirname "$0")" && pwd)
build=${THREADMILL_FUZZ_BUILD:-${THREADMILL_FUZZ_BUILD_DEFAULT:-$here/../../build-fuzz}}
bin=$build/tests/fuzz/fuzz_$name
if [ ! -x "$bin" ]; then
  echo "no libFuzzer binary $bin (run scripts/build-fuzz): skipped"
  exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/threadmill-fuzz-$name.XXXXXX")
cleanup() { [ "${keep:-0}" = 1 ] || rm -rf "$work"; }
trap cleanup EXIT
mkdir "$work/corpus"
cp -r "$here/corpus/$name/." "$work/corpus/"
set +e
"$bin" -max_total_time="$seconds" -timeout=10 -error_exitcode=1 -timeout_exitcode=1 -keep_seed=1 -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1
rc=$?
set -e
grep -E "^stat::number_of_executed_units|^Done|^#[0-9]+ +DONE" "$work/log" || true
if [ $rc -ne 0 ]; then
  keep=1
  tail -n 60 "$work/log"
  for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
    [ -e "$a" ] || continue
    echo "artifact $a:"
    od -A x -t x1z "$a" | head -n 40
  done
  exit $rc
fi
