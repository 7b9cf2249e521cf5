#!/usr/bin/env bash
# Installs every Debian 12 package Flightwatch and its tests need. Idempotent: when all
# are present it prints nothing and touches nothing. Run as root (or with sudo present).
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config
  # libraries of the design
  libcaf-dev libboost-dev libboost-system-dev libssl-dev libcurl4-openssl-dev
  libpqxx-dev libsqlite3-dev librdkafka-dev prometheus-cpp-dev nlohmann-json3-dev
  libyaml-cpp-dev zlib1g-dev
  # tests: GoogleTest, and the real servers integration tests start themselves
  libgtest-dev libgmock-dev postgresql prometheus kcat openssl curl
  # benchmarks, and the load mix (Locust) whose smoke run is a test
  wrk libbenchmark-dev python3-locust python3-geventhttpclient linux-perf
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
