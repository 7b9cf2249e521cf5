#!/usr/bin/env bash
# User-manager load: POST /user-manager/users (fresh email, fresh Idempotency-Key) mixed 50/50
# with GET /user-manager/users/<email> of users created earlier (tests/bench/
# user_manager_load.lua), against one flightwatch node on SQLite and on PostgreSQL, in
# alternating rounds (sqlite, postgres, sqlite, postgres, ...) so background noise hits both.
# Each round starts a fresh node on a fresh database and warms it up first. Prints per round
# req/s, p50/p99 latency, non-2xx answers, the node's peak RSS and the CPU other processes
# on the machine used meanwhile; then where the time went (node, PostgreSQL and wrk CPU, the
# node's server time per route and store time per operation, busy storage workers); then
# the medians. Any non-2xx answer or socket error fails the run (exit 1), as does a node
# that does not start.
#
#   tests/bench/user_manager_load.sh [-d SECONDS] [-r ROUNDS] [-c CONNECTIONS] [-t WRK_THREADS]
#       [-w WARMUP_SECONDS] [-b sqlite,postgres] [-p POOL_SIZE[,POOL_SIZE...]]
#       [--think MS] [--pg-option NAME=VALUE]... [--baseline-bin PATH] [--no-build]
#
# --think MS makes each connection wait MS milliseconds after each answer before its next
# request (a user's think time, wrk's delay()): a fixed load below saturation, where the
# default (0) sends the next request at once and so measures the queue at saturation.
# -p runs every backend with each storage pool size (FW_STORAGE_POOL_SIZE) in the same
# rounds. --baseline-bin PATH runs another flightwatch binary (an older build) too, in the
# same rounds, right before this one; the tables label its rows "<pool>@baseline".
# --pg-option is passed to the throw-away PostgreSQL 15 server as "-c NAME=VALUE"
# (default: its stock settings, fsync and synchronous_commit on). Other FW_* variables in the
# environment reach the node. FLIGHTWATCH_BUILD_DIR picks the build directory,
# FLIGHTWATCH_PG_BIN_DIR the PostgreSQL binaries (default /usr/lib/postgresql/15/bin);
# FLIGHTWATCH_BENCH_KEEP=1 keeps wrk's outputs and the node logs (the path is printed).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
build_dir="${FLIGHTWATCH_BUILD_DIR:-$root/build}"
pg_bin="${FLIGHTWATCH_PG_BIN_DIR:-/usr/lib/postgresql/15/bin}" # (lib.sh reads it too)
lua="$root/tests/bench/user_manager_load.lua"
duration=10
rounds=3
connections=100
wrk_threads=2
warmup=3
think=0
backends=sqlite,postgres
pools=""
pg_options=()
baseline_bin=""
build=1

usage() {
  # The comment block under the shebang, however long it grows.
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit "${1:-0}"
}

while [ $# -gt 0 ]; do
  case "$1" in
    -d) duration="$2"; shift 2 ;;
    -r) rounds="$2"; shift 2 ;;
    -c) connections="$2"; shift 2 ;;
    -t) wrk_threads="$2"; shift 2 ;;
    -w) warmup="$2"; shift 2 ;;
    --think) think="$2"; shift 2 ;;
    -b) backends="$2"; shift 2 ;;
    -p) pools="$2"; shift 2 ;;
    --pg-option) pg_options+=("$2"); shift 2 ;;
    --baseline-bin) baseline_bin="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "user_manager_load.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
for n in "$duration" "$rounds" "$connections" "$wrk_threads" "$warmup" "$think" ${pools//,/ }; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "user_manager_load.sh: '$n' is not a number" >&2; exit 2; }
done
[ "$rounds" -ge 1 ] && [ "$duration" -ge 1 ] && [ "$wrk_threads" -ge 1 ] \
  && [ "$connections" -ge "$wrk_threads" ] \
  || { echo "need -r >= 1, -d >= 1, -t >= 1 and -c >= -t" >&2; exit 2; }
for b in ${backends//,/ }; do
  [[ "$b" =~ ^(sqlite|postgres)$ ]] || { echo "user_manager_load.sh: unknown backend '$b'" >&2; exit 2; }
done
for o in "${pg_options[@]}"; do
  [[ "$o" =~ ^[a-z_.]+=[^[:space:]]+$ ]] || { echo "user_manager_load.sh: --pg-option '$o' is not NAME=VALUE" >&2; exit 2; }
done

for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "user_manager_load.sh: $tool is not installed" >&2; exit 1; }
done
if [[ ",$backends," == *,postgres,* ]]; then
  for tool in initdb pg_ctl createdb dropdb; do
    [ -x "$pg_bin/$tool" ] || { echo "user_manager_load.sh: $pg_bin/$tool is missing (PostgreSQL 15 server)" >&2; exit 1; }
  done
fi

bench_name=user_manager_load.sh
tmp="$(mktemp -d -t fw-umload.XXXXXX)"
# shellcheck source=tests/bench/lib.sh
source "$root/tests/bench/lib.sh"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

bench_build flightwatch
node_bin="$build_dir/flightwatch"
[ -x "$node_bin" ] || bench_fail "$node_bin is missing (build first)"
bench_builds

# wrk_run NAME PREFIX SECONDS -> wrk's output in $tmp/wrk-NAME.txt
wrk_run() {
  local per_thread=$(((connections + wrk_threads - 1) / wrk_threads))
  local lag=$((per_thread * 10 > 100 ? per_thread * 10 : 100))
  FLIGHTWATCH_BENCH_PREFIX="$2" FLIGHTWATCH_BENCH_GET_LAG="$lag" FLIGHTWATCH_BENCH_THINK_MS="$think" \
    wrk -t"$wrk_threads" -c"$connections" -d"${3}s" --latency -s "$lua" "$node_url" \
    >"$tmp/wrk-$1.txt" 2>&1 || { echo "user_manager_load.sh: wrk failed:" >&2; cat "$tmp/wrk-$1.txt" >&2; exit 1; }
}

# busy_workers BEFORE AFTER SECONDS -> store operation time per second: busy storage workers
busy_workers() {
  awk -v secs="$3" 'FNR == NR { before[$1] = $2; next }
    $1 ~ /^store:.*:sum$/ { s += $2 - before[$1] }
    END { printf "%.2f", s / secs }' "$1" "$2"
}

# -- measure ---------------------------------------------------------------------------------
run_id="$(date +%s)$RANDOM"
variants=()
# split_variant BACKEND:POOL:BUILD -> sets backend, pool (may be empty), bd (the build) and
# label (the pool as the tables show it: "default" when empty, "@baseline" appended)
split_variant() {
  backend="${1%%:*}"
  pool="${1#*:}"
  bd="${pool#*:}"
  pool="${pool%%:*}"
  label="${pool:-default}"
  if [ -n "$baseline_bin" ] && [ "$bd" = baseline ]; then label="$label@baseline"; fi
}

pool_list=("${FW_STORAGE_POOL_SIZE:-}")
[ -n "$pools" ] && read -ra pool_list <<<"${pools//,/ }"
for b in ${backends//,/ }; do
  for p in "${pool_list[@]}"; do
    for bd in "${builds[@]}"; do variants+=("$b:$p:$bd"); done
  done
done
[[ ",$backends," == *,postgres,* ]] && pg_start

echo "# machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)," \
  "$(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# wrk -t$wrk_threads -c$connections -d${duration}s --latency -s user_manager_load.lua," \
  "think time ${think} ms," \
  "$rounds rounds alternating$(for v in "${variants[@]}"; do
    split_variant "$v"; printf ' %s/pool %s' "$backend" "$label"; done)," \
  "${warmup}s warm-up each on a fresh node and database"
[ ${#pg_options[@]} -gt 0 ] && echo "# PostgreSQL options: ${pg_options[*]}"

results="$tmp/results"
timing="$tmp/timing"
: >"$results"
: >"$timing"
failed=0
for r in $(seq "$rounds"); do
  for v in "${variants[@]}"; do
    split_variant "$v"
    name="r$r-$backend${pool:+-p$pool}-$bd"
    if [ "$backend" = sqlite ]; then
      url="sqlite://$tmp/$name.db"
    else
      db="fw_$(tr -- '-' '_' <<<"$name")"
      "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres "$db"
      url="postgresql://postgres@127.0.0.1:$pg_port/$db"
    fi
    node_bin="${bin_of[$bd]}"
    start_node "$name" "$url" ${pool:+FW_STORAGE_POOL_SIZE="$pool"}
    if [ "$warmup" -gt 0 ]; then
      wrk_run "$name-warmup" "w$run_id-$name" "$warmup"
      if ! grep -q '^fw-bench: .* non2xx=0 socket_errors=0 ' "$tmp/wrk-$name-warmup.txt"; then
        failed=1
        echo "FAILURES in $name warm-up: $(grep '^fw-bench: ' "$tmp/wrk-$name-warmup.txt")" >&2
      fi
    fi
    node_before="$(cpu_ticks "$node_pid")"
    pg_before=0
    [ "$backend" = postgres ] && pg_before="$(pg_cpu_ticks)"
    metric_sums >"$tmp/$name.metrics-before"
    sys_before="$(sys_busy_ticks)"
    wrk_before="$(children_ticks)"
    wrk_run "$name" "m$run_id-$name" "$duration"
    wrk_after="$(children_ticks)"
    sys_after="$(sys_busy_ticks)"
    kill -0 "$node_pid" 2>/dev/null || { echo "user_manager_load.sh: node $name died; its log:" >&2; cat "$tmp/$name.log" >&2; exit 1; }
    node_after="$(cpu_ticks "$node_pid")"
    metric_sums >"$tmp/$name.metrics-after"
    pg_after=0
    [ "$backend" = postgres ] && pg_after="$(pg_cpu_ticks)"
    hwm_kb="$(awk '/^VmHWM:/ { print $2 }' "/proc/$node_pid/status")"
    stop_pid "$node_pid"
    node_pid=""
    [ "$backend" = postgres ] && "$pg_bin/dropdb" -h 127.0.0.1 -p "$pg_port" -U postgres "$db"
    rm -f "$tmp/$name.db" "$tmp/$name.db-wal" "$tmp/$name.db-shm"

    out="$tmp/wrk-$name.txt"
    grep -q '^fw-bench: ' "$out" \
      || { echo "user_manager_load.sh: no result line from wrk:" >&2; cat "$out" >&2; exit 1; }
    req="$(wrk_field "$out" requests)"
    non2xx="$(wrk_field "$out" non2xx)"
    sockerr="$(wrk_field "$out" socket_errors)"
    if [ "$non2xx" != 0 ] || [ "$sockerr" != 0 ]; then
      failed=1
      echo "FAILURES in $name: $non2xx non-2xx, $sockerr socket errors;" \
        "statuses $(wrk_field "$out" statuses)" >&2
    fi
    awk -v r="$r" -v b="$backend" -v p="$label" -v rps="$(wrk_field "$out" rps)" \
        -v p50="$(wrk_field "$out" p50_us)" -v p99="$(wrk_field "$out" p99_us)" -v n2="$non2xx" \
        -v se="$sockerr" -v req="$req" -v nt="$((node_after - node_before))" \
        -v pt="$((pg_after - pg_before))" -v hz="$clk_tck" -v hwm="$hwm_kb" \
        -v posts="$(wrk_field "$out" posts)" -v gets="$(wrk_field "$out" gets)" \
      'BEGIN { printf "%s %s %s %d %.2f %.2f %d %d %.1f %.1f %.1f %d %d\n", r, b, p, rps,
               p50 / 1000, p99 / 1000, n2, se, (req > 0 ? nt / hz * 1e6 / req : 0),
               (req > 0 ? pt / hz * 1e6 / req : 0), hwm / 1024, posts, gets }' >>"$results"
    m0="$tmp/$name.metrics-before"
    m1="$tmp/$name.metrics-after"
    echo "$r $backend $label $(metric_delta "$m0" "$m1" http /user-manager/users)" \
      "$(metric_delta "$m0" "$m1" http '/user-manager/users/{email}')" \
      "$(metric_delta "$m0" "$m1" store create_user)" \
      "$(metric_delta "$m0" "$m1" store find_user) $(busy_workers "$m0" "$m1" "$duration")" \
      "$(awk -v t="$((sys_after - sys_before - (node_after - node_before) - (pg_after - pg_before) - (wrk_after - wrk_before)))" \
             -v hz="$clk_tck" -v d="$duration" 'BEGIN { printf "%.2f", t / hz / d }')" \
      "$(awk -v t="$((wrk_after - wrk_before))" -v hz="$clk_tck" -v d="$duration" 'BEGIN { printf "%.2f", t / hz / d }')" \
      >>"$timing"
    tail -1 "$results" | awk '{ printf "# round %s %s pool %s: %s req/s, p50 %s ms, p99 %s ms, %s non-2xx\n", $1, $2, $3, $4, $5, $6, $7 }' >&2
  done
done

# -- report ------------------------------------------------------------------------------
median() { # numbers on stdin, printf format -> median
  sort -g | awk -v fmt="$1" '{ v[NR] = $1 } END {
    printf fmt, (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
col() { # backend pool column [file] -> that column of that variant's rounds
  awk -v b="$1" -v p="$2" -v c="$3" '$2 == b && $3 == p { print $c }' "${4:-$results}"
}
variant_labels() { # "backend label" per variant, in run order
  for v in "${variants[@]}"; do
    split_variant "$v"
    echo "$backend $label"
  done
}

echo
echo "| round | backend | pool | req/s | p50 ms | p99 ms | non-2xx | socket errors" \
  "| node peak RSS MiB | POST / GET sent | other processes' CPU (cores) |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
paste -d' ' "$results" "$timing" |
  awk '{ printf "| %s | %s | %s | %d | %.2f | %.2f | %d | %d | %.1f | %d / %d | %.2f |\n",
         $1, $2, $3, $4, $5, $6, $7, $8, $11, $12, $13, $22 }'
while read -r b p; do
  printf '| median | %s | %s | %s | %s | %s | %s | %s | %s | | %s |\n' "$b" "$p" \
    "$(col "$b" "$p" 4 | median %d)" "$(col "$b" "$p" 5 | median %.2f)" \
    "$(col "$b" "$p" 6 | median %.2f)" "$(col "$b" "$p" 7 | median %d)" \
    "$(col "$b" "$p" 8 | median %d)" "$(col "$b" "$p" 11 | median %.1f)" \
    "$(col "$b" "$p" 9 "$timing" | median %.2f)"
done < <(variant_labels)

# Where the time goes: CPU per request, the node's mean server time per route, the mean
# time of a store operation on its worker, and busy storage workers (store time / second).
echo
echo "| round | backend | pool | node CPU µs/req | PostgreSQL CPU µs/req | wrk CPU (cores)" \
  "| POST server ms | GET server ms | create_user store ms | find_user store ms | busy workers |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"
paste -d' ' "$results" "$timing" |
  awk '{ printf "| %s | %s | %s | %.1f | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", $1, $2,
         $3, $9, ($2 == "postgres" ? sprintf("%.1f", $10) : "—"), $23, $17, $18, $19, $20, $21 }'
while read -r b p; do
  pgcpu="—"
  [ "$b" = postgres ] && pgcpu="$(col "$b" "$p" 10 | median %.1f)"
  printf '| median | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$b" "$p" \
    "$(col "$b" "$p" 9 | median %.1f)" "$pgcpu" "$(col "$b" "$p" 10 "$timing" | median %.2f)" \
    "$(col "$b" "$p" 4 "$timing" | median %.2f)" \
    "$(col "$b" "$p" 5 "$timing" | median %.2f)" "$(col "$b" "$p" 6 "$timing" | median %.2f)" \
    "$(col "$b" "$p" 7 "$timing" | median %.2f)" "$(col "$b" "$p" 8 "$timing" | median %.2f)"
done < <(variant_labels)
if [[ ",$backends," == *,postgres,* ]]; then
  echo
  while read -r b p; do
    [ "$b" = postgres ] || continue
    awk -v m="$(col postgres "$p" 6 | median %.2f)" -v c="$connections" -v t="$think" -v p="$p" 'BEGIN {
      printf "target p99 < 10 ms on PostgreSQL at %d connections, think time %d ms (pool %s): %s (median p99 %.2f ms)\n",
             c, t, p, (m < 10 ? "met" : "MISSED"), m }'
  done < <(variant_labels)
fi
echo "# load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$failed" = 1 ]; then
  echo "user_manager_load.sh: some requests failed (see above)" >&2
  exit 1
fi
