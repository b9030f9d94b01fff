#!/usr/bin/env bash
# dead_letter_demo.sh FQCTL PYTHONPATH: the README's dead-letter demo
# (examples/dead_letter.py) over the broker, with nothing changed but
# FQ_BROKER (set by with_rabbitmq.sh, which runs this). URLs go in with fqctl
# (there is no `echo >> input.fifo` over a broker); every one must end up as
# a quote in output.fifo or parked from input.fifo.dlq with its reason, after
# the retries input.fifo's policy asks for.
set -euo pipefail
fqctl=$1 pythonpath=$2
src=$(cd "$(dirname "$0")/../.." && pwd)
: "${FQ_BROKER:?run under tests/broker/with_rabbitmq.sh}"
dir=$(mktemp -d /tmp/fq-demo-XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
cd "$dir"
fail() { echo "dead_letter_demo: $*" >&2; echo "--- the demo said:" >&2; cat demo.log >&2; exit 1; }
# Waits (at most 60 s) until FILE has a line matching PATTERN.
wait_for() {
  local deadline=$((SECONDS + 60))
  until grep -q -- "$2" "$1" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || fail "no line matching '$2' in $1 after 60 s"
    sleep 0.05
  done
}

/usr/bin/python3 "$src/examples/quote_server.py" --port 0 >server.log 2>&1 &
pids+=($!)
wait_for server.log "127.0.0.1:"
port=$(grep -o '127\.0\.0\.1:[0-9]*' server.log | head -1 | cut -d: -f2)
PYTHONPATH=$pythonpath PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 "$src/examples/dead_letter.py" \
  >demo.log 2>&1 &
pids+=($!)
wait_for demo.log "Waiting for messages in the dead letter queue"
u=http://127.0.0.1:$port
for url in "$u/quote" "$u/flaky" "$u/missing" "$u/down" "invalid url"; do
  "$fqctl" send input.fifo "$url"
done

wait_for demo.log "Dead Letter: $u/down from input.fifo: .*(out of attempts): parked"
wait_for demo.log "Dead Letter: $u/missing from input.fifo: HTTP 404 Not Found (permanent): parked"
wait_for demo.log "Dead Letter: invalid url from input.fifo: invalid URL (permanent): parked"
wait_for demo.log "Processing: $u/flaky PID: [0-9]* (attempt 3)"
grep -q "Processing: $u/down PID: [0-9]* (attempt 4)" demo.log || fail "/down was not tried 4 times"
quotes=$("$fqctl" recv output.fifo -n 2 --timeout 10) || fail "two quotes expected in output.fifo"
[ "$(printf '%s\n' "$quotes" | wc -l)" = 2 ] || fail "quotes: $quotes"
"$fqctl" recv output.fifo --timeout 0 >/dev/null 2>&1 && fail "more than two quotes"
echo "dead-letter demo over the broker: 2 quotes, 3 dead letters with their reasons"
