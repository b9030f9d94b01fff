#!/usr/bin/env bash
# fqctl from the shell, the way its users meet it: echo and cat, exit codes,
# a queue that outlives the commands that used it.
#   fqctl_test.sh PATH_TO_FQCTL
set -euo pipefail
fqctl=$1
dir=$(mktemp -d /tmp/fqctl-test-XXXXXX)
trap 'rm -rf "$dir"' EXIT
q=$dir/jobs.fifo
fail() { echo "fqctl_test: $*" >&2; exit 1; }
expect_status() {  # status, command...
  local want=$1 got=0; shift
  "$@" >"$dir/out" 2>"$dir/err" || got=$?
  [ "$got" = "$want" ] || fail "'$*' exited $got, expected $want: $(cat "$dir/err")"
}

# One command sends, a later one receives (the queue outlives both).
"$fqctl" send "$q" x
[ -p "$q" ] || fail "send did not create the FIFO"
[ "$("$fqctl" recv "$q")" = x ] || fail "recv after send"

# Lines from stdin are messages; arguments are messages; order is kept.
printf 'one\ntwo\n' | "$fqctl" send "$q"
"$fqctl" send "$q" "three four" five
[ "$("$fqctl" recv "$q" -n 4 | paste -sd,)" = "one,two,three four,five" ] || fail "order or split"

# echo into the FIFO while a receiver waits: the shell's way in.
"$fqctl" recv "$q" --timeout 10 >"$dir/got" &
recv_pid=$!
# The receiver holds the FIFO open once it waits; echo needs a reader, so it
# cannot finish before. timeout(1) turns a hang into a failure.
timeout 10 sh -c "echo 'from echo' >> '$q'"
wait "$recv_pid" || fail "recv while echo wrote"
[ "$(cat "$dir/got")" = "from echo" ] || fail "echo line: $(cat "$dir/got")"

# cat a file of lines in; -n 0 drains everything there is.
seq 1 100 >"$dir/lines"
"$fqctl" send "$q" <"$dir/lines"
"$fqctl" recv "$q" -n 0 --timeout 0 >"$dir/drained"
cmp -s "$dir/lines" "$dir/drained" || fail "100 lines through send and recv -n 0"

# A large message (far past PIPE_BUF; one argument is capped at 128 KiB) round-trips whole.
head -c 100000 /dev/zero | tr '\0' 'z' >"$dir/big"
"$fqctl" send "$q" "$(cat "$dir/big")"
"$fqctl" recv "$q" | head -c 100000 | cmp -s - "$dir/big" || fail "100 kB message"

# stat, as text and JSON, on a fresh queue. Nobody holds it but stat itself,
# which it does not count; each message fqctl sent is unfinished until some
# process calls fq_task_done, so receiving does not change that.
st=$dir/st
"$fqctl" send "$st" a b
"$fqctl" stat "$st" >"$dir/stat"
for row in 'queued_msgs +2' 'senders +0' 'receivers +0' 'unfinished +2'; do
  grep -qE "^$row\$" "$dir/stat" || fail "stat text lacks '$row': $(cat "$dir/stat")"
done
"$fqctl" stat "$st" --json >"$dir/stat.json"
for kv in '"queued_msgs": 2' '"senders": 0' '"receivers": 0' '"unfinished": 2'; do
  grep -qF "$kv" "$dir/stat.json" || fail "stat json lacks $kv: $(cat "$dir/stat.json")"
done
"$fqctl" recv "$st" -n 2 >/dev/null
"$fqctl" stat "$st" | grep -qE '^unfinished +2$' || fail "receiving finished a task"

# A waiting receiver is counted while it waits (polled for, at most 1000
# looks), and no longer once it has exited.
"$fqctl" recv "$st" --timeout 10 >/dev/null &
recv_pid=$!
for _ in $(seq 1 1000); do
  "$fqctl" stat "$st" | grep -qE '^receivers +1$' && break
done
"$fqctl" stat "$st" | grep -qE '^receivers +1$' || fail "waiting receiver not counted"
"$fqctl" send "$st" wake
wait "$recv_pid" || fail "recv after wake"
"$fqctl" stat "$st" | grep -qE '^receivers +0$' || fail "receiver still counted after exit"

# join: at once on a queue with no unfinished work; a timeout (exit 3) with work left.
"$fqctl" create "$dir/idle"
expect_status 0 "$fqctl" join "$dir/idle" --timeout 0
expect_status 3 "$fqctl" join "$st" --timeout 0.1
grep -q "work still unfinished" "$dir/err" || fail "join timeout message"
expect_status 2 "$fqctl" join "$st" --timeout x
"$fqctl" rm "$dir/idle"
"$fqctl" rm "$st"

# Exit codes scripts rely on.
expect_status 3 "$fqctl" recv "$q" --timeout 0.1
grep -q "no message within" "$dir/err" || fail "timeout message"
expect_status 2 "$fqctl" recv "$q" --bogus
expect_status 2 "$fqctl" frobnicate "$q"
expect_status 1 "$fqctl" recv "$dir/missing"
grep -q "no such file" "$dir/err" || fail "missing queue message: $(cat "$dir/err")"
echo precious >"$dir/regular"
expect_status 1 "$fqctl" send "$dir/regular" x
[ "$(cat "$dir/regular")" = precious ] || fail "a regular file was written to"
for sub in send recv stat join create rm dead redrive work policy; do
  expect_status 0 "$fqctl" "$sub" --help
  grep -q "usage: fqctl" "$dir/out" || fail "$sub --help"
done

# work: a shell worker under a lease. Exit 0 acks, 65 is a permanent failure,
# anything else is retried by the queue's policy until its attempts run out.
w=$dir/work.fifo
"$fqctl" create "$w"
"$fqctl" policy "$w" --max-attempts 2 --backoff-base 10 --jitter 0 >/dev/null
grep -q '^max_attempts   2$' <("$fqctl" policy "$w") || fail "policy not kept"
"$fqctl" send "$w" good bad-data flaky
"$fqctl" work "$w" -n 4 --timeout 5 -- sh -c '
  read -r m
  echo "$m" >>"'"$dir"'/worked"
  case $m in good) exit 0;; bad-data) exit 65;; *) exit 1;; esac'
[ "$(sort "$dir/worked" | paste -sd,)" = "bad-data,flaky,flaky,good" ] ||
  fail "work ran: $(paste -sd, "$dir/worked")"
expect_status 3 "$fqctl" recv "$w" --timeout 0.2  # nothing left: acked or dead

# dead lists both failures from the durable log, with reasons and payloads.
"$fqctl" dead "$w" >"$dir/dead"
grep -q 'sh exited 65 (permanent)' "$dir/dead" || fail "dead: $(cat "$dir/dead")"
grep -q 'sh exited 1$' "$dir/dead" || fail "dead: $(cat "$dir/dead")"
grep -q '^ *bad-data$' "$dir/dead" && grep -q '^ *flaky$' "$dir/dead" || fail "dead payloads"
"$fqctl" dead "$w" --json | grep -q '"attempts": 2, "bytes": 5, "permanent": false' ||
  fail "dead --json: $("$fqctl" dead "$w" --json)"

# redrive puts them back where they came from; the dead-letter queue is empty.
[ "$("$fqctl" redrive "$w.dlq")" = 2 ] || fail "redrive count"
[ "$("$fqctl" recv "$w" -n 0 --timeout 0 | sort | paste -sd,)" = "bad-data,flaky" ] ||
  fail "redriven messages"
[ "$("$fqctl" redrive "$w.dlq")" = 0 ] || fail "second redrive"
"$fqctl" rm "$w.dlq"
"$fqctl" rm "$w"

w2=$dir/json.fifo
"$fqctl" create "$w2"
# Valid JSON even with quotes and control bytes, and [] for a queue that never lost one.
"$fqctl" send "$w2" 'say "hi"\ now'
"$fqctl" work "$w2" -n 1 --timeout 5 -- sh -c 'exit 65'
"$fqctl" dead "$w2" --json | /usr/bin/python3 -c '
import json, sys
records = json.load(sys.stdin)
assert records[-1]["payload"] == "say \"hi\"\\ now", records[-1]' || fail "dead --json is not JSON"
[ "$("$fqctl" dead "$dir/never-failed" --json)" = "[]" ] || fail "dead --json of nothing"
"$fqctl" rm "$w2.dlq"
"$fqctl" rm "$w2"

# create with a mode, rm removes everything.
"$fqctl" create "$dir/shared" --mode 660
[ "$(stat -c %a "$dir/shared")" = 660 ] || fail "create --mode"
"$fqctl" rm "$dir/shared"
[ ! -e "$dir/shared" ] && [ ! -e "$dir/shared.fq-state" ] || fail "rm left files"
expect_status 1 "$fqctl" rm "$dir/shared"
"$fqctl" rm "$q"
echo "fqctl_test: ok"
