#!/usr/bin/env bash
# Configures and builds into build/ (or $FLIGHTWATCH_BUILD_DIR). FLIGHTWATCH_SANITIZE=1 builds with
# AddressSanitizer and UndefinedBehaviorSanitizer (into build-asan/ by default).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
sanitize="${FLIGHTWATCH_SANITIZE:-0}"
default_dir="$root/build"
[ "$sanitize" = 1 ] && default_dir="$root/build-asan"
dir="${FLIGHTWATCH_BUILD_DIR:-$default_dir}"
flags=(-G Ninja -DCMAKE_BUILD_TYPE="${FLIGHTWATCH_BUILD_TYPE:-RelWithDebInfo}")
[ "$sanitize" = 1 ] && flags+=(-DFW_SANITIZE=ON)
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S "$root" -B "$dir" "${flags[@]}" >/dev/null
fi
# CAF translation units take up to ~0.75 GB each: bound parallelism by memory too.
jobs="${FLIGHTWATCH_BUILD_JOBS:-$(nproc)}"
cmake --build "$dir" -- -j"$jobs"
