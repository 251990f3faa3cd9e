#!/usr/bin/env bash
# make run: build the demo model on first use (a synthetic llama-tiny with random weights: the text
# it writes is noise, the API around it is real) and serve it. A demo account (postpaid) and its
# API key are made once in the ledger (data/ledger.db); the key is kept in data/demo-api-key. HOST / PORT override where it listens (default 127.0.0.1:8080).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-./build/cachet}
HOST=${HOST:-127.0.0.1}
PORT=${PORT:-8080}
mkdir -p data
if [ ! -f data/demo.gguf ]; then
  "$BIN" make-model --preset llama-tiny --out data/demo.gguf --type q8_0
fi
if ! "$BIN" --help | grep -q '^  serve '; then
  echo "run.sh: this build has no 'serve' command; running one prompt instead" >&2
  exec "$BIN" run --model data/demo.gguf --prompt "Hello, cachet" --max-tokens 32
fi
if [ ! -f data/demo-api-key ]; then
  (umask 077 && "$BIN" keys create --account demo --postpaid --name demo --data-dir data \
     | tail -1 > data/demo-api-key)
  # Demo prices (DeepSeek V4 Flash's list prices), so usage reports show costs.
  "$BIN" prices set --model demo --hit 0.0028 --miss 0.14 --output 0.28 --currency USD \
    --data-dir data >/dev/null
fi
KEY=$(cat data/demo-api-key)
cat <<MSG
== cachet demo
   base URL (OpenAI):    http://$HOST:$PORT/v1
   base URL (Anthropic): http://$HOST:$PORT/anthropic
   API key:              $KEY
   model:                demo
   try: curl http://$HOST:$PORT/v1/chat/completions -H "Authorization: Bearer $KEY" \\
          -H 'Content-Type: application/json' \\
          -d '{"model":"demo","messages":[{"role":"user","content":"Hello"}],"max_tokens":16}'
MSG
echo "   usage:   $BIN usage --data-dir data --compare"
exec "$BIN" serve --model data/demo.gguf --model-name demo --data-dir data \
  --host "$HOST" --port "$PORT"
