#!/usr/bin/env bash
# Quick start (2): install what is missing, build, run the whole test suite with ctest.
# FLIGHTWATCH_SANITIZE=1 runs it under AddressSanitizer + UndefinedBehaviorSanitizer.
# Extra arguments go to ctest (e.g. -L unit, -R node).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/deploy/install-deps.sh"
"$root/deploy/build.sh"
dir="${FLIGHTWATCH_BUILD_DIR:-$root/build}"
if [ "${FLIGHTWATCH_SANITIZE:-0}" = 1 ]; then
  dir="${FLIGHTWATCH_BUILD_DIR:-$root/build-asan}"
  export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$root/tests/ubsan.supp"
  export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
  export LSAN_OPTIONS="suppressions=$root/tests/lsan.supp"
fi
cd "$dir"
ctest --output-on-failure --timeout 300 "$@"
