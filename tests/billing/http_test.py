#!/usr/bin/python3
"""Billing over HTTP against a live `cachet serve` with the ledger (SQLite, or PostgreSQL when
CACHET_TEST_PG is set by tests/pg/with_postgres.sh):

  admin API (token guarded) creates accounts, keys and prices; a request is billed at the price
  in force, /user/balance (DeepSeek's shape) and /v1/usage agree with it; a prepaid account that
  cannot cover max cost gets 402; requests/min gives 429 with Retry-After; a revoked key is
  refused; the admin CSV export lists the request; a wrong admin token is refused.

Usage: http_test.py --cachet build/cachet. Exit 0 pass, 1 fail, 77 skip.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from crash_test import free_port, run  # noqa: E402

FAILS = []


def check(cond, what):
    if not cond:
        FAILS.append(what)
        print("  FAIL", what)


def call(port, method, path, body=None, token=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode())
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            raw = r.read().decode()
            return r.status, dict(r.headers), raw
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def chat(port, key, max_tokens=8):
    return call(port, "POST", "/v1/chat/completions",
                {"model": "tiny", "max_tokens": max_tokens, "temperature": 0,
                 "messages": [{"role": "user", "content": "hello there"}]}, key)


def pg_url():
    conninfo = os.environ.get("CACHET_TEST_PG")
    if not conninfo:
        return ""
    kv = dict(p.split("=", 1) for p in conninfo.split())
    return f"postgresql://{kv.get('user', 'postgres')}@/postgres?host={kv['host']}&port={kv['port']}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cachet", required=True)
    ap.add_argument("--postgres", action="store_true", help="use the CACHET_TEST_PG server")
    args = ap.parse_args()
    cachet = os.path.abspath(args.cachet)
    if not os.path.exists(cachet) or "serve" not in run([cachet, "--help"]):
        return 77
    ledger = []
    if args.postgres:
        if not pg_url():
            print("http_test: CACHET_TEST_PG not set; skipping")
            return 77
        ledger = ["--ledger", pg_url()]
    data = tempfile.mkdtemp(prefix="cachet-billing-")
    server = None
    try:
        model = os.path.join(data, "tiny.gguf")
        run([cachet, "make-model", "--preset", "llama-tiny", "--type", "q8_0", "--out", model])
        port, admin = free_port(), "admin-secret-token"
        # The model's price is seeded from the config file ([prices.MODEL]).
        config = os.path.join(data, "cachet.toml")
        with open(config, "w") as f:
            f.write('[prices.tiny]\nhit = "1"\nmiss = "10"\noutput = "100"\ncurrency = "USD"\n')
        log = open(os.path.join(data, "server.log"), "ab")
        server = subprocess.Popen([cachet, "serve", "--model", model, "--model-name", "tiny",
                                   "--data-dir", data, "--port", str(port), "--threads", "1",
                                   "--admin-token", admin, "--config", config] + ledger,
                                  stdout=log, stderr=log)
        for _ in range(300):
            try:
                if call(port, "GET", "/health")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        A = lambda path, body: call(port, "POST", path, body, admin)  # noqa: E731

        st, _, _ = call(port, "POST", "/admin/v1/accounts", {"name": "x"}, "wrong")
        check(st == 401, f"wrong admin token: {st}")
        st, _, body = A("/admin/v1/accounts", {"name": "acme", "currency": "USD"})
        check(st == 200, f"create account: {st} {body}")
        st, _, body = A("/admin/v1/credits", {"account": "acme", "kind": "grant", "amount": "1"})
        check(st == 200 and json.loads(body)["granted"] == "1", f"grant: {st} {body}")
        st, _, body = A("/admin/v1/prices", {"model": "other", "hit": "1", "miss": "10",
                                             "output": "100", "daily": "16:30-00:30"})
        check(st == 200 and json.loads(body)["version"] == 2, f"price: {st} {body}")
        st, _, body = A("/admin/v1/keys", {"account": "acme", "rpm": 3})
        check(st == 200, f"key: {st} {body}")
        key = json.loads(body)["key"]

        st, _, body = chat(port, key)
        check(st == 200, f"chat: {st} {body}")
        usage = json.loads(body)["usage"]
        cost = (usage["prompt_cache_hit_tokens"] * 1 + usage["prompt_cache_miss_tokens"] * 10 +
                usage["completion_tokens"] * 100) / 1e6
        st, _, body = call(port, "GET", "/user/balance", token=key)
        bal = json.loads(body)
        check(st == 200 and bal["is_available"] is True, f"balance: {st} {body}")
        info = bal["balance_infos"][0]
        check(info["currency"] == "USD", f"balance currency: {info}")
        check(abs(float(info["total_balance"]) - round(1 - cost, 2)) < 0.006,
              f"balance {info['total_balance']} != 1 - {cost}")
        st, _, body = call(port, "GET", "/v1/usage?group_by=model", token=key)
        rows = json.loads(body)["data"] if st == 200 else []
        check(len(rows) == 1 and rows[0]["group"] == "tiny" and rows[0]["requests"] == 1,
              f"usage: {st} {body}")
        if rows:
            check(rows[0]["completion_tokens"] == usage["completion_tokens"], "usage tokens")
            check(abs(float(rows[0]["cost"]) - cost) < 1e-9, f"usage cost {rows[0]['cost']}")

        # 402: max cost (prompt + 2000 output tokens at 100/M = 0.2+) exceeds what is left.
        st, _, body = A("/admin/v1/accounts", {"name": "poor"})
        st, _, body = A("/admin/v1/keys", {"account": "poor"})
        poor = json.loads(body)["key"]
        st, _, body = chat(port, poor, max_tokens=16)
        check(st == 402, f"insufficient balance: {st} {body}")

        # 429 with Retry-After: 3 requests per minute for acme's key (1 used above).
        codes = [chat(port, key, 1)[0] for _ in range(3)]
        st, headers, body = chat(port, key, 1)
        check(codes[:2] == [200, 200] and 429 in codes + [st], f"rate limit codes {codes} {st}")
        ra = {k.lower(): v for k, v in headers.items()}.get("retry-after")
        check(st != 429 or (ra is not None and int(ra) >= 1), f"Retry-After: {ra}")

        st, _, body = call(port, "GET", "/admin/v1/usage.csv?group_by=request", token=admin)
        check(st == 200 and body.startswith("group,account") and "acme" in body,
              f"csv export: {st} {body[:200]}")
        st, _, _ = A("/admin/v1/keys/revoke", {"key": key.split("-")[0] + "-" + key[3:7]})
        st, _, body = A("/admin/v1/keys/revoke", {"key": "1"})
        check(st == 200, f"revoke: {st} {body}")
        st, _, _ = chat(port, key, 1)
        check(st in (401, 403), f"revoked key: {st}")
        st, _, _ = chat(port, "sk-unknownunknownunknown", 1)
        check(st == 401, f"unknown key: {st}")
    finally:
        if server:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
        if FAILS:
            print(open(os.path.join(data, "server.log")).read()[-3000:])
        shutil.rmtree(data, ignore_errors=True)
    print(f"billing http_test: {len(FAILS)} failure(s)")
    return 1 if FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
