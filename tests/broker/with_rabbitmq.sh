#!/usr/bin/env bash
# with_rabbitmq.sh CMD [ARGS...]: runs CMD against a private RabbitMQ node.
#
# Starts a rabbitmq-server of its own (its own node name, AMQP, distribution
# and epmd ports, data, logs and Erlang cookie in a temporary directory, no
# plugins), waits until it is ready, exports FQ_BROKER, runs CMD and stops
# the node and removes the directory on every way out. Fails loudly (exit 97)
# if the node cannot start: a test that needs the broker must never pass by
# skipping.
#
# CMD may run "$FQ_TEST_RMQ_RESTART" (this script with --restart) to stop the
# node and start it again on the same data, ready when it returns.
set -euo pipefail

bin=/usr/lib/rabbitmq/bin  # Debian's wrapper in /usr/sbin would su to the rabbitmq user
if [ ! -x "$bin/rabbitmq-server" ]; then
  echo "with_rabbitmq.sh: rabbitmq-server is not installed (scripts/deps installs it)" >&2
  exit 97
fi

start_node() {
  setsid "$bin/rabbitmq-server" >>"$dir/log/stdout" 2>&1 &
  echo $! >"$dir/server.pid"
  # await_startup needs the Erlang node up first: ping until it answers.
  local deadline=$((SECONDS + 120))
  until "$bin/rabbitmqctl" -n "$node" -q ping >/dev/null 2>&1 &&
    "$bin/rabbitmqctl" -n "$node" -q await_startup --timeout 60 >/dev/null 2>&1; do
    if ! kill -0 "$(cat "$dir/server.pid")" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
      echo "with_rabbitmq.sh: rabbitmq node $node did not start within 120 s" >&2
      tail -n 20 "$dir/log/stdout" >&2 || true
      exit 97
    fi
    sleep 0.5
  done
}

stop_node() {
  local pid
  pid=$(cat "$dir/server.pid" 2>/dev/null) || return 0
  if kill -0 "$pid" 2>/dev/null; then
    # The server runs in a session of its own: if stopping it cleanly fails,
    # its whole group goes.
    # With the pid file, stop returns once the Erlang VM has exited.
    timeout 60 "$bin/rabbitmqctl" -n "$node" stop "$dir/pid" >/dev/null 2>&1 ||
      kill -9 -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$dir/server.pid"
}

if [ "${1:-}" = "--restart" ]; then
  # Called by a test under a running with_rabbitmq.sh: the environment says which node.
  dir=$FQ_TEST_RMQ_DIR node=$RABBITMQ_NODENAME
  stop_node
  start_node
  exit 0
fi

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

dir=$(mktemp -d /tmp/fq-rmq-XXXXXX)
node="fqtest$$@localhost"
port=$(free_port)
epmd_port=$(free_port)
dist_port=$(free_port)

cleanup() {
  local rc=$?
  stop_node
  epmd -port "$epmd_port" -kill >/dev/null 2>&1 || true
  if [ "$rc" != 0 ] && [ -f "$dir/log/$node.log" ]; then
    echo "with_rabbitmq.sh: exit $rc; the node's log ends:" >&2
    tail -n 20 "$dir/log/$node.log" >&2 || true
  fi
  rm -rf "$dir"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$dir/mnesia" "$dir/log"
echo "[]." >"$dir/enabled_plugins"
: >"$dir/rabbitmq-env.conf"
cat >"$dir/rabbitmq.conf" <<CONF
listeners.tcp.default = 127.0.0.1:$port
loopback_users = none
log.console = false
log.file.level = warning
CONF

export HOME="$dir"  # the Erlang cookie
export RABBITMQ_NODENAME="$node" RABBITMQ_NODE_PORT="$port" RABBITMQ_DIST_PORT="$dist_port"
export ERL_EPMD_PORT="$epmd_port" RABBITMQ_MNESIA_BASE="$dir/mnesia" RABBITMQ_LOG_BASE="$dir/log"
export RABBITMQ_ENABLED_PLUGINS_FILE="$dir/enabled_plugins" RABBITMQ_CONFIG_FILE="$dir/rabbitmq.conf"
export RABBITMQ_CONF_ENV_FILE="$dir/rabbitmq-env.conf" RABBITMQ_PID_FILE="$dir/pid"
export RABBITMQ_ADVANCED_CONFIG_FILE="$dir/advanced.config"

start_node
export FQ_BROKER="amqp://guest:guest@127.0.0.1:$port/%2f"
export FQ_TEST_RMQ_CTL="$bin/rabbitmqctl -n $node" FQ_TEST_RMQ_DIR="$dir"
export FQ_TEST_RMQ_RESTART="$(realpath "$0") --restart"
set +e
"$@"
rc=$?
set -e
exit "$rc"
