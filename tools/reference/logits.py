#!/usr/bin/python3
"""Reference logits with the `cachet logits` protocol.

    logits.py --model F.gguf [--top K]     stdin: {"ids":[...]} per line
                                           stdout: {"top":[[id, logit], ...]} (last position)
    logits.py --model F.gguf --greedy N    stdin as above; stdout: {"ids":[N greedy ids]}

Run with /usr/bin/python3 (torch + numpy). Bad lines get {"error": "..."}.
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_read import GgufFile  # noqa: E402
from model import Model  # noqa: E402


def top_json(logits, k):
    v = logits.numpy()
    # Highest first; ties broken by lower id (stable sort on the negated values).
    order = np.argsort(-v, kind="stable")[:k]
    return {"top": [[int(i), float(v[i])] for i in order]}


def greedy(m, ids, n):
    ids, out = list(ids), []
    for _ in range(n):
        nxt = int(torch.argmax(m.forward(ids, last_only=True)[-1]))  # argmax returns the first (lowest) max
        out.append(nxt)
        ids.append(nxt)
    return {"ids": out}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--top", type=int, default=20)
    ap.add_argument("--greedy", type=int, default=0)
    ap.add_argument("--kv-f16", action="store_true", help="round cached k/v to float16")
    a = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    m = Model(GgufFile(a.model), kv_f16=a.kv_f16)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            ids = json.loads(line)["ids"]
            if not ids or not all(isinstance(i, int) for i in ids):
                raise ValueError("field ids must be a non-empty array of integers")
            with torch.no_grad():
                r = greedy(m, ids, a.greedy) if a.greedy else top_json(m.forward(ids, last_only=True)[-1], a.top)
        except (ValueError, KeyError, TypeError) as e:
            r = {"error": str(e)}
        print(json.dumps(r), flush=True)


if __name__ == "__main__":
    main()
