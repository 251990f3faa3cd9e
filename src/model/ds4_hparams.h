// DeepSeek-V4 (`deepseek4`) hyper-parameters: ../shared/specs/deepseek.md C.2, read from GGUF
// metadata and checked for consistency (the tensor shapes are checked by the loader,
// arch/deepseek4.cc, against these values).
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"
#include "model/hparams.h"
#include "model/model_file.h"

namespace cachet::model {

// Attention kind of a layer, valued as its compress ratio (C.1).
constexpr int64_t kDs4Swa = 0, kDs4Csa = 4, kDs4Hca = 128;

struct Ds4HParams {
  // base.n_layer = trunk layers (block_count - nextn_predict_layers); base.head_dim =
  // head_dim_v = D (one shared K = V head); base.n_rot = r (the LAST r of every D-vector);
  // base.rope_base = rope.freq_base (SWA layers, no YaRN); base.rope_scaling / rope_factor /
  // rope_orig_ctx = the YaRN regime of the compressed layers (C.5).
  HParams base;
  int64_t n_layer_all = 0;       // block_count (MTP blocks included)
  int64_t n_mtp = 0;             // nextn_predict_layers
  int64_t q_lora_rank = 0;       // r_q
  int64_t n_swa = 0;             // attention.sliding_window (raw window, the query included)
  int64_t out_groups = 0;        // G_o (attention.output_group_count)
  int64_t out_rank = 0;          // r_o (attention.output_lora_rank)
  float compress_rope_base = 0;  // attention.compress_rope_freq_base
  std::vector<int64_t> ratios;   // compress_ratios[i] in {0, 4, 128}, i < n_layer_all
  int64_t indexer_heads = 0, indexer_dim = 0, indexer_top_k = 0;  // H_I, d_I, k_I (CSA)
  int64_t hc = 4;                                                 // hyper_connection.count
  int64_t n_sinkhorn = 20;  // hyper_connection.sinkhorn_iterations
  float eps_hc = 1e-6f;     // hyper_connection.epsilon
  int64_t n_hash = 0;       // hash_layer_count: layers 0..n_hash-1 route by token id
  int64_t n_expert = 0, n_expert_used = 0, n_expert_shared = 0, n_ff_exp = 0;
  float weights_scale = 1.0f;      // expert_weights_scale (gamma)
  bool weights_norm = true;        // expert_weights_norm
  std::vector<float> clamp_exp;    // swiglu_clamp_exp[i] (0 = no clamp), per block
  std::vector<float> clamp_shexp;  // swiglu_clamp_shexp[i] (defaults to clamp_exp)

  int64_t head_dim() const { return base.head_dim; }  // D
  int64_t rope_dim() const { return base.n_rot; }     // r
  bool HasCsa() const;
};

// Reads the deepseek4 keys. Errors: Corrupt naming the key for a missing required key, a wrong
// type, an array shorter than block_count, or an inconsistent value (key_length != value_length,
// r odd or > D, H*D not divisible by G_o or H by G_o, k > E, hash_layer_count > trunk layers,
// nextn_predict_layers >= block_count, indexer rope dims > indexer key_length, zero sizes);
// Unsupported for head_count_kv != 1, a compress ratio outside {0, 4, 128},
// expert_gating_func != 4 (sqrt-softplus), hyper_connection.count outside [1, 16], or a rope
// scaling other than none / yarn.
Result<Ds4HParams> ReadDeepSeek4HParams(const ModelFile& f);

// Inverse RoPE frequencies [r/2] of a layer with compress ratio `ratio` (C.5): SWA layers use
// rope.freq_base without scaling; compressed layers compress_rope_freq_base with YaRN
// (beta 32 / 1, magnitude 1).
std::vector<float> Ds4InvFreq(const Ds4HParams& hp, int64_t ratio);

}  // namespace cachet::model
