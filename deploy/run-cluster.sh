#!/usr/bin/env bash
# Demo: a local cluster of N flightwatch processes on this machine (default 3), joined by
# the cluster service. Ctrl-C (or SIGTERM to this script) stops every node in order and
# waits for them; nothing is left running.
#
#   deploy/run-cluster.sh [-n N] [--roles-split default|all] [--netns] [--no-build]
#
# Node i (1..N) is named node-i (FW_NODE_NAME), listens for its peers on cluster port
# 7070+i and joins through node-1 (cluster.seeds). Where it runs the gateway, the
# gateway listens on port 8080+i-1. Roles:
#   default  node-1: gateway, user-manager
#            node-2: data-collector, alert-evaluator, notifier, sla-watchdog
#            node-3..N: data-collector, alert-evaluator, notifier
#            (one node: every role). The gateway on node-1 reaches the other roles over
#            the cluster; the data-collectors share the airports between them.
#   all      every node runs every role, gateway i on port 8080+i-1. Each node's
#            sla-watchdog then checks the same Prometheus, so each breach is sent once
#            per node.
# Topics: with in-process topics (kafka.brokers empty, the default) events never leave
# their node: an alert needs the data-collector, the alert-evaluator and the notifier on
# one node (and an SLA breach the sla-watchdog and a notifier). Both splits keep them
# together. For any other split set FW_KAFKA_BROKERS=host:port: every node then goes
# through Kafka. With a Telegram bot token, note that Telegram serves getUpdates to one
# notifier at a time (the others' polls fail and are retried).
#
# Storage: one SQLite file shared by every node, $FLIGHTWATCH_CLUSTER_DIR/flightwatch.db
# (default data/cluster/). It has to be shared: a data-collector takes over another's
# airports by reading the interests from its own storage. SQLite supports several
# processes on one file on a local file system, and the store is written for it: WAL
# journal, a 5 s busy timeout, every write transaction BEGIN IMMEDIATE (so writers queue
# on the lock instead of failing), migrations serialised by that lock and re-checked
# inside it (persistence/sqlite/). It is not for several machines or a network file
# system, and writes of all nodes serialise on one lock: fine for a demo, use PostgreSQL
# for load. FW_STORAGE_URL (or FW_STORAGE_URL_FILE) in the environment replaces it, e.g.
# with a PostgreSQL every node reaches.
#
# Other FW_* variables in the environment reach every node (e.g. FW_OPENSKY_BASE_URL of
# the fake OpenSky, see the README's offline demo); FW_NODE_NAME, FW_GATEWAY_PORT and the
# cluster keys are set per node. Each node's output goes to the terminal, prefixed with
# its name, and to $FLIGHTWATCH_CLUSTER_DIR/node-i.log.
#
# --netns (root only): each node in its own network namespace fw-node-i, joined by the
# bridge fwbr0 (host 10.77.0.1/24, node i at 10.77.0.(10+i)) through a veth pair. The
# nodes listen on their namespace's address; the gateway is reached from the host at
# http://10.77.0.11:8080 (node-1). Cleaned up at the end. The namespaces have no route
# beyond the bridge (no NAT is set up): OpenSky, Telegram, a Prometheus or a fake on the
# host's 127.0.0.1 are out of reach (a service listening on 10.77.0.1 is not). With
# br_netfilter loaded, bridged traffic passes the host's FORWARD firewall chain: a DROP
# policy there (Docker sets one) keeps the nodes from reaching each other.
#
# The link between nodes is neither encrypted nor authenticated (no cluster.tls_*
# files): everything listens on loopback (or the private bridge) only.
#
# Builds first like deploy/run-local.sh (install-deps, build.sh); --no-build skips both
# and uses the binary as it is. FLIGHTWATCH_BUILD_DIR (default build/) names the build.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
}

die() {
  echo "run-cluster: $*" >&2
  exit 2
}

nodes=3
split=default
netns=0
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    -n) [ $# -ge 2 ] || die "-n needs a number"; nodes="$2"; shift 2 ;;
    -n*) nodes="${1#-n}"; shift ;;
    --roles-split) [ $# -ge 2 ] || die "--roles-split needs default or all"; split="$2"; shift 2 ;;
    --roles-split=*) split="${1#*=}"; shift ;;
    --netns) netns=1; shift ;;
    --no-build) build=0; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument '$1' (see -h)" ;;
  esac
done
[[ "$nodes" =~ ^[0-9]+$ ]] && [ "$nodes" -ge 1 ] && [ "$nodes" -le 20 ] ||
  die "-n: expected 1 to 20 nodes, got '$nodes'"
case "$split" in default|all) ;; *) die "--roles-split: expected default or all, got '$split'" ;; esac
if [ "$netns" = 1 ]; then
  [ "$(id -u)" = 0 ] ||
    die "--netns needs root (it creates network namespaces, veth pairs and a bridge): run it with sudo, or without --netns for processes on loopback"
  command -v ip >/dev/null || die "--netns needs the ip command (package iproute2)"
fi

if [ "$build" = 1 ]; then
  "$root/deploy/install-deps.sh"
  "$root/deploy/build.sh"
fi
bin="${FLIGHTWATCH_BUILD_DIR:-$root/build}/flightwatch"
[ -x "$bin" ] || die "no binary at $bin: run deploy/build.sh (or drop --no-build)"
dir="${FLIGHTWATCH_CLUSTER_DIR:-$root/data/cluster}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"

roles_of() { # node number -> roles
  local i="$1"
  if [ "$split" = all ] || [ "$nodes" = 1 ]; then
    echo "gateway,user-manager,data-collector,alert-evaluator,notifier,sla-watchdog"
  elif [ "$i" = 1 ]; then
    echo "gateway,user-manager"
  elif [ "$i" = 2 ]; then
    echo "data-collector,alert-evaluator,notifier,sla-watchdog"
  else
    echo "data-collector,alert-evaluator,notifier"
  fi
}
host_of() { # node number -> the address it listens on
  if [ "$netns" = 1 ]; then echo "10.77.0.$((10 + $1))"; else echo 127.0.0.1; fi
}

# -- network namespaces ---------------------------------------------------------------
bridge=fwbr0
netns_down() {
  local i
  for ((i = 1; i <= nodes; i++)); do
    ip netns del "fw-node-$i" 2>/dev/null || true # takes its veth pair along
  done
  ip link del "$bridge" 2>/dev/null || true
}
netns_up() {
  local i ns
  if ip link show "$bridge" >/dev/null 2>&1 || ip netns list | grep -q '^fw-node-'; then
    echo "run-cluster: removing fw-node-* namespaces and $bridge left by an earlier run" >&2
    for ns in $(ip netns list | awk '/^fw-node-/ {print $1}'); do ip netns del "$ns"; done
    ip link del "$bridge" 2>/dev/null || true
  fi
  ip link add "$bridge" type bridge
  ip addr add 10.77.0.1/24 dev "$bridge"
  ip link set "$bridge" up
  for ((i = 1; i <= nodes; i++)); do
    ns="fw-node-$i"
    ip netns add "$ns"
    ip link add "fwv${i}h" type veth peer name "fwv${i}n"
    ip link set "fwv${i}h" master "$bridge" up
    ip link set "fwv${i}n" netns "$ns"
    ip -n "$ns" link set "fwv${i}n" name eth0
    ip -n "$ns" addr add "$(host_of "$i")/24" dev eth0
    ip -n "$ns" link set lo up
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via 10.77.0.1
  done
}

# -- the nodes --------------------------------------------------------------------------
pids=()   # pid of node i at index i-1 (empty once it has been reaped)
stopping=0

port_in_use() { # host port
  ss -Hltn "sport = :$2" 2>/dev/null | grep -q .
}

start_node() {
  local i="$1" name="node-$i" roles host gw_port cluster_port log
  roles="$(roles_of "$i")"
  host="$(host_of "$i")"
  gw_port=$((8080 + i - 1))
  cluster_port=$((7070 + i))
  log="$dir/$name.log"
  : >"$log"
  local -a env=(
    FW_NODE_NAME="$name"
    FW_GATEWAY_HOST="$host"
    FW_GATEWAY_PORT="$gw_port"
    FW_CLUSTER_PORT="$cluster_port"
    FW_CLUSTER_HOST="$host"
    FW_CLUSTER_ADVERTISE="$host"
    FW_CLUSTER_SEEDS="$(host_of 1):7071"
  )
  if [ -z "${FW_STORAGE_URL:-}" ] && [ -z "${FW_STORAGE_URL_FILE:-}" ]; then
    env+=(FW_STORAGE_URL="sqlite://$dir/flightwatch.db")
  fi
  local -a cmd=(env "${env[@]}" "$bin" --config "$root/config/flightwatch.yaml" --roles "$roles")
  if [ "$netns" = 1 ]; then cmd=(ip netns exec "fw-$name" "${cmd[@]}"); fi
  # setsid: a Ctrl-C in the terminal reaches this script only, which then sends each node
  # one SIGTERM (a second signal would make a node exit at once). The output pipeline
  # ignores SIGINT so that it prints the nodes' last lines.
  setsid "${cmd[@]}" > >(trap '' INT TERM; tee -a "$log" | sed -u "s/^/[$name] /") 2>&1 &
  pids[i - 1]=$!
  local where="cluster $host:$cluster_port"
  if [[ ",$roles," == *,gateway,* ]]; then where="http://$host:$gw_port, $where"; fi
  echo "run-cluster: $name (pid ${pids[i - 1]}): $roles; $where; log $log"
}

alive() { # node number
  local pid="${pids[$1 - 1]:-}"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null
}

stop_all() {
  [ "$stopping" = 1 ] && return
  stopping=1
  if [ "${#pids[@]}" = 0 ]; then # none started
    if [ "$netns" = 1 ]; then netns_down; fi
    return
  fi
  echo "run-cluster: stopping ${nodes} node(s)" >&2
  local i pid deadline
  for ((i = nodes; i >= 1; i--)); do
    pid="${pids[i - 1]:-}"
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done
  # A node stops within node.shutdown_timeout per child at worst (5 s each by default).
  deadline=$((SECONDS + 45))
  for ((i = 1; i <= nodes; i++)); do
    pid="${pids[i - 1]:-}"
    [ -n "$pid" ] || continue
    while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      echo "run-cluster: node-$i did not stop within 45 s: killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    pids[i - 1]=""
  done
  wait 2>/dev/null || true # the output pipelines
  if [ "$netns" = 1 ]; then netns_down; fi
  echo "run-cluster: stopped" >&2
}

on_exit() {
  local rc=$?
  stop_all
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ "$netns" = 1 ]; then
  netns_up
else
  for ((i = 1; i <= nodes; i++)); do
    if port_in_use 127.0.0.1 $((7070 + i)); then
      die "port $((7070 + i)) (cluster port of node-$i) is in use"
    fi
    if [[ ",$(roles_of "$i")," == *,gateway,* ]] && port_in_use 127.0.0.1 $((8080 + i - 1)); then
      die "port $((8080 + i - 1)) (gateway of node-$i) is in use"
    fi
  done
fi

cd "$root"
for ((i = 1; i <= nodes; i++)); do
  start_node "$i"
done

# Wait until node-1's gateway sees every node up, then say where to look.
status_url="http://$(host_of 1):8080/cluster/status"
if command -v curl >/dev/null; then
  ready=0
  for _ in $(seq 1 100); do
    up=$(curl -s --max-time 1 "$status_url" 2>/dev/null | grep -o '"state":"\(up\|self\)"' | wc -l || true)
    if [ "${up:-0}" -ge "$nodes" ]; then ready=1; break; fi
    alive 1 || break
    sleep 0.2
  done
  if [ "$ready" = 1 ]; then
    echo "run-cluster: all $nodes node(s) up: curl $status_url (Ctrl-C stops them)"
  else
    echo "run-cluster: node-1 does not see all $nodes node(s) up (yet): see the logs and $status_url" >&2
  fi
fi

# Run until Ctrl-C; report a node that ends on its own.
while :; do
  running=0
  for ((i = 1; i <= nodes; i++)); do
    pid="${pids[i - 1]:-}"
    [ -n "$pid" ] || continue
    if kill -0 "$pid" 2>/dev/null; then
      running=1
    else
      rc=0
      wait "$pid" 2>/dev/null || rc=$?
      pids[i - 1]=""
      echo "run-cluster: node-$i exited with code $rc (log $dir/node-$i.log)" >&2
    fi
  done
  [ "$running" = 1 ] || { echo "run-cluster: no node is running" >&2; exit 1; }
  sleep 0.5 &
  wait $! || true
done
