#!/usr/bin/env bash
# The full test run (make test; CI runs this through .ci/run).
# 1. every test of the release build (unit, model numerics against tools/reference, CLI, e2e);
# 2. unit tests under ASan+UBSan; 3. the threaded unit tests under TSan.
set -euo pipefail
JOBS=${JOBS:-$(nproc)}
cd "$(dirname "$0")/.."

echo "== release: all tests"
(cd build && ctest --output-on-failure -j "$JOBS")

if [ "${CACHET_SKIP_SANITIZERS:-0}" != 1 ]; then
  echo "== ASan/UBSan: unit tests"
  make --no-print-directory asan
  echo "== TSan: threaded unit tests"
  make --no-print-directory tsan
fi
