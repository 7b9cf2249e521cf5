#!/usr/bin/env bash
# GET /user-manager/ping through the flightwatch gateway against a bare Boost.Beast server
# (tests/bench/bare_beast_server.cpp) in the same run. Both run on loopback; wrk loads
# them alternately (bare, gateway, bare, gateway, ...) so background noise hits both.
# Prints per round req/s, p50/p99 latency and server CPU time per request, the medians
# and the ratio gateway/bare. See docs/performance.md.
#
#   tests/bench/gateway_vs_bare.sh [-d SECONDS] [-r ROUNDS] [-c CONNECTIONS] [-t WRK_THREADS]
#                                  [-w WARMUP_SECONDS] [--bare-threads N] [--no-build]
#                                  [--baseline-bin PATH]
#
# --baseline-bin runs another flightwatch build as a third server in every round
# (bare, baseline, gateway), so a change is compared with the build before it under the
# same noise. FW_* variables in the environment reach the node (e.g. FW_GATEWAY_IO_THREADS=2,
# FW_NODE_SCHEDULER_THREADS=1); FLIGHTWATCH_BUILD_DIR picks the build directory.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
build_dir="${FLIGHTWATCH_BUILD_DIR:-$root/build}"
duration=10
rounds=3
connections=100
wrk_threads=2
warmup=2
bare_threads=1
build=1
baseline_bin=""

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
    --bare-threads) bare_threads="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    --baseline-bin) baseline_bin="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "gateway_vs_bare.sh: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
for n in "$duration" "$rounds" "$connections" "$wrk_threads" "$warmup" "$bare_threads"; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "gateway_vs_bare.sh: '$n' is not a number" >&2; exit 2; }
done
[ "$rounds" -ge 1 ] && [ "$duration" -ge 1 ] || { echo "need -r >= 1 and -d >= 1" >&2; exit 2; }

for tool in wrk curl; do
  command -v "$tool" >/dev/null || { echo "gateway_vs_bare.sh: $tool is not installed" >&2; exit 1; }
done

if [ "$build" = 1 ]; then
  # ninja rebuilds only what changed; two jobs at most, the cores are shared.
  FLIGHTWATCH_BUILD_JOBS="${FLIGHTWATCH_BUILD_JOBS:-2}" FLIGHTWATCH_BUILD_DIR="$build_dir" \
    "$root/deploy/build.sh" >/dev/null
fi
node_bin="$build_dir/flightwatch"
bare_bin="$build_dir/tests/bench/bare_beast_server"
for bin in "$node_bin" "$bare_bin" ${baseline_bin:+"$baseline_bin"}; do
  [ -x "$bin" ] || { echo "gateway_vs_bare.sh: $bin is missing (build first)" >&2; exit 1; }
done

tmp="$(mktemp -d -t fw-bench.XXXXXX)"
pids=()

stop_pid() { # SIGTERM, up to 5 s to exit, then SIGKILL
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  for pid in "${pids[@]}"; do
    stop_pid "$pid"
  done
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port_free() { # nothing accepts on 127.0.0.1:$1
  ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 40000))
    if port_free "$p"; then
      echo "$p"
      return 0
    fi
  done
  echo "gateway_vs_bare.sh: no free port found" >&2
  return 1
}

wait_ready() { # url pid name
  for _ in $(seq 100); do
    if curl -sf -o /dev/null "$1"; then
      return 0
    fi
    kill -0 "$2" 2>/dev/null || break
    sleep 0.1
  done
  echo "gateway_vs_bare.sh: $3 did not answer $1; its log:" >&2
  cat "$tmp/$3.log" >&2
  exit 1
}

# -- start both servers ------------------------------------------------------------------
bare_port="$(free_port)"
"$bare_bin" --port "$bare_port" --threads "$bare_threads" >"$tmp/bare.log" 2>&1 &
bare_pid=$!
pids+=("$bare_pid")

start_node() { # NAME BINARY -> sets node_port and node_pid
  node_port="$(free_port)"
  while [ "$node_port" = "$bare_port" ] || [ "$node_port" = "${gw_port:-}" ]; do
    node_port="$(free_port)"
  done
  mkdir -p "$tmp/$1"
  FW_GATEWAY_ACCESS_LOG=false FW_GATEWAY_PORT="$node_port" FW_GATEWAY_HOST=127.0.0.1 \
    FW_STORAGE_URL="sqlite://$tmp/$1/fw.db" FW_LOG_LEVEL=warn \
    "$2" >"$tmp/$1.log" 2>&1 &
  node_pid=$!
  pids+=("$node_pid")
}

path=/user-manager/ping
start_node gateway "$node_bin"
gw_port="$node_port" gw_pid="$node_pid"
gw_url="http://127.0.0.1:$gw_port$path"
servers=(bare)
if [ -n "$baseline_bin" ]; then
  start_node baseline "$baseline_bin"
  base_pid="$node_pid" base_url="http://127.0.0.1:$node_port$path"
  servers+=(baseline)
fi
servers+=(gateway)
bare_url="http://127.0.0.1:$bare_port$path"
wait_ready "$bare_url" "$bare_pid" bare
wait_ready "$gw_url" "$gw_pid" gateway
[ -z "$baseline_bin" ] || wait_ready "$base_url" "$base_pid" baseline

# -- measure ------------------------------------------------------------------------------
clk_tck="$(getconf CLK_TCK)"
cpu_ticks() { # utime + stime of a process, in clock ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

to_ms() { # wrk latency ("812.00us", "1.23ms", "1.01s") -> milliseconds
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n }'
}

# run NAME URL PID SECONDS -> "rps p50_ms p99_ms cpu_us_per_req" on stdout
run() {
  local name="$1" url="$2" pid="$3" secs="$4" out before after
  before="$(cpu_ticks "$pid")"
  out="$(wrk -t"$wrk_threads" -c"$connections" -d"${secs}s" --latency "$url")"
  after="$(cpu_ticks "$pid")"
  echo "$out" >>"$tmp/wrk-$name.txt"
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then
    echo "warning: $name: $(grep -E 'Non-2xx|Socket errors' <<<"$out" | tr -s ' ')" >&2
  fi
  local rps p50 p99 requests
  rps="$(awk '/^Requests\/sec:/ { printf "%d", $2 }' <<<"$out")"
  requests="$(awk '/requests in/ { print $1 }' <<<"$out")"
  p50="$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")"
  p99="$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")"
  awk -v rps="$rps" -v p50="$p50" -v p99="$p99" -v req="$requests" \
      -v ticks="$((after - before))" -v hz="$clk_tck" \
      'BEGIN { printf "%s %s %s %.1f\n", rps, p50, p99, (req > 0 ? ticks / hz * 1e6 / req : 0) }'
}

median() { # numbers on stdin, printf format -> median
  sort -g | awk -v fmt="$1" '{ v[NR] = $1 } END {
    printf fmt, (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

echo "# machine: $(nproc) cores, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)," \
  "$(awk '/MemTotal/ { printf "%.1f GiB RAM", $2 / 1048576 }' /proc/meminfo)," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# wrk -t$wrk_threads -c$connections -d${duration}s --latency, $rounds rounds" \
  "alternating, ${warmup}s warm-up each; bare server: $bare_threads io thread(s)"

url_of() { case "$1" in bare) echo "$bare_url" ;; baseline) echo "$base_url" ;; *) echo "$gw_url" ;; esac; }
pid_of() { case "$1" in bare) echo "$bare_pid" ;; baseline) echo "$base_pid" ;; *) echo "$gw_pid" ;; esac; }

if [ "$warmup" -gt 0 ]; then
  for s in "${servers[@]}"; do
    run "warmup-$s" "$(url_of "$s")" "$(pid_of "$s")" "$warmup" >/dev/null
  done
fi

results="$tmp/results"
: >"$results"
for r in $(seq "$rounds"); do
  for s in "${servers[@]}"; do
    echo "$r $s $(run "$s" "$(url_of "$s")" "$(pid_of "$s")" "$duration")" >>"$results"
  done
done

for s in "${servers[@]}"; do
  pid="$(pid_of "$s")"
  kill -0 "$pid" 2>/dev/null || { echo "gateway_vs_bare.sh: a server died during the run" >&2; exit 1; }
done

# -- report ------------------------------------------------------------------------------
col() { # server column -> values of that column for that server
  awk -v s="$1" -v c="$2" '$2 == s { print $c }' "$results"
}

echo
echo "| round | server | req/s | p50 ms | p99 ms | server CPU µs/req |"
echo "|---|---|---:|---:|---:|---:|"
awk '{ printf "| %s | %s | %d | %.2f | %.2f | %.1f |\n", $1, $2, $3, $4, $5, $6 }' "$results"
for s in "${servers[@]}"; do
  printf '| median | %s | %s | %s | %s | %s |\n' "$s" "$(col "$s" 3 | median %d)" \
    "$(col "$s" 4 | median %.2f)" "$(col "$s" 5 | median %.2f)" "$(col "$s" 6 | median %.1f)"
done
echo
for s in "${servers[@]:1}"; do
  name="$s"
  [ "$s" = gateway ] || name="$s gateway"
  awk -v n="$name" -v g="$(col "$s" 3 | median %.1f)" -v b="$(col bare 3 | median %.1f)" \
    'BEGIN { printf "ratio %s/bare (median req/s): %.2f\n", n, (b > 0 ? g / b : 0) }'
  paste <(col bare 3) <(col "$s" 3) |
    awk '{ printf "%s%.2f", (NR == 1 ? "per-round ratios: " : " "), ($1 > 0 ? $2 / $1 : 0) } END { print "" }'
done
