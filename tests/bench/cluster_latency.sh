#!/usr/bin/env bash
# Cluster costs, on one machine, with one throw-away PostgreSQL 15 shared by every node:
#
# (latency) a request through the gateway to a role on another node against the same role
#   on the gateway's own node. Three nodes run side by side:
#     L  (node-l): gateway, user-manager, data-collector; no cluster (the local case)
#     A  (node-a): gateway, user-manager; cluster port, no seeds
#     B  (node-b): data-collector; cluster port, seed A (the remote case: A's gateway
#                  reaches B's data-collector over CAF's network transport)
#   wrk runs GET /data-collector/ping and GET /data-collector/interests/<email> (a user with
#   3 interests, created through L; both cases read the same rows) on L and on A in turn
#   (local first in odd rounds, remote first in even ones), unpaced and paced (-R), at
#   each connection count of -c. Per run: req/s, p50, p99, failures, and the CPU per request
#   of the case's nodes (L; A + B). Then the medians per case and remote - local.
#
# (failover) the time from kill -9 of a data-collector node to its airports reassigned:
#     A  (node-a): gateway, user-manager; B, C (node-b, node-c): data-collector, seed A
#   N users each get an interest in another airport through A (-i, default 20), OpenSky is
#   unreachable (http://127.0.0.1:1: fetches fail at once), collector.interval 1h. Each
#   repetition kills B with SIGKILL and measures, from the kill:
#     - until A's GET /cluster/status no longer shows node-b up (polled every 10 ms),
#     - until A's and C's logs say "node node-b ... is lost" (their own timestamps),
#     - until C's log says "collection shared by 1 instance(s): ... taking over K now"
#       (the airports reassigned; C fetches them at once). C checks the membership once a
#       second, so this is up to a second plus the query of the airports; the kill comes
#       at a random moment (0-1 s after B and C share again, plus 1.5 s),
#   then restarts B and waits until B and C share the airports again. The report has each
#   repetition and the median and max of each.
#
#   tests/bench/cluster_latency.sh [--mode latency|failover|both] [-d SECONDS] [-r ROUNDS]
#       [-c "CONNECTIONS..."] [-R RATE] [-t WRK_THREADS] [-w WARMUP] [-k REPETITIONS]
#       [-i INTERESTS] [--no-build]
#
# Defaults: --mode both -d 5 -r 3 -c "10 50" -R 200 -t 2 -w 2 -k 10 -i 20. -R 0 skips the
# paced runs; paced, each connection waits a random 0 to 2 x C/RATE s after each answer.
# Nodes log at info (FW_LOG_LEVEL=info, the collector's share lines) with
# gateway.access_log off. FLIGHTWATCH_BUILD_DIR picks the build directory,
# FLIGHTWATCH_PG_BIN_DIR the PostgreSQL binaries; FLIGHTWATCH_BENCH_KEEP=1 keeps wrk's
# outputs and the node logs (the path is printed).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
bench_name=cluster_latency.sh
build_dir="${FLIGHTWATCH_BUILD_DIR:-$root/build}"
lua="$root/tests/bench/cluster_latency.lua"
mode=both
duration=5
rounds=3
conns="10 50"
rate=200
wrk_threads=2
warmup=2
repeats=10
interests=20
build=1
airports=LIRF,EDDF,EGLL,LFPG,EHAM,LEMD,LEBL,EDDM,LSZH,LOWW,EIDW,EKCH,ESSA,ENGM,EFHK,EBBR,LPPT,
airports+=LIMC,LGAV,EPWA,LKPR,LHBP,EGKK,EGCC,LFPO,LFMN,LIME,LIPZ,LIRN,LICC,LEPA,LEMG,EDDL,EDDH

usage() {
  # The comment block under the shebang, however long it grows.
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit "${1:-0}"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --mode) mode="$2"; shift 2 ;;
    -d) duration="$2"; shift 2 ;;
    -r) rounds="$2"; shift 2 ;;
    -c) conns="$2"; shift 2 ;;
    -R) rate="$2"; shift 2 ;;
    -t) wrk_threads="$2"; shift 2 ;;
    -w) warmup="$2"; shift 2 ;;
    -k) repeats="$2"; shift 2 ;;
    -i) interests="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "$bench_name: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
case "$mode" in latency|failover|both) ;; *) echo "$bench_name: --mode latency|failover|both" >&2; exit 2 ;; esac
for n in "$duration" "$rounds" $conns "$rate" "$wrk_threads" "$warmup" "$repeats" "$interests"; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "$bench_name: '$n' is not a number" >&2; exit 2; }
done
n_airports="$(tr ',' '\n' <<<"$airports" | wc -l)"
[ "$interests" -ge 2 ] && [ "$interests" -le "$n_airports" ] \
  || { echo "$bench_name: -i must be 2..$n_airports" >&2; exit 2; }

tmp="$(mktemp -d -t fw-cluster.XXXXXX)"
# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

bench_need_tools wrk curl
bench_need_pg

bench_build flightwatch
node_bin="$build_dir/flightwatch"
[ -x "$node_bin" ] || bench_fail "$node_bin is missing (build first)"

machine_line
pg_start

# -- nodes -------------------------------------------------------------------------------------
declare -A pid_of=() url_of=()

# start_fw NAME ROLES DATABASE CLUSTER_PORT SEED -> a node named node-NAME in the background
# (log $tmp/NAME.log), in pid_of/url_of; with the gateway role it waits for GET /health 200.
# CLUSTER_PORT 0 = no cluster; SEED "" = none.
start_fw() {
  local name="$1" roles="$2" database="$3" cport="$4" seed="$5" gport="" env_gw=()
  if [[ ",$roles," == *,gateway,* ]]; then
    gport="$(free_port)"
    env_gw=(FW_GATEWAY_PORT="$gport" FW_GATEWAY_HOST=127.0.0.1 FW_GATEWAY_ACCESS_LOG=false)
  fi
  # Under a subshell that waits for it, with its stderr (only the job messages: the node's
  # goes to its log) dropped, so that nothing reports the kill -9 of a job.
  ( env "${env_gw[@]}" FW_NODE_NAME="node-$name" FW_NODE_ROLES="$roles" \
      FW_STORAGE_URL="postgresql://postgres@127.0.0.1:$pg_port/$database" FW_LOG_LEVEL=info \
      FW_CLUSTER_PORT="$cport" FW_CLUSTER_HOST=127.0.0.1 FW_CLUSTER_SEEDS="$seed" \
      FW_OPENSKY_BASE_URL=http://127.0.0.1:1 FW_COLLECTOR_INTERVAL=1h \
      "$node_bin" >>"$tmp/$name.log" 2>&1 &
    echo $! >"$tmp/$name.pid"
    wait $! ) 2>/dev/null &
  for _ in $(seq 100); do [ -s "$tmp/$name.pid" ] && break; sleep 0.01; done
  pid_of[$name]="$(cat "$tmp/$name.pid")"
  rm -f "$tmp/$name.pid"
  bench_pids+=("${pid_of[$name]}")
  url_of[$name]=""
  [ -n "$gport" ] || return 0
  url_of[$name]="http://127.0.0.1:$gport"
  for _ in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "${url_of[$name]}/health")" = 200 ] && return 0
    kill -0 "${pid_of[$name]}" 2>/dev/null || break
    sleep 0.1
  done
  bench_fail "node $name did not answer GET /health with 200; its log: $(tail -20 "$tmp/$name.log")"
}

stop_fw() { # NAME -> SIGTERM and wait
  stop_pid "${pid_of[$1]}"
}

up_nodes() { # NAME (a gateway node) -> the peers its /cluster/status shows up, sorted, space separated
  curl -s "${url_of[$1]}/cluster/status" | tr '{' '\n' | grep '"state":"up"' |
    grep -o '"name":"[^"]*"' | cut -d'"' -f4 | sort | tr '\n' ' ' | sed 's/ $//' || true
}

wait_up() { # GATEWAY_NODE "PEERS" SECONDS -> waits until exactly those peers are up
  local deadline=$((SECONDS + $3))
  while [ "$(up_nodes "$1")" != "$2" ]; do
    [ "$SECONDS" -lt "$deadline" ] || bench_fail "node $1 sees '$(up_nodes "$1")' up, not '$2'" \
      "after $3 s: $(curl -s "${url_of[$1]}/cluster/status")"
    sleep 0.05
  done
}

now_ms() { date +%s%3N; }

log_ms() { # "2026-01-01T00:00:00.123Z ..." log line -> its time in unix ms
  date -u -d "${1%%Z *}Z" +%s%3N
}

# first_line_after NAME OFFSET REGEX SECONDS -> the first line of NAME's log past byte OFFSET
# matching REGEX (grep -E), waiting up to SECONDS; empty when none came
first_line_after() {
  local deadline=$((SECONDS + $4)) line
  while :; do
    line="$(tail -c +"$(($2 + 1))" "$tmp/$1.log" | grep -E -m1 "$3" || true)"
    if [ -n "$line" ] || [ "$SECONDS" -ge "$deadline" ]; then
      echo "$line"
      return 0
    fi
    sleep 0.02
  done
}

log_size() { stat -c %s "$tmp/$1.log"; }

http_ok() { # METHOD URL [BODY [HEADER]] -> fails unless 2xx
  local code
  code="$(curl -s -o "$tmp/http.out" -w '%{http_code}' -X "$1" "$2" ${3:+-d "$3"} ${4:+-H "$4"})"
  [[ "$code" == 2?? ]] || bench_fail "$1 $2 answered $code: $(head -c 300 "$tmp/http.out")"
}

add_watcher() { # GATEWAY_NODE EMAIL AIRPORT...
  local base="${url_of[$1]}" email="$2" a
  shift 2
  http_ok POST "$base/user-manager/users" \
    "{\"email\":\"$email\",\"first_name\":\"Bench\",\"last_name\":\"User\"}" "Idempotency-Key: u-$email"
  for a in "$@"; do
    http_ok POST "$base/data-collector/interests" \
      "{\"email\":\"$email\",\"airport_code\":\"$a\",\"high_value\":1000,\"low_value\":1}"
  done
}

# -- (latency) -------------------------------------------------------------------------------
run_latency() {
  "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres fw_latency
  start_fw l gateway,user-manager,data-collector fw_latency 0 ""
  local cport_a
  cport_a="$(free_port)"
  start_fw a gateway,user-manager fw_latency "$cport_a" ""
  start_fw b data-collector fw_latency "$(free_port)" "127.0.0.1:$cport_a"
  wait_up a node-b 20
  local email=bench@example.org
  add_watcher l "$email" LIRF EDDF EGLL
  local path_ping=/data-collector/ping path_int="/data-collector/interests/$email"
  # Who answers, and the same rows both ways.
  curl -s "${url_of[l]}$path_ping" | grep -q '"node":"node-l"' || bench_fail "L's ping: $(curl -s "${url_of[l]}$path_ping")"
  curl -s "${url_of[a]}$path_ping" | grep -q '"node":"node-b"' || bench_fail "A's ping: $(curl -s "${url_of[a]}$path_ping")"
  local body_l body_a
  body_l="$(curl -s "${url_of[l]}$path_int")"
  body_a="$(curl -s "${url_of[a]}$path_int")"
  [ "$body_l" = "$body_a" ] && grep -q EGLL <<<"$body_l" \
    || bench_fail "interests differ: L $body_l, A $body_a"
  echo "# latency: L = node-l (gateway, user-manager, data-collector, no cluster);" \
    "remote = node-a (gateway, user-manager) -> node-b (data-collector) over the cluster link"
  echo "# GET $path_int answers ${#body_l} bytes (3 interests); ping" \
    "answers $(curl -s "${url_of[l]}$path_ping" | wc -c) bytes"
  echo "# wrk -t$wrk_threads -d${duration}s --latency per run, connections: $conns;" \
    "paced runs: < $rate req/s offered; ${warmup}s warm-up per case and path; $rounds rounds"

  declare -A path_of=([ping]="$path_ping" [interests]="$path_int")
  declare -A expect_of=([ping]='"pong"' [interests]='"EGLL"')
  local modes=(b2b) cases_odd=(local remote) cases_even=(remote local)
  [ "$rate" -gt 0 ] && modes+=(paced)
  local res="$tmp/latency.results" r m c p cs cse think out nodes before after req
  : >"$res"
  if [ "$warmup" -gt 0 ]; then
    for p in ping interests; do
      for cs in local remote; do
        cse=l; [ "$cs" = remote ] && cse=a
        FLIGHTWATCH_BENCH_PATH="${path_of[$p]}" wrk -t"$wrk_threads" -c10 -d"${warmup}s" \
          -s "$lua" "${url_of[$cse]}" >/dev/null 2>&1
      done
    done
  fi
  for r in $(seq "$rounds"); do
    local order=("${cases_odd[@]}")
    [ $((r % 2)) = 0 ] && order=("${cases_even[@]}")
    for m in "${modes[@]}"; do
      for c in $conns; do
        think=0
        [ "$m" = paced ] && think=$(((c * 1000 + rate / 2) / rate))
        for p in ping interests; do
          for cs in "${order[@]}"; do
            if [ "$cs" = local ]; then cse=l; nodes="${pid_of[l]}"; else cse=a; nodes="${pid_of[a]} ${pid_of[b]}"; fi
            out="$tmp/wrk-r$r-$m-c$c-$p-$cs.txt"
            local -a before_n=() after_n=()
            for n in $nodes; do before_n+=("$(cpu_ticks "$n")"); done
            FLIGHTWATCH_BENCH_PATH="${path_of[$p]}" FLIGHTWATCH_BENCH_EXPECT="${expect_of[$p]}" \
              FLIGHTWATCH_BENCH_THINK_MS="$think" \
              wrk -t"$wrk_threads" -c"$c" -d"${duration}s" --latency -s "$lua" "${url_of[$cse]}" \
              >"$out" 2>&1 || bench_fail "wrk failed: $(cat "$out")"
            for n in $nodes; do after_n+=("$(cpu_ticks "$n")"); done
            before=$((before_n[0] + ${before_n[1]:-0})); after=$((after_n[0] + ${after_n[1]:-0}))
            local gw_cpu=$((after_n[0] - before_n[0]))
            grep -q '^fw-bench: ' "$out" || bench_fail "no result line from wrk: $(cat "$out")"
            req="$(wrk_field "$out" requests)"
            awk -v r="$r" -v m="$m" -v c="$c" -v p="$p" -v cs="$cs" \
                -v rps="$(wrk_field "$out" rps)" -v p50="$(wrk_field "$out" p50_us)" \
                -v p99="$(wrk_field "$out" p99_us)" \
                -v fail="$(( $(wrk_field "$out" non2xx) + $(wrk_field "$out" bad) + $(wrk_field "$out" socket_errors) ))" \
                -v cpu="$((after - before))" -v gw="$gw_cpu" -v hz="$clk_tck" -v req="$req" \
              'BEGIN { printf "%s %s %s %s %s %d %.3f %.3f %d %.1f %.1f\n", r, m, c, p, cs, rps,
                       p50 / 1000, p99 / 1000, fail, (req > 0 ? cpu / hz * 1e6 / req : 0),
                       (req > 0 ? gw / hz * 1e6 / req : 0) }' >>"$res"
            tail -1 "$res" | awk '{ printf "# round %s %s c%s %s %s: %s req/s, p50 %s ms, p99 %s ms, %s failed\n",
                                    $1, $2, $3, $4, $5, $6, $7, $8, $9 }' >&2
          done
        done
      done
    done
  done

  echo
  echo "| round | load | connections | path | case | req/s | p50 ms | p99 ms | failed | nodes' CPU µs/req | of which the gateway node's |"
  echo "|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|"
  awk '{ printf "| %s | %s | %s | %s | %s | %d | %.3f | %.3f | %d | %.1f | %.1f |\n", $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 }' "$res"
  echo
  echo "Medians over the rounds (remote - local: the extra hop):"
  echo
  echo "| load | connections | path | local req/s | remote req/s | local p50 ms | remote p50 ms | local p99 ms | remote p99 ms | remote - local p50 ms | remote - local p99 ms | local CPU µs/req | remote CPU µs/req A + B (A) | failed |"
  echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  sel() { awk -v m="$1" -v c="$2" -v p="$3" -v cs="$4" -v k="$5" '$2 == m && $3 == c && $4 == p && $5 == cs { print $k }' "$res"; }
  for m in "${modes[@]}"; do
    for c in $conns; do
      for p in ping interests; do
        local lr rr l50 r50 l99 r99 lc rc f
        lr="$(sel "$m" "$c" "$p" local 6 | median %d)"; rr="$(sel "$m" "$c" "$p" remote 6 | median %d)"
        l50="$(sel "$m" "$c" "$p" local 7 | median %.3f)"; r50="$(sel "$m" "$c" "$p" remote 7 | median %.3f)"
        l99="$(sel "$m" "$c" "$p" local 8 | median %.3f)"; r99="$(sel "$m" "$c" "$p" remote 8 | median %.3f)"
        lc="$(sel "$m" "$c" "$p" local 10 | median %.1f)"; rc="$(sel "$m" "$c" "$p" remote 10 | median %.1f)"
        local ra
        ra="$(sel "$m" "$c" "$p" remote 11 | median %.1f)"
        f="$( (sel "$m" "$c" "$p" local 9; sel "$m" "$c" "$p" remote 9) | awk '{ s += $1 } END { print s + 0 }')"
        local mlabel="back to back"
        [ "$m" = paced ] && mlabel="paced < $rate req/s"
        awk -v ml="$mlabel" -v c="$c" -v p="$p" -v lr="$lr" -v rr="$rr" -v l50="$l50" -v r50="$r50" \
            -v l99="$l99" -v r99="$r99" -v lc="$lc" -v rc="$rc" -v ra="$ra" -v f="$f" \
          'BEGIN { printf "| %s | %s | %s | %d | %d | %.3f | %.3f | %.3f | %.3f | %+.3f | %+.3f | %.1f | %.1f (%.1f) | %d |\n",
                   ml, c, p, lr, rr, l50, r50, l99, r99, r50 - l50, r99 - l99, lc, rc, ra, f }'
      done
    done
  done
  local total_failed
  total_failed="$(awk '{ s += $9 } END { print s + 0 }' "$res")"
  stop_fw l; stop_fw a; stop_fw b
  [ "$total_failed" = 0 ] || bench_fail "$total_failed requests failed (non-200, wrong body or socket errors)"
}

# -- (failover) ------------------------------------------------------------------------------
run_failover() {
  "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres fw_failover
  local cport_a cport_b cport_c
  cport_a="$(free_port)"
  start_fw a gateway,user-manager fw_failover "$cport_a" ""
  cport_b="$(free_port)"
  start_fw b data-collector fw_failover "$cport_b" "127.0.0.1:$cport_a"
  cport_c="$(free_port)"
  start_fw c data-collector fw_failover "$cport_c" "127.0.0.1:$cport_a"
  wait_up a "node-b node-c" 20
  local i a_list=() a
  IFS=, read -r -a a_list <<<"$airports"
  for i in $(seq 0 $((interests - 1))); do
    add_watcher a "watcher$i@example.org" "${a_list[$i]}"
  done
  sleep 1.5 # each new interest went to its airport's owner
  echo
  echo "# failover: node-a (gateway, user-manager), node-b and node-c (data-collector)," \
    "$interests airports of interest; OpenSky unreachable; $repeats repetitions of kill -9 node-b"
  local res="$tmp/failover.results" k off_a off_c off_b t0 t_status line t_lost_a t_lost_c t_take taken st
  : >"$res"
  for k in $(seq "$repeats"); do
    # At a random moment of C's 1-second membership tick, not in step with the loop.
    sleep "$(awk -v r="$RANDOM" 'BEGIN { printf "%.3f", r / 32768 }')"
    off_a="$(log_size a)"
    off_c="$(log_size c)"
    t0="$(now_ms)"
    kill -KILL "${pid_of[b]}"
    t_status=""
    for _ in $(seq 500); do # 10 ms apart, up to about 5 s plus the curl time
      st="$(up_nodes a)"
      if [ "$st" = node-c ]; then t_status="$(now_ms)"; break; fi
      sleep 0.01
    done
    while kill -0 "${pid_of[b]}" 2>/dev/null; do sleep 0.01; done
    line="$(first_line_after c "$off_c" 'collection shared by 1 instance\(s\).*taking over' 10)"
    [ -n "$line" ] || bench_fail "repetition $k: node-c did not take over within 10 s; its log: $(tail -c +"$((off_c + 1))" "$tmp/c.log" | tail -20)"
    t_take="$(log_ms "$line")"
    taken="$(sed -n 's/.*collects \([0-9]*\) of \([0-9]*\) airport(s), taking over \([0-9]*\) now.*/\3 of \2/p' <<<"$line")"
    line="$(first_line_after a "$off_a" 'node node-b .* is lost' 1)"
    t_lost_a=""; [ -n "$line" ] && t_lost_a="$(log_ms "$line")"
    line="$(first_line_after c "$off_c" 'node node-b .* is lost' 1)"
    t_lost_c=""; [ -n "$line" ] && t_lost_c="$(log_ms "$line")"
    awk -v k="$k" -v t0="$t0" -v ts="$t_status" -v la="$t_lost_a" -v lc="$t_lost_c" -v tt="$t_take" -v taken="$taken" \
      'function d(t) { return t == "" ? "-" : t - t0 }
       BEGIN { printf "%s %s %s %s %s %s\n", k, d(ts), d(la), d(lc), d(tt), taken }' >>"$res"
    tail -1 "$res" | awk '{ printf "# repetition %s: status %s ms, A log lost %s ms, C log lost %s ms, C took over %s ms (%s %s %s airports)\n", $1, $2, $3, $4, $5, $6, $7, $8 }' >&2
    # B back; wait until B and C share the airports again.
    off_c="$(log_size c)"
    local off_b
    off_b="$(log_size b)"
    start_fw b data-collector fw_failover "$cport_b" "127.0.0.1:$cport_a"
    wait_up a "node-b node-c" 20
    [ -n "$(first_line_after c "$off_c" 'collection shared by 2 instance' 10)" ] \
      || bench_fail "node-c did not share with the restarted node-b: $(tail -c +"$((off_c + 1))" "$tmp/c.log" | tail -20)"
    [ -n "$(first_line_after b "$off_b" 'collection shared by 2 instance' 10)" ] \
      || bench_fail "the restarted node-b did not share with node-c: $(tail -c +"$((off_b + 1))" "$tmp/b.log" | tail -20)"
    sleep 1.5
  done
  echo
  echo "| repetition | A's /cluster/status without node-b, ms | A logs node-b lost, ms | C logs node-b lost, ms | C takes over, ms | airports taken over |"
  echo "|---:|---:|---:|---:|---:|---|"
  awk '{ printf "| %s | %s | %s | %s | %s | %s %s %s |\n", $1, $2, $3, $4, $5, $6, $7, $8 }' "$res"
  local col
  for col in 2 3 4 5; do
    awk -v c="$col" '$c != "-" { print $c }' "$res" | sort -g >"$tmp/col$col"
  done
  printf '| median | %s | %s | %s | %s | |\n' "$(median %d <"$tmp/col2")" "$(median %d <"$tmp/col3")" \
    "$(median %d <"$tmp/col4")" "$(median %d <"$tmp/col5")"
  printf '| max | %s | %s | %s | %s | |\n' "$(tail -1 "$tmp/col2")" "$(tail -1 "$tmp/col3")" \
    "$(tail -1 "$tmp/col4")" "$(tail -1 "$tmp/col5")"
  stop_fw a; stop_fw b; stop_fw c
}

[ "$mode" = failover ] || run_latency
[ "$mode" = latency ] || run_failover
echo "# load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
