"""deepseek4.py against the stated semantics of shared/specs/deepseek.md Part C: the building
blocks by hand examples, and whole-model properties on a small random model held in memory
(no file, no cachet code)."""
import os
import sys
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deepseek4 import DeepSeek4Model, angles, rope_last, sinkhorn  # noqa: E402

A = "deepseek4."


class FakeFile:
    """meta + float32 tensors shaped reversed(ne), as gguf_read.GgufFile hands them out."""

    def __init__(self, ratios=(0, 4, 128), seed=0):
        rng = np.random.default_rng(seed)
        d, H, D, r, rq, hc, E, k, V, HI, dI, G, ro, f = 32, 2, 16, 8, 16, 4, 4, 2, 50, 2, 8, 2, 8, 16
        L = len(ratios)
        self.meta = {A + "block_count": L, A + "embedding_length": d, A + "attention.head_count": H,
                     A + "attention.key_length": D, A + "rope.dimension_count": r,
                     A + "attention.layer_norm_rms_epsilon": 1e-6, A + "context_length": 4096,
                     A + "attention.sliding_window": 4, A + "attention.output_group_count": G,
                     A + "attention.output_lora_rank": ro, A + "attention.compress_ratios": list(ratios),
                     A + "attention.indexer.head_count": HI, A + "attention.indexer.key_length": dI,
                     A + "attention.indexer.top_k": 2, A + "hyper_connection.count": hc,
                     A + "hash_layer_count": 1, A + "expert_used_count": k,
                     A + "expert_weights_scale": 1.5, A + "expert_weights_norm": True,
                     A + "swiglu_clamp_exp": [1.0] * L, A + "attention.compress_rope_freq_base": 160000.0,
                     A + "rope.scaling.type": "yarn", A + "rope.scaling.factor": 4.0,
                     A + "rope.scaling.original_context_length": 64}
        t = {}

        def mat(name, *shape):
            t[name] = (rng.uniform(-1, 1, shape) * np.sqrt(3.0 / shape[-1])).astype(np.float32)

        def vec(name, n, off=1.0):
            t[name] = (off + 0.1 * rng.uniform(-1, 1, n)).astype(np.float32)
        mat("token_embd.weight", V, d)
        mat("output.weight", V, d)
        vec("output_norm.weight", d)
        mat("output_hc_fn.weight", hc, hc * d)
        vec("output_hc_base.weight", hc, 0.0)
        vec("output_hc_scale.weight", 1)
        for i, R in enumerate(ratios):
            p = f"blk.{i}."
            for n in ("attn_norm", "ffn_norm"):
                vec(p + n + ".weight", d)
            vec(p + "attn_sinks.weight", H)
            mat(p + "attn_q_a.weight", rq, d)
            vec(p + "attn_q_a_norm.weight", rq)
            mat(p + "attn_q_b.weight", H * D, rq)
            mat(p + "attn_kv.weight", D, d)
            vec(p + "attn_kv_a_norm.weight", D)
            mat(p + "attn_output_a.weight", G * ro, H * D // G)
            mat(p + "attn_output_b.weight", d, G * ro)
            for s in ("hc_attn", "hc_ffn"):
                mat(p + s + "_fn.weight", (2 + hc) * hc, hc * d)
                vec(p + s + "_base.weight", (2 + hc) * hc, 0.0)
                vec(p + s + "_scale.weight", 3)
            comps = [("attn_compressor_", R, D)] if R else []
            if R == 4:
                mat(p + "indexer.attn_q_b.weight", HI * dI, rq)
                mat(p + "indexer.proj.weight", HI, d)
                comps.append(("indexer_compressor_", 4, dI))
            for pre, RR, W in comps:
                kw = (2 if RR == 4 else 1) * W
                mat(p + pre + "kv.weight", kw, d)
                mat(p + pre + "gate.weight", kw, d)
                vec(p + pre + "ape.weight", (RR, kw), 0.0)
                vec(p + pre + "norm.weight", W)
            mat(p + "ffn_gate_inp.weight", E, d)
            if i < 1:
                t[p + "ffn_gate_tid2eid.weight"] = np.array(
                    [[(v + j * 2) % E for j in range(k)] for v in range(V)], np.int32)
            else:
                vec(p + "exp_probs_b.bias", E, 0.0)
            mat(p + "ffn_gate_exps.weight", E, f, d)
            mat(p + "ffn_up_exps.weight", E, f, d)
            mat(p + "ffn_down_exps.weight", E, d, f)
            mat(p + "ffn_gate_shexp.weight", f, d)
            mat(p + "ffn_up_shexp.weight", f, d)
            mat(p + "ffn_down_shexp.weight", d, f)
        self.tensors = t

    def tensor(self, name):
        return self.tensors[name]


class BuildingBlocks(unittest.TestCase):
    def test_sinkhorn_is_doubly_stochastic(self):
        c = sinkhorn(torch.randn(3, 4, 4, dtype=torch.float64), 20, 1e-6)
        self.assertTrue(torch.allclose(c.sum(-2), torch.ones(3, 4, dtype=torch.float64), atol=1e-5))
        self.assertTrue(torch.allclose(c.sum(-1), torch.ones(3, 4, dtype=torch.float64), atol=1e-3))

    def test_rope_last_rotates_only_the_tail_and_inverts(self):
        x = torch.randn(5, 16, dtype=torch.float64)
        th = torch.rand(5, 4, dtype=torch.float64)
        y = rope_last(x, th, 8)
        self.assertTrue(torch.equal(y[:, :8], x[:, :8]))
        self.assertTrue(torch.allclose(y.norm(dim=-1), x.norm(dim=-1)))
        self.assertTrue(torch.allclose(rope_last(y, th, 8, inverse=True), x))
        # pair (0, 1) of the tail by theta: (a cos - b sin, a sin + b cos)
        a, b, c, s = x[0, 8], x[0, 9], torch.cos(th[0, 0]), torch.sin(th[0, 0])
        self.assertAlmostEqual(float(y[0, 8]), float(a * c - b * s))
        self.assertAlmostEqual(float(y[0, 9]), float(a * s + b * c))

    def test_regimes(self):
        m = DeepSeek4Model(FakeFile())
        swa, comp = angles(m.hp, 0, [1]), angles(m.hp, 4, [1])
        self.assertAlmostEqual(float(swa[0, 1]), 10000 ** (-2 / 8))       # plain base, no YaRN
        self.assertLess(float(comp[0, 3]), 160000 ** (-6 / 8))             # YaRN slows low freqs

    def test_hca_entry_with_flat_gates_is_the_mean(self):
        m = DeepSeek4Model(FakeFile())
        for n in ("kv", "gate"):
            m.w[f"blk.9.c_{n}.weight"] = torch.zeros(16, 32, dtype=torch.float64)
        m.w["blk.9.c_kv.weight"][0, 0] = 1.0
        m.w["blk.9.c_ape.weight"] = torch.zeros(128, 16, dtype=torch.float64)
        m.w["blk.9.c_norm.weight"] = torch.ones(16, dtype=torch.float64)
        h = torch.zeros(256, 32, dtype=torch.float64)
        h[:128, 0] = torch.arange(128, dtype=torch.float64)
        e = m._entries("blk.9.c_", h, 128, 16, lambda pos: torch.zeros(1, 4, dtype=torch.float64))
        self.assertEqual(tuple(e.shape), (2, 16))
        # channel 0 pools the mean 63.5, the others 0; RMSNorm makes it sqrt(16)
        self.assertAlmostEqual(float(e[0, 0]), 4.0, places=4)
        self.assertAlmostEqual(float(e[1, 0]), 0.0)


class WholeModel(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.manual_seed(0)
        cls.m = DeepSeek4Model(FakeFile())
        cls.ids = list(np.random.default_rng(1).integers(0, 50, 140))

    def test_causal(self):
        with torch.no_grad():
            full = self.m.forward(self.ids)
            part = self.m.forward(self.ids[:70])
        self.assertLess(float((full[:70] - part).abs().max()), 1e-10)

    def test_distant_token_reaches_through_hca(self):
        ids = list(self.ids)
        ids[3] = (ids[3] + 1) % 50
        with torch.no_grad():
            a = self.m.forward(self.ids, last_only=True)
            b = self.m.forward(ids, last_only=True)
        self.assertGreater(float((a - b).abs().max()), 1e-8)     # window 4: only entries carry it


if __name__ == "__main__":
    unittest.main()
