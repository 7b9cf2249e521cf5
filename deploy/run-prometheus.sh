#!/usr/bin/env bash
# Runs Prometheus (Debian's package) with deploy/prometheus/prometheus.yml on
# http://127.0.0.1:9090, where config/sla.yaml expects it, keeping its data under
# data/prometheus. Start it beside deploy/run-local.sh to feed the SLA watchdog.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/deploy/install-deps.sh"
mkdir -p "$root/data/prometheus"
exec prometheus --config.file="$root/deploy/prometheus/prometheus.yml" \
  --storage.tsdb.path="$root/data/prometheus" --web.listen-address=127.0.0.1:9090 "$@"
