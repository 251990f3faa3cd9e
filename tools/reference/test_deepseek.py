"""deepseek.py against the worked values and stated semantics of shared/specs/deepseek.md
(no model file needed: hparams come from a metadata dict, the router from hand examples)."""
import math
import os
import sys
import unittest

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from deepseek import DeepSeekHParams, DeepSeekModel, rope_angles, rope_norm  # noqa: E402

A = "deepseek2"


def meta(**over):
    m = {f"{A}.block_count": 4, f"{A}.embedding_length": 64, f"{A}.attention.head_count": 2,
         f"{A}.attention.layer_norm_rms_epsilon": 1e-6, f"{A}.attention.key_length_mla": 192,
         f"{A}.attention.value_length_mla": 128, f"{A}.rope.dimension_count": 64,
         f"{A}.attention.kv_lora_rank": 512, f"{A}.context_length": 4096,
         f"{A}.rope.scaling.type": "yarn", f"{A}.rope.scaling.factor": 40.0,
         f"{A}.rope.scaling.original_context_length": 4096,
         f"{A}.rope.scaling.yarn_log_multiplier": 0.1, f"{A}.expert_count": 8,
         f"{A}.expert_used_count": 3}
    m.update({f"{A}.{k}": v for k, v in over.items()})
    return m


class Router(DeepSeekModel):
    """Only _route is exercised; no file behind it."""
    def __init__(self, hp):
        self.hp = hp


class DeepSeekReferenceTest(unittest.TestCase):
    def test_sigma_table(self):                       # A.6 worked values
        self.assertAlmostEqual(DeepSeekHParams(meta(), A).sigma, 0.1352338, places=6)
        hp = DeepSeekHParams(meta(**{"rope.scaling.yarn_log_multiplier": 0.0707}), A)
        self.assertAlmostEqual(hp.sigma, 0.1147214, places=6)
        hp = DeepSeekHParams(meta(**{"rope.scaling.type": "none"}), A)
        self.assertAlmostEqual(hp.sigma, 1 / math.sqrt(192), places=7)

    def test_yarn_ramp_range(self):                    # V3: lo = 10, hi = 23
        hp = DeepSeekHParams(meta(), A)
        theta = rope_angles(hp, [1])[0]
        omega = 10000.0 ** (-2.0 * torch.arange(32, dtype=torch.float64) / 64)
        ratio = theta / omega
        self.assertTrue(torch.allclose(ratio[:11], torch.ones(11, dtype=torch.float64)))
        self.assertTrue(torch.allclose(ratio[23:], torch.full((9,), 1 / 40, dtype=torch.float64)))
        self.assertTrue(bool((ratio[11:23] < 1).all() and (ratio[11:23] > 1 / 40).all()))

    def test_rope_pairs_are_adjacent(self):
        x = torch.tensor([[[1.0, 0.0, 0.0, 1.0]]], dtype=torch.float64)
        y = rope_norm(x, torch.tensor([[math.pi / 2, 0.0]], dtype=torch.float64))
        self.assertTrue(torch.allclose(y, torch.tensor([[[0.0, 1.0, 0.0, 1.0]]],
                                                       dtype=torch.float64), atol=1e-12))

    def test_router_bias_selects_only(self):           # A.7, pitfall 6
        r = Router(DeepSeekHParams(meta(**{"expert_count": 4, "expert_used_count": 2,
                                           "expert_gating_func": 2, "expert_weights_norm": True,
                                           "expert_weights_scale": 2.5}), A))
        z = torch.tensor([0.5, 2.0, 1.0, -1.0], dtype=torch.float64)
        ids, w = r._route(z, torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=torch.float64))
        self.assertEqual(ids.tolist(), [3, 1])
        s = torch.sigmoid(z)
        self.assertTrue(torch.allclose(w, 2.5 * s[[3, 1]] / (s[3] + s[1])))

    def test_router_groups_max_without_bias_top2_with(self):
        r = Router(DeepSeekHParams(meta(**{"expert_count": 8, "expert_used_count": 3,
                                           "expert_group_count": 4,
                                           "expert_group_used_count": 2,
                                           "expert_gating_func": 2}), A))
        z = torch.tensor([3.0, -5.0, 1.0, 1.0, 2.0, -5.0, 2.5, 2.4], dtype=torch.float64)
        ids, _ = r._route(z, None)
        self.assertEqual(ids.tolist(), [0, 6, 7])
        ids, _ = r._route(z, torch.zeros(8, dtype=torch.float64))
        self.assertEqual(sorted(ids.tolist()[:2]), [6, 7])
        self.assertIn(ids.tolist()[2], (2, 3))


if __name__ == "__main__":
    unittest.main()
