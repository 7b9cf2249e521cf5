#!/usr/bin/env bash
# Quick start (1): install what is missing, build, run one node with every role on the
# embedded defaults (SQLite, in-process topics), gateway on http://127.0.0.1:8080.
# Extra arguments go to flightwatch (e.g. --roles gateway,user-manager).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/deploy/install-deps.sh"
"$root/deploy/build.sh"
cd "$root"
exec "${FLIGHTWATCH_BUILD_DIR:-$root/build}/flightwatch" --config "$root/config/flightwatch.yaml" "$@"
