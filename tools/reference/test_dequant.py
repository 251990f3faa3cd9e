"""Dequantizers checked on hand-built blocks; expected values worked out by hand from gguf.md §6
(the derivations are in the comments), independent of the vectorized code under test."""
import os
import struct
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gguf_read import TYPE_IDS, dequantize  # noqa: E402

F16_ONE, F16_HALF, F16_TWO, F16_QUARTER = b"\x00\x3c", b"\x00\x38", b"\x00\x40", b"\x00\x34"

# Q4_K/Q5_K scale bytes. By hand: sc[0..3] = low 6 bits of b0..b3 = 1,2,3,4; m[0..3] = low 6 bits
# of b4..b7 = 5,6,7,8; sc[4] = (0x21&15) | (0x41>>6)<<4 = 1|16 = 17; sc[5] = 3 | 0 = 3;
# sc[6] = 5 | (0xC3>>6=3)<<4 = 53; sc[7] = 7; m[4] = (0x21>>4) | (0x05>>6)<<4 = 2;
# m[5] = 4 | (0x86>>6=2)<<4 = 36; m[6] = 6; m[7] = 8.
K_SCALES = bytes([0x41, 0x02, 0xC3, 0x04, 0x05, 0x86, 0x07, 0x08, 0x21, 0x43, 0x65, 0x87])
K_SC = [1, 2, 3, 4, 17, 3, 53, 7]
K_M = [5, 6, 7, 8, 2, 36, 6, 8]
# qs[32c + l] = (l % 16) | (15 - l % 16) << 4 : low nibble l%16, high nibble 15 - l%16.
K_QS = bytes([(l % 16) | ((15 - l % 16) << 4) for c in range(4) for l in range(32)])


def deq(type_name, raw):
    blk = {"Q8_0": 32, "Q4_0": 32, "Q4_K": 256, "Q5_K": 256, "Q6_K": 256, "MXFP4": 32}
    size = {"Q8_0": 34, "Q4_0": 18, "Q4_K": 144, "Q5_K": 176, "Q6_K": 210, "MXFP4": 17}
    n = len(raw) // size[type_name] * blk[type_name]
    return dequantize(np.frombuffer(raw, np.uint8), TYPE_IDS[type_name], n)


class DequantTest(unittest.TestCase):
    def test_f16_bf16_f32(self):
        raw = struct.pack("<4H", 0x0001, 0x3C00, 0xFBFF, 0x8400)
        np.testing.assert_array_equal(deq_plain("F16", raw), [2.0**-24, 1.0, -65504.0, -2.0**-14])
        raw = struct.pack("<3H", 0x3FC0, 0xC040, 0x0001)
        np.testing.assert_array_equal(deq_plain("BF16", raw), [1.5, -3.0, 2.0**-133])
        np.testing.assert_array_equal(deq_plain("F32", struct.pack("<2f", 0.1, -7)),
                                      np.array([0.1, -7], np.float32))

    def test_q8_0(self):
        raw = F16_HALF + bytes([(i - 16) & 0xFF for i in range(32)])
        raw += F16_TWO + bytes([0x80] + [0x7F] * 31)           # -128 and 127
        x = deq("Q8_0", raw)
        np.testing.assert_array_equal(x[:32], [0.5 * (i - 16) for i in range(32)])
        self.assertEqual(x[32], -256.0)
        self.assertEqual(x[33], 254.0)

    def test_q4_0_low_nibbles_first_half(self):
        raw = F16_TWO + bytes([j | ((15 - j) << 4) for j in range(16)])
        x = deq("Q4_0", raw)
        # x[j] = 2 (j - 8); x[j+16] = 2 ((15 - j) - 8)
        self.assertEqual(x[0], -16.0)
        self.assertEqual(x[15], 14.0)
        self.assertEqual(x[16], 14.0)
        self.assertEqual(x[31], -16.0)
        np.testing.assert_array_equal(x[:16], [2.0 * (j - 8) for j in range(16)])
        np.testing.assert_array_equal(x[16:], [2.0 * (7 - j) for j in range(16)])

    def test_q4_k(self):
        x = deq("Q4_K", F16_ONE + F16_HALF + K_SCALES + K_QS)   # d = 1, dmin = 0.5
        self.assertEqual(x[0], 1 * 0 - 0.5 * 5)                   # sub 0, q 0
        self.assertEqual(x[32], 2 * 15 - 0.5 * 6)                 # sub 1, q 15 (high nibble)
        self.assertEqual(x[129], 17 * 1 - 0.5 * 2)                # c 2 l 1: sub 4 (sc high bits)
        self.assertEqual(x[197], 53 * 5 - 0.5 * 6)                # c 3 l 5: sub 6
        self.assertEqual(x[227], 7 * 12 - 0.5 * 8)                # c 3 l 35-32=3 hi: sub 7
        for i in range(256):
            s, l = i // 32, i % 32
            q = (l % 16) if s % 2 == 0 else 15 - l % 16
            self.assertEqual(x[i], K_SC[s] * q - 0.5 * K_M[s], i)

    def test_q5_k(self):
        qh = bytes([0xA5] * 32)           # bits 0, 2, 5, 7 set: sub-blocks 0, 2, 5, 7 get +16
        x = deq("Q5_K", F16_ONE + F16_HALF + K_SCALES + qh + K_QS)
        self.assertEqual(x[0], 1 * 16 - 0.5 * 5)
        self.assertEqual(x[32], 2 * 15 - 0.5 * 6)
        self.assertEqual(x[64 * 2 + 32 + 1], 3 * (14 + 16) - 0.5 * 36)
        for i in range(256):
            s, l = i // 32, i % 32
            q = ((l % 16) if s % 2 == 0 else 15 - l % 16) + (16 if s in (0, 2, 5, 7) else 0)
            self.assertEqual(x[i], K_SC[s] * q - 0.5 * K_M[s], i)

    def test_q6_k(self):
        ql = bytes([(k % 16) | ((k % 7) << 4) for k in range(128)])
        qh = bytes([(k * 37) % 256 for k in range(64)])
        sc = bytes([(i - 8) & 0xFF for i in range(16)])
        x = deq("Q6_K", ql + qh + sc + F16_QUARTER)
        # value 0: ql[0]&15 = 0, qh[0]&3 = 0 -> q = 0 -> 0.25 * sc[0]=-8 * (0-32) = 64
        self.assertEqual(x[0], 64.0)
        # value 100 (h0, q3, l4): ql[36]=0x14 >> 4 = 1; qh[4]=148, (148>>6)&3 = 2 -> q = 33
        self.assertEqual(x[100], 0.25 * -2 * 1)
        # value 200 (h1, q2, l8): ql[72]=0x28 >> 4 = 2; qh[40]=200, (200>>4)&3 = 0 -> q = 2
        self.assertEqual(x[200], 0.25 * 4 * -30)
        # value 255 (h1, q3, l31): ql[127]=0x1F >> 4 = 1 (127%7=1); qh[63]=2331%256=27,
        # (27>>6)&3 = 0 -> q = 1 -> 0.25 * sc[15]=7 * -31
        self.assertEqual(x[255], 0.25 * 7 * -31)

    def test_mxfp4(self):
        raw = bytes([128]) + bytes([j | ((15 - j) << 4) for j in range(16)])   # scale 2
        raw += bytes([125]) + bytes([0x77] * 16)                                # scale 1/4, 6
        x = deq("MXFP4", raw)
        fp4 = [0, 0.5, 1, 1.5, 2, 3, 4, 6, 0, -0.5, -1, -1.5, -2, -3, -4, -6]
        np.testing.assert_array_equal(x[:16], [2 * fp4[j] for j in range(16)])
        np.testing.assert_array_equal(x[16:32], [2 * fp4[15 - j] for j in range(16)])
        self.assertEqual(x[7], 12.0)
        self.assertEqual(x[16], -12.0)
        np.testing.assert_array_equal(x[32:], [1.5] * 32)

    def test_bad_length_raises(self):
        with self.assertRaises(ValueError):
            deq("Q8_0", bytes(33))


def deq_plain(type_name, raw):
    size = {"F16": 2, "BF16": 2, "F32": 4}[type_name]
    return dequantize(np.frombuffer(raw, np.uint8), TYPE_IDS[type_name], len(raw) // size)


if __name__ == "__main__":
    unittest.main()
