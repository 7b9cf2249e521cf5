# shellcheck shell=bash disable=SC2034,SC2154
# Shell helpers shared by the benchmark scripts in tests/bench/ (sourced, never run):
# process and port handling, a throw-away PostgreSQL 15 cluster, a flightwatch node on a
# free loopback port, CPU accounting from /proc, the node's own histograms and medians.
#
# Before sourcing, a script sets
#   bench_name   its name, for messages ("flight_queries_load.sh")
#   tmp          a temporary directory it owns (node logs go there)
# and may set pg_options (an array of NAME=VALUE for the PostgreSQL server). After
# sourcing it installs the traps: trap bench_cleanup EXIT; trap 'exit 130' INT TERM.
# FLIGHTWATCH_PG_BIN_DIR picks the PostgreSQL binaries (default /usr/lib/postgresql/15/bin).
# Shell options: the scripts run with set -euo pipefail.

pg_bin="${FLIGHTWATCH_PG_BIN_DIR:-/usr/lib/postgresql/15/bin}"
pg_dir=""
pg_port=""
node_pid=""
node_url=""
node_port=""
bench_pids=() # further processes (more nodes) that bench_cleanup stops
[ -n "${pg_options+x}" ] || pg_options=()

bench_fail() { # MESSAGE... -> on stderr, exit 1
  echo "$bench_name: $*" >&2
  exit 1
}

bench_need_tools() { # TOOL... -> fails when one is not on PATH
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null || bench_fail "$t is not installed"
  done
}

bench_need_pg() { # fails when the PostgreSQL 15 server tools are missing
  local t
  for t in initdb pg_ctl postgres createdb; do
    [ -x "$pg_bin/$t" ] || bench_fail "$pg_bin/$t is missing (PostgreSQL 15 server)"
  done
  command -v psql >/dev/null || [ -x "$pg_bin/psql" ] || bench_fail "psql is not installed"
}

stop_pid() { # PID -> SIGTERM, up to 10 s to exit, then SIGKILL
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

bench_build() { # TARGET... -> builds them in $build_dir unless the script's $build is 0
  [ "${build:-1}" = 1 ] || return 0
  [ -f "$build_dir/build.ninja" ] || [ -f "$build_dir/Makefile" ] \
    || bench_fail "$build_dir is not configured (run deploy/build.sh)"
  # Two jobs at most: the cores are shared.
  cmake --build "$build_dir" --target "$@" -j "${FLIGHTWATCH_BUILD_JOBS:-2}" >/dev/null
}

# bench_builds -> builds=(current), or (baseline current) with the script's $baseline_bin
# (--baseline-bin), and bin_of[BUILD] the binary of each ($node_bin for current)
bench_builds() {
  builds=(current)
  declare -gA bin_of=([current]="$node_bin")
  if [ -n "${baseline_bin:-}" ]; then
    [ -x "$baseline_bin" ] || bench_fail "$baseline_bin is not an executable"
    builds=(baseline current)
    bin_of[baseline]="$baseline_bin"
  fi
}

now_s() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; } # START END -> seconds

# -- ports ---------------------------------------------------------------------------------
port_free() { # nothing accepts on 127.0.0.1:$1
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

port_unused() { # no socket of any state uses local port $1 (when ss is there)
  command -v ss >/dev/null || return 0
  [ -z "$(ss -Htan "( sport = :$1 )" 2>/dev/null)" ]
}

# Ports below the ephemeral range: client sockets (wrk, the node's database connections)
# take ephemeral ports and would make a server's bind fail.
bench_ephemeral_low="$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)"
if [ "$bench_ephemeral_low" -gt 12000 ]; then
  bench_port_base=10000
  bench_port_span=$((bench_ephemeral_low - 10000))
else
  bench_port_base=20000
  bench_port_span=40000
fi

free_port() {
  local p
  for _ in $(seq 100); do
    p=$((bench_port_base + RANDOM % bench_port_span))
    if port_free "$p" && port_unused "$p" && [ "$p" != "$pg_port" ] && [ "$p" != "$node_port" ]; then
      echo "$p"
      return 0
    fi
  done
  echo "$bench_name: no free port found" >&2
  return 1
}

# -- PostgreSQL: a throw-away cluster on loopback, trust auth --------------------------------
# PostgreSQL refuses to run as root: then its server tools run as "postgres" (or "nobody").
pg_user=""
if [ "$(id -u)" = 0 ]; then
  if id postgres >/dev/null 2>&1; then pg_user=postgres; else pg_user=nobody; fi
fi

as_pg() { # runs a server tool as the PostgreSQL user, from a directory that user may enter
  if [ -n "$pg_user" ]; then
    (cd "$pg_dir" && runuser -u "$pg_user" -- env LC_ALL=C.UTF-8 "$@")
  else
    (cd "$pg_dir" && LC_ALL=C.UTF-8 "$@")
  fi
}

pg_start() { # sets pg_dir and pg_port; server options from pg_options
  pg_dir="$(mktemp -d -t fw-bench-pg.XXXXXX)"
  [ -n "$pg_user" ] && chown "$pg_user:" "$pg_dir"
  as_pg "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    --no-instructions >"$pg_dir/initdb.log" 2>&1 \
    || { echo "$bench_name: initdb failed:" >&2; cat "$pg_dir/initdb.log" >&2; exit 1; }
  local opts attempt o
  for attempt in 1 2 3; do # another process may take the free port before the server binds
    pg_port="$(free_port)"
    opts="-p $pg_port -k $pg_dir -c listen_addresses=127.0.0.1"
    for o in "${pg_options[@]}"; do opts+=" -c $o"; done
    if as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -o "$opts" -w -t 30 \
         start >/dev/null 2>&1; then
      pg_warm_wal
      return 0
    fi
  done
  echo "$bench_name: PostgreSQL did not start; its log:" >&2
  cat "$pg_dir/server.log" >&2
  exit 1
}

# pg_warm_wal -> 32 WAL segments (512 MB) written and recycled by a checkpoint, so that the
# server has segments ready for its next writes, as one that has been running for a while.
# A fresh cluster has one: every 16 MB of WAL, a commit then waits while the next segment is
# created and zero-filled (about 40 ms here, with WALWriteLock held), which made the first
# round of a run on a fresh cluster the slowest (docs/performance.md).
pg_warm_wal() {
  local i args=(-c "CREATE TABLE fw_warm_wal (x int)")
  for i in $(seq 32); do
    args+=(-c "INSERT INTO fw_warm_wal VALUES (1)" -c "SELECT pg_switch_wal()")
  done
  pg_psql postgres "${args[@]}" -c "DROP TABLE fw_warm_wal" -c CHECKPOINT >/dev/null
}

pg_stop() {
  if [ -n "$pg_dir" ] && [ -f "$pg_dir/data/postmaster.pid" ]; then
    as_pg "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate -w -t 20 stop >/dev/null 2>&1 || true
  fi
  # Kept with the other outputs: its checkpoints and autovacuum runs (with --pg-option
  # log_checkpoints=on / log_autovacuum_min_duration=0) explain stalls seen by a client.
  if [ "${FLIGHTWATCH_BENCH_KEEP:-0}" = 1 ] && [ -n "$pg_dir" ] && [ -d "${tmp:-}" ]; then
    cp "$pg_dir/server.log" "$tmp/postgres-server.log" 2>/dev/null || true
  fi
  [ -n "$pg_dir" ] && rm -rf "$pg_dir"
  pg_dir=""
}

pg_psql() { # DATABASE psql-arguments... -> psql as postgres over TCP, stops on the first error
  local db="$1"
  shift
  local bin=psql
  [ -x "$pg_bin/psql" ] && bin="$pg_bin/psql"
  "$bin" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d "$db" "$@"
}

pg_cpu_ticks() { # utime + stime of the postmaster and all its children (the node's backends)
  local pm
  pm="$(head -1 "$pg_dir/data/postmaster.pid")"
  { echo "$pm"; ps -o pid= --ppid "$pm" || true; } |
    while read -r p; do
      if [ -r "/proc/$p/stat" ]; then
        awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$p/stat" || true
      fi
    done | awk '{ s += $1 } END { print s + 0 }'
}

# -- the node ----------------------------------------------------------------------------------
# start_node NAME STORAGE_URL [VAR=VALUE...] -> sets node_pid, node_port and node_url, waits
# for GET /health 200 (so the schema migration is done; up to bench_node_wait tenths of a
# second, default 300, per attempt). The node binary is $node_bin; its
# log is $tmp/NAME.log. Extra VAR=VALUE pairs (FW_* settings) go into its environment.
start_node() {
  local name="$1" url="$2" port attempt
  shift 2
  for attempt in 1 2 3; do # another process may take the free port first: try another
    port="$(free_port)"
    env "$@" FW_GATEWAY_ACCESS_LOG=false FW_GATEWAY_PORT="$port" \
      FW_GATEWAY_HOST=127.0.0.1 FW_STORAGE_URL="$url" FW_LOG_LEVEL=warn \
      "$node_bin" >"$tmp/$name.log" 2>&1 &
    node_pid=$!
    node_port="$port"
    node_url="http://127.0.0.1:$port"
    for _ in $(seq "${bench_node_wait:-300}"); do # tenths of a second
      if [ "$(curl -s -o /dev/null -w '%{http_code}' "$node_url/health")" = 200 ]; then
        return 0
      fi
      kill -0 "$node_pid" 2>/dev/null || break
      grep -q 'Address already in use' "$tmp/$name.log" && break
      sleep 0.1
    done
    grep -q 'Address already in use' "$tmp/$name.log" && [ "$attempt" -lt 3 ] || break
    stop_pid "$node_pid"
  done
  echo "$bench_name: node $name did not answer GET /health with 200; its log:" >&2
  cat "$tmp/$name.log" >&2
  exit 1
}

bench_cleanup() { # the EXIT trap: stops the node(s) and PostgreSQL, removes $tmp
  local p
  [ -n "$node_pid" ] && stop_pid "$node_pid"
  node_pid=""
  for p in "${bench_pids[@]}"; do stop_pid "$p"; done
  bench_pids=()
  pg_stop
  if [ "${FLIGHTWATCH_BENCH_KEEP:-0}" = 1 ]; then
    echo "$bench_name: kept wrk outputs and node logs in $tmp" >&2
  else
    rm -rf "$tmp"
  fi
}

# -- CPU accounting ----------------------------------------------------------------------------
clk_tck="$(getconf CLK_TCK)"

cpu_ticks() { # utime + stime of a process, in clock ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

children_ticks() { # CPU time of this shell's waited-for children (wrk, curl, ...)
  awk '{ sub(/^.*\) /, ""); print $14 + $15 }' "/proc/$$/stat"
}

sys_busy_ticks() { # user + nice + system time of the whole machine (all cores)
  awk '$1 == "cpu" { print $2 + $3 + $4; exit }' /proc/stat
}

vm_hwm_mib() { # peak resident set size of a process, MiB
  awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

machine_line() { # "# machine: ..." with the current load average
  echo "# machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)," \
    "$(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# -- the node's own histograms ---------------------------------------------------------------
# "KIND:NAME:sum|count value" lines: server time per route (http) and time of each store
# operation on a storage worker (store).
metric_sums() {
  curl -s "$node_url/metrics" | awk '
    /^(http_request_duration_seconds|flightwatch_store_operation_duration_seconds)_(sum|count)\{/ {
      kind = ($0 ~ /^http/) ? "http" : "store"
      part = ($0 ~ /_sum\{/) ? "sum" : "count"
      label = (kind == "http") ? "route" : "operation"
      name = $0
      if (!match(name, label "=\"[^\"]*\"")) next
      name = substr(name, RSTART + length(label) + 2, RLENGTH - length(label) - 3)
      sums[kind ":" name ":" part] += $NF
    }
    END { for (k in sums) print k, sums[k] }'
}

# metric_delta BEFORE AFTER KIND NAME -> mean milliseconds between the two snapshots
metric_delta() {
  awk -v k="$3:$4" 'FNR == NR { before[$1] = $2; next }
    { after[$1] = $2 }
    END { n = after[k ":count"] - before[k ":count"]; s = after[k ":sum"] - before[k ":sum"]
          printf "%.2f", (n > 0 ? s / n * 1000 : 0) }' "$1" "$2"
}

# -- numbers -------------------------------------------------------------------------------------
median() { # numbers on stdin, printf format -> median
  sort -g | awk -v fmt="$1" '{ v[NR] = $1 } END {
    printf fmt, (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# wrk_field FILE KEY -> the KEY=value of the "fw-bench:" line that a bench Lua script prints
wrk_field() {
  sed -n 's/^fw-bench: .*\b'"$2"'=\([^ ]*\).*$/\1/p' "$1"
}
