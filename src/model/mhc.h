// Manifold-constrained hyper-connections (mHC) of deepseek4 (../shared/specs/deepseek.md C.4):
// the residual state of a token is hc streams of d values, mixed around every sub-layer.
// Building block only: no deepseek4 architecture uses it yet (docs/models/deepseek.md).
//
// All arithmetic in f32 with f64 sums. Thread-safety: pure functions.
#pragma once

#include <cstdint>

namespace cachet::model {

struct MhcDims {
  int64_t d = 0;           // embedding_length
  int64_t hc = 4;          // hyper_connection.count
  int n_sinkhorn = 20;     // hyper_connection.sinkhorn_iterations (>= 1)
  float eps_hc = 1e-6f;    // hyper_connection.epsilon
  float norm_eps = 1e-6f;  // attention.layer_norm_rms_epsilon
};

// In place on c [hc][hc] (row a = source stream, column b = destination): row softmax + eps,
// column normalisation, then n_sinkhorn - 1 rounds of row and column normalisation (each sum
// + eps in the denominator), as C.4 fixes it.
void Sinkhorn(float* c, int64_t hc, int n_sinkhorn, float eps);

// The pre-mix of one sub-layer for one token. x [hc, d] streams; fn [(2+hc)*hc, hc*d] f32
// (hc_*_fn, rows of hc*d); base [(2+hc)*hc]; scale [3]. Writes u [d] (the sub-layer input,
// before its RMSNorm), post [hc] and c [hc][hc] (Sinkhorn-normalised mixing).
void MhcPre(const MhcDims& m, const float* x, const float* fn, const float* base,
            const float* scale, float* u, float* post, float* c);

// The post-mix: x_out[b] = post[b] * y + sum_a c[a][b] * x[a]  (x_out may not alias x).
void MhcPost(const MhcDims& m, const float* y, const float* post, const float* c, const float* x,
             float* x_out);

// The output head's stream reduction: fn [hc, hc*d], base [hc], scale [1];
// u = sum_s (sigmoid(m[s] * scale + base[s]) + eps_hc) * x[s].
void MhcHead(const MhcDims& m, const float* x, const float* fn, const float* base,
             const float* scale, float* u);

}  // namespace cachet::model
