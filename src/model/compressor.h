// deepseek4 compressed-attention entries (../shared/specs/deepseek.md C.6): the learned pooling
// of a block of R consecutive tokens into one entry of W values. Building block only (no
// deepseek4 architecture uses it yet).
//
// Per token t the caller has a_t = W_ckv h_t and z_t = W_cgate h_t + ape[t mod R], each of
// kappa*W values. HCA (kappa = 1): e[c] = sum_t softmax_t(z_t[c]) a_t[c] over the block's R
// tokens. CSA (kappa = 2, overlapping): the candidates of entry b are the previous block's
// tokens with their FIRST W-halves and block b's tokens with their SECOND halves (2R per
// channel; block 0 has no previous block). The caller then applies the RMSNorm and the RoPE at
// position b*R. Softmax and sums in f32/f64, per channel. Thread-safety: pure function.
#pragma once

#include <cstdint>

namespace cachet::model {

// a_cur / z_cur [R, kappa*W] rows of block b; a_prev / z_prev the same for block b-1 (CSA only;
// nullptr for b = 0). Writes e [W].
void CompressBlock(int64_t R, int64_t W, int kappa, const float* a_prev, const float* z_prev,
                   const float* a_cur, const float* z_cur, float* e);

}  // namespace cachet::model
