#!/usr/bin/env bash
# Load measurement of a Socket.IO server: broadcast fan-out, acked echoes, a server-side
# ticker, memory per idle websocket connection, and a broadcast across a two-server cluster on
# Redis, each against fresh server processes.
# Figures are per CPU-second of the server process (utime + stime), read by the load
# generator (benches/src/bin/sio_load.rs) from /proc. See benches/LOAD.md.
#
# Usage: bash benches/load.sh ours|node|floor|CMD...
#   ours  benches/src/bin/bench_server.rs (release build, one tokio current_thread core)
#   node  tests/js/bench_server.js (npm socket.io from tests/js/node_modules)
#   floor ../shared/bench-floor (sio-limit: one pre-encoded frame written per recipient with one
#         syscall, websocket only; built into $FLOOR_TARGET, default /tmp/floor-target)
#   CMD   any other command that serves the same events on 127.0.0.1 and prints "PORT <n>"
#         (PORT=0 in its environment); its own process must be the server (exec, no wrapper).
# Settings (environment): DURATION (10 s), BCAST_CLIENTS (1000), RATE (50 broadcasts/s),
# ECHO_CLIENTS (100), INFLIGHT (1), TICK_HZ (50), IDLE_CLIENTS ("1000 5000"), PAYLOAD (32
# bytes of padding), THREADS (load generator worker threads, 1), MODES ("broadcast echo tick
# idle"; also "slowloris" and "slow-consumer"), LABEL (the RESULT lines' label, default the
# server kind), SLOWLORIS_CLIENTS (2000), SLOWLORIS_SETTLE (15 s), SLOW_READERS (10),
# SLOW_RATE (20 broadcasts/s), SLOW_PAYLOAD (65536 bytes), SLOWLORIS_ROUNDS (2).
# WORKERS (ours only): tokio worker threads of the server (1: one current_thread core).
# FEATURES (ours only): cargo features of sio-benches for the build, e.g. "lock-stats" (with
# LOCK_STATS=<file>: the server's locks counted by place, written to that file every second).
# MODES may hold "polling": a broadcast as in "broadcast" to POLL_CLIENTS (1000) receivers
# on HTTP long-polling (the sender on websocket).
# MODES may hold "burst": the sender writes BURST (10) broadcasts back to back BURST_RATE (10)
# times a second to BCAST_CLIENTS clients, so BURST packets wait for each recipient at once.
# MODES may hold "cluster": two servers of the kind on one fresh redis-server (REDIS_URL in
# their environment), the sender on the first, BCAST_CLIENTS receivers on the second; figures
# per CPU-second of both servers (and of the second alone, and Redis's CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

kind=${1:?usage: bash benches/load.sh ours|node|floor|CMD...}
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
cargo build --release -p sio-benches ${FEATURES:+--features "$FEATURES"} --bin sio_load --bin bench_server >&2
load="$target/release/sio_load"
if [ "$kind" = floor ]; then
  FLOOR_TARGET=${FLOOR_TARGET:-/tmp/floor-target}
  CARGO_TARGET_DIR=$FLOOR_TARGET cargo build --release \
    --manifest-path "$root/../shared/bench-floor/Cargo.toml" >&2
fi

work=$(mktemp -d)
server_pid=""
# Processes of a cluster run (the first server, Redis), stopped with the server.
extra_pids=()
cleanup() {
  for p in $server_pid "${extra_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# start_server [ENV=VALUE...]: starts a fresh server, sets server_pid and port.
starts=0
start_server() {
  starts=$((starts + 1))
  local out="$work/server.$starts.out"
  case "$kind" in
    ours) env PORT=0 WORKERS="${WORKERS:-1}" "$@" "$target/release/bench_server" >"$out" 2>&1 & ;;
    node) env PORT=0 "$@" node ${NODE_FLAGS:-} "$root/tests/js/bench_server.js" >"$out" 2>&1 & ;;
    floor)
      # It takes its port as an argument and does not print "PORT": a free one, said here.
      local fport
      fport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
      echo "PORT $fport" >"$out"
      "$FLOOR_TARGET/release/sio-limit" "$fport" >>"$out" 2>&1 & ;;
    *) env PORT=0 "$@" bash -c "exec $kind" >"$out" 2>&1 & ;;
  esac
  server_pid=$!
  port=""
  for _ in $(seq 1 200); do
    port=$(awk '/^PORT /{print $2; exit}' "$out")
    [ -n "$port" ] && break
    sleep 0.05
  done
  if [ -z "$port" ]; then
    echo "the server did not print its port:" >&2
    cat "$out" >&2
    exit 1
  fi
  sleep 0.5 # let it settle before the RSS baseline
}

stop_server() {
  for p in $server_pid "${extra_pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  server_pid=""
  extra_pids=()
}

# start_redis: a redis-server on a free port, no persistence; sets redis_pid and redis_url.
start_redis() {
  local rport
  rport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
    >"$work/redis.out" 2>&1 &
  redis_pid=$!
  extra_pids+=("$redis_pid")
  redis_url="redis://127.0.0.1:$rport"
  for _ in $(seq 1 100); do
    redis-cli -p "$rport" ping >/dev/null 2>&1 && return 0
    sleep 0.05
  done
  echo "redis-server did not start:" >&2
  cat "$work/redis.out" >&2
  exit 1
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
    polling)
      start_server
      run "" --mode broadcast --transport polling --clients "${POLL_CLIENTS:-1000}" \
        --duration "$DURATION" --rate "$RATE"
      stop_server ;;
    burst)
      start_server
      run "" --mode broadcast --clients "$BCAST_CLIENTS" --duration "$DURATION" \
        --rate "${BURST_RATE:-10}" --burst "${BURST:-10}"
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
    cluster)
      start_redis
      start_server REDIS_URL="$redis_url"
      first_pid=$server_pid first_port=$port
      extra_pids+=("$first_pid")
      start_server REDIS_URL="$redis_url"
      # --port/--pid given twice: the last ones (the sender's server, A) win.
      run "" --port2 "$port" --pid2 "$server_pid" --pid-redis "$redis_pid" --port "$first_port" \
        --pid "$first_pid" --mode broadcast --clients "$((BCAST_CLIENTS + 1))" \
        --duration "$DURATION" --rate "$RATE"
      stop_server ;;
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
