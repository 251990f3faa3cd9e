"""Plain PyTorch forward of the llama / qwen2 / qwen3 architectures, from
shared/specs/llama-family.md. Written as a spec, not for speed: float64 math on dequantized
weights, naive attention over the whole sequence with a causal mask, no KV cache.

    m = Model(GgufFile(path));  logits = m.forward([ids...])  # [T, V] float64 tensor
"""
import math

import numpy as np
import torch

ROPE_STYLE = {"llama": "norm", "mistral3": "norm", "qwen2": "neox", "qwen3": "neox"}


def _per_layer(v, n_layer):
    return list(v) if isinstance(v, list) else [v] * n_layer


class HParams:
    def __init__(self, meta, arch):
        g = lambda k, d=None: meta.get(f"{arch}.{k}", d)  # noqa: E731
        self.arch = arch
        self.n_ctx = int(g("context_length"))
        self.d = int(g("embedding_length"))
        self.n_layer = int(g("block_count"))
        self.n_ff = _per_layer(g("feed_forward_length"), self.n_layer)
        self.n_head = _per_layer(g("attention.head_count"), self.n_layer)
        self.n_head_kv = _per_layer(g("attention.head_count_kv", g("attention.head_count")),
                                    self.n_layer)
        self.d_k = int(g("attention.key_length", self.d // self.n_head[0]))
        self.d_v = int(g("attention.value_length", self.d_k))
        self.eps = float(g("attention.layer_norm_rms_epsilon"))
        self.n_rot = int(g("rope.dimension_count", self.d_k))
        self.base = float(g("rope.freq_base", 10000.0))
        self.scaling = g("rope.scaling.type", "linear")
        s = g("rope.scaling.factor", g("rope.scale_linear", 0.0)) or 1.0
        self.factor = float(s)
        self.n_orig = int(g("rope.scaling.original_context_length", self.n_ctx))
        self.attn_factor = float(g("rope.scaling.attn_factor", 1.0))
        self.ext = float(g("rope.scaling.yarn_ext_factor", 1.0 if self.scaling == "yarn" else 0.0))
        if arch == "mistral3":
            self.beta_fast = float(g("rope.scaling.yarn_beta_fast", 32.0))
            self.beta_slow = float(g("rope.scaling.yarn_beta_slow", 1.0))
            self.log_mult = float(g("rope.scaling.yarn_log_multiplier", 0.0))
            self.temp_scale = float(g("attention.temperature_scale", 0.0))
        else:
            self.beta_fast, self.beta_slow, self.log_mult, self.temp_scale = 32.0, 1.0, 0.0, 0.0


def rope_tables(hp, positions, rope_freqs=None):
    """cos, sin of shape [T, n_rot/2] (float64), magnitude included (§5)."""
    half = hp.n_rot // 2
    j = torch.arange(half, dtype=torch.float64)
    omega = hp.base ** (-2.0 * j / hp.n_rot)
    ff = torch.ones(half, dtype=torch.float64) if rope_freqs is None else rope_freqs
    p = torch.tensor(positions, dtype=torch.float64).reshape(-1, 1)
    theta = p * (omega / ff).reshape(1, -1)
    mag = 1.0
    if hp.scaling == "linear" or hp.scaling == "none":
        if hp.scaling == "linear":
            theta = theta / hp.factor
    elif hp.scaling == "yarn":
        s = hp.factor

        def c(beta):
            return hp.n_rot * math.log(hp.n_orig / (2 * math.pi * beta)) / (2 * math.log(hp.base))
        lo = max(0.0, math.floor(c(hp.beta_fast)))
        hi = min(hp.n_rot - 1.0, math.ceil(c(hp.beta_slow)))
        r = 1.0 - torch.clamp((j - lo) / max(0.001, hi - lo), 0.0, 1.0)
        mu = hp.ext * r
        theta = theta * (mu + (1.0 - mu) / s).reshape(1, -1)
        mag = hp.attn_factor * (1.0 + 0.1 * math.log(s)) if s > 1 else hp.attn_factor
        if hp.arch == "mistral3" and s > 1:
            mag /= 1.0 + 0.1 * hp.log_mult * math.log(s)
    else:
        raise ValueError(f"rope.scaling.type: unsupported '{hp.scaling}'")
    return torch.cos(theta) * mag, torch.sin(theta) * mag


def apply_rope(x, cos, sin, n_rot, style):
    """x: [T, heads, d_k]; rotates the first n_rot components of every head."""
    half = n_rot // 2
    c, s = cos[:, None, :], sin[:, None, :]
    rot, rest = x[..., :n_rot], x[..., n_rot:]
    if style == "norm":
        a, b = rot[..., 0::2], rot[..., 1::2]
        y = torch.stack([a * c - b * s, a * s + b * c], dim=-1).reshape(rot.shape)
    else:
        a, b = rot[..., :half], rot[..., half:]
        y = torch.cat([a * c - b * s, a * s + b * c], dim=-1)
    return torch.cat([y, rest], dim=-1)


def quantize_activations(x, block):
    """Round-to-nearest symmetric 8-bit codes per block of `block` values along the last dim
    (the Q8_0 / Q8_K activation formats), returned dequantized."""
    if x.shape[-1] % block:
        block = 32          # rows that are not a multiple of 256 hold Q8_0-compatible types
    xb = x.reshape(*x.shape[:-1], -1, block)
    d = xb.abs().amax(dim=-1, keepdim=True) / 127.0
    q = torch.round(xb / torch.where(d > 0, d, torch.ones_like(d)))
    return (q * d).reshape(x.shape)


def rms_norm(x, g, eps):
    return g * (x / torch.sqrt((x * x).mean(dim=-1, keepdim=True) + eps))


class Model:
    def __new__(cls, gguf, *args, **kwargs):
        # deepseek2/32 live in deepseek.py (MLA + MoE); Model(...) builds them transparently.
        if cls is Model and gguf.meta.get("general.architecture") in ("deepseek2", "deepseek32"):
            from deepseek import DeepSeekModel
            return super().__new__(DeepSeekModel)
        if cls is Model and gguf.meta.get("general.architecture") == "deepseek4":
            from deepseek4 import DeepSeek4Model
            return super().__new__(DeepSeek4Model)
        return super().__new__(cls)

    def __init__(self, gguf, dtype=torch.float64, kv_f16=False):
        """kv_f16: round cached k (after RoPE) and v to float16, as an engine with an f16 KV cache
        does; the math stays in `dtype`."""
        self.f, self.dtype, self.kv_f16 = gguf, dtype, kv_f16
        self.act_block = 0   # > 0: emulate 8-bit activation blocks of this size (error studies)
        self.arch = gguf.meta["general.architecture"]
        if self.arch not in ROPE_STYLE:
            raise ValueError(f"general.architecture: unsupported '{self.arch}'")
        self.hp = HParams(gguf.meta, self.arch)
        self.rope_style = ROPE_STYLE[self.arch]
        self.w = {}

    def has(self, name):
        return name in self.f.tensors

    def t(self, name):
        if name not in self.w:
            self.w[name] = torch.from_numpy(np.array(self.f.tensor(name))).to(self.dtype)
        return self.w[name]

    def _opt(self, name):
        return self.t(name) if self.has(name) else None

    def _lin(self, x, wname, bname=None):
        if self.act_block:
            x = quantize_activations(x, self.act_block)
        y = x @ self.t(wname).T
        if bname is not None and self.has(bname):
            y = y + self.t(bname)
        return y

    def _attention(self, i, h, cos, sin):
        hp, pre, T = self.hp, f"blk.{i}.", h.shape[0]
        H, Hkv, dk = hp.n_head[i], hp.n_head_kv[i], hp.d_k
        if self.has(pre + "attn_qkv.weight"):
            qkv = self._lin(h, pre + "attn_qkv.weight", pre + "attn_qkv.bias")
            q, k, v = torch.split(qkv, [H * dk, Hkv * dk, Hkv * hp.d_v], dim=-1)
        else:
            q = self._lin(h, pre + "attn_q.weight", pre + "attn_q.bias")
            k = self._lin(h, pre + "attn_k.weight", pre + "attn_k.bias")
            v = self._lin(h, pre + "attn_v.weight", pre + "attn_v.bias")
        q, k, v = q.reshape(T, H, dk), k.reshape(T, Hkv, dk), v.reshape(T, Hkv, hp.d_v)
        if self.has(pre + "attn_q_norm.weight"):
            q = rms_norm(q, self.t(pre + "attn_q_norm.weight"), hp.eps)
            k = rms_norm(k, self.t(pre + "attn_k_norm.weight"), hp.eps)
        style = self.rope_style
        q = apply_rope(q, cos, sin, hp.n_rot, style)
        k = apply_rope(k, cos, sin, hp.n_rot, style)
        if self.kv_f16:
            k, v = k.to(torch.float16).to(self.dtype), v.to(torch.float16).to(self.dtype)
        if hp.temp_scale:
            p = torch.arange(T, dtype=q.dtype)
            tau = 1.0 + hp.temp_scale * torch.log(1.0 + torch.floor(p / hp.n_orig))
            q = q * tau.reshape(T, 1, 1)
        group = H // Hkv
        kv_of = torch.arange(H) // group                 # query head j reads KV head j // G
        kh, vh = k[:, kv_of, :], v[:, kv_of, :]          # [T, H, dk]
        scores = torch.einsum("thd,shd->hts", q, kh) / math.sqrt(dk)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        scores = scores.masked_fill(mask, float("-inf"))
        a = torch.softmax(scores, dim=-1)
        o = torch.einsum("hts,shd->thd", a, vh).reshape(T, H * hp.d_v)
        return self._lin(o, pre + "attn_output.weight", pre + "attn_output.bias")

    def _ffn(self, i, h):
        pre = f"blk.{i}."
        if self.has(pre + "ffn_gate_inp.weight"):
            return self._moe(i, h)
        g = self._lin(h, pre + "ffn_gate.weight", pre + "ffn_gate.bias")
        u = self._lin(h, pre + "ffn_up.weight", pre + "ffn_up.bias")
        return self._lin(torch.nn.functional.silu(g) * u, pre + "ffn_down.weight",
                         pre + "ffn_down.bias")

    def _moe(self, i, h):
        pre = f"blk.{i}."
        k = int(self.f.meta[f"{self.arch}.expert_used_count"])
        p = torch.softmax(h @ self.t(pre + "ffn_gate_inp.weight").T, dim=-1)
        top_p, top_e = torch.topk(p, k, dim=-1)
        w = top_p / top_p.sum(dim=-1, keepdim=True)
        gate, up = self.t(pre + "ffn_gate_exps.weight"), self.t(pre + "ffn_up_exps.weight")
        down = self.t(pre + "ffn_down_exps.weight")
        y = torch.zeros_like(h)
        for t in range(h.shape[0]):
            for slot in range(k):
                e = int(top_e[t, slot])
                z = torch.nn.functional.silu(gate[e] @ h[t]) * (up[e] @ h[t])
                y[t] += w[t, slot] * (down[e] @ z)
        return y

    def forward(self, ids, last_only=False):
        """Logits [T, V] (float64) for the token ids at positions 0..T-1 ([1, V]: last only)."""
        hp = self.hp
        emb = self.t("token_embd.weight")
        if min(ids) < 0 or max(ids) >= emb.shape[0]:
            raise ValueError("ids: token id out of vocabulary")
        x = emb[torch.tensor(ids)]
        cos, sin = rope_tables(hp, list(range(len(ids))), self._opt("rope_freqs.weight"))
        for i in range(hp.n_layer):
            pre = f"blk.{i}."
            x = x + self._attention(i, rms_norm(x, self.t(pre + "attn_norm.weight"), hp.eps),
                                    cos, sin)
            x = x + self._ffn(i, rms_norm(x, self.t(pre + "ffn_norm.weight"), hp.eps))
        if last_only:
            x = x[-1:]
        x = rms_norm(x, self.t("output_norm.weight"), hp.eps)
        out = "output.weight" if self.has("output.weight") else "token_embd.weight"
        return self._lin(x, out, "output.bias")
