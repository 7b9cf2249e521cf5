#!/usr/bin/env bash
# The seed's load mix (002 section 9, tests/bench/load_mix.py) against flightwatch, on a
# data set of N flights loaded first, in up to three set-ups:
#   sqlite    one node, every role, SQLite
#   postgres  one node, every role, PostgreSQL 15
#   cluster   three nodes on one PostgreSQL, as deploy/run-cluster.sh splits the roles:
#             node-1 gateway + user-manager (the client's target), node-2 data-collector,
#             alert-evaluator, notifier, sla-watchdog, node-3 data-collector,
#             alert-evaluator, notifier
# Each set-up gets a fake OpenSky (fw-fake-opensky: the interests the client adds are
# collected for real) and a Prometheus scraping every node each second (the SLA
# watchdog's queries and its config updates go to it). Prints per set-up: requests/s,
# p50/p95/p99/max per route (the client's CSV, in ms), failures, the node's own view per
# route (its histogram over the load: mean, and the bucket bound its p99 lies under), CPU
# seconds of the nodes and of the client, the nodes' resident memory (after start, at the
# end, peak), with the native client how many of its requests took 10 ms or more and
# whether they recur with a period (tests/bench/stall_period.py), and whether the targets
# hold (0 failures, p99 < 10 ms on every route, one node's peak RSS < 64 MiB). Any failed
# request makes the exit status 1.
#
#   tests/bench/load_mix.sh [--config sqlite,postgres,cluster] [-u USERS] [-r SPAWN_RATE]
#       [-d SECONDS] [--think MIN-MAX|0] [-n FLIGHTS] [--client native|locust] [--profile]
#       [--scrape SECONDS] [--pg-option NAME=VALUE]... [--smoke] [--no-build]
#       [--baseline-bin PATH]
#
# Defaults: every set-up, -u 100 -r 10 (the seed's swarm) -d 300 --think 1-2 -n 100000
# --client native --scrape 1. 300 s is the seed's few minutes of sustained load. It gives
# the pings (about 1.6/s each) 480 requests each, so their p99 is their fifth-slowest
# request rather than their slowest, and the least frequent route, a user's first interest
# in an airport (POST; the users soon have all nine, and then PUT), about 150: one request
# that meets a pause of the machine does not decide a route's p99 on its own
# (tests/bench/stall_period.py sleep: on this VM an idle process's 1 ms sleep overran by
# 10-37 ms a few times in some minutes, not at all in others). --scrape sets Prometheus'
# scrape interval (the SLA watchdog's t_check is 10 s, or 5 scrape intervals when that is
# longer). --pg-option passes a setting to the PostgreSQL server (stock settings
# otherwise; e.g. synchronous_commit=off to see what the commits' WAL flushes cost).
# During each run tests/bench/fsync_probe.py times an 8 KiB write + fdatasync every 50 ms
# next to the data, and the report gives its p50/p99/max: how long a durable commit waits for the
# disk at best. The native
# client (tests/bench/load_mix_client, built with the project) runs load_mix.py's
# scenario in C++ on one thread and times each request to the microsecond: its p99s
# hold. --client locust runs load_mix.py itself with Locust, whose times are whole
# milliseconds and include its own scheduling on the shared cores (5-20 ms more at p99).
# --think 0 drops the think time: every user sends its next request as soon as it has
# the answer (the saturation run). --profile samples the node(s) with perf during the
# run (499 Hz, no call graphs) and prints the 25 functions with the most self time, and
# the shares per thread and per library.
# --smoke is the short version the test suite runs: -u 5 -r 5 -d 4 --think 0.05-0.2
# -n 3000. --baseline-bin PATH runs another flightwatch binary (an older build) first in
# each set-up, then this one, and ends with a comparison. Every run starts from its own
# copy of the loaded data set (a copy of the SQLite file, a PostgreSQL database made from
# the loaded one as template), so no run sees the users another one created.
# FLIGHTWATCH_BUILD_DIR picks the build directory (targets flightwatch, fw-fake-opensky
# and load_mix_client), FLIGHTWATCH_BENCH_KEEP=1 keeps the client's CSVs and log (the
# native client's lists every request of 10 ms or more; tests/bench/stall_period.py log
# tells whether they recur with a period), each run's start time (RUN-start), the node
# logs, PostgreSQL's log and each node's /metrics before and after the load.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
bench_name=load_mix.sh
build_dir="${FLIGHTWATCH_BUILD_DIR:-$root/build}"
configs=sqlite,postgres,cluster
users=100
spawn_rate=10
duration=300
think=1-2
flights=100000
client=native
profile=0
build=1
baseline_bin=""
scrape=1
pg_options=()
# The mix's airports first (the loader makes the first ones of the list the busiest),
# then more, so that the data set has the spread of a real one.
airports=LIRF,EGLL,EDDF,LFPG,KJFK,OMDB,RJTT,LIMC,LICC,EHAM,LEMD,LEBL,EDDM,LSZH,LOWW,EIDW
airports+=,EKCH,ESSA,LPPT,LGAV

usage() {
  # The comment block under the shebang, however long it grows.
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
  exit "${1:-0}"
}

while [ $# -gt 0 ]; do
  case "$1" in
    --config) configs="$2"; shift 2 ;;
    -u) users="$2"; shift 2 ;;
    -r) spawn_rate="$2"; shift 2 ;;
    -d) duration="$2"; shift 2 ;;
    --think) think="$2"; shift 2 ;;
    -n) flights="$2"; shift 2 ;;
    --client) client="$2"; shift 2 ;;
    --scrape) scrape="$2"; shift 2 ;;
    --pg-option) pg_options+=("$2"); shift 2 ;;
    --profile) profile=1; shift ;;
    --smoke) users=5; spawn_rate=5; duration=4; think=0.05-0.2; flights=3000; shift ;;
    --no-build) build=0; shift ;;
    --baseline-bin) baseline_bin="$2"; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "$bench_name: unknown argument '$1'" >&2; usage 2 ;;
  esac
done
for n in "$users" "$spawn_rate" "$duration" "$flights" "$scrape"; do
  [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] || { echo "$bench_name: '$n' is not a positive number" >&2; exit 2; }
done
for o in "${pg_options[@]}"; do
  [[ "$o" =~ ^[a-z_.]+=[^[:space:]]+$ ]] || { echo "$bench_name: --pg-option '$o' is not NAME=VALUE" >&2; exit 2; }
done
[[ "$think" =~ ^(0|[0-9.]+-[0-9.]+)$ ]] || { echo "$bench_name: --think takes MIN-MAX or 0" >&2; exit 2; }
[ "$flights" -ge 1000 ] || { echo "$bench_name: -n needs at least 1000 flights" >&2; exit 2; }
case "$client" in
  native) client_name=load_mix_client ;;
  locust) client_name=Locust ;;
  *) echo "$bench_name: --client takes native or locust" >&2; exit 2 ;;
esac
IFS=, read -r -a config_list <<<"$configs"
for c in "${config_list[@]}"; do
  case "$c" in sqlite|postgres|cluster) ;; *) echo "$bench_name: unknown set-up '$c'" >&2; exit 2 ;; esac
done

tmp="$(mktemp -d -t fw-mix.XXXXXX)"
# shellcheck source=tests/bench/lib.sh
. "$root/tests/bench/lib.sh"
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

bench_need_tools curl prometheus python3
[ "$client" = native ] || bench_need_tools locust
bench_need_pg
[ "$profile" = 0 ] || bench_need_tools perf

if [ "$client" = native ]; then
  bench_build flightwatch fw-fake-opensky load_mix_client
else
  bench_build flightwatch fw-fake-opensky
fi
node_bin="$build_dir/flightwatch"
opensky_bin="$build_dir/tests/fakes/fw-fake-opensky"
client_bin="$build_dir/tests/bench/load_mix_client"
[ -x "$node_bin" ] || bench_fail "$node_bin is missing (build first)"
[ -x "$opensky_bin" ] || bench_fail "$opensky_bin is missing (build first)"
[ "$client" = locust ] || [ -x "$client_bin" ] || bench_fail "$client_bin is missing (build first)"
bench_builds

# -- helpers: side processes ---------------------------------------------------------------------
# start_bg NAME COMMAND... -> runs COMMAND in the background (output to $tmp/NAME.log),
# remembered for the clean-up; sets bg_pid.
start_bg() {
  local name="$1"
  shift
  "$@" >"$tmp/$name.log" 2>&1 &
  bg_pid=$!
  bench_pids+=("$bg_pid")
}

wait_http() { # URL WHAT PID -> waits up to 30 s for a 200 from URL
  for _ in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$1")" = 200 ] && return 0
    kill -0 "$3" 2>/dev/null || break
    sleep 0.1
  done
  bench_fail "$2 did not answer $1 with 200"
}

stop_side_processes() { # stops everything start_bg and start_fw started, in reverse order
  local i
  for ((i = ${#bench_pids[@]} - 1; i >= 0; i--)); do stop_pid "${bench_pids[$i]}"; done
  bench_pids=()
}

# -- the data set: N flights in PostgreSQL, copied into SQLite -------------------------------------
machine_line
pg_start
pg_db=fw_mix
"$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres "$pg_db"
pg_url="postgresql://postgres@127.0.0.1:$pg_port/$pg_db"
sqlite_file="$tmp/flightwatch.db"
sqlite_url="sqlite://$sqlite_file"

# A node with only the gateway creates the schema (its migrations) and stops again.
migrate() { # STORAGE_URL
  start_node migrate "$1" FW_NODE_ROLES=gateway
  stop_pid "$node_pid"
  node_pid=""
}

t0="$(now_s)"
load_end="$(date +%s)"
migrate "$pg_url"
pg_psql "$pg_db" -v n="$flights" -v airports="$airports" -v days=60 -v per_aircraft=200 \
  -v now="$load_end" -v seed=0.42 -f "$root/tests/bench/flight_data_load.sql"
pg_psql "$pg_db" -c 'VACUUM (ANALYZE) flight_data' -c 'VACUUM (ANALYZE) flight_hourly_counts'
flight_columns="icao24, first_seen, est_departure_airport, last_seen, est_arrival_airport, callsign,
  est_departure_airport_horiz_distance, est_departure_airport_vert_distance,
  est_arrival_airport_horiz_distance, est_arrival_airport_vert_distance,
  departure_airport_candidates_count, arrival_airport_candidates_count"
if [[ ",$configs," == *,sqlite,* ]]; then
  migrate "$sqlite_url"
  pg_psql "$pg_db" -c "\\copy (SELECT $flight_columns FROM flight_data) TO '$tmp/flights.csv' WITH (FORMAT csv)"
  python3 - "$sqlite_file" "$tmp/flights.csv" "$root/tests/bench/flight_hourly_backfill.sql" \
    "$flight_columns" <<'EOF'
import csv, sqlite3, sys
db, rows, backfill, columns = sys.argv[1:]
con = sqlite3.connect(db)
n = len(columns.split(","))
with open(rows, newline="") as f:  # PostgreSQL writes NULL as an empty field
    con.executemany(f"INSERT INTO flight_data ({columns}) VALUES ({','.join('?' * n)})",
                    ([v if v != "" else None for v in row] for row in csv.reader(f)))
con.executescript(open(backfill).read())
con.commit()
con.execute("ANALYZE")
con.close()
EOF
fi
stored="$(pg_psql "$pg_db" -At -c 'SELECT count(*) FROM flight_data')"
[ "$stored" = "$flights" ] || bench_fail "the loader stored $stored flights, not $flights"
echo "# data set: $flights flights over 60 days between $(tr ',' '\n' <<<"$airports" | wc -l)" \
  "airports, loaded in $(elapsed "$t0" "$(now_s)") s"
echo "# load: $users users (spawned $spawn_rate/s), ${duration} s per set-up, think time" \
  "$([ "$think" = 0 ] && echo none || echo "$think s") between tasks, client $client_name"
echo "# Prometheus scrapes every ${scrape} s; PostgreSQL $([ ${#pg_options[@]} -gt 0 ] && echo "options: ${pg_options[*]}" || echo "stock settings")"

# -- one set-up ----------------------------------------------------------------------------------
declare -A pid_of=() gateway_of=()
node_names=()

# start_fw NAME ROLES STORAGE_URL [VAR=VALUE...] -> a node with those roles and a gateway
# (its log $tmp/NAME.log) in pid_of and gateway_of; waits for GET /health 200.
start_fw() {
  local name="$1" roles="$2" url="$3"
  shift 3
  start_node "$name" "$url" FW_NODE_NAME="$name" FW_NODE_ROLES="gateway,$roles" \
    FW_OPENSKY_BASE_URL="$opensky_url" FW_SLA_CONFIG_FILE="$tmp/sla.yaml" "$@"
  pid_of[$name]="$node_pid"
  gateway_of[$name]="127.0.0.1:$node_port"
  bench_pids+=("$node_pid")
  node_pid=""
  node_names+=("$name")
}

# start_prometheus -> Prometheus on $prometheus_port scraping every node's gateway every
# $scrape seconds
start_prometheus() {
  local targets
  targets="$(for n in "${node_names[@]}"; do printf '"%s",' "${gateway_of[$n]}"; done)"
  rm -rf "$tmp/prometheus-data" # the previous set-up's samples
  {
    echo "global: { scrape_interval: ${scrape}s, scrape_timeout: 1s, evaluation_interval: ${scrape}s }"
    echo "scrape_configs:"
    echo "  - job_name: flightwatch"
    echo "    static_configs: [{ targets: [${targets%,}] }]"
  } >"$tmp/prometheus.yml"
  start_bg prometheus prometheus --config.file="$tmp/prometheus.yml" \
    --storage.tsdb.path="$tmp/prometheus-data" --web.listen-address="127.0.0.1:$prometheus_port"
  wait_http "$prometheus_url/-/ready" Prometheus "$bg_pid"
}

# The SLA document of config/sla.yaml, checked every 10 s (at least 5 scrapes) against this
# run's Prometheus.
sla_yaml() {
  local t_check=$((scrape * 5 > 10 ? scrape * 5 : 10))
  sed -e "s|prometheus_url: .*|prometheus_url: \"$prometheus_url\"|" -e "s|t_check: .*|t_check: $t_check|" \
    "$root/config/sla.yaml" >"$tmp/sla.yaml"
}

rss_mib() { # PID -> current resident set size, MiB
  awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"
}

# report CONFIG -> the per-route table from the client's CSV (Locust's columns) and the totals
report() {
  python3 - "$tmp/$1_stats.csv" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print("| route | requests | failures | req/s | p50 ms | p95 ms | p99 ms | max ms |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
worst = 0.0
for r in sorted(rows, key=lambda r: (r["Name"] == "Aggregated", r["Name"])):
    name = "**all**" if r["Name"] == "Aggregated" else f"{r['Type']} {r['Name'].split(' ', 1)[-1]}"
    p99 = r["99%"]
    if r["Name"] != "Aggregated" and p99 not in ("N/A", ""):
        worst = max(worst, float(p99))
    print(f"| {name} | {r['Request Count']} | {r['Failure Count']} | {float(r['Requests/s']):.1f} "
          f"| {r['50%']} | {r['95%']} | {p99} | {float(r['Max Response Time']):.0f} |")
print(f"worst-p99 {worst:g}")
total = [r for r in rows if r["Name"] == "Aggregated"]
print(f"totals {total[0]['Request Count'] if total else 0} {total[0]['Failure Count'] if total else 0}")
EOF
}

# server_report BEFORE AFTER -> the node's own view per route during the load (its
# gateway's histogram, AFTER minus BEFORE): requests, mean and the bucket bound its p99
# lies under; last line "server-worst MS"
server_report() {
  python3 - "$1" "$2" <<'EOF'
import re, sys
count, total, buckets = {}, {}, {}
pat = re.compile(r'^http_request_duration_seconds_(bucket|sum|count)\{(.*)\} (\S+)$')
for path, sign in ((sys.argv[1], -1), (sys.argv[2], 1)):
  for line in open(path):
    m = pat.match(line)
    if not m:
        continue
    labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
    if labels.get("route") in ("/metrics", "/health") or "method" not in labels:
        continue
    key = f"{labels['method']} {labels['route']}"
    value = sign * float(m.group(3))
    if m.group(1) == "count":
        count[key] = count.get(key, 0) + value
    elif m.group(1) == "sum":
        total[key] = total.get(key, 0) + value
    else:
        le = float("inf") if labels["le"] == "+Inf" else float(labels["le"])
        buckets.setdefault(key, {})
        buckets[key][le] = buckets[key].get(le, 0) + value
print("| route (node's own histogram) | requests | mean ms | p99 under ms |")
print("|---|---:|---:|---:|")
worst = 0.0
for key in sorted(count):
    if count[key] == 0:
        continue
    need = 0.99 * count[key]
    bound = min(le for le, n in buckets[key].items() if n >= need)
    worst = max(worst, bound)
    shown = "inf" if bound == float("inf") else f"{bound * 1000:g}"
    print(f"| {key} | {count[key]:.0f} | {total[key] / count[key] * 1000:.2f} | {shown} |")
print(f"server-worst {worst * 1000:g}")
EOF
}

failed=0
summary=()
run_config() { # CONFIG BUILD
  local config="$1" build="$2" storage name t_start t_end cpu_before=() cpu_after=() client_rc=0
  local run="$config-$build" title="$config"
  [ ${#builds[@]} = 1 ] || title="$config, $build"
  node_bin="${bin_of[$build]}"
  node_names=()
  pid_of=()
  local opensky_port
  opensky_port="$(free_port)"
  start_bg opensky "$opensky_bin" --port "$opensky_port" --airports "$airports" --history-days 2
  opensky_url="http://127.0.0.1:$opensky_port/api"
  for _ in $(seq 100); do # any HTTP answer: it listens
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$opensky_url/flights/arrival")" != 000 ] && break
    sleep 0.05
  done
  # This run's own copy of the data set.
  if [ "$config" = sqlite ]; then
    cp "$sqlite_file" "$tmp/$run.db"
    storage="sqlite://$tmp/$run.db"
  else
    local db="fw_mix_${config}_$build"
    "$pg_bin/createdb" -h 127.0.0.1 -p "$pg_port" -U postgres -T "$pg_db" "$db"
    storage="postgresql://postgres@127.0.0.1:$pg_port/$db"
    pg_psql postgres -c CHECKPOINT # the copy's pages written and synced now, not in the run
  fi
  # The copy (tens of MB) is still dirty in the page cache: flushed by the kernel 30 s later,
  # it stalled the commits' fdatasync in the middle of the run (up to 60 ms). A node in
  # service has no such burst pending; the run starts with nothing to write back.
  sync
  # The SLA watchdog reads Prometheus' address at start; Prometheus itself starts once the
  # nodes' gateway ports (its targets) are known.
  prometheus_port="$(free_port)"
  prometheus_url="http://127.0.0.1:$prometheus_port"
  sla_yaml
  case "$config" in
    sqlite|postgres)
      start_fw "node-$config" user-manager,data-collector,alert-evaluator,notifier,sla-watchdog \
        "$storage"
      ;;
    cluster)
      local p1
      p1="$(free_port)"
      local cluster=(FW_CLUSTER_HOST=127.0.0.1 FW_CLUSTER_SEEDS="127.0.0.1:$p1")
      start_fw node-1 user-manager "$storage" "${cluster[@]}" FW_CLUSTER_PORT="$p1"
      start_fw node-2 data-collector,alert-evaluator,notifier,sla-watchdog "$storage" \
        "${cluster[@]}" FW_CLUSTER_PORT="$(free_port)"
      start_fw node-3 data-collector,alert-evaluator,notifier "$storage" "${cluster[@]}" \
        FW_CLUSTER_PORT="$(free_port)"
      ;;
  esac
  start_prometheus
  gateway_url="http://${gateway_of[${node_names[0]}]}"
  # Every role reachable through the first node's gateway before the load starts.
  local role
  for role in user-manager data-collector notifier sla-detector; do
    wait_http "$gateway_url/$role/ping" "the $role role" "${pid_of[${node_names[0]}]}"
  done
  # Warm-up, as on a node that has been running: Prometheus has scraped every node, and
  # the SLA document GET answers is accepted when posted back (as the mix's update does).
  for _ in $(seq $((100 + scrape * 10))); do
    curl -s "$prometheus_url/api/v1/query?query=count(up==1)" |
      grep -q "\"value\":\[[0-9.]*,\"${#node_names[@]}\"\]" && break
    sleep 0.1
  done
  curl -s "$gateway_url/sla-detector/sla/config" >"$tmp/sla-config.json"
  [ "$(curl -s -o "$tmp/sla-update.json" -w '%{http_code}' -H 'Content-Type: application/json' \
        --data-binary @"$tmp/sla-config.json" "$gateway_url/sla-detector/sla/config")" = 200 ] \
    || echo "# note: the SLA document posted back was refused: $(head -c 300 "$tmp/sla-update.json")"

  for name in "${node_names[@]}"; do
    curl -s "http://${gateway_of[$name]}/metrics" >"$tmp/$run-$name.before.metrics" || true
    cpu_before+=("$(cpu_ticks "${pid_of[$name]}")")
    echo "$name $(rss_mib "${pid_of[$name]}")" >>"$tmp/rss-start"
  done
  local perf_pid=""
  if [ "$profile" = 1 ]; then
    local pids
    pids="$(for n in "${node_names[@]}"; do printf '%s,' "${pid_of[$n]}"; done)"
    perf record -F 499 -o "$tmp/$run.perf" -p "${pids%,}" -- sleep "$duration" \
      >"$tmp/$run-perf.log" 2>&1 &
    perf_pid=$!
  fi
  python3 "$root/tests/bench/fsync_probe.py" "$tmp/fsync-probe.dat" 50 >"$tmp/$run-fsync.txt" &
  local probe_pid=$!
  bench_pids+=("$probe_pid") # stopped on an early exit too
  # The load starts once the probe samples: Python's own start (tens of ms of CPU) would
  # otherwise compete with the first requests.
  for _ in $(seq 100); do
    [ -e "$tmp/fsync-probe.dat" ] && break
    sleep 0.05
  done
  local ticks_before
  ticks_before="$(children_ticks)"
  t_start="$(now_s)"
  date -u -d "@$t_start" '+%F %T.%3N UTC' >"$tmp/$run-start" # the clients' "+s" offsets start here
  local run_id client_log="$tmp/$run-$client.log"
  run_id="$(date +%s%N | tail -c 9)"
  if [ "$client" = native ]; then
    "$client_bin" -u "$users" -r "$spawn_rate" -d "$duration" --think "$think" --run "$run_id" \
      --host "$gateway_url" --csv "$tmp/$run" --slow 10 >"$client_log" 2>&1 || client_rc=$?
  else
    FW_MIX_THINK="$think" FW_MIX_RUN="$run_id" \
      locust -f "$root/tests/bench/load_mix.py" --headless -u "$users" -r "$spawn_rate" \
        -t "${duration}s" --host "$gateway_url" --csv "$tmp/$run" --only-summary \
        --loglevel WARNING --stop-timeout 5 >"$client_log" 2>&1 || client_rc=$?
  fi
  t_end="$(now_s)"
  local client_ticks=$(($(children_ticks) - ticks_before)) # before the probe is reaped
  kill "$probe_pid" && wait "$probe_pid" || true
  local p kept=()
  for p in "${bench_pids[@]}"; do [ "$p" = "$probe_pid" ] || kept+=("$p"); done
  bench_pids=("${kept[@]}") # reaped: its number may be reused
  [ -z "$perf_pid" ] || wait "$perf_pid" || true
  for name in "${node_names[@]}"; do
    cpu_after+=("$(cpu_ticks "${pid_of[$name]}")")
    # The node's own histograms (server time per route, store time per operation), kept
    # with FLIGHTWATCH_BENCH_KEEP=1.
    curl -s "http://${gateway_of[$name]}/metrics" >"$tmp/$run-$name.metrics" || true
  done

  echo
  echo "## $title ($(elapsed "$t_start" "$t_end") s)"
  [ -s "$tmp/${run}_stats.csv" ] || { cat "$client_log" >&2; bench_fail "$config: the client wrote no statistics"; }
  local table worst
  table="$(report "$run")"
  grep -v '^worst-p99\|^totals' <<<"$table"
  worst="$(sed -n 's/^worst-p99 //p' <<<"$table")"
  echo
  # The client's times include the network and, with Locust, its own scheduling on the
  # shared cores; the node's histogram (of the node the client talks to) says how long the
  # node took, to a bucket bound.
  local server server_worst=""
  if [ -s "$tmp/$run-${node_names[0]}.metrics" ]; then
    server="$(server_report "$tmp/$run-${node_names[0]}.before.metrics" \
                "$tmp/$run-${node_names[0]}.metrics")"
    grep -v '^server-worst' <<<"$server"
    server_worst="$(sed -n 's/^server-worst //p' <<<"$server")"
    echo
  fi
  local i=0 peak peak_max=0 cpu_sum=0
  for name in "${node_names[@]}"; do
    peak="$(vm_hwm_mib "${pid_of[$name]}")"
    echo "- $name: CPU $(awk -v t=$((cpu_after[i] - cpu_before[i])) -v h="$clk_tck" 'BEGIN { printf "%.1f", t / h }') s," \
      "RSS $(awk -v n="$name" '$1 == n { print $2 }' "$tmp/rss-start") MiB after start," \
      "$(rss_mib "${pid_of[$name]}") MiB at the end, peak $peak MiB"
    peak_max="$(awk -v a="$peak_max" -v b="$peak" 'BEGIN { print (b > a ? b : a) }')"
    cpu_sum=$((cpu_sum + cpu_after[i] - cpu_before[i]))
    i=$((i + 1))
  done
  echo "- $client_name: CPU $(awk -v t="$client_ticks" -v h="$clk_tck" 'BEGIN { printf "%.1f", t / h }') s"
  echo "- disk under the data: $(cat "$tmp/$run-fsync.txt")"
  if [ "$client" = native ]; then
    # Slow requests that recur with a fixed period point at a periodic stall (on this
    # machine, the disk's flushes: docs/performance.md, "The disk stalls every 1.046 s").
    local periodic
    periodic="$(python3 "$root/tests/bench/stall_period.py" log "$client_log" 2>&1 |
      sed 's/^.*: \([0-9]*\) slow requests after the first 3 s$/\1/' | paste -sd ';' || true)"
    echo "- the client's requests of 10 ms or more after the first 3 s: ${periodic//;/; }"
  fi
  local requests failures
  read -r requests failures <<<"$(sed -n 's/^totals //p' <<<"$table")"
  [ "$requests" -gt 0 ] || { failed=1; echo "- FAILED: no request was made"; }
  if [ "$failures" != 0 ] || [ "$client_rc" != 0 ]; then
    failed=1
    echo "- FAILED requests: $failures ($client_name exit $client_rc); the first ones:"
    head -6 "$tmp/${run}_failures.csv" | sed 's/^/    /'
  fi
  local rss_ok="n/a (three nodes)"
  if [ "${#node_names[@]}" = 1 ]; then
    rss_ok="$(awk -v p="$peak_max" 'BEGIN { print (p < 64 ? "yes" : "NO") }') ($peak_max MiB)"
  fi
  local all_line cpu_total
  all_line="$(grep '^| \*\*all\*\*' <<<"$table")"
  cpu_total="$(awk -v t="$cpu_sum" -v h="$clk_tck" 'BEGIN { printf "%.1f", t / h }')"
  summary+=("| $title | $(cut -d'|' -f5 <<<"$all_line" | tr -d ' ') | $(cut -d'|' -f8 <<<"$all_line" | tr -d ' ') | $worst | ${server_worst:-?} | $failures | $cpu_total | $peak_max |")
  echo "- targets: 0 failures $([ "$failures" = 0 ] && echo yes || echo NO);" \
    "p99 < 10 ms on every route $(awk -v w="$worst" 'BEGIN { print (w < 10 ? "yes" : "NO") }') (worst $worst ms; in the node, every route's p99 is under ${server_worst:-?} ms);" \
    "peak RSS < 64 MiB $rss_ok"
  if [ "$profile" = 1 ]; then
    echo
    echo "Profile of the node(s) under this load (self time, perf record -F 499):"
    echo '```'
    # perf pads its columns with thousands of blanks: sed trims them (awk's regex would
    # take minutes); awk then reads to the end, so no SIGPIPE under pipefail.
    local what sort limit
    for what in "symbol:dso,symbol:25" "thread:comm:10" "library:dso:8"; do
      IFS=: read -r what sort limit <<<"$what"
      [ "$what" = symbol ] || echo "by $what:"
      perf report -i "$tmp/$run.perf" --no-children --sort "$sort" --stdio 2>/dev/null |
        sed -e 's/[[:space:]]*$//' | awk -v m="$limit" '!/^#/ && NF { if (++n <= m) print }'
    done
    echo '```'
  fi
  rm -f "$tmp/rss-start"
  stop_side_processes
}

for c in "${config_list[@]}"; do
  for b in "${builds[@]}"; do run_config "$c" "$b"; done
done
echo
echo "## Summary"
echo "| set-up | req/s | p99 all ms | worst route p99 ms | in the node: every route's p99 under ms | failures | node CPU s | peak RSS MiB (largest node) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${summary[@]}"
exit "$failed"
