#!/usr/bin/env bash
# Every fq_* function the library exports has a manual page that man finds
# and renders without a warning, and fqctl(1) names every command and option
# that fqctl --help names.
#   man_test.sh LIBFQ FQCTL [MAN_DIR]
# With MAN_DIR (a build's man/), man looks only there, and a page of a
# function the library does not export fails too; without it, man looks where
# it always does, as for an installed package.
set -euo pipefail
lib=$1 fqctl=$2 man_dir=${3:-}
fail() { echo "man_test: $*" >&2; exit 1; }
command -v man >/dev/null || fail "man is not installed (apt-get install man-db)"
man_args=()
[ -z "$man_dir" ] || man_args=(-M "$man_dir")
export MANWIDTH=100 MAN_KEEP_FORMATTING=  # plain text, whatever the terminal

# page SECTION NAME: the rendered page; fails on any warning from groff.
page() {
  local out err
  err=$(mktemp)
  out=$(LC_ALL=C.UTF-8 man "${man_args[@]}" --warnings=all -E UTF-8 "$1" "$2" 2>"$err" | col -bx) ||
    { rm -f "$err"; fail "man $1 $2: no page"; }
  if [ -s "$err" ]; then
    cat "$err" >&2; rm -f "$err"; fail "man $1 $2: groff warns"
  fi
  rm -f "$err"
  printf '%s\n' "$out"
}

syms=$(nm -D --defined-only "$lib" | awk '$3 ~ /^fq_/ { sub(/@.*/, "", $3); print $3 }' | sort -u)
[ "$(wc -l <<<"$syms")" -ge 30 ] || fail "only $(wc -l <<<"$syms") fq_* symbols in $lib"
n=0
for s in $syms; do
  out=$(page 3 "$s")
  # The NAME line lists the function: `man fq_msg_size` shows fq_msg_data's page.
  grep -A1 '^NAME' <<<"$out" | grep -qE "(^|[ ,])$s(,| )" || fail "man 3 $s: $s is not in its NAME line"
  grep -qE "\\b$s\\(" <<<"$out" || fail "man 3 $s: no prototype of $s"
  n=$((n + 1))
done
overview=$(page 3 fq)
grep -q "^ERRORS" <<<"$overview" || fail "man 3 fq: no ERRORS section"

if [ -n "$man_dir" ]; then
  for f in "$man_dir"/man3/*.3; do
    name=$(basename "$f" .3)
    [ "$name" = fq ] || grep -qxF "$name" <<<"$syms" || fail "man3/$name.3: the library exports no $name"
  done
fi

# fqctl(1) against fqctl --help: every command and every option.
help=$("$fqctl" --help)
manpage=$(page 1 fqctl)
commands=$(sed -nE 's/^  ([a-z]+) (QUEUE|DLQ).*/\1/p' <<<"$help")
[ "$(wc -l <<<"$commands")" -ge 8 ] || fail "found only these commands in fqctl --help: $commands"
for c in $commands; do
  grep -qE "^ {7}$c +(QUEUE|DLQ)" <<<"$manpage" || fail "fqctl(1) does not describe fqctl $c"
done
for o in $(grep -oE -- '(^|[ [])--?[a-z][a-z-]*' <<<"$help" | tr -d ' [' | sort -u); do
  grep -qF -- "$o" <<<"$manpage" || fail "fqctl(1) does not mention $o"
done
echo "man_test: ok ($n functions, fq(3), fqctl(1) with $(wc -l <<<"$commands") commands)"
