"""Minimal independent GGUF writer (gguf.md §1-§4) plus simple quantizers (F32, F16, BF16, Q8_0,
Q4_0) and a synthetic llama/qwen2/qwen3 model builder. Lets numerics tests produce model files
without cachet's writer, so cachet is also checked on files it did not write itself.

    w = GgufWriter(); w.add("llama.block_count", 2, "u32"); w.add_tensor(name, f32_array, "Q8_0")
    w.write(path)
"""
import struct

import numpy as np

from gguf_read import TYPE_IDS

_VT = {"u8": (0, "<B"), "i8": (1, "<b"), "u16": (2, "<H"), "i16": (3, "<h"), "u32": (4, "<I"),
       "i32": (5, "<i"), "f32": (6, "<f"), "bool": (7, "<?"), "u64": (10, "<Q"),
       "i64": (11, "<q"), "f64": (12, "<d")}


def _str(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _value(v, vt):
    """Encoded (type id, bytes). vt: scalar type name, 'str', or 'arr:<elem>'."""
    if vt == "str":
        return 8, _str(v)
    if vt.startswith("arr:"):
        et = vt[4:]
        eid = 8 if et == "str" else _VT[et][0]
        body = b"".join(_value(x, et)[1] for x in v)
        return 9, struct.pack("<IQ", eid, len(v)) + body
    tid, fmt = _VT[vt]
    return tid, struct.pack(fmt, v)


def quantize(x, type_name):
    """Row-wise quantization of a float array (last dim = ne0) -> uint8 bytes."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    if type_name == "F32":
        return x.tobytes()
    if type_name == "F16":
        return x.astype("<f2").tobytes()
    if type_name == "BF16":
        u = x.view(np.uint32).astype(np.uint64)
        r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype("<u2")  # round to nearest even
        return r.tobytes()
    blocks = x.reshape(-1, 32)
    amax_i = np.argmax(np.abs(blocks), axis=1)
    if type_name == "Q8_0":
        d = np.abs(blocks).max(axis=1) / 127.0
        inv = np.where(d > 0, 1.0 / np.where(d > 0, d, 1), 0)
        q = np.clip(np.rint(blocks * inv[:, None]), -127, 127).astype(np.int8)
        out = np.empty((blocks.shape[0], 34), np.uint8)
        out[:, 0:2] = d.astype("<f2").reshape(-1, 1).view(np.uint8)
        out[:, 2:] = q.view(np.uint8)
        return out.tobytes()
    if type_name == "Q4_0":
        mx = blocks[np.arange(blocks.shape[0]), amax_i]      # signed value of largest magnitude
        d = mx / -8.0
        inv = np.where(d != 0, 1.0 / np.where(d != 0, d, 1), 0)
        q = np.clip(np.floor(blocks * inv[:, None] + 8.5), 0, 15).astype(np.uint8)
        out = np.empty((blocks.shape[0], 18), np.uint8)
        out[:, 0:2] = d.astype("<f2").reshape(-1, 1).view(np.uint8)
        out[:, 2:] = q[:, :16] | (q[:, 16:] << 4)
        return out.tobytes()
    raise ValueError(f"quantize: unsupported type {type_name}")


class GgufWriter:
    def __init__(self, alignment=32):
        self.kv, self.tensors, self.alignment = [], [], alignment

    def add(self, key, value, vt):
        self.kv.append((key, value, vt))

    def add_tensor(self, name, array, type_name="F32"):
        ne = list(reversed(np.shape(array)))
        self.tensors.append((name, ne, TYPE_IDS[type_name], quantize(array, type_name)))

    def write(self, path):
        a = self.alignment
        head = b"GGUF" + struct.pack("<Iqq", 3, len(self.tensors), len(self.kv))
        for key, v, vt in self.kv:
            tid, body = _value(v, vt)
            head += _str(key) + struct.pack("<I", tid) + body
        off, offsets = 0, []
        for _, _, _, data in self.tensors:
            offsets.append(off)
            off += (len(data) + a - 1) // a * a
        for (name, ne, tid, _), o in zip(self.tensors, offsets):
            head += _str(name) + struct.pack("<I", len(ne)) + struct.pack(f"<{len(ne)}q", *ne)
            head += struct.pack("<IQ", tid, o)
        with open(path, "wb") as f:
            f.write(head + b"\0" * ((-len(head)) % a))
            for _, _, _, data in self.tensors:
                f.write(data + b"\0" * ((-len(data)) % a))


def byte_vocab():
    """256 byte-level tokens (GPT-2 byte map, gguf.md §5.1) + 2 control tokens."""
    keep = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cp, n = {}, 0
    for b in range(256):
        if b in keep:
            cp[b] = b
        else:
            cp[b] = 256 + n
            n += 1
    tokens = [chr(cp[b]) for b in range(256)] + ["<|bos|>", "<|eos|>"]
    return tokens, [1] * 256 + [3, 3]


def make_model(path, arch, wtype="F32", seed=0, d=64, n_layer=2, n_head=4, n_head_kv=2,
               d_k=16, n_ff=128, n_ctx=512, base=10000.0, eps=1e-5, tied=False,
               rope_freqs=None, scaling=None):
    """Writes a random model of `arch` (llama, qwen2, qwen3) with a 258-token byte vocabulary.
    Matrices use `wtype`; norms, biases and rope_freqs stay F32. Returns the path."""
    rng = np.random.default_rng(seed)
    tokens, types = byte_vocab()
    V = len(tokens)
    w = GgufWriter()
    w.add("general.architecture", arch, "str")
    w.add("general.name", f"ref-{arch}", "str")
    for k, v in [("context_length", n_ctx), ("embedding_length", d), ("block_count", n_layer),
                 ("feed_forward_length", n_ff), ("attention.head_count", n_head),
                 ("attention.head_count_kv", n_head_kv), ("attention.key_length", d_k),
                 ("attention.value_length", d_k), ("rope.dimension_count", d_k)]:
        w.add(f"{arch}.{k}", v, "u32")
    w.add(f"{arch}.attention.layer_norm_rms_epsilon", eps, "f32")
    w.add(f"{arch}.rope.freq_base", base, "f32")
    if scaling:
        w.add(f"{arch}.rope.scaling.type", scaling[0], "str")
        w.add(f"{arch}.rope.scaling.factor", scaling[1], "f32")
        if len(scaling) > 2:
            w.add(f"{arch}.rope.scaling.original_context_length", scaling[2], "u32")
    w.add("tokenizer.ggml.model", "gpt2", "str")
    w.add("tokenizer.ggml.pre", "qwen2", "str")
    w.add("tokenizer.ggml.tokens", tokens, "arr:str")
    w.add("tokenizer.ggml.token_type", types, "arr:i32")
    w.add("tokenizer.ggml.merges", [], "arr:str")
    w.add("tokenizer.ggml.bos_token_id", 256, "u32")
    w.add("tokenizer.ggml.eos_token_id", 257, "u32")

    def mat(n, k):
        return rng.uniform(-1, 1, (n, k)).astype(np.float32) * np.float32(np.sqrt(3.0 / k))

    def norm(n):
        return (1.0 + rng.uniform(-0.1, 0.1, n)).astype(np.float32)

    w.add_tensor("token_embd.weight", rng.uniform(-1, 1, (V, d)).astype(np.float32), wtype)
    w.add_tensor("output_norm.weight", norm(d))
    if not tied:
        w.add_tensor("output.weight", mat(V, d), wtype)
    if rope_freqs is not None:
        w.add_tensor("rope_freqs.weight", np.asarray(rope_freqs, np.float32))
    for i in range(n_layer):
        p = f"blk.{i}."
        w.add_tensor(p + "attn_norm.weight", norm(d))
        w.add_tensor(p + "attn_q.weight", mat(n_head * d_k, d), wtype)
        w.add_tensor(p + "attn_k.weight", mat(n_head_kv * d_k, d), wtype)
        w.add_tensor(p + "attn_v.weight", mat(n_head_kv * d_k, d), wtype)
        if arch == "qwen2":
            for n, width in [("q", n_head * d_k), ("k", n_head_kv * d_k), ("v", n_head_kv * d_k)]:
                w.add_tensor(p + f"attn_{n}.bias", rng.uniform(-0.1, 0.1, width).astype(
                    np.float32))
        if arch == "qwen3":
            w.add_tensor(p + "attn_q_norm.weight", norm(d_k))
            w.add_tensor(p + "attn_k_norm.weight", norm(d_k))
        w.add_tensor(p + "attn_output.weight", mat(d, n_head * d_k), wtype)
        w.add_tensor(p + "ffn_norm.weight", norm(d))
        w.add_tensor(p + "ffn_gate.weight", mat(n_ff, d), wtype)
        w.add_tensor(p + "ffn_up.weight", mat(n_ff, d), wtype)
        w.add_tensor(p + "ffn_down.weight", mat(d, n_ff), wtype)
    w.write(path)
    return path
