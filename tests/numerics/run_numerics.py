#!/usr/bin/python3
"""End-to-end numerics: cachet vs the independent PyTorch reference (tools/reference).

    run_numerics.py --cachet BUILD/cachet --repo SRC [--case NAME] [--keep DIR]

Cases (--case, default all):
  presets   for llama-tiny, qwen2-tiny, qwen3-tiny x {f32, f16, bf16, q8_0, q4_0, q4_k, q6_k}:
            `cachet make-model` writes the file, `cachet logits` and the reference score the same
            id sequences (5 and 100 tokens); logits compared as below.
  pywriter  models written by tools/reference/gguf_write.py (not cachet's writer), F32 and Q8_0,
            all three architectures, scored by cachet and by tools/reference/logits.py (the
            subprocess protocol), compared the same way.
  deepseek  ds2-tiny (MLA without q compression, softmax routing), ds2-tiny-legacy (the same as a
            pre-MLA conversion with attn_kv_b), ds32-tiny (V3.2: + lightning indexer, top-k 24, so
            the 100-token sequences attend sparsely) and ds3-tiny (q compression,
            sigmoid routing with groups and selection bias) x {f32, q8_0}, compared as `presets`
            with the same bounds; the f32 files are also scored with the attention path pinned
            (CACHET_MLA_PATH=absorbed / expanded), so both MLA paths meet the reference bound.
            Note: with the f16 latent cache a ~1e-7 difference can flip an f16 rounding, so the
            deepseek f32 errors (3e-5..7e-5) sit closer to 1e-4 than the llama family's.
  deepseek4 ds4-tiny (V4: mHC, SWA/CSA/HCA layers, indexer, sinks, hash + score routing,
            clamps) x {f32, q8_0}, 5/100/300-token sequences: f32 within 1e-4 (f16 and f32 cache);
            q8_0 within 1e-4 with the scalar kernels, a sanity bound with the SIMD ones (routing
            flips: ds4_quantized); 32-token greedy determinism (case_deepseek4).
  greedy    32-token greedy continuation by cachet (through `cachet logits --top 1`, one line per
            step): identical run to run, identical between --threads 1 and 2, and for F32
            identical to the reference's greedy ids.

Tolerances (tools/reference/README.md explains them too):
  F32 weights: |cachet - ref| <= 1e-4 * max|ref logit| for every id cachet lists; same top-1.
    The reference rounds cached k/v to f16 like cachet's KV cache (model.Model(kv_f16=True));
    what remains is f32-vs-f64 accumulation, ~1e-6 relative.
  Other types: the reference uses the same dequantized weights with exact activations; cachet
    quantizes activations to 8 bits per block (Q8_0: 32 values, Q8_K: 256) or rounds them to
    f16/bf16 (a smaller error than 8 bits per block). The bound is measured on the same model and
    sequence: the reference is run again with its matmul inputs rounded to 8-bit blocks of 32
    and of 256 (model.quantize_activations), and
        bound = max(0.01, 2.5 * max deviation of those runs) * max|ref logit|.
    Why: each of the 4L+1 matmul stages adds a nearly independent error of ~ amax/(254 sqrt 3)
    per value, so the logit error grows ~ sqrt(4L+1) and with the model's weights; measuring it
    with the emulation follows the model instead of fixing a constant (measured: 1.3%-3.3% of
    max|logit| on 2-4 layer tiny models). The 2.5x covers the kernels' own rounding choices
    (scale rounding, f16 scales) that the emulation does not copy. Also: cachet's top-1 has a
    reference logit within the bound of the reference maximum, and >= 6 of cachet's top 10 are
    in the reference top 10.
Exit status: 0 pass, 1 fail, 77 skip (the binary has no `logits` command yet).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

PRESETS = ["llama-tiny", "qwen2-tiny", "qwen3-tiny"]
TYPES = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_k", "q6_k"]
F32_TOL, QUANT_FLOOR, QUANT_FACTOR = 1e-4, 0.01, 2.5
TOP = 20


class Ctx:
    def __init__(self, args):
        self.cachet, self.repo = os.path.abspath(args.cachet), os.path.abspath(args.repo)
        sys.path.insert(0, os.path.join(self.repo, "tools", "reference"))
        self.failures, self.worst = [], {}

    def fail(self, msg):
        print("FAIL: " + msg, flush=True)
        self.failures.append(msg)


def cachet_logits(ctx, model, seqs, threads=2, top=TOP, env=None):
    lines = "".join(json.dumps({"ids": s}) + "\n" for s in seqs)
    r = subprocess.run([ctx.cachet, "logits", "--model", model, "--top", str(top), "--threads",
                        str(threads)], input=lines, capture_output=True, text=True, timeout=300,
                       env=None if env is None else {**os.environ, **env})
    if r.returncode != 0:
        raise RuntimeError(f"cachet logits failed ({r.returncode}): {r.stderr.strip()}")
    out = [json.loads(x) for x in r.stdout.splitlines() if x.strip()]
    for o in out:
        if "error" in o:
            raise RuntimeError("cachet logits: " + o["error"])
    return [o["top"] for o in out]


def sequences(n_vocab, seed=7):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n_vocab, 5).tolist(), rng.integers(0, n_vocab, 100).tolist()]


def compare(ctx, label, top, ref, tol_rel):
    """top: cachet's [[id, logit], ...]; ref: full reference logits (numpy float64)."""
    scale = float(np.abs(ref).max())
    err = max(abs(v - ref[i]) for i, v in top) / scale
    ctx.worst[label] = err
    ok = err <= tol_rel
    ref_order = np.argsort(-ref, kind="stable")
    ids = [i for i, _ in top]
    if tol_rel == F32_TOL:
        gap = ref[ref_order[0]] - ref[ref_order[1]]
        if ids[0] != ref_order[0] and gap > 2 * tol_rel * scale:
            ctx.fail(f"{label}: top-1 {ids[0]} != reference {ref_order[0]} (gap {gap:.3g})")
    else:
        if ref[ref_order[0]] - ref[ids[0]] > tol_rel * scale:
            ctx.fail(f"{label}: cachet top-1 {ids[0]} is far below the reference maximum")
        overlap = len(set(ids[:10]) & set(ref_order[:10].tolist()))
        if overlap < 6:
            ctx.fail(f"{label}: only {overlap}/10 of the top-10 ids agree")
    if not ok:
        ctx.fail(f"{label}: max |cachet-ref| / max|logit| = {err:.3g} > {tol_rel:g}")
    print(f"  {label}: rel err {err:.2e} (bound {tol_rel:g}) top1 {ids[0]}/{ref_order[0]}",
          flush=True)


def reference(path):
    """The reference with cached k/v rounded to f16 as cachet's KV cache stores them."""
    from gguf_read import GgufFile
    from model import Model
    return Model(GgufFile(path), kv_f16=True)


def ref_and_bound(m, ids, f32):
    """Reference logits of the last position and the relative bound for comparing them."""
    with torch.no_grad():
        m.act_block = 0
        ref = m.forward(ids, last_only=True)[-1]
        if f32:
            return ref.numpy(), F32_TOL
        dev = 0.0
        for block in (32, 256):
            m.act_block = block
            dev = max(dev, float((m.forward(ids, last_only=True)[-1] - ref).abs().max() / ref.abs().max()))
        m.act_block = 0
    return ref.numpy(), max(QUANT_FLOOR, QUANT_FACTOR * dev)


def case_presets(ctx, tmp):
    for preset in PRESETS:
        for t in TYPES:
            path = os.path.join(tmp, f"{preset}-{t}.gguf")
            r = subprocess.run([ctx.cachet, "make-model", "--preset", preset, "--out", path,
                                "--type", t, "--seed", "1", "--threads", "2"], cwd=ctx.repo,
                               capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                ctx.fail(f"make-model {preset} {t}: {r.stderr.strip()}")
                continue
            m = reference(path)
            seqs = sequences(m.t("token_embd.weight").shape[0])
            tops = cachet_logits(ctx, path, seqs)
            for s, top in zip(seqs, tops):
                ref, tol = ref_and_bound(m, s, t == "f32")
                compare(ctx, f"{preset}/{t}/len{len(s)}", top, ref, tol)
            os.remove(path)


DEEPSEEK_PRESETS = ["ds2-tiny", "ds3-tiny", "ds2-tiny-legacy", "ds32-tiny"]
DS32_TOPK = 24  # ds32-tiny's indexer top-k (src/model/synthetic.cc)


def case_deepseek(ctx, tmp):
    for preset in DEEPSEEK_PRESETS:
        for t in ("f32", "q8_0"):
            path = os.path.join(tmp, f"{preset}-{t}.gguf")
            r = subprocess.run([ctx.cachet, "make-model", "--preset", preset, "--out", path,
                                "--type", t, "--seed", "1", "--threads", "2"], cwd=ctx.repo,
                               capture_output=True, text=True, timeout=300)
            if r.returncode != 0:
                ctx.fail(f"make-model {preset} {t}: {r.stderr.strip()}")
                continue
            m = reference(path)
            seqs = sequences(m.t("token_embd.weight").shape[0])
            refs = [ref_and_bound(m, s, t == "f32") for s in seqs]
            paths = ["auto", "absorbed", "expanded"] if t == "f32" else ["auto"]
            for mla in paths:
                env = {"CACHET_MLA_PATH": mla}
                tops = cachet_logits(ctx, path, seqs, env=env)
                for s, top, (ref, tol) in zip(seqs, tops, refs):
                    label = f"{preset}/{t}/{mla}/len{len(s)}"
                    if preset == "ds32-tiny" and t != "f32" and len(s) > DS32_TOPK:
                        # Past top-k the indexer selects tokens; 8-bit activations flip
                        # near-tied selections against the exact reference, so the quantized
                        # comparison says nothing there (the f32 runs check sparse attention).
                        print(f"  {label}: skipped (sparse selection; checked in f32)")
                        continue
                    compare(ctx, label, top, ref, tol)
            os.remove(path)


DS4_Q8_SANITY = 0.5
DS4_LENGTHS = (5, 100, 300)  # 300: 2 HCA entries, 75 CSA entries (top-k 8 of them)


def case_deepseek4(ctx, tmp):
    """ds4-tiny (deepseek.md Part C, every feature on) x {f32, q8_0}: logits of 5/100/300-token
    sequences against tools/reference/deepseek4.py (f16 cache rounding on both sides; the f32
    file also with CACHET_DS4_CACHE=f32 against an unrounded reference), and a 32-token greedy
    continuation identical run to run, across thread counts and (f32) to the reference."""
    from gguf_read import GgufFile
    from model import Model
    for t in ("f32", "q8_0"):
        path = os.path.join(tmp, f"ds4-tiny-{t}.gguf")
        r = subprocess.run([ctx.cachet, "make-model", "--preset", "ds4-tiny", "--out", path,
                            "--type", t, "--seed", "1", "--threads", "2"], cwd=ctx.repo,
                           capture_output=True, text=True, timeout=300)
        if r.returncode != 0:
            ctx.fail(f"make-model ds4-tiny {t}: {r.stderr.strip()}")
            continue
        rng = np.random.default_rng(9)
        m = reference(path)
        n_vocab = m.t("token_embd.weight").shape[0]
        seqs = [rng.integers(0, n_vocab, n).tolist() for n in DS4_LENGTHS]
        refs = [ref_and_bound(m, s, t == "f32") for s in seqs]
        if t == "f32":
            for s, top, (ref, tol) in zip(seqs, cachet_logits(ctx, path, seqs), refs):
                compare(ctx, f"ds4-tiny/f32/f16-cache/len{len(s)}", top, ref, tol)
        else:
            ds4_quantized(ctx, path, seqs, refs)
        if t == "f32":
            m32 = Model(GgufFile(path), kv_f16=False)
            tops = cachet_logits(ctx, path, seqs, env={"CACHET_DS4_CACHE": "f32"})
            for s, top in zip(seqs, tops):
                ref, tol = ref_and_bound(m32, s, True)
                compare(ctx, f"ds4-tiny/f32/f32-cache/len{len(s)}", top, ref, tol)
            greedy_check(ctx, "ds4-tiny", path, m, seqs[0])
        os.remove(path)


def ds4_quantized(ctx, path, seqs, refs):
    """q8_0 ds4-tiny. (1) With the scalar reference kernels (CACHET_ISA=ref: q8_0 weights,
    exact f32 activations) the f32 bound applies: this checks the q8_0 weight path of every
    deepseek4 tensor. (2) With the SIMD kernels (8-bit activations) the emulated bound of
    `presets` is not reliable for V4: sqrt-softplus routing (E 8, k 2, score gaps down to
    ~0.002) and the CSA top-8 selection flip on single decisions, and a flip moves the logits
    far more than the rounding itself. Measured on the 5-token sequence: the emulation re-run
    with same-size random jitter gives 4-5% without a flip and 30% in the runs where 1-3
    routing decisions flip; cachet's SIMD run gives 20% (1-2.5% on other 5-token sequences).
    So (2) asserts only a sanity bound of DS4_Q8_SANITY x max|logit| and reports the error
    next to the emulated bound."""
    tops = cachet_logits(ctx, path, seqs, env={"CACHET_ISA": "ref"})
    for s, top, (ref, _) in zip(seqs, tops, refs):
        compare(ctx, f"ds4-tiny/q8_0/ref-kernels/len{len(s)}", top, ref, F32_TOL)
    for s, top, (ref, tol) in zip(seqs, cachet_logits(ctx, path, seqs), refs):
        err = max(abs(v - ref[i]) for i, v in top) / float(np.abs(ref).max())
        ctx.worst[f"ds4-tiny/q8_0/len{len(s)}"] = err
        print(f"  ds4-tiny/q8_0/simd/len{len(s)}: rel err {err:.2e} (emulated bound {tol:.3g}, "
              f"asserted {DS4_Q8_SANITY})", flush=True)
        if err > DS4_Q8_SANITY:
            ctx.fail(f"ds4-tiny/q8_0/len{len(s)}: rel err {err:.3g} > {DS4_Q8_SANITY}")


def greedy_check(ctx, name, path, m, prompt):
    a = cachet_greedy(ctx, path, prompt, 32, 2)
    if a != cachet_greedy(ctx, path, prompt, 32, 2):
        ctx.fail(f"greedy {name}: run-to-run differs")
    if a != cachet_greedy(ctx, path, prompt, 32, 1):
        ctx.fail(f"greedy {name}: --threads 2 vs 1 differ")
    ids = list(prompt)
    with torch.no_grad():
        for step, got in enumerate(a):
            logits = m.forward(ids, last_only=True)[-1]
            top2 = torch.topk(logits, 2)
            if got != int(top2.indices[0]):
                gap = float(top2.values[0] - top2.values[1])
                if gap > 2 * F32_TOL * float(logits.abs().max()):
                    ctx.fail(f"greedy {name}: step {step}: cachet {got}, ref {int(top2.indices[0])}")
                else:
                    print(f"  greedy {name}: near-tie at step {step}, stop comparing")
                break
            ids.append(got)
    print(f"  greedy {name}: {len(a)} tokens, threads 1/2 and reruns identical", flush=True)


def case_pywriter(ctx, tmp):
    from gguf_write import make_model
    logits_py = os.path.join(ctx.repo, "tools", "reference", "logits.py")
    from gguf_read import GgufFile
    from model import Model
    for arch in ("llama", "qwen2", "qwen3"):
        for wtype in ("F32", "Q8_0"):
            path = make_model(os.path.join(tmp, f"py-{arch}-{wtype}.gguf"), arch, wtype, seed=11,
                              tied=(arch == "qwen3"))
            seqs = sequences(258, seed=3)
            tops = cachet_logits(ctx, path, seqs)
            lines = "".join(json.dumps({"ids": s}) + "\n" for s in seqs)
            r = subprocess.run([sys.executable, logits_py, "--model", path, "--top", "258",
                                "--kv-f16"], input=lines, capture_output=True, text=True,
                               timeout=300)
            if r.returncode != 0:
                ctx.fail(f"logits.py {arch}: {r.stderr.strip()}")
                continue
            m = Model(GgufFile(path), kv_f16=True)
            for s, top, line in zip(seqs, tops, r.stdout.splitlines()):
                ref = np.zeros(258)
                for i, v in json.loads(line)["top"]:       # logits.py's answer (all 258 ids)
                    ref[i] = v
                _, tol = ref_and_bound(m, s, wtype == "F32")
                compare(ctx, f"pywriter/{arch}/{wtype}/len{len(s)}", top, ref, tol)


def cachet_greedy(ctx, model, prompt, n, threads):
    p = subprocess.Popen([ctx.cachet, "logits", "--model", model, "--top", "1", "--threads",
                          str(threads)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    ids, out = list(prompt), []
    try:
        for _ in range(n):
            p.stdin.write(json.dumps({"ids": ids}) + "\n")
            p.stdin.flush()
            reply = json.loads(p.stdout.readline() or "{}")
            if "top" not in reply:
                raise RuntimeError(f"cachet logits (greedy): {reply.get('error', 'no output')}")
            nxt = reply["top"][0][0]
            out.append(nxt)
            ids.append(nxt)
    finally:
        p.stdin.close()
        p.wait(timeout=60)
    return out


def case_greedy(ctx, tmp):
    from gguf_read import GgufFile
    from model import Model
    for preset in PRESETS:
        path = os.path.join(tmp, f"greedy-{preset}.gguf")
        r = subprocess.run([ctx.cachet, "make-model", "--preset", preset, "--out", path,
                            "--type", "f32", "--seed", "2"], cwd=ctx.repo, capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            ctx.fail(f"make-model {preset}: {r.stderr.strip()}")
            continue
        m = Model(GgufFile(path), kv_f16=True)
        prompt = sequences(m.t("token_embd.weight").shape[0], seed=5)[0]
        a = cachet_greedy(ctx, path, prompt, 32, 2)
        b = cachet_greedy(ctx, path, prompt, 32, 2)
        c = cachet_greedy(ctx, path, prompt, 32, 1)
        if a != b:
            ctx.fail(f"greedy {preset}: run-to-run differs: {a} vs {b}")
        if a != c:
            ctx.fail(f"greedy {preset}: --threads 2 vs 1 differ: {a} vs {c}")
        ids = list(prompt)
        with torch.no_grad():
            for step, got in enumerate(a):
                logits = m.forward(ids, last_only=True)[-1]
                top2 = torch.topk(logits, 2)
                want = int(top2.indices[0])
                if got != want:
                    gap = float(top2.values[0] - top2.values[1])
                    if gap > 2 * F32_TOL * float(logits.abs().max()):
                        ctx.fail(f"greedy {preset}: step {step}: cachet {got}, reference {want}")
                    else:
                        print(f"  greedy {preset}: near-tie at step {step}, stop comparing")
                    break
                ids.append(got)
        print(f"  greedy {preset}: {len(a)} tokens, threads 1/2 and reruns identical", flush=True)
        os.remove(path)


def has_logits_command(ctx):
    if not os.path.exists(ctx.cachet):
        return False
    r = subprocess.run([ctx.cachet], capture_output=True, text=True)
    listing = r.stdout + r.stderr
    return " logits " in listing and " make-model " in listing


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cachet", required=True)
    ap.add_argument("--repo", required=True)
    ap.add_argument("--case", choices=["presets", "pywriter", "greedy", "deepseek", "deepseek4", "all"],
                    default="all")
    ap.add_argument("--keep", help="directory for model files (default: a temp dir)")
    args = ap.parse_args()
    ctx = Ctx(args)
    if not has_logits_command(ctx):
        print(f"SKIP: {ctx.cachet} has no logits/make-model command (kernels not built?)")
        return 77
    torch.set_num_threads(2)
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = args.keep or tmp
        for name, fn in [("pywriter", case_pywriter), ("presets", case_presets),
                         ("greedy", case_greedy), ("deepseek", case_deepseek),
                         ("deepseek4", case_deepseek4)]:
            if args.case in (name, "all"):
                print(f"[{name}]", flush=True)
                try:
                    fn(ctx, tmp)
                except (RuntimeError, subprocess.TimeoutExpired, ValueError, KeyError,
                        json.JSONDecodeError) as e:
                    ctx.fail(f"{name}: {e}")
    print(f"{len(ctx.failures)} failure(s) in {time.time() - t0:.1f} s")
    return 1 if ctx.failures else 0


if __name__ == "__main__":
    sys.exit(main())
