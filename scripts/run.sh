#!/usr/bin/env bash
# make run: build a demo model on first use and run it.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p data
if [ ! -f data/demo.gguf ]; then
  ./build/cachet make-model --preset llama-tiny --out data/demo.gguf --type q8_0
fi
if ./build/cachet --help | grep -q '^  serve '; then
  exec ./build/cachet serve --model data/demo.gguf --data-dir data
fi
exec ./build/cachet run --model data/demo.gguf --prompt "Hello, cachet" --max-tokens 32
