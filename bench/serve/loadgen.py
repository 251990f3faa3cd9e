#!/usr/bin/python3
"""Load generator for `cachet serve` (OpenAI chat API, streaming with usage). Stdlib only.

Workloads (--workload):
  agent   --sessions S sessions, --concurrency of them at a time, --turns T turns each. Every
          prompt is: a long system prompt with tool definitions shared by all sessions, the
          session's task, then the history so far (assistant tool calls and tool results as
          fixed synthetic text, so that each turn's prompt extends the previous one exactly).
  chat    --sessions independent short conversations (shared short system prompt, one user
          message each), --concurrency at a time.
  single  --concurrency identical-shaped, distinct short prompts in parallel (streams test).
  prefix  one request whose system prompt is about --prefix-words words (disk-tier test).

Per request it measures TTFT (send -> first chunk carrying a generated token), TPOT ((last
token - first token) / (completion tokens - 1)) and reads usage (prompt_tokens,
prompt_cache_hit_tokens, completion_tokens). It samples GET /metrics every 0.2 s for
cachet_kv_blocks_used / cachet_kv_blocks_total. Prints one JSON object (and a text summary to
stderr). The model is expected to be random-weights: temperature 0, explicit max_tokens.
"""
import argparse
import http.client
import json
import random
import sys
import threading
import time
import urllib.parse

WORDS = ("the a of to and in is for on with as by at from that this it be are was file line "
         "function value return error request server cache token model block session user "
         "agent tool result output input config path name type list string number object "
         "array field query update create delete read write open close start stop check test "
         "build run deploy log metric time size count index key table row column data schema "
         "commit branch merge patch diff review issue status report option flag default").split()


def words(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def tool_definitions(rng, n_tools, desc_words):
    tools = []
    for i in range(n_tools):
        tools.append({"type": "function", "function": {
            "name": "tool_%d_%s" % (i, rng.choice(WORDS)),
            "description": words(rng, desc_words),
            "parameters": {"type": "object", "properties": {
                p: {"type": "string", "description": words(rng, 8)}
                for p in ("path", "query", "mode")}, "required": ["path"]}}})
    return json.dumps(tools, indent=1)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.records = []
        self.errors = []

    def add(self, rec):
        with self.lock:
            self.records.append(rec)

    def error(self, msg):
        with self.lock:
            self.errors.append(msg)


def stream_chat(url, model, messages, max_tokens, api_key, timeout):
    """One streaming request; returns a record dict or raises."""
    u = urllib.parse.urlparse(url)
    body = json.dumps({"model": model, "messages": messages, "max_tokens": max_tokens,
                       "temperature": 0, "stream": True,
                       "stream_options": {"include_usage": True}})
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = "Bearer " + api_key
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    t0 = time.monotonic()
    conn.request("POST", "/v1/chat/completions", body, headers)
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError("HTTP %d: %s" % (resp.status, resp.read()[:200]))
    t_first = t_last = None
    usage = None
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            break
        ev = json.loads(data)
        if ev.get("usage"):
            usage = ev["usage"]
        for ch in ev.get("choices") or []:
            d = ch.get("delta") or {}
            # The first chunk (role only, empty content) is sent at admission: not a token.
            is_role_only = "role" in d and not d.get("content")
            if any(k in d for k in ("content", "tool_calls", "reasoning_content")) \
                    and not is_role_only:
                now = time.monotonic()
                if t_first is None:
                    t_first = now
                t_last = now
    t_end = time.monotonic()
    conn.close()
    if usage is None:
        raise RuntimeError("no usage in the stream")
    n_out = usage.get("completion_tokens", 0)
    ttft = (t_first if t_first is not None else t_end) - t0
    tpot = (t_last - t_first) / (n_out - 1) if t_first is not None and n_out > 1 else None
    return {"t0": t0, "t_end": t_end, "ttft": ttft, "tpot": tpot, "t_first": t_first,
            "t_last": t_last,
            "prompt_tokens": usage.get("prompt_tokens", 0),
            "hit_tokens": usage.get("prompt_cache_hit_tokens", 0),
            "completion_tokens": n_out}


class KvSampler(threading.Thread):
    """Samples cachet_kv_blocks_used/total from /metrics until stopped."""

    def __init__(self, url, period=0.2):
        super().__init__(daemon=True)
        self.url, self.period = urllib.parse.urlparse(url), period
        self.stop_event = threading.Event()
        self.peak_used, self.total, self.samples = 0, 0, 0

    def sample(self):
        conn = http.client.HTTPConnection(self.url.hostname, self.url.port, timeout=5)
        conn.request("GET", "/metrics")
        text = conn.getresponse().read().decode()
        conn.close()
        for line in text.splitlines():
            if line.startswith("cachet_kv_blocks_used"):
                self.peak_used = max(self.peak_used, int(float(line.split()[-1])))
            elif line.startswith("cachet_kv_blocks_total"):
                self.total = int(float(line.split()[-1]))

    def run(self):
        while not self.stop_event.is_set():
            try:
                self.sample()
                self.samples += 1
            except OSError:
                pass
            self.stop_event.wait(self.period)


def agent_session(args, sid, system, stats):
    rng = random.Random(args.seed * 1000 + sid)
    msgs = [{"role": "system", "content": system},
            {"role": "user", "content": "Task %d: %s" % (sid, words(rng, args.task_words))}]
    for turn in range(args.turns):
        try:
            rec = stream_chat(args.url, args.model, msgs, args.max_tokens, args.api_key,
                              args.timeout)
            rec.update(session=sid, turn=turn)
            stats.add(rec)
        except Exception as e:  # noqa: BLE001 - reported, the run goes on
            stats.error("session %d turn %d: %s" % (sid, turn, e))
            return
        # Synthetic assistant tool call and tool result extend the history for the next turn.
        msgs.append({"role": "assistant", "content": "Calling tool_%d with path %s." % (
            turn % args.tools, words(rng, args.reply_words))})
        msgs.append({"role": "user", "content": "Tool result: " + words(rng, args.result_words)})


def one_shot(args, i, system, user, stats):
    msgs = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    try:
        rec = stream_chat(args.url, args.model, msgs, args.max_tokens, args.api_key, args.timeout)
        rec.update(session=i, turn=0)
        stats.add(rec)
    except Exception as e:  # noqa: BLE001
        stats.error("request %d: %s" % (i, e))


def run_pool(jobs, concurrency):
    """Runs callables with at most `concurrency` at a time."""
    sem = threading.Semaphore(concurrency)
    threads = []

    def wrap(fn):
        with sem:
            fn()
    for fn in jobs:
        t = threading.Thread(target=wrap, args=(fn,))
        t.start()
        threads.append(t)
    for t in threads:
        t.join()


def pct(xs, p):
    if not xs:
        return None
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * (len(xs) - 1)))))
    return xs[k]


def build_jobs(args, stats):
    rng = random.Random(args.seed)
    if args.workload == "agent":
        system = ("You are a coding agent. Use the tools below. Rules: " +
                  words(rng, args.system_words) + "\nTools:\n" +
                  tool_definitions(rng, args.tools, args.tool_words))
        first = args.first_session
        return [lambda s=s: agent_session(args, s, system, stats)
                for s in range(first, first + args.sessions)]
    if args.workload == "chat":
        system = "You are a helpful assistant. " + words(rng, 40)
        return [lambda i=i: one_shot(args, i, system, "Question %d: %s" % (
            i, words(random.Random(args.seed * 7919 + i), args.task_words)), stats)
                for i in range(args.sessions)]
    if args.workload == "single":
        return [lambda i=i: one_shot(args, i, "Stream %d." % i, "Tell me %d: %s" % (
            i, words(random.Random(args.seed * 31 + i), 16)), stats)
                for i in range(args.sessions)]
    if args.workload == "prefix":
        system = "Reference %d. " % args.seed + words(rng, args.prefix_words)
        return [lambda: one_shot(args, 0, system, "Summarize.", stats)]
    raise SystemExit("unknown workload " + args.workload)


def summarize(args, stats, wall, kv):
    recs = stats.records
    ttft = [r["ttft"] for r in recs]
    tpot = [r["tpot"] for r in recs if r["tpot"] is not None]
    prompt = sum(r["prompt_tokens"] for r in recs)
    hit = sum(r["hit_tokens"] for r in recs)
    out = sum(r["completion_tokens"] for r in recs)
    # Decode rate: tokens after each stream's first, over the span from the first token of any
    # stream to the last token of any (prefill of the stragglers overlaps the span).
    firsts = [r["t_first"] for r in recs if r["t_first"] is not None]
    lasts = [r["t_last"] for r in recs if r["t_last"] is not None]
    span = max(lasts) - min(firsts) if firsts and lasts else 0
    decoded = sum(max(0, r["completion_tokens"] - 1) for r in recs)
    ms = lambda x: None if x is None else round(x * 1000.0, 1)  # noqa: E731
    return {
        "label": args.label, "workload": args.workload, "requests": len(recs),
        "errors": len(stats.errors), "concurrency": args.concurrency, "wall_s": round(wall, 2),
        "output_tokens": out, "output_tok_s": round(out / wall, 2) if wall > 0 else None,
        "decode_tok_s": round(decoded / span, 2) if span > 0 else None,
        "prompt_tokens": prompt, "prompt_tokens_mean": round(prompt / max(1, len(recs)), 1),
        "cache_hit_rate": round(hit / prompt, 3) if prompt else None,
        "ttft_p50_ms": ms(pct(ttft, 50)), "ttft_p99_ms": ms(pct(ttft, 99)),
        "tpot_p50_ms": ms(pct(tpot, 50)), "tpot_p99_ms": ms(pct(tpot, 99)),
        "kv_blocks_peak_used": kv.peak_used, "kv_blocks_total": kv.total,
        "error_samples": stats.errors[:3],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080")
    ap.add_argument("--model", required=True)
    ap.add_argument("--api-key", default="")
    ap.add_argument("--workload", choices=["agent", "chat", "single", "prefix"], required=True)
    ap.add_argument("--label", default="")
    ap.add_argument("--sessions", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--turns", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--system-words", type=int, default=300)
    ap.add_argument("--tools", type=int, default=6)
    ap.add_argument("--tool-words", type=int, default=30)
    ap.add_argument("--task-words", type=int, default=30)
    ap.add_argument("--reply-words", type=int, default=12)
    ap.add_argument("--result-words", type=int, default=60)
    ap.add_argument("--prefix-words", type=int, default=3000)
    ap.add_argument("--first-session", type=int, default=0, help="session ids start here")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json-out", default="", help="append the summary as one JSON line")
    args = ap.parse_args()
    if args.workload == "single":
        args.sessions = args.concurrency
    stats = Stats()
    jobs = build_jobs(args, stats)
    kv = KvSampler(args.url)
    try:
        kv.sample()
    except OSError as e:
        raise SystemExit("cannot reach %s/metrics: %s" % (args.url, e))
    kv.start()
    t0 = time.monotonic()
    run_pool(jobs, args.concurrency)
    wall = time.monotonic() - t0
    kv.stop_event.set()
    kv.join()
    s = summarize(args, stats, wall, kv)
    with open("/proc/loadavg") as f:
        s["loadavg"] = f.read().split()[0]
    line = json.dumps(s)
    print(line)
    if args.json_out:
        with open(args.json_out, "a") as f:
            f.write(line + "\n")
    print("%-14s req=%d err=%d conc=%d out=%.1f tok/s ttft p50/p99=%s/%s ms "
          "tpot p50/p99=%s/%s ms hit=%s kv peak %d/%d blocks load=%s" % (
              s["label"] or s["workload"], s["requests"], s["errors"], s["concurrency"],
              s["output_tok_s"] or 0, s["ttft_p50_ms"], s["ttft_p99_ms"], s["tpot_p50_ms"],
              s["tpot_p99_ms"], s["cache_hit_rate"], s["kv_blocks_peak_used"],
              s["kv_blocks_total"], s["loadavg"]), file=sys.stderr)
    return 1 if stats.errors and not stats.records else 0


if __name__ == "__main__":
    sys.exit(main())
