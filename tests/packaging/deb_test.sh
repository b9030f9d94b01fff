#!/usr/bin/env bash
# Builds fq's Debian packages from a copy of this tree and tests them the way
# a user meets them, then leaves the machine as it found it:
#   1. apt-get build-dep, then dpkg-buildpackage -us -uc -b: the five packages;
#   2. lintian on them and on the source: no error, no warning (an accepted
#      warning would be a debian/*lintian-overrides line with its reason);
#   3. the ABI guard: the build's symbols rule fails when the library lacks a
#      function debian/libfq1.symbols lists, or exports one it does not;
#   4. apt-get install ./*.deb, then debian/tests/* (the autopkgtests: C via
#      pkg-config, CMake, Python and Ruby over one queue, fqctl and every man
#      page, the dead-letter demo from the installed examples), run from a
#      pristine copy of the source, never the build tree;
#   5. apt-get purge: nothing of the packages is left;
#   6. every package this script installed (build-deps, lintian, test deps)
#      is purged again, and apt's manual/auto marks are put back.
# Needs root or sudo, and Debian's archive. Refuses to run if an fq package
# is already installed (it would have to remove it). The package build runs
# the test suite unless DEB_BUILD_OPTIONS=nocheck.
#   [DEB_BUILD_OPTIONS=nocheck] tests/packaging/deb_test.sh
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
packages=(libfq1 libfq-dev python3-fq ruby-fq fqctl)
sudo=""
[ "$(id -u)" = 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
apt_get() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o=Dpkg::Use-Pty=0 "$@"; }
say() { echo "=== deb_test: $*"; }
fail() { echo "deb_test: FAILED: $*" >&2; exit 1; }
start=$SECONDS

installed() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}:${Architecture}\n' |
  awk '$1 ~ /^.i/ { print $2 }' | sort; }
for p in "${packages[@]}"; do
  if dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^.[ic]'; then
    fail "$p is already installed; remove it first (this script would purge it)"
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/fq-deb-XXXXXX")
installed >"$work/before"
apt-mark showmanual | sort >"$work/manual-before"

restore() {
  local rc=$? added remarked
  set +e
  say "restoring the machine"
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^.[ic]' && apt_get purge "$p" >/dev/null
  done
  added=$(installed | comm -13 "$work/before" -)
  if [ -n "$added" ]; then
    # shellcheck disable=SC2086  # a list of packages
    apt_get purge $added >/dev/null || echo "deb_test: could not purge: $added" >&2
  fi
  # apt-get install marks a package it was asked for as manual, even one that
  # was already there as a dependency: put those marks back.
  remarked=$(apt-mark showmanual | sort | comm -13 "$work/manual-before" - | comm -12 - <(sed 's/:.*//' "$work/before" | sort -u))
  # shellcheck disable=SC2086
  [ -z "$remarked" ] || $sudo apt-mark auto $remarked >/dev/null
  if ! installed | cmp -s "$work/before" -; then
    echo "deb_test: the installed packages differ from before:" >&2
    installed | diff "$work/before" - >&2
    rc=1
  fi
  if ! apt-mark showmanual | sort | cmp -s "$work/manual-before" -; then
    echo "deb_test: apt's manual marks differ from before" >&2
    rc=1
  fi
  $sudo rm -rf "$work"
  [ "$rc" != 0 ] || say "the machine is as it was: the same packages, the same apt marks"
  exit "$rc"
}
trap restore EXIT

# Two copies of the tree as git sees it (tracked and new files, not ignored
# ones such as build directories): one to build, one the tests run from.
copy_tree() {
  mkdir -p "$1"
  (cd "$src" && git ls-files -z --cached --others --exclude-standard |
    xargs -0 -I{} sh -c '[ -e "$1" ] && printf "%s\0" "$1"' _ {} | tar -cf - --null -T -) |
    tar -xf - -C "$1"
}
copy_tree "$work/build/fq"
copy_tree "$work/test/fq"

say "build-deps and tools"
apt_get update
# The build runs the test suite, as Debian builds do, unless
# DEB_BUILD_OPTIONS has nocheck; then the nocheck profile drops its build-deps.
apt_profiles=() dpkg_profiles=()
if [[ " ${DEB_BUILD_OPTIONS:-} " == *" nocheck "* ]]; then
  apt_profiles=(-P nocheck) dpkg_profiles=(--build-profiles=nocheck)
fi
apt_get install --no-install-recommends dpkg-dev lintian >/dev/null
(cd "$work/build/fq" && apt_get build-dep --no-install-recommends "${apt_profiles[@]}" . >/dev/null)

say "dpkg-buildpackage -us -uc -b"
(cd "$work/build" && dpkg-source -b fq >"$work/source.log" 2>&1) || { cat "$work/source.log"; fail "dpkg-source -b"; }
t=$SECONDS
(cd "$work/build/fq" && dpkg-buildpackage -us -uc -b "${dpkg_profiles[@]}" >"$work/build.log" 2>&1) ||
  { tail -60 "$work/build.log"; fail "dpkg-buildpackage (log above)"; }
suite=$(grep -E '^[0-9]+% tests passed' "$work/build.log" | tail -1 || true)
echo "built in $((SECONDS - t)) s (the test suite in the build: ${suite:-not run, nocheck}):"
version=$(cd "$work/build/fq" && dpkg-parsechangelog -S Version)
arch=$(dpkg --print-architecture)
debs=()
for p in "${packages[@]}"; do
  deb=$work/build/${p}_${version}_${arch}.deb
  [ -f "$deb" ] || fail "no $deb"
  debs+=("$deb")
  echo "  $(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
done

say "lintian"
# Errors and warnings fail; info and pedantic tags are printed.
lintian --tag-display-limit 0 -I --pedantic --fail-on error,warning \
  "$work/build/fq_${version}_${arch}.changes" "$work/build/fq_${version}.dsc" 2>&1 |
  grep -v 'running with root privileges' || true
[ "${PIPESTATUS[0]}" = 0 ] || fail "lintian reports errors or warnings (above)"
echo "lintian: no errors, no warnings"

say "the ABI guard: the build fails when an fq_* function disappears or is not listed"
# The build's own rule, run again in the built tree with a symbols file that
# lists a function the library lacks, then one that misses one it exports.
symbols=$work/build/fq/debian/libfq1.symbols
cp "$symbols" "$work/symbols.orig"
abi_rule() { (cd "$work/build/fq" && debian/rules override_dh_makeshlibs) >"$work/abi.log" 2>&1; }
abi_rule || { cat "$work/abi.log"; fail "the symbols check fails on the library as built"; }
echo " fq_vanished@FQ_1.0 1.0.0" >>"$symbols"
! abi_rule || fail "the build accepts a library that lost fq_vanished"
grep -q 'no longer exports: fq_vanished@FQ_1.0' "$work/abi.log" || { cat "$work/abi.log"; fail "no word of fq_vanished"; }
grep -v ' fq_join@' "$work/symbols.orig" >"$symbols"
! abi_rule || fail "the build accepts fq_join missing from the symbols file"
grep -q '^+ *fq_join@FQ_1.0' "$work/abi.log" || { cat "$work/abi.log"; fail "no diff naming fq_join"; }
cp "$work/symbols.orig" "$symbols"
abi_rule || { cat "$work/abi.log"; fail "the symbols check fails once restored"; }
echo "a lost function and an unlisted one each fail the build"

say "apt-get install ./*.deb"
apt_get install --no-install-recommends "${debs[@]}" >/dev/null
# The autopkgtests' own dependencies (compilers, cmake, man-db...).
test_deps=$(sed -n 's/^Depends://p' "$work/test/fq/debian/tests/control" | tr ',' '\n' |
  sed 's/[[:space:]]//g' | grep -v '^$' | sort -u | grep -vxF -f <(printf '%s\n' "${packages[@]}") || true)
# shellcheck disable=SC2086
apt_get install --no-install-recommends $test_deps >/dev/null

say "debian/tests against the installed packages"
# Nothing that could point at a build: the tests see what a user's shell sees.
clean_env=(env -u PYTHONPATH -u LD_LIBRARY_PATH -u RUBYLIB -u PKG_CONFIG_PATH -u CMAKE_PREFIX_PATH
  -u CPATH -u LIBRARY_PATH)
passed=0 failed=0
for t in $(sed -n 's/^Tests://p' "$work/test/fq/debian/tests/control"); do
  tmp=$work/autopkgtest/$t
  mkdir -p "$tmp"
  if (cd "$work/test/fq" && "${clean_env[@]}" AUTOPKGTEST_TMP="$tmp" timeout 600 "debian/tests/$t") \
      >"$work/$t.log" 2>&1; then
    echo "  $t: $(tail -1 "$work/$t.log")"
    passed=$((passed + 1))
  else
    echo "  $t: FAILED"; sed 's/^/    /' "$work/$t.log"
    failed=$((failed + 1))
  fi
done
[ -z "$(find "$work/test/fq" -newer "$work/build.log" -not -type d | head -1)" ] ||
  fail "the tests wrote into the source tree: $(find "$work/test/fq" -newer "$work/build.log" -not -type d)"

say "apt-get purge: nothing left behind"
files=$(for p in "${packages[@]}"; do dpkg -L "$p"; done | sort -u)
apt_get purge "${packages[@]}" >/dev/null
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [ -z "$status" ] || [[ "$status" == un* ]] || fail "$p is not purged (dpkg: $status)"
  ls /var/lib/dpkg/info/"$p".* /var/lib/dpkg/info/"$p":*.* >/dev/null 2>&1 && fail "dpkg still has files of $p"
done
left=$(while read -r f; do [ -d "$f" ] || [ ! -e "$f" ] || echo "$f"; done <<<"$files")
[ -z "$left" ] || fail "files left after purge: $left"
for d in /usr/lib/python3/dist-packages/fq /usr/lib/*/cmake/fq /usr/lib/ruby/vendor_ruby/fq \
         /usr/lib/*/ruby/vendor_ruby/*/fq /usr/share/doc/libfq1 /usr/share/doc/python3-fq; do
  [ ! -e "$d" ] || fail "left after purge: $d ($(find "$d" | head -5))"
done
echo "purged: no file, directory or dpkg record of the five packages is left"

echo "deb_test: $passed passed, $failed failed ($((SECONDS - start)) s)"
[ "$failed" = 0 ]
