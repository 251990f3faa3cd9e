"""Properties of the reference forward that follow from llama-family.md, checked on small
models written by gguf_write.py (so writer, reader and forward are exercised together)."""
import os
import sys
import tempfile
import unittest

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_read import GgufFile  # noqa: E402
from gguf_write import make_model  # noqa: E402
from model import Model  # noqa: E402

IDS = [256, 72, 101, 108, 108, 111, 44, 32, 119, 111, 114, 108, 100, 33, 10, 5, 200]


class ModelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def model(self, arch, wtype="F32", **kw):
        path = os.path.join(self.dir.name, f"{arch}-{wtype}-{len(kw)}-{sorted(kw)}.gguf")
        return Model(GgufFile(make_model(path, arch, wtype, **kw)))

    def test_writer_reader_roundtrip(self):
        m = self.model("qwen2", "F32", seed=3)
        rng = np.random.default_rng(3)
        embd = rng.uniform(-1, 1, (258, 64)).astype(np.float32)   # first draw in make_model
        np.testing.assert_array_equal(m.f.tensor("token_embd.weight"), embd)
        self.assertEqual(m.hp.n_head_kv, [2, 2])
        self.assertEqual(m.f.meta["tokenizer.ggml.tokens"][32], "\u0120")   # GPT-2 byte map
        q = self.model("qwen2", "Q8_0", seed=3).f.tensor("token_embd.weight")
        # half a step of d = amax/127 <= 1/127, plus 127 * the f16 rounding of d (2^-11 d)
        self.assertLessEqual(np.abs(q - embd).max(), (0.5 + 127 * 2.0**-11) / 127)

    def test_causal(self):
        for arch in ("llama", "qwen2", "qwen3"):
            m = self.model(arch)
            full = m.forward(IDS)
            part = m.forward(IDS[:7])
            torch.testing.assert_close(full[:7], part, rtol=1e-12, atol=1e-12)
            self.assertGreater((full[7] - full[6]).abs().max(), 1e-3)

    def test_norm_rope_on_permuted_rows_equals_neox(self):
        # llama-family.md §5.2: NORM on rows permuted by the converter == NEOX on HF rows.
        m = self.model("llama")
        want = m.forward(IDS)
        dk, half = m.hp.d_k, m.hp.d_k // 2
        perm = [2 * r if r < half else 2 * (r - half) + 1 for r in range(dk)]
        for i in range(m.hp.n_layer):
            for n in ("attn_q.weight", "attn_k.weight"):
                w = m.t(f"blk.{i}.{n}")
                m.w[f"blk.{i}.{n}"] = w.reshape(-1, dk, w.shape[1])[:, perm, :].reshape(w.shape)
        m.rope_style = "neox"
        torch.testing.assert_close(m.forward(IDS), want, rtol=1e-10, atol=1e-10)
        m.rope_style = "norm"
        self.assertGreater((m.forward(IDS) - want).abs().max(), 1e-3)

    def test_gqa_equals_mha_with_repeated_kv_heads(self):
        m = self.model("qwen3")
        want = m.forward(IDS)
        dk, G = m.hp.d_k, m.hp.n_head[0] // m.hp.n_head_kv[0]
        for i in range(m.hp.n_layer):
            for n in ("attn_k.weight", "attn_v.weight"):
                w = m.t(f"blk.{i}.{n}").reshape(-1, dk, m.hp.d)
                m.w[f"blk.{i}.{n}"] = w.repeat_interleave(G, dim=0).reshape(-1, m.hp.d)
        m.hp.n_head_kv = m.hp.n_head
        torch.testing.assert_close(m.forward(IDS), want, rtol=1e-10, atol=1e-10)

    def test_rope_freqs_divide_like_linear_scaling(self):
        a = self.model("llama", rope_freqs=[2.0] * 8, seed=5).forward(IDS)
        b = self.model("llama", scaling=("linear", 2.0), seed=5).forward(IDS)
        c = self.model("llama", seed=5).forward(IDS)
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
        self.assertGreater((a - c).abs().max(), 1e-3)

    def test_yarn_magnitude(self):
        m = self.model("qwen2", scaling=("yarn", 4.0, 128), seed=2)
        from model import rope_tables
        cos, sin = rope_tables(m.hp, [0, 5])
        self.assertAlmostEqual(float(cos[0, 0]), 1 + 0.1 * np.log(4.0), places=12)
        self.assertAlmostEqual(float(cos[1, 0] ** 2 + sin[1, 0] ** 2), (1 + 0.1 * np.log(4)) ** 2,
                               places=12)

    def test_activation_quantization_error_is_half_a_step(self):
        from model import quantize_activations
        x = torch.from_numpy(np.random.default_rng(1).normal(size=(3, 512)))
        for block in (32, 256):
            y = quantize_activations(x, block)
            amax = x.reshape(3, -1, block).abs().amax(dim=-1, keepdim=True)
            err = (y - x).reshape(3, -1, block).abs()
            self.assertTrue(bool((err <= amax / 254 * (1 + 1e-12)).all()))
            self.assertGreater(float(err.max()), 0)

    def test_tied_output_uses_token_embd(self):
        m = self.model("qwen3", tied=True)
        self.assertNotIn("output.weight", m.f.tensors)
        logits = m.forward(IDS[:3])
        self.assertEqual(logits.shape, (3, 258))


if __name__ == "__main__":
    unittest.main()
