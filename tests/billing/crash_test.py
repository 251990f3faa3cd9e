#!/usr/bin/python3
"""Ledger crash safety: kill -9 `cachet serve` under load, restart it, and check the ledger.

  1. an account with a prepaid balance, a key and a price; the server on a tiny model;
  2. several client threads send chat completions (streaming and not) until the server is killed
     with SIGKILL at a random moment; each client remembers the ids of responses it received
     completely (non-streaming: the whole JSON body; streaming: the final usage chunk and
     [DONE]);
  3. the server restarts (which releases the holds its previous life left) and stops again;
  4. checks: every completely delivered response has exactly one usage record, with the usage the
     client saw; no hold is left; the balance equals the initial balance minus the recorded costs.

Usage: crash_test.py --cachet build/cachet [--rounds 2]. Exit 0 pass, 1 fail, 77 skip.
"""
import argparse
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd):
    return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


LEDGER = []  # ["--ledger", "postgresql://..."] with --postgres


def start_server(cachet, model, data, port):
    log = open(os.path.join(data, "server.log"), "ab")
    p = subprocess.Popen([cachet, "serve", "--model", model, "--model-name", "tiny", "--data-dir",
                          data, "--port", str(port), "--threads", "1"] + LEDGER,
                         stdout=log, stderr=log)
    deadline = time.time() + 60
    while time.time() < deadline:
        if p.poll() is not None:
            raise RuntimeError("server exited: see " + log.name)
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return p
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.2)
    p.kill()
    raise RuntimeError("server did not become healthy")


def client(port, key, stop, delivered, lock, seed):
    rnd = random.Random(seed)
    while not stop.is_set():
        stream = rnd.random() < 0.5
        body = {"model": "tiny", "max_tokens": rnd.randint(4, 24), "temperature": 0,
                "stream": stream,
                "messages": [{"role": "user", "content": "hello %d" % rnd.randint(0, 10**6)}]}
        if stream:
            body["stream_options"] = {"include_usage": True}
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/chat/completions",
                                     data=json.dumps(body).encode(),
                                     headers={"Authorization": "Bearer " + key,
                                              "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                if not stream:
                    j = json.loads(r.read())
                    with lock:
                        delivered[j["id"]] = j["usage"]
                    continue
                rid, usage, done = None, None, False
                for raw in r:
                    line = raw.decode().strip()
                    if not line.startswith("data: "):
                        continue
                    if line == "data: [DONE]":
                        done = True
                        break
                    chunk = json.loads(line[6:])
                    rid = chunk.get("id", rid)
                    if chunk.get("usage"):
                        usage = chunk["usage"]
                if done and rid and usage:
                    with lock:
                        delivered[rid] = usage
        except (urllib.error.URLError, ConnectionError, OSError, ValueError):
            if stop.is_set():
                return
            time.sleep(0.05)


def check(cachet, data, delivered, initial):
    rows = json.loads(run([cachet, "usage", "--data-dir", data, "--by", "request",
                           "--format", "json"] + LEDGER))
    by_id = {}
    for r in rows:
        by_id.setdefault(r["request"], []).append(r)
    errors = []
    for rid, usage in delivered.items():
        recs = by_id.get(rid, [])
        if len(recs) != 1:
            errors.append(f"{rid}: {len(recs)} records")
            continue
        rec = recs[0]
        got = (rec["cache_hit_tokens"] + rec["cache_miss_tokens"], rec["output_tokens"])
        want = (usage["prompt_tokens"], usage["completion_tokens"])
        if got != want:
            errors.append(f"{rid}: ledger {got} != client {want}")
    acct = run([cachet, "accounts", "show", "crash", "--data-dir", data] + LEDGER)
    total_cost = sum(int(round(float(r["cost"]) * 1e9)) for r in rows)
    held = acct.split("held ")[1].split(",")[0]
    balance = acct.split("balance ")[1].split(" ")[0]
    if held != "0":
        errors.append("holds left after restart: " + held)
    if int(round(float(balance) * 1e9)) != initial - total_cost:
        errors.append(f"balance {balance} != initial - sum(costs) ({(initial - total_cost) / 1e9})")
    return errors, len(rows)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cachet", required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--clients", type=int, default=6)
    ap.add_argument("--postgres", action="store_true", help="ledger on the CACHET_TEST_PG server")
    args = ap.parse_args()
    if args.postgres:
        conninfo = os.environ.get("CACHET_TEST_PG")
        if not conninfo:
            print("crash_test: CACHET_TEST_PG not set; skipping")
            return 77
        kv = dict(p.split("=", 1) for p in conninfo.split())
        LEDGER.extend(["--ledger", f"postgresql://{kv.get('user', 'postgres')}@/postgres"
                                   f"?host={kv['host']}&port={kv['port']}"])
    cachet = os.path.abspath(args.cachet)
    if not os.path.exists(cachet) or "serve" not in run([cachet, "--help"]):
        print("crash_test: no cachet serve; skipping")
        return 77
    data = tempfile.mkdtemp(prefix="cachet-crash-")
    try:
        model = os.path.join(data, "tiny.gguf")
        run([cachet, "make-model", "--preset", "llama-tiny", "--type", "q8_0", "--out", model])
        key = run([cachet, "keys", "create", "--account", "crash", "--balance", "100",
                   "--data-dir", data] + LEDGER).strip().splitlines()[-1]
        run([cachet, "prices", "set", "--model", "tiny", "--hit", "0.5", "--miss", "2",
             "--output", "8", "--data-dir", data] + LEDGER)
        initial = 100 * 10**9
        delivered, lock = {}, threading.Lock()
        for rnd in range(args.rounds):
            port = free_port()
            server = start_server(cachet, model, data, port)
            stop = threading.Event()
            threads = [threading.Thread(target=client,
                                        args=(port, key, stop, delivered, lock, rnd * 100 + i))
                       for i in range(args.clients)]
            for t in threads:
                t.start()
            time.sleep(random.uniform(2.0, 4.0))
            os.kill(server.pid, signal.SIGKILL)
            server.wait()
            stop.set()
            for t in threads:
                t.join()
        # A clean start releases the orphaned holds; then stop it gracefully.
        port = free_port()
        server = start_server(cachet, model, data, port)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        errors, n_records = check(cachet, data, delivered, initial)
        print(f"crash_test: {len(delivered)} responses delivered, {n_records} records")
        for e in errors[:20]:
            print("  FAIL", e)
        if not delivered:
            print("  FAIL no response was delivered before the kill")
            return 1
        return 1 if errors else 0
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
