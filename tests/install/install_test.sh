#!/usr/bin/env bash
# Installs the built project into a temporary prefix and uses only that copy:
# a C program built with pkg-config, a CMake project with find_package(fq),
# and the exported symbols and SONAME of the installed library.
# With PYTHON, also the Python package, imported from the install alone;
# with RUBY, also the Ruby library, required from the install alone.
#   install_test.sh BUILD_DIR SOURCE_DIR [PYTHON] [RUBY]
set -euo pipefail
build=$1 src=$2 python=${3:-} ruby=${4:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fq-install-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
trap 'echo "install_test: failed at line $LINENO: $BASH_COMMAND" >&2' ERR
fail() { echo "install_test: $*" >&2; exit 1; }
prefix=$tmp/prefix

cmake --install "$build" --prefix "$prefix" >/dev/null
pc=$(find "$prefix" -name fq.pc -print -quit)
[ -n "$pc" ] || fail "fq.pc was not installed"
so=$(find "$prefix" -name libfq.so.1 -print -quit)
[ -n "$so" ] || fail "libfq.so.1 was not installed"
libdir=$(dirname "$so")
[ -f "$prefix/include/fq.h" ] || fail "fq.h was not installed"

# (a) pkg-config, as a C programmer would use it. fq.pc names its directories
# relative to ${prefix}, so redefining prefix relocates it.
flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --define-variable=prefix="$prefix" \
  --cflags --libs fq)
for f in $flags; do
  case "$f" in
    -I* | -L*) [[ "${f:2}" == "$prefix"/* ]] || fail "pkg-config gives $f, outside the install ($flags)" ;;
  esac
done
[[ " $flags " == *" -I$prefix/include "* ]] || fail "pkg-config gives no -I$prefix/include: $flags"
[[ " $flags " == *" -L$libdir "* ]] || fail "pkg-config gives no -L$libdir: $flags"
# shellcheck disable=SC2086  # $flags is a list of words
cc -std=c99 -Wall -Wextra -pedantic -Werror "$src/tests/install/prog.c" $flags -o "$tmp/prog_pc"
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/prog_pc" "$tmp/q1")
[ "$out" = "installed fq works" ] || fail "pkg-config program printed: $out"

# (b) find_package(fq) from a CMake project.
mkdir "$tmp/consumer"
cp "$src/tests/install/CMakeLists.txt.in" "$tmp/consumer/CMakeLists.txt"
cp "$src/tests/install/prog.c" "$tmp/consumer/"
cmake -S "$tmp/consumer" -B "$tmp/consumer/build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
found=$(sed -n 's/^fq_DIR:PATH=//p' "$tmp/consumer/build/CMakeCache.txt")
[[ "$found" == "$prefix"/* ]] || fail "find_package(fq) found $found, not the install"
cmake --build "$tmp/consumer/build" >/dev/null
out=$(LD_LIBRARY_PATH="$libdir" "$tmp/consumer/build/prog" "$tmp/q2")
[ "$out" = "installed fq works" ] || fail "find_package program printed: $out"

# (c) only fq_* is exported, under the SONAME libfq.so.1.
syms=$(nm -D --defined-only "$so" | awk '{print $3}')
for s in fq_open fq_send fq_recv fq_close fq_strerror fq_version; do
  grep -qxF "$s@@FQ_1.0" <<<"$syms" || fail "$s is not exported as $s@@FQ_1.0"
done
extra=$(grep -v -E '^(fq_[a-z0-9_]+@@FQ_1\.0|FQ_1\.0)$' <<<"$syms" || true)
[ -z "$extra" ] || fail "symbols other than fq_* are exported: $extra"
dyn=$(readelf -d "$so")
[[ "$dyn" == *"(SONAME)"*"Library soname: [libfq.so.1]"* ]] || fail "SONAME is not libfq.so.1"
[ "$(readlink "$libdir/libfq.so")" = libfq.so.1 ] || fail "libfq.so does not link to libfq.so.1"
# (d) the Python package, when the bindings are built.
if [ -n "$python" ]; then
  init=$(find "$prefix" -path '*/dist-packages/fq/__init__.py' -print -quit)
  [ -n "$init" ] || fail "the Python package fq was not installed"
  site=$(dirname "$(dirname "$init")")
  out=$(cd "$tmp" && PYTHONPATH="$site" LD_LIBRARY_PATH="$libdir" "$python" -c '
import sys, fq
assert fq.__file__.startswith(sys.argv[1]), fq.__file__
q = fq.Queue()
q.put({"installed": True})
print(q.get(timeout=5)["installed"], len(fq.version()))' "$site")
  [ "$out" = "True 3" ] || fail "the installed Python package printed: $out"
fi
# (e) the Ruby library, when the bindings are built: fq.rb in Ruby's
# vendordir, fq/fq_ext.so in its vendorarchdir, both under the prefix.
if [ -n "$ruby" ]; then
  rb=$(find "$prefix" -path '*/vendor_ruby/fq.rb' -print -quit)
  [ -n "$rb" ] || fail "the Ruby library fq.rb was not installed"
  ext=$(find "$prefix" -path '*/vendor_ruby/*/fq/fq_ext.so' -print -quit)
  [ -n "$ext" ] || fail "the Ruby extension fq/fq_ext.so was not installed"
  [ -f "$(dirname "$rb")/fq/errors.rb" ] || fail "fq/errors.rb was not installed beside fq.rb"
  out=$(cd "$tmp" && LD_LIBRARY_PATH="$libdir" "$ruby" -I "$(dirname "$rb")" -I "$(dirname "$(dirname "$ext")")" -e '
require "fq"
outside = $LOADED_FEATURES.grep(/fq/).reject { |f| f.start_with?(ARGV[0]) }
raise "loaded from outside the install: #{outside}" unless outside.empty?
FQ::Queue.open(ARGV[1]) do |q|
  q << "installed"
  print q.pop(timeout: 5), " ", FQ.version.size
end
FQ.unlink(ARGV[1])' "$prefix" "$tmp/q3")
  [ "$out" = "installed 3" ] || fail "the installed Ruby library printed: $out"
fi
echo "install_test: ok ($prefix)"
