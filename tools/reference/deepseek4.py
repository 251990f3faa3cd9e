"""Plain PyTorch forward of the `deepseek4` architecture (DeepSeek-V4, shared/specs/deepseek.md
Part C), written from the spec only, not for speed: float64 math on dequantized weights, the
whole sequence at once (no cache): compressed entries are pooled directly from the sequence's
per-token features, the raw window and entry visibility are applied per query, the indexer
top-k is recomputed per query. Python loops over queries and tokens stay readable.

mHC streams (C.4), attention with sinks and de-rope (C.5, C.8), compressors (C.6), lightning
indexer (C.7), grouped output (C.8), MoE with sqrt-softplus, hash routing and clamps (C.9).
MTP blocks are not run. model.Model(GgufFile(path)) returns a DeepSeek4Model for deepseek4.

kv_f16=True rounds what a cache stores (raw kv after RoPE, compressed main and indexer entries
after RMSNorm + RoPE) to float16, as cachet's default f16 cache does.
"""
import math

import torch

from model import Model, quantize_activations, rms_norm


class Ds4HParams:
    def __init__(self, meta):
        g = lambda k, d=None: meta.get(f"deepseek4.{k}", d)  # noqa: E731
        self.n_layer = int(g("block_count")) - int(g("nextn_predict_layers", 0) or 0)
        self.d = int(g("embedding_length"))
        self.H = int(g("attention.head_count"))
        self.D = int(g("attention.key_length"))
        self.r = int(g("rope.dimension_count"))
        self.eps = float(g("attention.layer_norm_rms_epsilon"))
        self.n_swa = int(g("attention.sliding_window"))
        self.G = int(g("attention.output_group_count"))
        self.r_o = int(g("attention.output_lora_rank"))
        self.ratios = [int(v) for v in g("attention.compress_ratios")]
        self.HI = int(g("attention.indexer.head_count", 0))
        self.dI = int(g("attention.indexer.key_length", 0))
        self.topk = int(g("attention.indexer.top_k", 0))
        self.hc = int(g("hyper_connection.count", 4))
        self.n_sk = int(g("hyper_connection.sinkhorn_iterations", 20))
        self.eps_hc = float(g("hyper_connection.epsilon", 1e-6))
        self.n_hash = int(g("hash_layer_count", 0))
        self.k = int(g("expert_used_count"))
        self.gamma = float(g("expert_weights_scale"))
        self.norm_w = bool(g("expert_weights_norm"))
        clamp = g("swiglu_clamp_exp")
        self.clamp = [float(v) for v in clamp] if isinstance(clamp, list) else [float(clamp)] * 99
        sh = g("swiglu_clamp_shexp", clamp)
        self.clamp_sh = [float(v) for v in sh] if isinstance(sh, list) else [float(sh)] * 99
        self.base = float(g("rope.freq_base", 10000.0))
        self.base_c = float(g("attention.compress_rope_freq_base"))
        self.yarn = g("rope.scaling.type", "none") == "yarn"
        self.s = float(g("rope.scaling.factor", 1.0) or 1.0)
        self.n_orig = int(g("rope.scaling.original_context_length", g("context_length")))


def angles(hp, ratio, positions):
    """theta [T, r/2] of the layer regime (C.5): SWA plain base; compressed base_c + YaRN."""
    r = hp.r
    j = torch.arange(r // 2, dtype=torch.float64)
    base = hp.base if ratio == 0 else hp.base_c
    omega = base ** (-2.0 * j / r)
    if ratio != 0 and hp.yarn and hp.s > 1:
        def c(beta):
            return r * math.log(hp.n_orig / (2 * math.pi * beta)) / (2 * math.log(base))
        lo, hi = max(0.0, math.floor(c(32.0))), min(r - 1.0, math.ceil(c(1.0)))
        ramp = 1.0 - torch.clamp((j - lo) / max(0.001, hi - lo), 0.0, 1.0)
        omega = omega * (ramp + (1.0 - ramp) / hp.s)
    p = torch.tensor(positions, dtype=torch.float64).reshape(-1, 1)
    return p * omega.reshape(1, -1)


def rope_last(x, theta, r, inverse=False):
    """Rotates adjacent pairs of the LAST r values of x [..., n] by theta [..., r/2]
    (broadcast against x's leading dims); inverse rotates by -theta."""
    th = -theta if inverse else theta
    c, s = torch.cos(th), torch.sin(th)
    head, tail = x[..., :-r], x[..., -r:]
    a, b = tail[..., 0::2], tail[..., 1::2]
    rot = torch.stack([a * c - b * s, a * s + b * c], dim=-1).reshape(tail.shape)
    return torch.cat([head, rot], dim=-1)


def sinkhorn(c0, n, eps):
    """c0 [T, hc, hc] (row a = source, column b = destination), C.4."""
    c = torch.softmax(c0, dim=-1) + eps
    c = c / (c.sum(dim=-2, keepdim=True) + eps)
    for _ in range(n - 1):
        c = c / (c.sum(dim=-1, keepdim=True) + eps)
        c = c / (c.sum(dim=-2, keepdim=True) + eps)
    return c


class DeepSeek4Model(Model):
    def __init__(self, gguf, dtype=torch.float64, kv_f16=False):
        self.f, self.dtype, self.kv_f16 = gguf, dtype, kv_f16
        self.act_block = 0
        self.arch = "deepseek4"
        self.hp = Ds4HParams(gguf.meta)
        self.w = {}

    def _q(self, x):
        return quantize_activations(x, self.act_block) if self.act_block else x

    def _round(self, x):
        return x.to(torch.float16).to(self.dtype) if self.kv_f16 else x

    # ---- mHC (C.4) ----
    def _mhc(self, X, pre, fn):
        hp = self.hp
        T, hc = X.shape[0], hp.hc
        f = X.reshape(T, -1)
        m = (f / torch.sqrt((f * f).mean(-1, keepdim=True) + hp.eps)) @ self.t(pre + "_fn.weight").T
        base, scale = self.t(pre + "_base.weight"), self.t(pre + "_scale.weight")
        pre_w = torch.sigmoid(m[:, :hc] * scale[0] + base[:hc]) + hp.eps_hc
        post = 2 * torch.sigmoid(m[:, hc:2 * hc] * scale[1] + base[hc:2 * hc])
        c0 = (m[:, 2 * hc:] * scale[2] + base[2 * hc:]).reshape(T, hc, hc)
        c = sinkhorn(c0, hp.n_sk, hp.eps_hc)
        u = (pre_w[:, :, None] * X).sum(1)
        y = fn(u)
        return post[:, :, None] * y[:, None, :] + torch.einsum("tab,tad->tbd", c, X)

    def _head(self, X):
        hp = self.hp
        T = X.shape[0]
        f = X.reshape(T, -1)
        m = (f / torch.sqrt((f * f).mean(-1, keepdim=True) + hp.eps)) @ self.t("output_hc_fn.weight").T
        pre_w = torch.sigmoid(m * self.t("output_hc_scale.weight")[0]
                              + self.t("output_hc_base.weight")) + hp.eps_hc
        return (pre_w[:, :, None] * X).sum(1)

    # ---- compressors (C.6) ----
    def _entries(self, pre, h, R, W, theta_of):
        """Compressed entries [n_blocks, W] of the completed blocks of the sequence."""
        hp, T = self.hp, h.shape[0]
        a = self._lin(h, pre + "kv.weight")
        ape = self.t(pre + "ape.weight")                       # [R, kappa W]
        z = self._lin(h, pre + "gate.weight") + ape[torch.arange(T) % R]
        out = []
        for b in range(T // R):
            cur = slice(b * R, (b + 1) * R)
            if R == 4:
                ca, cz = a[cur, W:], z[cur, W:]
                if b > 0:
                    prev = slice((b - 1) * R, b * R)
                    ca, cz = torch.cat([a[prev, :W], ca]), torch.cat([z[prev, :W], cz])
            else:
                ca, cz = a[cur], z[cur]
            e = (torch.softmax(cz, dim=0) * ca).sum(0)
            e = rms_norm(e[None, :], self.t(pre + "norm.weight"), hp.eps)
            out.append(self._round(rope_last(e, theta_of([b * R]), hp.r))[0])
        return torch.stack(out) if out else torch.zeros(0, W, dtype=self.dtype)

    def _selected(self, i, p, qlat, h, kI, theta):
        """CSA: indices of the top-k indexer scores of query p (C.7); ties to the lower index."""
        hp, pre = self.hp, f"blk.{i}."
        n_vis = (p + 1) // 4
        if n_vis <= hp.topk:
            return list(range(n_vis))
        qi = self._lin(qlat[p:p + 1], pre + "indexer.attn_q_b.weight").reshape(hp.HI, hp.dI)
        qi = rope_last(qi, theta[p:p + 1].expand(hp.HI, -1), hp.r)
        wi = self._lin(h[p:p + 1], pre + "indexer.proj.weight")[0] / math.sqrt(hp.dI * hp.HI)
        score = (wi[:, None] * torch.relu(qi @ kI[:n_vis].T)).sum(0)
        return torch.sort(-score, stable=True).indices[:hp.topk].tolist()

    def _attention(self, i, h):
        hp, pre, T = self.hp, f"blk.{i}.", h.shape[0]
        R = hp.ratios[i]
        theta_of = lambda pos: angles(hp, R, pos)  # noqa: E731
        theta = theta_of(list(range(T)))
        qlat = rms_norm(self._lin(h, pre + "attn_q_a.weight"), self.t(pre + "attn_q_a_norm.weight"),
                        hp.eps)
        q = self._lin(qlat, pre + "attn_q_b.weight").reshape(T, hp.H, hp.D)
        q = q / torch.sqrt((q * q).mean(-1, keepdim=True) + hp.eps)
        q = rope_last(q.transpose(0, 1), theta, hp.r).transpose(0, 1)     # [T, H, D]
        kv = rms_norm(self._lin(h, pre + "attn_kv.weight"), self.t(pre + "attn_kv_a_norm.weight"),
                      hp.eps)
        kv = self._round(rope_last(kv, theta, hp.r))
        comp = kI = None
        if R:
            comp = self._entries(pre + "attn_compressor_", h, R, hp.D, theta_of)
        if R == 4:
            kI = self._entries(pre + "indexer_compressor_", h, 4, hp.dI, theta_of)
        sinks = self.t(pre + "attn_sinks.weight")
        o = torch.zeros(T, hp.H, hp.D, dtype=self.dtype)
        for p in range(T):
            keys = kv[max(0, p - hp.n_swa + 1):p + 1]
            if R == 128:
                keys = torch.cat([keys, comp[:(p + 1) // 128]])
            elif R == 4:
                keys = torch.cat([keys, comp[self._selected(i, p, qlat, h, kI, theta)]])
            logit = (q[p] @ keys.T) / math.sqrt(hp.D)                       # [H, n]
            mx = torch.maximum(logit.max(-1).values, sinks)
            e = torch.exp(logit - mx[:, None])
            alpha = e / (torch.exp(sinks - mx) + e.sum(-1))[:, None]
            o[p] = rope_last(alpha @ keys, theta[p:p + 1].expand(hp.H, -1), hp.r, inverse=True)
        o = o.reshape(T, hp.H * hp.D)
        wa = self.t(pre + "attn_output_a.weight")                           # [G r_o, H D / G]
        gw = hp.H * hp.D // hp.G
        z = torch.cat([self._q(o[:, g * gw:(g + 1) * gw]) @ wa[g * hp.r_o:(g + 1) * hp.r_o].T
                       for g in range(hp.G)], dim=-1)
        return self._lin(z, pre + "attn_output_b.weight")

    # ---- MoE (C.9) ----
    def _expert(self, x, gate, up, down, lam):
        x = self._q(x)
        g, v = x @ gate.T, x @ up.T
        if lam > 0:
            v, g = torch.clamp(v, -lam, lam), torch.clamp(g, max=lam)
        return self._q(torch.nn.functional.silu(g) * v) @ down.T

    def _moe(self, i, h, ids):
        hp, pre = self.hp, f"blk.{i}."
        gate, up = self.t(pre + "ffn_gate_exps.weight"), self.t(pre + "ffn_up_exps.weight")
        down = self.t(pre + "ffn_down_exps.weight")
        P = torch.sqrt(torch.nn.functional.softplus(h @ self.t(pre + "ffn_gate_inp.weight").T))
        table = None
        if i < hp.n_hash:
            table = torch.from_numpy(self.f.tensor(pre + "ffn_gate_tid2eid.weight")).long()
        y = torch.zeros_like(h)
        for t in range(h.shape[0]):
            if table is not None:
                sel = table[ids[t]]
            else:
                sel = torch.topk(P[t] + self.t(pre + "exp_probs_b.bias"), hp.k).indices
            w = P[t, sel]
            if hp.norm_w:
                w = w / w.sum()
            for e, we in zip(sel.tolist(), (w * hp.gamma).tolist()):
                y[t] += we * self._expert(h[t:t + 1], gate[e], up[e], down[e], hp.clamp[i])[0]
        if self.has(pre + "ffn_gate_shexp.weight"):
            y = y + self._expert(h, self.t(pre + "ffn_gate_shexp.weight"),
                                 self.t(pre + "ffn_up_shexp.weight"),
                                 self.t(pre + "ffn_down_shexp.weight"), hp.clamp_sh[i])
        return y

    def forward(self, ids, last_only=False):
        """Logits [T, V] (float64) for the token ids at positions 0..T-1 ([1, V]: last only)."""
        hp = self.hp
        emb = self.t("token_embd.weight")
        if min(ids) < 0 or max(ids) >= emb.shape[0]:
            raise ValueError("ids: token id out of vocabulary")
        X = emb[torch.tensor(ids)][:, None, :].repeat(1, hp.hc, 1)         # [T, hc, d]
        for i in range(hp.n_layer):
            pre = f"blk.{i}."
            X = self._mhc(X, pre + "hc_attn",
                          lambda u: self._attention(i, rms_norm(u, self.t(pre + "attn_norm.weight"),
                                                                hp.eps)))
            X = self._mhc(X, pre + "hc_ffn",
                          lambda u: self._moe(i, rms_norm(u, self.t(pre + "ffn_norm.weight"),
                                                          hp.eps), ids))
        if last_only:
            X = X[-1:]
        x = rms_norm(self._head(X), self.t("output_norm.weight"), hp.eps)
        return self._lin(x, "output.weight")
