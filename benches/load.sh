#!/usr/bin/env bash
# Load measurement of a Socket.IO server: broadcast fan-out, acked echoes, a server-side
# ticker, and memory per idle websocket connection, each against a fresh server process.
# Figures are per CPU-second of the server process (utime + stime), read by the load
# generator (benches/src/bin/sio_load.rs) from /proc. See benches/LOAD.md.
#
# Usage: bash benches/load.sh ours|node|CMD...
#   ours  sio-tokio/examples/bench_server.rs (release build, one tokio current_thread core)
#   node  tests/js/bench_server.js (npm socket.io from tests/js/node_modules)
#   CMD   any other command that serves the same events on 127.0.0.1 and prints "PORT <n>"
#         (PORT=0 in its environment); its own process must be the server (exec, no wrapper).
# Settings (environment): DURATION (10 s), BCAST_CLIENTS (1000), RATE (50 broadcasts/s),
# ECHO_CLIENTS (100), INFLIGHT (1), TICK_HZ (50), IDLE_CLIENTS ("1000 5000"), PAYLOAD (32
# bytes of padding), THREADS (load generator worker threads, 1), MODES ("broadcast echo tick
# idle"; also "slowloris" and "slow-consumer"), LABEL (the RESULT lines' label, default the
# server kind), SLOWLORIS_CLIENTS (2000), SLOWLORIS_SETTLE (15 s), SLOW_READERS (10),
# SLOW_RATE (20 broadcasts/s), SLOW_PAYLOAD (65536 bytes), SLOWLORIS_ROUNDS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

kind=${1:?usage: bash benches/load.sh ours|node|CMD...}
shift || true
DURATION=${DURATION:-10}
BCAST_CLIENTS=${BCAST_CLIENTS:-1000}
RATE=${RATE:-50}
ECHO_CLIENTS=${ECHO_CLIENTS:-100}
INFLIGHT=${INFLIGHT:-1}
TICK_HZ_RUN=${TICK_HZ:-50}
IDLE_CLIENTS=${IDLE_CLIENTS:-"1000 5000"}
PAYLOAD=${PAYLOAD:-32}
THREADS=${THREADS:-1}
MODES=${MODES:-"broadcast echo tick idle"}
LABEL=${LABEL:-$kind}

# Both processes hold one descriptor per client: raise the limit as far as allowed.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

target=${CARGO_TARGET_DIR:-$root/target}
cargo build --release -p sio-benches --bin sio_load -p sio-tokio --example bench_server >&2
load="$target/release/sio_load"

work=$(mktemp -d)
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# start_server [ENV=VALUE...]: starts a fresh server, sets server_pid and port.
start_server() {
  : >"$work/server.out"
  case "$kind" in
    ours) env PORT=0 "$@" "$target/release/examples/bench_server" >"$work/server.out" 2>&1 & ;;
    node) env PORT=0 "$@" node ${NODE_FLAGS:-} "$root/tests/js/bench_server.js" >"$work/server.out" 2>&1 & ;;
    *) env PORT=0 "$@" bash -c "exec $kind" >"$work/server.out" 2>&1 & ;;
  esac
  server_pid=$!
  port=""
  for _ in $(seq 1 200); do
    port=$(awk '/^PORT /{print $2; exit}' "$work/server.out")
    [ -n "$port" ] && break
    sleep 0.05
  done
  if [ -z "$port" ]; then
    echo "the server did not print its port:" >&2
    cat "$work/server.out" >&2
    exit 1
  fi
  sleep 0.5 # let it settle before the RSS baseline
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}

results=()
run() { # run LABEL-SUFFIX sio_load arguments...
  local suffix=$1
  shift
  local line
  line=$("$load" --port "$port" --pid "$server_pid" --threads "$THREADS" --payload "$PAYLOAD" \
    --label "$LABEL$suffix" "$@" | grep '^RESULT' || true)
  echo "$line" >&2
  results+=("$line")
}

echo "# $(date -u +%FT%TZ) server=$kind load average: $(cut -d' ' -f1-3 /proc/loadavg) cores: $(nproc)"
for mode in $MODES; do
  case "$mode" in
    broadcast)
      start_server
      run "" --mode broadcast --clients "$BCAST_CLIENTS" --duration "$DURATION" --rate "$RATE"
      stop_server ;;
    echo)
      start_server
      run "" --mode echo --clients "$ECHO_CLIENTS" --duration "$DURATION" --inflight "$INFLIGHT"
      stop_server ;;
    tick)
      start_server TICK_HZ="$TICK_HZ_RUN"
      run "" --mode tick --clients "$BCAST_CLIENTS" --duration "$DURATION"
      stop_server ;;
    idle)
      for n in $IDLE_CLIENTS; do
        start_server
        run "" --mode idle --clients "$n"
        stop_server
        if [ "$kind" = node ]; then
          # The same after full collections (the live heap, without uncollected garbage).
          NODE_FLAGS=--expose-gc start_server GC_MS=1000
          run "-gc" --mode idle --clients "$n"
          stop_server
        fi
      done ;;
    slowloris)
      start_server
      run "" --mode slowloris --clients "${SLOWLORIS_CLIENTS:-2000}" --settle "${SLOWLORIS_SETTLE:-15}" \
        --rounds "${SLOWLORIS_ROUNDS:-2}"
      stop_server ;;
    slow-consumer)
      start_server
      run "" --mode slow-consumer --clients "${SLOW_READERS:-10}" --duration "$DURATION" \
        --rate "${SLOW_RATE:-20}" --payload "${SLOW_PAYLOAD:-65536}" --settle 3
      stop_server ;;
    *) echo "unknown mode $mode" >&2; exit 2 ;;
  esac
done

echo "# summary ($kind), load average now: $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%s\n' "${results[@]}"
