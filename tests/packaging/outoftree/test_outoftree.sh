#!/bin/sh
# test_outoftree.sh BUILD_DIR - threadmill-dev works out of tree: installs the "dev" component
# of BUILD_DIR into a staging prefix (what the threadmill-dev / threadmill-devel packages
# ship: handler.h, handler.hpp, handler.map, threadmill-handler.pc), then builds a C and a C++
# handler with nothing but `pkg-config --cflags --libs threadmill-handler` from that prefix,
# and checks each module exports exactly its entry symbol and names the installed ABI.
# Needs cmake, pkg-config (or pkgconf), cc, c++, nm. No root.
set -eu
build=$1
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tm-outoftree.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail() { echo "test_outoftree: FAIL: $*" >&2; exit 1; }

cmake --install "$build" --component dev --prefix "$work/stage" >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; fail "cmake --install --component dev"; }
for f in include/threadmill/handler.h include/threadmill/handler.hpp \
         share/threadmill/handler.map share/pkgconfig/threadmill-handler.pc; do
  [ -f "$work/stage/$f" ] || fail "staged $f missing"
done
# Only the staged tree: no source directory on any include path.
export PKG_CONFIG_PATH="$work/stage/share/pkgconfig"
export PKG_CONFIG_LIBDIR="$work/stage/share/pkgconfig"
cflags=$(pkg-config --cflags threadmill-handler) || fail "pkg-config --cflags"
libs=$(pkg-config --libs threadmill-handler) || fail "pkg-config --libs"
case "$cflags" in *"$work/stage/include"*) ;; *) fail "cflags '$cflags' do not name the stage" ;; esac
case "$libs" in *"--version-script=$work/stage/share/threadmill/handler.map"*) ;;
  *) fail "libs '$libs' do not pass the staged version script" ;; esac
major=$(pkg-config --variable=abi_major threadmill-handler)
grep -q "^#define THREADMILL_ABI_MAJOR $major\$" "$work/stage/include/threadmill/handler.h" ||
  fail "abi_major $major does not match the header"

cd "$work"
# shellcheck disable=SC2086
cc -std=c99 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden $cflags \
  -o hello.so "$here/hello.c" $libs || fail "C handler does not build"
# shellcheck disable=SC2086
c++ -std=c++17 -Wall -Wextra -Werror -shared -fPIC -fvisibility=hidden $cflags \
  -o hello_cpp.so "$here/hello_cpp.cc" $libs || fail "C++ handler does not build"
for so in hello.so hello_cpp.so; do
  exported=$(nm -D --defined-only "$so" | awk '$2 ~ /^[TtDdBbRrWwVv]$/ {print $3}' | sort -u)
  [ "$exported" = "threadmill_handler_v1" ] || fail "$so exports '$exported'"
done
echo "test_outoftree: ok (cflags: $cflags; libs: $libs)"
