#!/usr/bin/env bash
# Installs everything cachet needs on Debian 12, idempotently. The one place dependencies are pinned
# (by Debian release; npm packages by exact version in tests/e2e/package.json).
# Runs as root (or with sudo available). Safe to run again: does nothing when all is present.
set -euo pipefail

DEBIAN_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  clang libclang-rt-14-dev           # libFuzzer, sanitizers with clang
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev                 # JSON, used only in src/api/
  libcpp-httplib-dev libboost-dev    # HTTP, used only in src/http/
  libsqlite3-dev libpq-dev libssl-dev
  postgresql                         # server for the ledger's PostgreSQL tests (tests/pg)
  python3 python3-numpy python3-torch python3-jinja2   # tools/reference, template checks
)
# Node.js and npm (tests/e2e): the machine image may already carry a newer Node.js outside dpkg;
# install Debian's only when no node/npm is on PATH.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  DEBIAN_PACKAGES+=(nodejs npm)
fi

missing=()
for p in "${DEBIAN_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# JavaScript test clients (official SDKs), when the e2e suite exists.
if [ -f tests/e2e/package.json ] && [ ! -d tests/e2e/node_modules ]; then
  (cd tests/e2e && npm ci --no-audit --no-fund 2>/dev/null || npm install --no-audit --no-fund)
fi
exit 0
