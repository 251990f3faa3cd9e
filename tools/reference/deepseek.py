"""Plain PyTorch forward of the `deepseek2` architecture (DeepSeek-V2/V3: MLA + DeepSeekMoE) and
of `deepseek32` (V3.2: + the lightning indexer, Part B), written from shared/specs/deepseek.md as
a spec, not for speed: float64 math on
dequantized weights, NAIVE attention (K and V decompressed per head from the latent, ordinary
MHA with a causal mask; never the absorbed form), per-token expert loop, no KV cache.

model.Model(GgufFile(path)) returns a DeepSeekModel for deepseek2 / deepseek32, so
logits.py and tests/numerics/run_numerics.py use it unchanged. MTP blocks are not run.
"""
import math

import torch

from model import Model, quantize_activations, rms_norm


class DeepSeekHParams:
    def __init__(self, meta, arch):
        g = lambda k, d=None: meta.get(f"{arch}.{k}", d)  # noqa: E731
        self.n_layer_all = int(g("block_count"))
        self.n_mtp = int(g("nextn_predict_layers", 0))
        self.n_layer = self.n_layer_all - self.n_mtp
        self.d = int(g("embedding_length"))
        self.n_head = int(g("attention.head_count"))
        self.eps = float(g("attention.layer_norm_rms_epsilon"))
        if g("attention.key_length_mla") is None:          # legacy file (attn_kv_b)
            self.d_qk, self.d_v = int(g("attention.key_length")), int(g("attention.value_length"))
        else:
            self.d_qk = int(g("attention.key_length_mla"))
            self.d_v = int(g("attention.value_length_mla"))
        self.r = int(g("rope.dimension_count"))
        self.d_nope = self.d_qk - self.r
        self.r_q = int(g("attention.q_lora_rank", 0) or 0)
        self.r_kv = int(g("attention.kv_lora_rank"))
        self.n_dense = int(g("leading_dense_block_count", 0))
        self.n_expert = int(g("expert_count", 0))
        self.n_used = int(g("expert_used_count", 0))
        self.n_group = int(g("expert_group_count", 1) or 1)
        self.n_group_used = int(g("expert_group_used_count", 1) or 1)
        self.gating = int(g("expert_gating_func", 1) or 1)          # 1 softmax, 2 sigmoid
        self.weights_norm = bool(g("expert_weights_norm", False))
        self.gamma = float(g("expert_weights_scale", 1.0) or 1.0)
        self.base = float(g("rope.freq_base", 10000.0))
        self.scaling = g("rope.scaling.type", "none")
        self.s = float(g("rope.scaling.factor", 1.0) or 1.0)
        self.n_orig = int(g("rope.scaling.original_context_length", g("context_length")))
        self.M = float(g("rope.scaling.yarn_log_multiplier", 0.0)) / 0.1   # A.2 legacy quirk
        yarn = self.scaling == "yarn" and self.s > 1
        gfac = 1.0 + 0.1 * self.M * math.log(self.s) if yarn else 1.0
        self.yarn = yarn
        self.sigma = gfac * gfac / math.sqrt(self.d_qk)                    # A.6
        self.idx_heads = int(g("attention.indexer.head_count", 0))          # B.1
        self.idx_dim = int(g("attention.indexer.key_length", 0))
        self.idx_top_k = int(g("attention.indexer.top_k", 0))


def rope_angles(hp, positions):
    """theta[T, r/2] per Part 0 (YaRN ramp between the beta_fast / beta_slow corrections)."""
    r = hp.r
    j = torch.arange(r // 2, dtype=torch.float64)
    omega = hp.base ** (-2.0 * j / r)
    if hp.yarn:
        def c(beta):
            return r * math.log(hp.n_orig / (2 * math.pi * beta)) / (2 * math.log(hp.base))
        lo, hi = max(0.0, math.floor(c(32.0))), min(r - 1.0, math.ceil(c(1.0)))
        ramp = 1.0 - torch.clamp((j - lo) / max(0.001, hi - lo), 0.0, 1.0)
        omega = omega * (ramp + (1.0 - ramp) / hp.s)
    p = torch.tensor(positions, dtype=torch.float64).reshape(-1, 1)
    return p * omega.reshape(1, -1)


def rope_neox_front(x, theta, r):
    """x[T, heads, D]: rotate pairs (j, j + r/2) of the FIRST r values (the indexer layout)."""
    c = torch.cos(theta)[:, None, :].to(x.dtype)
    s = torch.sin(theta)[:, None, :].to(x.dtype)
    a, b, rest = x[..., :r // 2], x[..., r // 2:r], x[..., r:]
    return torch.cat([a * c - b * s, a * s + b * c, rest], dim=-1)


def layer_norm(x, g, b, eps):
    m = x.mean(dim=-1, keepdim=True)
    v = ((x - m) ** 2).mean(dim=-1, keepdim=True)
    return (x - m) / torch.sqrt(v + eps) * g + b


def rope_norm(x, theta):
    """x[T, heads, r]: rotate adjacent pairs (2j, 2j+1) by theta[T, j] (magnitude 1)."""
    c = torch.cos(theta)[:, None, :].to(x.dtype)
    s = torch.sin(theta)[:, None, :].to(x.dtype)
    a, b = x[..., 0::2], x[..., 1::2]
    return torch.stack([a * c - b * s, a * s + b * c], dim=-1).reshape(x.shape)


class DeepSeekModel(Model):
    def __init__(self, gguf, dtype=torch.float64, kv_f16=False):
        self.f, self.dtype, self.kv_f16 = gguf, dtype, kv_f16
        self.act_block = 0
        self.arch = gguf.meta["general.architecture"]
        self.hp = DeepSeekHParams(gguf.meta, self.arch)
        self.w = {}

    def _q(self, x):
        return quantize_activations(x, self.act_block) if self.act_block else x

    def _attention(self, i, h, theta):
        hp, pre, T = self.hp, f"blk.{i}.", h.shape[0]
        H = hp.n_head
        qa = None
        if hp.r_q:
            qa = rms_norm(self._lin(h, pre + "attn_q_a.weight"), self.t(pre + "attn_q_a_norm.weight"),
                          hp.eps)
            q = self._lin(qa, pre + "attn_q_b.weight")
        else:
            q = self._lin(h, pre + "attn_q.weight")
        q = q.reshape(T, H, hp.d_qk)
        qn, qr = q[..., :hp.d_nope], q[..., hp.d_nope:]
        kva = self._lin(h, pre + "attn_kv_a_mqa.weight")
        c = rms_norm(kva[:, :hp.r_kv], self.t(pre + "attn_kv_a_norm.weight"), hp.eps)
        kr = kva[:, hp.r_kv:].reshape(T, 1, hp.r)
        qr, kr = rope_norm(qr, theta), rope_norm(kr, theta)
        if self.kv_f16:   # what an f16 latent cache holds
            c, kr = c.to(torch.float16).to(self.dtype), kr.to(torch.float16).to(self.dtype)
        if self.has(pre + "attn_k_b.weight"):
            kb = self.t(pre + "attn_k_b.weight")   # [H, r_kv, d_nope]: Kb_h
            vb = self.t(pre + "attn_v_b.weight")   # [H, d_v, r_kv]:    Vb_h
        else:                                      # A.5.1: HF kv_b_proj, per head [W_UK; W_UV]
            kvb = self.t(pre + "attn_kv_b.weight").reshape(H, hp.d_nope + hp.d_v, hp.r_kv)
            kb, vb = kvb[:, :hp.d_nope, :].transpose(1, 2), kvb[:, hp.d_nope:, :]
        cq = self._q(c)
        kn = torch.einsum("hcd,tc->thd", kb, cq)            # kn_h(t) = Kb_h^T c(t)
        v = torch.einsum("hjc,tc->thj", vb, cq)             # v_h(t)  = Vb_h c(t)
        k = torch.cat([kn, kr.expand(T, H, hp.r)], dim=-1)
        qf = torch.cat([qn, qr], dim=-1)
        scores = torch.einsum("thd,shd->hts", qf, k) * hp.sigma
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        if self.has(pre + "indexer.attn_q_b.weight"):
            mask = mask | ~self._indexer_keep(pre, h, qa, theta)
        a = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
        o = torch.einsum("hts,shd->thd", a, v).reshape(T, H * hp.d_v)
        return self._lin(o, pre + "attn_output.weight")

    def _indexer_keep(self, pre, h, qa, theta):
        """[T, T] bool: position s is among query t's top-k indexer scores (B.2)."""
        hp, T = self.hp, h.shape[0]
        HI, DI = hp.idx_heads, hp.idx_dim
        qi = self._lin(qa, pre + "indexer.attn_q_b.weight").reshape(T, HI, DI)
        ki = layer_norm(self._lin(h, pre + "indexer.attn_k.weight"),
                        self.t(pre + "indexer.k_norm.weight"), self.t(pre + "indexer.k_norm.bias"),
                        1e-6).reshape(T, 1, DI)
        qi, ki = rope_neox_front(qi, theta, hp.r), rope_neox_front(ki, theta, hp.r)
        if self.kv_f16:
            ki = ki.to(torch.float16).to(self.dtype)
        w = self._lin(h, pre + "indexer.proj.weight") / math.sqrt(DI * HI)       # [T, HI]
        dots = torch.relu(torch.einsum("thd,sd->ths", qi, ki[:, 0, :]))          # [T, HI, T]
        score = torch.einsum("th,ths->ts", w, dots)
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        score = score.masked_fill(~causal, float("-inf"))
        keep = causal.clone()
        for t in range(T):
            if t + 1 > hp.idx_top_k:
                row = torch.zeros(T, dtype=torch.bool)
                # ReLU makes exact ties (score 0) common: lower positions win, as in cachet
                row[torch.sort(-score[t], stable=True).indices[:hp.idx_top_k]] = True
                keep[t] = row
        return keep

    def _expert(self, x, gate, up, down):
        x = self._q(x)
        z = torch.nn.functional.silu(x @ gate.T) * (x @ up.T)
        return self._q(z) @ down.T

    def _route(self, z, bias):
        """Expert ids and weights of one token from router logits z[E] (A.7)."""
        hp = self.hp
        p = torch.softmax(z, dim=-1) if hp.gating == 1 else torch.sigmoid(z)
        b = p + bias if bias is not None else p.clone()
        if hp.n_group > 1:
            g = b.reshape(hp.n_group, -1)
            score = g.topk(2, dim=-1).values.sum(-1) if bias is not None else g.max(-1).values
            keep = torch.zeros(hp.n_group, dtype=torch.bool)
            keep[score.topk(hp.n_group_used).indices] = True
            b = g.masked_fill(~keep[:, None], float("-inf")).reshape(-1)
        ids = b.topk(hp.n_used).indices
        w = p[ids]
        if hp.weights_norm:
            w = w / max(float(w.sum()), 6.1035e-5)
        return ids, w * hp.gamma

    def _moe(self, i, h):
        pre = f"blk.{i}."
        router = self.t(pre + "ffn_gate_inp.weight")
        bias = self._opt(pre + "exp_probs_b.bias")
        gate, up = self.t(pre + "ffn_gate_exps.weight"), self.t(pre + "ffn_up_exps.weight")
        down = self.t(pre + "ffn_down_exps.weight")
        y = torch.zeros_like(h)
        for t in range(h.shape[0]):
            ids, w = self._route(h[t] @ router.T, bias)
            for e, we in zip(ids.tolist(), w):
                y[t] += we * self._expert(h[t:t + 1], gate[e], up[e], down[e])[0]
        if self.has(pre + "ffn_gate_shexp.weight"):
            y = y + self._expert(h, self.t(pre + "ffn_gate_shexp.weight"),
                                 self.t(pre + "ffn_up_shexp.weight"),
                                 self.t(pre + "ffn_down_shexp.weight"))
        return y

    def _ffn(self, i, h):
        pre = f"blk.{i}."
        if i >= self.hp.n_dense:
            return self._moe(i, h)
        return self._expert(h, self.t(pre + "ffn_gate.weight"), self.t(pre + "ffn_up.weight"),
                            self.t(pre + "ffn_down.weight"))

    def forward(self, ids, last_only=False):
        """Logits [T, V] (float64) for the token ids at positions 0..T-1 ([1, V]: last only)."""
        hp = self.hp
        emb = self.t("token_embd.weight")
        if min(ids) < 0 or max(ids) >= emb.shape[0]:
            raise ValueError("ids: token id out of vocabulary")
        x = emb[torch.tensor(ids)]
        theta = rope_angles(hp, list(range(len(ids))))
        for i in range(hp.n_layer):
            pre = f"blk.{i}."
            x = x + self._attention(i, rms_norm(x, self.t(pre + "attn_norm.weight"), hp.eps), theta)
            x = x + self._ffn(i, rms_norm(x, self.t(pre + "ffn_norm.weight"), hp.eps))
        if last_only:
            x = x[-1:]
        x = rms_norm(x, self.t("output_norm.weight"), hp.eps)
        return self._lin(x, "output.weight" if self.has("output.weight") else "token_embd.weight")
