"""Independent GGUF reader and dequantizers (numpy), written from shared/specs/gguf.md §1-§6.

Used as the reference side of cachet's numerics tests: it shares no code with cachet's C++
reader. GgufFile(path) parses the header, metadata and tensor-info table; tensor(name) returns
the dequantized values as float32 numpy arrays shaped like torch weights (ne reversed, so a
2-D ne=[K, N] tensor comes back as an (N, K) matrix). Errors raise ValueError naming the field.
"""
import struct

import numpy as np

GGUF_MAGIC = b"GGUF"

# value type id -> (struct format, size) for scalars (§2)
_SCALARS = {0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4),
            6: ("<f", 4), 7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8)}
T_STRING, T_ARRAY = 8, 9

# ggml type id -> (name, block elements, block bytes) (§6)
TYPES = {0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 8: ("Q8_0", 32, 34),
         12: ("Q4_K", 256, 144), 13: ("Q5_K", 256, 176), 14: ("Q6_K", 256, 210),
         30: ("BF16", 1, 2), 39: ("MXFP4", 32, 17), 24: ("I8", 1, 1), 25: ("I16", 1, 2),
         26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8)}
TYPE_IDS = {v[0]: k for k, v in TYPES.items()}


class _Cursor:
    def __init__(self, buf):
        self.buf, self.pos = buf, 0

    def take(self, n, what):
        if n < 0 or self.pos + n > len(self.buf):
            raise ValueError(f"truncated file reading {what} at offset {self.pos}")
        b = self.buf[self.pos:self.pos + n]
        self.pos += n
        return bytes(b)

    def scalar(self, t, what):
        fmt, size = _SCALARS[t]
        return struct.unpack(fmt, self.take(size, what))[0]

    def string(self, what):
        n = self.scalar(10, what + " length")
        if n > 1 << 30:
            raise ValueError(f"{what}: string length {n} too large")
        return self.take(n, what).decode("utf-8")

    def value(self, t, what):
        if t in _SCALARS:
            return self.scalar(t, what)
        if t == T_STRING:
            return self.string(what)
        if t == T_ARRAY:
            et = self.scalar(4, what + " element type")
            n = self.scalar(10, what + " count")
            if n > 1 << 30 or et == T_ARRAY:
                raise ValueError(f"{what}: bad array (type {et}, count {n})")
            if et in _SCALARS:
                fmt, size = _SCALARS[et]
                raw = self.take(size * n, what)
                return list(np.frombuffer(raw, dtype=np.dtype(fmt)).tolist())
            return [self.value(et, what) for _ in range(n)]
        raise ValueError(f"{what}: unknown value type {t}")


class TensorInfo:
    def __init__(self, name, ne, type_id, offset):
        self.name, self.ne, self.type_id, self.offset = name, ne, type_id, offset
        tname, blk, bsize = TYPES[type_id]
        self.type_name = tname
        if ne[0] % blk:
            raise ValueError(f"tensor {name}: ne0 {ne[0]} not a multiple of block {blk}")
        rows = int(np.prod(ne[1:])) if len(ne) > 1 else 1
        self.n_bytes = ne[0] // blk * bsize * rows


class GgufFile:
    def __init__(self, path):
        self.path = path
        self.mm = np.memmap(path, dtype=np.uint8, mode="r")
        c = _Cursor(self.mm)
        if c.take(4, "magic") != GGUF_MAGIC:
            raise ValueError("magic: not a GGUF file")
        self.version = c.scalar(4, "version")
        if self.version not in (2, 3):
            raise ValueError(f"version: unsupported {self.version}")
        n_tensors = c.scalar(11, "n_tensors")
        n_kv = c.scalar(11, "n_kv")
        if n_tensors < 0 or n_kv < 0:
            raise ValueError("n_tensors/n_kv: negative")
        self.meta = {}
        for _ in range(n_kv):
            key = c.string("key")
            if not key or key in self.meta:
                raise ValueError(f"key: empty or duplicate '{key}'")
            self.meta[key] = c.value(c.scalar(4, key + " type"), key)
        self.tensors = {}
        for _ in range(n_tensors):
            name = c.string("tensor name")
            nd = c.scalar(4, name + " n_dims")
            if not 1 <= nd <= 4:
                raise ValueError(f"tensor {name}: n_dims {nd}")
            ne = [c.scalar(11, name + " ne") for _ in range(nd)]
            if min(ne) < 0:
                raise ValueError(f"tensor {name}: negative ne")
            tid = c.scalar(4, name + " type")
            if tid not in TYPES:
                raise ValueError(f"tensor {name}: unsupported type {tid}")
            off = c.scalar(10, name + " offset")
            if name in self.tensors:
                raise ValueError(f"tensor {name}: duplicate")
            self.tensors[name] = TensorInfo(name, ne, tid, off)
        align = int(self.meta.get("general.alignment", 32))
        if align <= 0 or align & (align - 1):
            raise ValueError(f"general.alignment: {align} not a power of two")
        self.data_start = (c.pos + align - 1) // align * align
        for t in self.tensors.values():
            if t.offset % align or self.data_start + t.offset + t.n_bytes > len(self.mm):
                raise ValueError(f"tensor {t.name}: offset {t.offset} misaligned or out of file")

    def raw(self, name):
        t = self.tensors[name]
        s = self.data_start + t.offset
        return self.mm[s:s + t.n_bytes]

    def tensor(self, name):
        """Dequantized float32 array with shape reversed(ne)."""
        t = self.tensors[name]
        vals = dequantize(self.raw(name), t.type_id, int(np.prod(t.ne)))
        return vals.reshape(list(reversed(t.ne)))


# ---------------------------------------------------------------------------------------------
# Dequantizers (§6). Each takes uint8 bytes of whole blocks and returns float32 values.

def _f16(b):
    return np.ascontiguousarray(b).view("<f2").astype(np.float32)


def _blocks(raw, bsize):
    raw = np.ascontiguousarray(np.asarray(raw, dtype=np.uint8))
    if raw.size % bsize:
        raise ValueError(f"data length {raw.size} not a multiple of block size {bsize}")
    return raw.reshape(-1, bsize)


def deq_q8_0(raw):
    b = _blocks(raw, 34)
    d = _f16(b[:, 0:2]).reshape(-1, 1)
    q = b[:, 2:].view(np.int8).astype(np.float32)
    return (d * q).reshape(-1)


def deq_q4_0(raw):
    b = _blocks(raw, 18)
    d = _f16(b[:, 0:2]).reshape(-1, 1)
    qs = b[:, 2:]
    q = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32) - 8.0
    return (d * q).reshape(-1)


def _k_scales(b12):
    """Unpack the 12-byte 6-bit scale/min field of Q4_K/Q5_K -> (sc[n,8], m[n,8])."""
    b = b12.astype(np.int32)
    sc = np.empty((b.shape[0], 8), np.int32)
    m = np.empty_like(sc)
    sc[:, 0:4] = b[:, 0:4] & 63
    m[:, 0:4] = b[:, 4:8] & 63
    sc[:, 4:8] = (b[:, 8:12] & 0x0F) | ((b[:, 0:4] >> 6) << 4)
    m[:, 4:8] = (b[:, 8:12] >> 4) | ((b[:, 4:8] >> 6) << 4)
    return sc.astype(np.float32), m.astype(np.float32)


def deq_q4_k(raw):
    b = _blocks(raw, 144)
    d = _f16(b[:, 0:2]).reshape(-1, 1)
    dmin = _f16(b[:, 2:4]).reshape(-1, 1)
    sc, m = _k_scales(b[:, 4:16])
    qs = b[:, 16:].reshape(-1, 4, 32)
    q = np.stack([qs & 0x0F, qs >> 4], axis=2).reshape(-1, 8, 32).astype(np.float32)
    x = (d * sc)[:, :, None] * q - (dmin * m)[:, :, None]
    return x.reshape(-1)


def deq_q5_k(raw):
    b = _blocks(raw, 176)
    d = _f16(b[:, 0:2]).reshape(-1, 1)
    dmin = _f16(b[:, 2:4]).reshape(-1, 1)
    sc, m = _k_scales(b[:, 4:16])
    qh = b[:, 16:48]                       # [n, 32]
    qs = b[:, 48:].reshape(-1, 4, 32)
    lo = np.stack([qs & 0x0F, qs >> 4], axis=2).reshape(-1, 8, 32).astype(np.int32)
    bits = np.arange(8).reshape(1, 8, 1)
    hi = (qh[:, None, :].astype(np.int32) >> bits) & 1   # sub-block s uses bit s
    q = (lo + 16 * hi).astype(np.float32)
    x = (d * sc)[:, :, None] * q - (dmin * m)[:, :, None]
    return x.reshape(-1)


def deq_q6_k(raw):
    b = _blocks(raw, 210)
    ql = b[:, 0:128].reshape(-1, 2, 64).astype(np.int32)
    qh = b[:, 128:192].reshape(-1, 2, 32).astype(np.int32)
    sc = b[:, 192:208].view(np.int8).astype(np.float32)
    d = _f16(b[:, 208:210]).reshape(-1, 1)
    L0, L1 = ql[:, :, 0:32], ql[:, :, 32:64]
    q0 = (L0 & 0x0F) | (((qh >> 0) & 3) << 4)
    q1 = (L1 & 0x0F) | (((qh >> 2) & 3) << 4)
    q2 = (L0 >> 4) | (((qh >> 4) & 3) << 4)
    q3 = (L1 >> 4) | (((qh >> 6) & 3) << 4)
    q = np.stack([q0, q1, q2, q3], axis=2).reshape(-1, 256).astype(np.float32) - 32.0
    scale = np.repeat(d * sc, 16, axis=1)
    return (scale * q).reshape(-1)


_FP4 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6], np.float32)


def deq_mxfp4(raw):
    b = _blocks(raw, 17)
    scale = np.ldexp(np.float32(1.0), b[:, 0].astype(np.int32) - 127).astype(np.float32)
    qs = b[:, 1:]
    v = _FP4[np.concatenate([qs & 0x0F, qs >> 4], axis=1)]
    return (scale.reshape(-1, 1) * v).reshape(-1)


def dequantize(raw, type_id, n):
    raw = np.ascontiguousarray(np.asarray(raw, dtype=np.uint8))
    name = TYPES[type_id][0]
    if name == "F32":
        out = raw.view("<f4").astype(np.float32)
    elif name == "F16":
        out = raw.view("<f2").astype(np.float32)
    elif name == "BF16":
        out = (raw.view("<u2").astype(np.uint32) << 16).view(np.float32)
    elif name == "F64":
        out = raw.view("<f8").astype(np.float32)
    elif name in ("I8", "I16", "I32", "I64"):
        out = raw.view({"I8": "i1", "I16": "<i2", "I32": "<i4", "I64": "<i8"}[name]).astype(
            np.float32)
    else:
        out = {"Q8_0": deq_q8_0, "Q4_0": deq_q4_0, "Q4_K": deq_q4_k, "Q5_K": deq_q5_k,
               "Q6_K": deq_q6_k, "MXFP4": deq_mxfp4}[name](raw)
    if out.size != n:
        raise ValueError(f"dequantize {name}: got {out.size} values, expected {n}")
    return out
