#!/usr/bin/env bash
# Runs the benchmarks that docs/benchmarks.md reports (kernel section). Short by design: the
# machine is shared. Usage: bench/run.sh [BUILD_DIR]   (default: build)
# Environment: THREADS (default 2), MODEL_DIR (default /tmp) for the end-to-end decode models.
set -euo pipefail
BUILD=${1:-build}
THREADS=${THREADS:-2}
MODEL_DIR=${MODEL_DIR:-/tmp}
BENCH="$BUILD/bench/kernels_bench"

if [[ ! -x "$BENCH" ]]; then
  echo "bench/run.sh: $BENCH not built (cmake --build $BUILD)" >&2
  exit 1
fi

echo "== machine limits and matmul kernels (threads=$THREADS)"
"$BENCH" --threads "$THREADS" bandwidth peak decode batch prefill
if [[ -x "$BUILD/bench/amx_bench" ]] && grep -q amx_tile /proc/cpuinfo; then
  echo "== AMX tile peak and AMX matmul"
  "$BUILD/bench/amx_bench" "$THREADS" 512 2 || true
fi

echo "== end-to-end decode: cachet run, llama-1b, --threads $THREADS"
for type in q8_0 q4_k; do
  model="$MODEL_DIR/l1b-$type.gguf"
  if [[ ! -f "$model" ]]; then
    "$BUILD/cachet" make-model --preset llama-1b --type "$type" --out "$model"
  fi
  "$BUILD/cachet" inspect "$model" | grep -iE "bytes|param" || true
  "$BUILD/cachet" run --model "$model" --prompt "The capital of France is" --max-tokens 32 \
    --temperature 0 --threads "$THREADS" > /dev/null
done

echo "== serving: live server, agent/chat/streams workloads and disk-tier restart (llama-1b q8_0)"
THREADS="$THREADS" "$(dirname "$0")/serve/run_serve_bench.sh" "$BUILD/cachet" \
  "$MODEL_DIR/l1b-q8_0.gguf" || echo "serving benchmark failed" >&2

# Other benchmarks of the project (each module's *_bench) are run by their owners' sections.
for b in "$BUILD"/bench/*_bench "$BUILD"/src/*/*_bench; do
  case "$b" in
    */kernels_bench|*/amx_bench) ;;
    *) [[ -x "$b" ]] && { echo "== $b"; "$b" || true; } ;;
  esac
done
