#!/usr/bin/env bash
# Serving benchmark (issue 5): starts `cachet serve`, replays the agent, chat and streams
# workloads with bench/serve/loadgen.py, then the disk-tier restart test, and stops the server.
# Usage: bench/serve/run_serve_bench.sh [CACHET_BINARY] [MODEL.gguf]
#   (defaults: build/cachet, $MODEL_DIR/l1b-q8_0.gguf)
# Environment: THREADS (2), PORT (18480), OUT (results JSON lines, /tmp/serve_bench.jsonl),
#   SESSIONS, TURNS, AGENT_CONC, AGENT_MAX, CHAT_N, STREAM_MAX, PREFIX_WORDS: workload sizes
#   (below); PARTS (default "agent chat streams nocache disk"): the scenarios to run.
#   CACHET_ISA (e.g. amx) is passed on to the server (kernel table; see docs/benchmarks.md).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHET=${1:-build/cachet}
MODEL=${2:-${MODEL_DIR:-/tmp}/l1b-q8_0.gguf}
THREADS=${THREADS:-2}
PORT=${PORT:-18480}
OUT=${OUT:-/tmp/serve_bench.jsonl}
URL="http://127.0.0.1:$PORT"
PY=/usr/bin/python3
LOADGEN=("$PY" "$HERE/loadgen.py" --url "$URL" --model m --json-out "$OUT")

# Workload sizes. Agent: ~1,430-token shared system prompt + tools, SESSIONS sessions x TURNS
# turns, AGENT_CONC at a time, each turn adds ~130 tokens. Prefix test: ~3,700 prompt tokens.
# Sized for llama-1b on 2 shared cores (~45 prefill tokens/s under load): ~9 minutes.
SESSIONS=${SESSIONS:-2}; TURNS=${TURNS:-3}; AGENT_CONC=${AGENT_CONC:-2}; AGENT_MAX=${AGENT_MAX:-8}
PARTS=${PARTS:-agent chat streams nocache disk}
CHAT_N=${CHAT_N:-8}; STREAM_MAX=${STREAM_MAX:-48}; PREFIX_WORDS=${PREFIX_WORDS:-3700}

[[ -x "$CACHET" ]] || { echo "run_serve_bench: $CACHET not built" >&2; exit 1; }
[[ -f "$MODEL" ]] || { echo "run_serve_bench: no model $MODEL" >&2; exit 1; }

SERVER_PID=""
start_server() {  # extra serve flags...
  "$CACHET" serve --model "$MODEL" --model-name m --no-auth --host 127.0.0.1 --port "$PORT" \
    --threads "$THREADS" --drain-seconds 5 "$@" > "${OUT%.jsonl}.server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 600); do
    if "$PY" -c "import urllib.request,sys; urllib.request.urlopen('$URL/health', timeout=2)" \
        2> /dev/null; then return 0; fi
    kill -0 "$SERVER_PID" 2> /dev/null || { echo "server died" >&2; tail "${OUT%.jsonl}.server.log" >&2; exit 1; }
    sleep 0.5
  done
  echo "server not ready" >&2; exit 1
}
stop_server() {  # SIGTERM: drain, spill the RAM cache to the disk tier
  [[ -n "$SERVER_PID" ]] || return 0
  kill -TERM "$SERVER_PID" 2> /dev/null || true
  wait "$SERVER_PID" 2> /dev/null || true
  SERVER_PID=""
}
trap stop_server EXIT
: > "$OUT"

agent() {  # label; warm: the shared system prompt enters the cache first (another session)
  if [[ "$1" == agent-cache-on ]]; then
    "${LOADGEN[@]}" --workload agent --label "$1-warmup" --sessions 1 --turns 1 \
      --first-session 1000 --max-tokens 1 > /dev/null
  else  # same page-cache warm-up of the weights, nothing to cache
    "${LOADGEN[@]}" --workload single --label "$1-warmup" --concurrency 1 --max-tokens 1 \
      > /dev/null
  fi
  "${LOADGEN[@]}" --workload agent --label "$1" --sessions "$SESSIONS" --concurrency "$AGENT_CONC" \
    --turns "$TURNS" --max-tokens "$AGENT_MAX" > /dev/null
}

echo "== serving benchmark: $MODEL, threads $THREADS, CACHET_ISA=${CACHET_ISA:-default}, $(date -u +%H:%M) UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
part() { [[ " $PARTS " == *" $1 "* ]]; }
if part agent || part chat || part streams; then
  echo "-- prefix cache on"
  start_server
  if part agent; then agent agent-cache-on; fi
  if part chat; then
    "${LOADGEN[@]}" --workload chat --label chat --sessions "$CHAT_N" --concurrency 4 \
      --max-tokens 16 > /dev/null
  fi
  if part streams; then
    "${LOADGEN[@]}" --workload single --label streams-1 --concurrency 1 \
      --max-tokens "$STREAM_MAX" > /dev/null
    "${LOADGEN[@]}" --workload single --label streams-16 --concurrency 16 \
      --max-tokens "$STREAM_MAX" --seed 2 > /dev/null
  fi
  stop_server
fi

if ! part nocache; then
  :
elif "$CACHET" serve --help 2>&1 | grep -q -- --no-prefix-cache; then
  echo "-- prefix cache off"
  start_server --no-prefix-cache
  agent agent-cache-off
  stop_server
else
  echo "-- prefix cache off: skipped ($CACHET serve has no --no-prefix-cache; rebuild)"
fi

if part disk; then
  echo "-- disk tier: ~4,000-token prefix, cold vs restored after a restart"
  DATA=$(mktemp -d /tmp/serve_bench_data.XXXXXX)
  start_server --data-dir "$DATA"
  "${LOADGEN[@]}" --workload single --label warmup --concurrency 1 --max-tokens 1 > /dev/null
  "${LOADGEN[@]}" --workload prefix --label prefix-cold --concurrency 1 --max-tokens 1 \
    --prefix-words "$PREFIX_WORDS" > /dev/null
  stop_server
  start_server --data-dir "$DATA"
  "${LOADGEN[@]}" --workload single --label warmup --concurrency 1 --max-tokens 1 --seed 3 > /dev/null
  "${LOADGEN[@]}" --workload prefix --label prefix-restored --concurrency 1 --max-tokens 1 \
    --prefix-words "$PREFIX_WORDS" > /dev/null
  stop_server
  rm -rf "$DATA"
fi
"$PY" - "$OUT" <<'PYEOF'
import json, sys
r = {}
for line in open(sys.argv[1]):
    d = json.loads(line)
    r[d["label"]] = d
def ratio(a, b):
    return "%.1fx" % (a / b) if a and b else "n/a"
on, off = r.get("agent-cache-on", {}), r.get("agent-cache-off", {})
print("agent TTFT p50: cache off %s ms / on %s ms = %s (target >= 5x)" % (
    off.get("ttft_p50_ms"), on.get("ttft_p50_ms"),
    ratio(off.get("ttft_p50_ms"), on.get("ttft_p50_ms"))))
s1, s16 = r.get("streams-1", {}), r.get("streams-16", {})
print("output tok/s: 16 streams %s / 1 stream %s = %s (target >= 6x); decode only %s / %s = %s" % (
    s16.get("output_tok_s"), s1.get("output_tok_s"),
    ratio(s16.get("output_tok_s"), s1.get("output_tok_s")), s16.get("decode_tok_s"),
    s1.get("decode_tok_s"), ratio(s16.get("decode_tok_s"), s1.get("decode_tok_s"))))
c, w = r.get("prefix-cold", {}), r.get("prefix-restored", {})
print("%s-token prefix TTFT: recomputed %s ms / restored from disk %s ms (hit %s) = %s "
      "(target >= 5x)" % (c.get("prompt_tokens"), c.get("ttft_p50_ms"), w.get("ttft_p50_ms"),
                          w.get("cache_hit_rate"), ratio(c.get("ttft_p50_ms"),
                                                         w.get("ttft_p50_ms"))))
PYEOF
echo "results in $OUT"
