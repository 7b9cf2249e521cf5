#!/usr/bin/env bash
# Flight queries on a large PostgreSQL table: N synthetic flights (default 1 M) over the last
# 60 days between 50 airports (tests/bench/flight_data_load.sql), then, on one flightwatch
# node, wrk against each of
#   GET /data-collector/flights/<airport>                 (list, default limit 100)
#   the same with Accept-Encoding: gzip                   (list-gzip)
#   GET /data-collector/flights/average/<airport>?days=30 (average)
#   GET /data-collector/flights/last/<airport>            (last)
# with a random airport of the 50 per request (tests/bench/flight_queries.lua), one route per
# wrk run, in alternating rounds (list, list-gzip, average, last, list, ...) after a warm-up
# of each.
# Prints the load time, per run req/s, p50/p99 latency, failures (non-200, or a 200 without
# flights), node and PostgreSQL CPU per request, the node's and the store's mean time per
# request and the node's peak RSS, then the medians per route and whether p99 < 5 ms holds.
# Any failed request fails the run.
#
#   tests/bench/flight_queries_load.sh [-d SECONDS] [-r ROUNDS] [-c CONNECTIONS]
#       [-t WRK_THREADS] [-w WARMUP_SECONDS] [-n FLIGHTS] [-R RATE] [--analyze-only]
#       [--routes "list list-gzip average last"] [--pg-option NAME=VALUE]...
#       [--baseline-bin PATH] [--floor] [--no-build]
#
# --baseline-bin PATH compares another flightwatch binary (an older build) with this one on
# the same data in one invocation. Each build gets its own database in the one PostgreSQL
# server (an older build refuses a newer schema), created by its own node's migrations and
# loaded with the same rows (the same seed and end time). Both nodes stay up; every route
# runs on each in turn, baseline first in odd rounds, current first in even ones, and the
# report has medians per route and build.
#
# Defaults: -d 10 -r 3 -c 50 -t 1 -w 3 -n 1000000. One wrk thread, because wrk shares the
# 2 cores with the node: with two, three busy threads share the two cores and the node's
# I/O thread waits for one: its p99 lands near 5 ms, a bare server's at 3.2-3.8 ms
# (docs/performance.md, "The load generator's second thread"). Without -R every
# connection sends its next request as soon as it has the answer (latency is mostly
# queueing). -R paces the connections instead: each waits a random 0 to 2 x C/RATE s
# after each answer, so together they offer a little less than RATE requests/s (the
# reported req/s is what they got). After the load the table gets VACUUM (ANALYZE), which
# autovacuum would do by itself shortly after such a load (it sets the visibility map, so
# counts can be index-only scans); --analyze-only runs only ANALYZE.
# --routes picks and orders the routes measured (default: all four).
# --floor adds a third server to the list route's rounds: tests/bench/bare_beast_server
# answering every GET with the plain list page the node gave (same size, no work per
# request, no copy): what any HTTP server on this machine can do with such answers.
# --pg-option is passed to the throw-away PostgreSQL 15 server as "-c NAME=VALUE" (default:
# its stock settings). FW_* variables in the environment reach the node (FW_STORAGE_POOL_SIZE,
# ...). FLIGHTWATCH_BUILD_DIR picks the build directory, FLIGHTWATCH_PG_BIN_DIR the
# PostgreSQL binaries (default /usr/lib/postgresql/15/bin); FLIGHTWATCH_BENCH_KEEP=1 keeps
# wrk's outputs and the node log (the path is printed).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
bench_name=flight_queries_load.sh
build_dir="${FLIGHTWATCH_BUILD_DIR:-$root/build}"
lua="$root/tests/bench/flight_queries.lua"
loader="$root/tests/bench/flight_data_load.sql"
duration=10
rounds=3
connections=50
wrk_threads=1
warmup=3
flights=1000000
rate=0
vacuum=1
pg_options=()
build=1
baseline_bin=""
floor=0
routes=(list list-gzip average last)
# 50 European airports, busiest first (the loader weights them 3:1 from first to last).
airports=LIRF,EDDF,EGLL,LFPG,EHAM,LEMD,LEBL,EDDM,LSZH,LOWW,EIDW,EKCH,ESSA,ENGM,EFHK,EBBR,LPPT,
airports+=LIMC,LGAV,EPWA,LKPR,LHBP,EGKK,EGCC,LFPO,LFMN,LIME,LIPZ,LIRN,LICC,LEPA,LEMG,EDDL,EDDH,
airports+=EDDB,EDDK,EDDS,LFLL,LFML,LSGG,EGPH,EGBB,LROP,LBSF,LDZA,LJLJ,LYBE,LTFM,LCLK,LMML
days=30 # of the average query

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
    -n) flights="$2"; shift 2 ;;
    -R) rate="$2"; shift 2 ;;
    --analyze-only) vacuum=0; shift ;;
    --routes) read -r -a routes <<<"$2"; shift 2 ;;
    --pg-option) pg_options+=("$2"); shift 2 ;;
    --baseline-bin) baseline_bin="$2"; shift 2 ;;
    --floor) floor=1; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) usage 0 ;;
    *) echo "$bench_name: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
for n in "$duration" "$rounds" "$connections" "$wrk_threads" "$warmup" "$flights" "$rate"; do
  [[ "$n" =~ ^[0-9]+$ ]] || { echo "$bench_name: '$n' is not a number" >&2; exit 2; }
done
[ "$rounds" -ge 1 ] && [ "$duration" -ge 1 ] && [ "$wrk_threads" -ge 1 ] \
  && [ "$connections" -ge "$wrk_threads" ] && [ "$flights" -ge 1000 ] \
  || { echo "need -r >= 1, -d >= 1, -t >= 1, -c >= -t and -n >= 1000" >&2; exit 2; }
think_ms=0
if [ "$rate" -gt 0 ]; then
  think_ms=$(((connections * 1000 + rate / 2) / rate))
  [ "$think_ms" -ge 1 ] || { echo "$bench_name: -R $rate is too high for -c $connections" >&2; exit 2; }
fi
for o in "${pg_options[@]}"; do
  [[ "$o" =~ ^[a-z_.]+=[^[:space:]]+$ ]] || { echo "$bench_name: --pg-option '$o' is not NAME=VALUE" >&2; exit 2; }
done

tmp="$(mktemp -d -t fw-flightq.XXXXXX)"
# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

bench_need_tools wrk curl
bench_need_pg

bench_build flightwatch
node_bin="$build_dir/flightwatch"
[ -x "$node_bin" ] || bench_fail "$node_bin is missing (build first)"
bare_bin="$build_dir/tests/bench/bare_beast_server"
if [ "$floor" = 1 ]; then
  bench_build bare_beast_server
  [ -x "$bare_bin" ] || bench_fail "$bare_bin is missing (build first)"
fi
# The builds under test: "current" (this one) and, with --baseline-bin, "baseline".
bench_builds
declare -A pid_of=() url_of=()

# -- PostgreSQL and the node (its migrations create the schema) ---------------------------------
machine_line
pg_start
db=fw_flights
declare -A db_of=([current]="$db" [baseline]="${db}_baseline")
# start_build BUILD -> a node of that build on its database, in pid_of/url_of (its log is
# $tmp/BUILD.log). OpenSky unreachable: the node stores nothing by itself (it has no
# interests anyway).
start_build() {
  node_bin="${bin_of[$1]}"
  "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres "${db_of[$1]}"
  start_node "$1" "postgresql://postgres@127.0.0.1:$pg_port/${db_of[$1]}" \
    FW_OPENSKY_BASE_URL=http://127.0.0.1:1
  pid_of[$1]="$node_pid"
  url_of[$1]="$node_url"
  bench_pids+=("$node_pid")
  node_pid=""
}
for b in "${builds[@]}"; do start_build "$b"; done

# -- bulk load ---------------------------------------------------------------------------------------
t0="$(now_s)"
load_end="$(date +%s)"
for b in "${builds[@]}"; do
  pg_psql "${db_of[$b]}" -v n="$flights" -v airports="$airports" -v days=60 -v per_aircraft=200 \
    -v now="$load_end" -v seed=0.42 -f "$loader"
done
t1="$(now_s)"
for b in "${builds[@]}"; do
  # flight_hourly_counts only exists in the newer schema.
  has_counts="$(pg_psql "${db_of[$b]}" -At -c "SELECT to_regclass('flight_hourly_counts') IS NOT NULL")"
  if [ "$vacuum" = 1 ]; then
    pg_psql "${db_of[$b]}" -c 'VACUUM (ANALYZE) flight_data'
    if [ "$has_counts" = t ]; then pg_psql "${db_of[$b]}" -c 'VACUUM (ANALYZE) flight_hourly_counts'; fi
    maintenance="VACUUM (ANALYZE)"
  else
    pg_psql "${db_of[$b]}" -c 'ANALYZE flight_data'
    if [ "$has_counts" = t ]; then pg_psql "${db_of[$b]}" -c 'ANALYZE flight_hourly_counts'; fi
    maintenance="ANALYZE"
  fi
  stored="$(pg_psql "${db_of[$b]}" -At -c 'SELECT count(*) FROM flight_data')"
  [ "$stored" = "$flights" ] || bench_fail "the loader stored $stored flights, not $flights ($b)"
done
t2="$(now_s)"
migration_note=""
[ ${#builds[@]} = 2 ] && migration_note=" (each, into one database per build)"
sizes="$(pg_psql "$db" -At -F' ' -c "SELECT pg_relation_size('flight_data') / 1048576,
  pg_indexes_size('flight_data') / 1048576")"
# Flights per airport within the average query's window (arrivals + departures elsewhere).
spread="$(pg_psql "$db" -At -F' ' -c "
  WITH w AS (SELECT extract(epoch FROM now())::bigint - $days * 86400 AS since),
  per AS (
    SELECT est_arrival_airport AS a FROM flight_data, w WHERE last_seen >= w.since
    UNION ALL
    SELECT est_departure_airport FROM flight_data, w
    WHERE first_seen >= w.since AND est_arrival_airport <> est_departure_airport),
  c AS (SELECT a, count(*) AS n FROM per GROUP BY a)
  SELECT min(n), percentile_disc(0.5) WITHIN GROUP (ORDER BY n), max(n), count(*) FROM c")"
echo "# loaded $flights flights (60 days, $(tr ',' '\n' <<<"$airports" | wc -l) airports)$migration_note:" \
  "INSERT ... SELECT $(elapsed "$t0" "$t1") s, $maintenance $(elapsed "$t1" "$t2") s;" \
  "table $(cut -d' ' -f1 <<<"$sizes") MiB, indexes $(cut -d' ' -f2 <<<"$sizes") MiB"
read -r c_min c_med c_max c_airports <<<"$spread"
echo "# flights per airport in the last $days days: min $c_min, median $c_med, max $c_max" \
  "($c_airports airports)"
[ ${#pg_options[@]} -gt 0 ] && echo "# PostgreSQL options: ${pg_options[*]}"

# -- sanity: every route answers 200 with flights for the first and the last airport -----------------
first_airport="${airports%%,*}"
last_airport="${airports##*,}"
for b in "${builds[@]}"; do
  for a in "$first_airport" "$last_airport"; do
    for path in "/data-collector/flights/$a" "/data-collector/flights/average/$a?days=$days" \
                "/data-collector/flights/last/$a"; do
      code="$(curl -s -o "$tmp/probe-$b.json" -w '%{http_code}' "${url_of[$b]}$path")"
      [ "$code" = 200 ] && grep -q '"icao24"\|"flights":[1-9]' "$tmp/probe-$b.json" \
        || bench_fail "$b: GET $path answered $code: $(head -c 300 "$tmp/probe-$b.json")"
    done
  done
done
if [ -n "$baseline_bin" ]; then # the same answers from both builds
  for path in "/data-collector/flights/$first_airport" "/data-collector/flights/last/$last_airport" \
              "/data-collector/flights/average/$first_airport?days=$days"; do
    a="$(curl -s "${url_of[baseline]}$path")"
    c="$(curl -s "${url_of[current]}$path")"
    if [ "$a" = "$c" ]; then
      echo "# same answer from both builds: GET $path (${#c} bytes)"
    else
      echo "# DIFFERENT answers: GET $path: baseline $(head -c 200 <<<"$a"), current $(head -c 200 <<<"$c")"
    fi
  done
fi

for b in "${builds[@]}"; do # what list-gzip gets: the same page, gzip-encoded (or plain)
  path="/data-collector/flights/$first_airport"
  encoding="$(curl -s -o /dev/null -D - -H 'Accept-Encoding: gzip' "${url_of[$b]}$path" \
    | tr -d '\r' | awk -F': ' 'tolower($1) == "content-encoding" { print $2 }')"
  size="$(curl -s -H 'Accept-Encoding: gzip' "${url_of[$b]}$path" | wc -c)"
  if [ "$encoding" = gzip ]; then
    [ "$(curl -s --compressed "${url_of[$b]}$path")" = "$(curl -s "${url_of[$b]}$path")" ] \
      || bench_fail "$b: the gzip-encoded GET $path differs from the plain one"
  fi
  echo "# $b build, GET $path with Accept-Encoding: gzip: ${encoding:-identity}, $size bytes"
done

# -- the floor: a bare Beast server answering the same page ---------------------------------------
servers_of() { # ROUTE -> the servers measured on it: the builds, and bare on list with --floor
  echo "${builds[@]}"
  if [ "$floor" = 1 ] && [ "$1" = list ]; then echo bare; fi
}
if [ "$floor" = 1 ]; then
  curl -sf -o "$tmp/list-page.json" "${url_of[current]}/data-collector/flights/$first_airport" \
    || bench_fail "cannot fetch the list page for --floor"
  "$bare_bin" --port 0 --body-file "$tmp/list-page.json" >"$tmp/bare.log" 2>&1 &
  pid_of[bare]=$!
  bench_pids+=("${pid_of[bare]}")
  for _ in $(seq 50); do
    grep -q '^listening on ' "$tmp/bare.log" && break
    sleep 0.1
  done
  url_of[bare]="http://$(sed -n 's/^listening on //p' "$tmp/bare.log")"
  [ "$(curl -s "${url_of[bare]}/data-collector/flights/$last_airport" | wc -c)" \
    = "$(wc -c <"$tmp/list-page.json")" ] || bench_fail "the bare server does not answer the page"
  echo "# floor: bare_beast_server answers every GET with the $(wc -c <"$tmp/list-page.json")-byte" \
    "list page of $first_airport, measured in the list route's rounds"
fi

# -- measure ---------------------------------------------------------------------------------------
declare -A http_route=(
  [list]='/data-collector/flights/{airport}'
  [list-gzip]='/data-collector/flights/{airport}'
  [average]='/data-collector/flights/average/{icao}'
  [last]='/data-collector/flights/last/{icao}')
declare -A store_op=([list]=list_flights [list-gzip]=list_flights [average]=average_flights [last]=last_flight)

# wrk_run NAME ROUTE SECONDS URL -> wrk's output in $tmp/wrk-NAME.txt
wrk_run() {
  FLIGHTWATCH_BENCH_ROUTE="$2" FLIGHTWATCH_BENCH_AIRPORTS="$airports" FLIGHTWATCH_BENCH_DAYS="$days" \
    FLIGHTWATCH_BENCH_THINK_MS="$think_ms" wrk -t"$wrk_threads" -c"$connections" -d"${3}s" --latency -s "$lua" "$4" \
    >"$tmp/wrk-$1.txt" 2>&1 || { echo "$bench_name: wrk failed:" >&2; cat "$tmp/wrk-$1.txt" >&2; exit 1; }
  grep -q '^fw-bench: ' "$tmp/wrk-$1.txt" \
    || { echo "$bench_name: no result line from wrk:" >&2; cat "$tmp/wrk-$1.txt" >&2; exit 1; }
}

failed=0
check_failures() { # NAME -> complains (and marks the run failed) when a request failed
  local out="$tmp/wrk-$1.txt"
  if [ "$(wrk_field "$out" non2xx)" != 0 ] || [ "$(wrk_field "$out" bad)" != 0 ] \
     || [ "$(wrk_field "$out" socket_errors)" != 0 ]; then
    failed=1
    echo "FAILURES in $1: $(wrk_field "$out" non2xx) non-200, $(wrk_field "$out" bad) without" \
      "flights, $(wrk_field "$out" socket_errors) socket errors; statuses $(wrk_field "$out" statuses)" >&2
  fi
}

echo "# wrk -t$wrk_threads -c$connections -d${duration}s --latency -s flight_queries.lua," \
  "$rounds rounds alternating ${routes[*]}, ${warmup}s warm-up of each route first;" \
  "node storage pool ${FW_STORAGE_POOL_SIZE:-4 (default)}"
if [ -n "$baseline_bin" ]; then
  echo "# builds: baseline $baseline_bin, current $node_bin; both nodes up, each route on" \
    "each in turn (baseline first in odd rounds)"
fi
if [ "$rate" -gt 0 ]; then
  echo "# paced: each connection waits a random 0-$((2 * think_ms)) ms (mean $think_ms ms) after" \
    "each answer, offered load < $rate req/s"
else
  echo "# unpaced: each connection sends its next request as soon as it has the answer"
fi
if [ "$warmup" -gt 0 ]; then
  for route in "${routes[@]}"; do
    for b in $(servers_of "$route"); do
      wrk_run "warmup-$route-$b" "$route" "$warmup" "${url_of[$b]}"
      check_failures "warmup-$route-$b"
    done
  done
fi

results="$tmp/results"
: >"$results"
for r in $(seq "$rounds"); do
  order=("${builds[@]}")
  [ $((r % 2)) = 0 ] && [ ${#builds[@]} = 2 ] && order=("${builds[1]}" "${builds[0]}")
  for route in "${routes[@]}"; do
  run_order=("${order[@]}")
  if [ "$floor" = 1 ] && [ "$route" = list ]; then run_order+=(bare); fi
  for b in "${run_order[@]}"; do
    name="r$r-$route-$b"
    node_pid="${pid_of[$b]}"
    node_url="${url_of[$b]}"
    node_before="$(cpu_ticks "$node_pid")"
    pg_before="$(pg_cpu_ticks)"
    metric_sums >"$tmp/$name.metrics-before"
    sys_before="$(sys_busy_ticks)"
    wrk_before="$(children_ticks)"
    wrk_run "$name" "$route" "$duration" "$node_url"
    wrk_after="$(children_ticks)"
    sys_after="$(sys_busy_ticks)"
    kill -0 "$node_pid" 2>/dev/null || { echo "$bench_name: the $b server died; its log:" >&2; cat "$tmp/$b.log" >&2; exit 1; }
    node_after="$(cpu_ticks "$node_pid")"
    pg_after="$(pg_cpu_ticks)"
    metric_sums >"$tmp/$name.metrics-after"
    check_failures "$name"
    out="$tmp/wrk-$name.txt"
    m0="$tmp/$name.metrics-before"
    m1="$tmp/$name.metrics-after"
    # round route build rps p50 p99 failures node_cpu pg_cpu server_ms store_ms hwm other wrk
    awk -v r="$r" -v route="$route" -v b="$b" -v rps="$(wrk_field "$out" rps)" \
        -v p50="$(wrk_field "$out" p50_us)" -v p99="$(wrk_field "$out" p99_us)" \
        -v fail="$(( $(wrk_field "$out" non2xx) + $(wrk_field "$out" bad) + $(wrk_field "$out" socket_errors) ))" \
        -v req="$(wrk_field "$out" requests)" -v nt="$((node_after - node_before))" \
        -v pt="$((pg_after - pg_before))" -v hz="$clk_tck" -v d="$duration" \
        -v server="$(metric_delta "$m0" "$m1" http "${http_route[$route]}")" \
        -v store="$(metric_delta "$m0" "$m1" store "${store_op[$route]}")" \
        -v hwm="$(vm_hwm_mib "$node_pid")" \
        -v other="$((sys_after - sys_before - (node_after - node_before) - (pg_after - pg_before) - (wrk_after - wrk_before)))" \
        -v wt="$((wrk_after - wrk_before))" \
      'BEGIN { printf "%s %s %s %d %.2f %.2f %d %.1f %.1f %s %s %s %.2f %.2f\n", r, route, b, rps,
               p50 / 1000, p99 / 1000, fail, (req > 0 ? nt / hz * 1e6 / req : 0),
               (req > 0 ? pt / hz * 1e6 / req : 0), server, store, hwm,
               (other > 0 ? other / hz / d : 0), wt / hz / d }' >>"$results"
    tail -1 "$results" | awk '{ printf "# round %s %s %s: %s req/s, p50 %s ms, p99 %s ms, %s failed\n",
                                $1, $2, $3, $4, $5, $6, $7 }' >&2
  done
  done
done
hwm_end=""
for b in "${builds[@]}"; do hwm_end+=" $b $(vm_hwm_mib "${pid_of[$b]}")"; done
if [ "$floor" = 1 ]; then hwm_end+=" (bare $(vm_hwm_mib "${pid_of[bare]}"))"; fi
node_pid=""

# -- report ------------------------------------------------------------------------------------------
col() { # route build column -> that column of that route's rounds on that build
  awk -v s="$1" -v b="$2" -v c="$3" '$2 == s && $3 == b { print $c }' "$results"
}

echo
echo "| round | route | build | req/s | p50 ms | p99 ms | failed | node CPU µs/req | PostgreSQL CPU µs/req" \
  "| node server ms | store ms | node peak RSS MiB | other processes (cores) | wrk (cores) |"
echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
awk '{ printf "| %s | %s | %s | %d | %.2f | %.2f | %d | %.1f | %.1f | %.2f | %.2f | %.1f | %.2f | %.2f |\n",
       $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14 }' "$results"
for route in "${routes[@]}"; do
  for b in $(servers_of "$route"); do
    printf '| median | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | | %s | %s |\n' "$route" "$b" \
      "$(col "$route" "$b" 4 | median %d)" "$(col "$route" "$b" 5 | median %.2f)" \
      "$(col "$route" "$b" 6 | median %.2f)" "$(col "$route" "$b" 7 | median %d)" \
      "$(col "$route" "$b" 8 | median %.1f)" "$(col "$route" "$b" 9 | median %.1f)" \
      "$(col "$route" "$b" 10 | median %.2f)" "$(col "$route" "$b" 11 | median %.2f)" \
      "$(col "$route" "$b" 13 | median %.2f)" "$(col "$route" "$b" 14 | median %.2f)"
  done
done
echo
for route in "${routes[@]}"; do
  for b in $(servers_of "$route"); do
    awk -v m="$(col "$route" "$b" 6 | median %.2f)" -v c="$connections" -v route="$route" -v b="$b" \
        -v pace="$([ "$rate" -gt 0 ] && echo ", paced < $rate req/s" || true)" 'BEGIN {
      printf "target p99 < 5 ms, %s at %d connections%s, %s build: %s (median p99 %.2f ms)\n",
             route, c, pace, b, (m < 5 ? "met" : "MISSED"), m }'
  done
done
echo "# node peak RSS (VmHWM) at the end, MiB:$hwm_end"
echo "# load average after the run: $(cut -d' ' -f1-3 /proc/loadavg)"
if [ "$failed" = 1 ]; then
  echo "$bench_name: some requests failed (see above)" >&2
  exit 1
fi
