#!/usr/bin/env bash
# Installs the built project into a temporary prefix and uses only that copy:
# a C program built with pkg-config, a CMake project with find_package(fq),
# and the exported symbols and SONAME of the installed library.
#   install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d /tmp/fq-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install_test: $*" >&2; exit 1; }

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name fq.pc -print -quit)
[ -n "$pc" ] || fail "fq.pc was not installed"
libdir=$(dirname "$(find "$tmp/prefix" -name 'libfq.so.1' -print -quit)")
[ -f "$libdir/libfq.so.1" ] || fail "libfq.so.1 was not installed"
[ -f "$tmp/prefix/include/fq.h" ] || fail "fq.h was not installed"

# (a) pkg-config, as a C programmer would use it.
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --define-variable=prefix="$tmp/prefix" \
  --cflags --libs fq)
case "$flags" in *"$tmp/prefix"*) ;; *) fail "pkg-config flags do not point into the install: $flags" ;; esac
cc -std=c99 -Wall -Wextra -pedantic -Werror "$src/tests/install/prog.c" $flags -o "$tmp/prog_pc"
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/prog_pc" "$tmp/q1")
[ "$out" = "installed fq works" ] || fail "pkg-config program printed: $out"

# (b) find_package(fq) from a CMake project.
mkdir "$tmp/consumer"
cp "$src/tests/install/CMakeLists.txt.in" "$tmp/consumer/CMakeLists.txt"
cp "$src/tests/install/prog.c" "$tmp/consumer/"
cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/consumer/build" >/dev/null
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/consumer/build/prog" "$tmp/q2")
[ "$out" = "installed fq works" ] || fail "find_package program printed: $out"

# (c) only fq_* is exported, under the SONAME libfq.so.1.
extra=$(nm -D --defined-only "$libdir/libfq.so.1" | awk '{print $3}' | grep -v -E '^(fq_[a-z_]+@@FQ_1\.0|FQ_1\.0)$' || true)
[ -z "$extra" ] || fail "symbols other than fq_* are exported: $extra"
readelf -d "$libdir/libfq.so.1" | grep -q 'SONAME.*\[libfq\.so\.1\]' || fail "SONAME is not libfq.so.1"
[ "$(readlink "$libdir/libfq.so")" = libfq.so.1 ] || fail "libfq.so does not link to libfq.so.1"
echo "install_test: ok"
