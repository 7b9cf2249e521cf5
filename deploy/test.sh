#!/usr/bin/env bash
# Quick start (2): install what is missing, build, run the whole test suite with ctest.
# FLIGHTWATCH_SANITIZE=1 runs it under AddressSanitizer + UndefinedBehaviorSanitizer.
# Extra arguments go to ctest (e.g. -L unit, -R node).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/deploy/install-deps.sh"
"$root/deploy/build.sh"
dir="${FLIGHTWATCH_BUILD_DIR:-$root/build}"
[ "${FLIGHTWATCH_SANITIZE:-0}" = 1 ] && dir="${FLIGHTWATCH_BUILD_DIR:-$root/build-asan}"
cd "$dir"
ctest --output-on-failure --timeout 300 "$@"
