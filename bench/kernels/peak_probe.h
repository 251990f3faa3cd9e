// Peak-rate probes for the instructions the kernels use (compiled with AVX-512 flags; call only
// when the CPU has AVX-512 VNNI) and a streaming-read probe (baseline x86-64).
#pragma once

#include <cstdint>

namespace cachet::bench {

// Runs `iters` iterations of 12 independent zmm FMAs (f32) and returns the flops done (2 per lane).
double FmaF32Probe(int64_t iters);
// Same with vpdpbusd (u8 x s8 -> s32): 2 ops per byte product.
double DpbusdProbe(int64_t iters);
// Sums `n` floats (reads every byte once, 4 independent AVX-512 accumulators).
float StreamRead(const float* p, int64_t n);

}  // namespace cachet::bench
